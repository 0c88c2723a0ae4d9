#!/usr/bin/env bash
# Runs Greenlight on an example spec. With no arguments: `greenlight check` on the quickstart
# example. Otherwise the arguments are Greenlight's own, e.g.
#   scripts/run-example.sh commands specs/examples/platform-contract.yaml --shell powershell
set -euo pipefail
# shellcheck source=scripts/setup.sh
. "$(dirname "$0")/setup.sh"
cd "$greenlight_root"
setup_build
[ $# -gt 0 ] || set -- check specs/examples/quickstart.yaml
say "Building Greenlight (first build takes a few minutes)"
cargo build --quiet --bin greenlight
exec "$CARGO_TARGET_DIR/debug/greenlight" "$@"
