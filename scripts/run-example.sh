#!/usr/bin/env bash
# Runs Greenlight on an example spec: the desktop window on specs/examples/quickstart.yaml
# when there is a display (against Greenlight's own sandbox cluster when no cluster is
# reachable), else `greenlight check` on it. Arguments replace the default and go to
# Greenlight itself, e.g.
#   scripts/run-example.sh specs/examples/platform-contract.yaml
#   scripts/run-example.sh commands specs/examples/platform-contract.yaml --shell powershell
set -euo pipefail
# shellcheck source=scripts/setup.sh
. "$(dirname "$0")/setup.sh"
cd "$greenlight_root"
setup_build
say "Building Greenlight (the first build takes a few minutes)"
cargo build --quiet --bin greenlight
greenlight="$CARGO_TARGET_DIR/debug/greenlight"
if [ $# -eq 0 ]; then
    example=specs/examples/quickstart.yaml
    # Exit 1 means it could not check: no kubeconfig, or no cluster answering.
    reachable=yes
    status=0
    "$greenlight" check --request-timeout 3 --platform kubernetes "$example" >/dev/null 2>&1 || status=$?
    if [ "$status" -eq 1 ]; then
        reachable=no
    fi
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
        if [ "$reachable" = yes ]; then
            set -- "$example"
        else
            say "No Kubernetes cluster is reachable: opening Greenlight on its own sandbox cluster instead (\`greenlight demo\`). Paste a Copy'd command into a terminal and watch its row turn green"
            # The commands Greenlight shows run kubectl; Debian's kubernetes-client when missing.
            ensure_packages kubectl:kubernetes-client
            set -- demo
        fi
    else
        say "No display: running the headless check (set DISPLAY to open the window)"
        if [ "$reachable" = no ]; then
            say "No Kubernetes cluster is reachable either; \`$greenlight demo --headless\` runs a sandbox cluster to try the commands against"
        fi
        set -- check "$example"
    fi
fi
exec "$greenlight" "$@"
