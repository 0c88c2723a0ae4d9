#!/usr/bin/env bash
# Runs Greenlight on an example spec: the desktop window on specs/examples/quickstart.yaml
# when there is a display, else `greenlight check` on it. Arguments replace the default and
# go to Greenlight itself, e.g.
#   scripts/run-example.sh specs/examples/platform-contract.yaml
#   scripts/run-example.sh commands specs/examples/platform-contract.yaml --shell powershell
set -euo pipefail
# shellcheck source=scripts/setup.sh
. "$(dirname "$0")/setup.sh"
cd "$greenlight_root"
setup_build
if [ $# -eq 0 ]; then
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
        set -- specs/examples/quickstart.yaml
    else
        say "No display: running the headless check (set DISPLAY to open the window)"
        set -- check specs/examples/quickstart.yaml
    fi
fi
say "Building Greenlight (the first build takes a few minutes)"
cargo build --quiet --bin greenlight
exec "$CARGO_TARGET_DIR/debug/greenlight" "$@"
