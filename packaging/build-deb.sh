#!/usr/bin/env bash
# Builds the Debian package from a release build, with dpkg-deb only (no network, no extra
# tool): the binary, the desktop entry, icons at the usual sizes rendered from assets/, and
# the AppStream metainfo. Prints the path of the .deb.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/setup.sh
. "$root/scripts/setup.sh"
setup_build
ensure_packages dpkg-deb:dpkg desktop-file-validate:desktop-file-utils appstreamcli:appstream
cd "$root"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
arch=$(dpkg --print-architecture)
say "Building the release binary (this takes a while on a small machine)"
cargo build --release --locked --bin greenlight
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -Dm755 "$CARGO_TARGET_DIR/release/greenlight" "$stage/usr/bin/greenlight"
install -Dm644 packaging/linux/greenlight.desktop "$stage/usr/share/applications/greenlight.desktop"
install -Dm644 packaging/linux/dev.greenlight.Greenlight.metainfo.xml "$stage/usr/share/metainfo/dev.greenlight.Greenlight.metainfo.xml"
install -Dm644 assets/icon.svg "$stage/usr/share/icons/hicolor/scalable/apps/greenlight.svg"
icons=$(mktemp -d)
(cd "$icons" && python3 "$root/assets/make_icon.py" 16 32 48 64 128 256 512)
for size in 16 32 48 64 128 256 512; do
    install -Dm644 "$icons/icon-$size.png" "$stage/usr/share/icons/hicolor/${size}x${size}/apps/greenlight.png"
done
rm -rf "$icons"
desktop-file-validate "$stage/usr/share/applications/greenlight.desktop"
appstreamcli validate --no-net --explain "$stage/usr/share/metainfo/dev.greenlight.Greenlight.metainfo.xml" || true
installed_size=$(du -sk "$stage/usr" | cut -f1)
mkdir -p "$stage/DEBIAN"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: greenlight
Version: $version
Architecture: $arch
Maintainer: Greenlight developers <greenlight@localhost>
Installed-Size: $installed_size
Depends: libc6, libgl1, libegl1, libxkbcommon-x11-0, libxcursor1, libxi6, libxrandr2
Recommends: kubectl | kubernetes-client, awscli, xdg-desktop-portal-gtk | zenity
Section: utils
Priority: optional
Homepage: https://github.com/greenlight/greenlight
Description: create the secrets a deployment needs and watch each turn green
 Greenlight is a desktop checklist of the secrets a vendor's deployment needs in your own
 Kubernetes cluster or AWS account. It gives the exact command to create each one and turns
 the row green the moment the secret exists. It never reads, shows or stores a value.
CONTROL
cat > "$stage/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
command -v update-desktop-database >/dev/null && update-desktop-database -q /usr/share/applications || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t -f /usr/share/icons/hicolor || true
POSTINST
cp "$stage/DEBIAN/postinst" "$stage/DEBIAN/postrm"
chmod 755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/postrm"
out="$CARGO_TARGET_DIR/greenlight_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$stage" "$out" >/dev/null
echo "$out"
