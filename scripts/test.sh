#!/usr/bin/env bash
# The whole test suite: unit and property tests, then end-to-end tests with
# real daemons. One build, shared by every test.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
apero_install_deps build-essential pkg-config tmux
apero_need_cargo

export CARGO_TERM_COLOR=never
echo "==> building (once, for all tests)"
cargo build --locked --workspace --all-targets
echo "==> running the tests"
cargo test --locked --workspace --no-fail-fast -- --test-threads="${APERO_TEST_THREADS:-4}"
