#!/usr/bin/env bash
# The long chaos run (issue 16): six daemons and a relay on loopback for
# 30 minutes (or the seconds given as $1), then a quiet minute and the checks
# of tests/e2e_chaos.rs. The suite runs the same test for 90 s.
# Prints the FIGURE lines and writes them to bench/results-chaos-DATE.txt.
#   bash bench/chaos.sh                # 1800 s, loopback then the NAT testbed (root)
#   bash bench/chaos.sh 600            # 10 minutes each
#   bash bench/chaos.sh 1800 loopback  # one scenario (loopback or testbed)
#   APERO_CHAOS_SEED=N bash bench/chaos.sh   # replay a run
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
apero_install_deps build-essential pkg-config cmake libasound2-dev
secs=${1:-1800}
only=${2:-chaos}
out=bench/results-chaos-$(date +%Y-%m-%d-%H%M).txt
cargo build --release --locked --workspace
APERO_CHAOS_SECS=$secs APERO_TEST_LOG=info cargo test --release --locked --test e2e_chaos -- "$only" --nocapture --test-threads 1 2>&1 \
    | tee /dev/stderr | grep -E '^(FIGURE|chaos seed)' | tee "$out"
echo "figures in $out"
