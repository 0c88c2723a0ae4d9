#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what is missing, checks formatting and
# lints, then runs every test. Extra arguments go to the test runner, e.g.
# `scripts/test.sh spec_files` (a filter on test names).
set -euo pipefail
# shellcheck source=scripts/setup.sh
. "$(dirname "$0")/setup.sh"
cd "$greenlight_root"
setup_tests
hermetic_env
say "Checking formatting (cargo fmt --all --check)"
cargo fmt --all --check
say "Linting (cargo clippy --workspace --all-targets -- -D warnings)"
cargo clippy --quiet --workspace --all-targets -- -D warnings
say "Checking file sizes (scripts/check-sizes.sh)"
bash scripts/check-sizes.sh
say "Running the test suite (build artefacts in $CARGO_TARGET_DIR)"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast "$@"
else
    cargo test --workspace --no-fail-fast -- "$@"
fi
