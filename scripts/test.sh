#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what is missing, then runs every test.
# Extra arguments go to the test runner, e.g. `scripts/test.sh spec_files`.
set -euo pipefail
# shellcheck source=scripts/setup.sh
. "$(dirname "$0")/setup.sh"
cd "$greenlight_root"
setup_tests
say "Running the test suite (build artefacts in $CARGO_TARGET_DIR)"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --no-fail-fast "$@"
else
    cargo test --no-fail-fast "$@"
fi
