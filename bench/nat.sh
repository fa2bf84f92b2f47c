#!/usr/bin/env bash
# Connectivity figures (docs/benchmarks.md): hole punching 20 times, relayed
# vs direct delivery, and a relay under 10 voice circuits. Needs root (network
# namespaces). Prints FIGURE lines. Each home's link to its router gets
# APERO_TESTBED_DELAY_MS of one-way delay (default 20: two homes are 80 ms
# apart, a home and the relay 40 ms), through shared/tools/delaylink.py.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then echo "bench/nat.sh needs root (network namespaces)" >&2; exit 1; fi
export APERO_TESTBED_DELAY_MS="${APERO_TESTBED_DELAY_MS:-20}"
cargo build --workspace --all-targets
cargo test -p aperod --test e2e_nat -- --nocapture --test-threads 1 \
    cone_nats hole_punching symmetric 2>&1 | grep -E "FIGURE|^run |test result"
cargo test -p aperod --test e2e_nat -- --nocapture --ignored bench_relay 2>&1 | grep -E "FIGURE|test result"
