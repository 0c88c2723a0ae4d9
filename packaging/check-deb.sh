#!/usr/bin/env bash
# Builds the .deb, installs it on this machine, and checks as a user would: the desktop entry
# and icons are where the menu looks, the launcher's command starts the app under Xvfb (a
# screenshot is saved), the app opens a spec passed the way a file manager passes it (%f),
# and uninstalling leaves nothing behind. Slow (a release build): run it by hand or in a
# packaging job, not in the regular test run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/setup.sh
. "$root/scripts/setup.sh"
setup_tests
deb=$("$root/packaging/build-deb.sh" | tail -n1)
say "Installing $deb"
sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
before=$(mktemp); after=$(mktemp)
find /usr -xdev 2>/dev/null | sort > "$before"
$sudo apt-get install -y -qq "$deb" >/dev/null
test -x /usr/bin/greenlight
test -f /usr/share/applications/greenlight.desktop
test -f /usr/share/icons/hicolor/256x256/apps/greenlight.png
desktop-file-validate /usr/share/applications/greenlight.desktop
exec_line=$(sed -n 's/^Exec=//p' /usr/share/applications/greenlight.desktop)
spec="$root/specs/examples/quickstart.yaml"
command=${exec_line//%f/$spec}
say "Starting the launcher's command under Xvfb: $command"
display=:$((90 + RANDOM % 40))
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp & xvfb=$!
trap 'kill $xvfb 2>/dev/null || true' EXIT
sleep 1
home=$(mktemp -d)
DISPLAY=$display HOME=$home KUBECONFIG=/nonexistent $command & app=$!
# The window's title names the deployment of the spec it opened (the one passed as %f).
opened=
for _ in $(seq 1 150); do
    if DISPLAY=$display xdotool search --name '^acme-analytics - Greenlight$' >/dev/null 2>&1; then opened=yes; break; fi
    sleep 0.1
done
sleep 1
shot="$CARGO_TARGET_DIR/deb-launcher.png"
DISPLAY=$display import -window root "$shot"
kill -0 $app
kill $app; wait $app 2>/dev/null || true
[ -n "$opened" ] || { echo "the app did not open the spec passed as %f" >&2; exit 1; }
say "Uninstalling"
$sudo apt-get remove --purge -y -qq greenlight >/dev/null
find /usr -xdev 2>/dev/null | sort > "$after"
left=$(comm -13 "$before" "$after" | grep -i greenlight || true)
[ -z "$left" ] || { echo "left behind after uninstall:"; echo "$left"; exit 1; } >&2
echo "OK: installed, launched (screenshot $shot), opened the spec, uninstalled cleanly."
