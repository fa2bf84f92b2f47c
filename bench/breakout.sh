#!/usr/bin/env bash
# Runs bench/breakout.py (24 daemons split into breakout groups and back,
# and the gap a channel switch leaves) against a release build. Root:
# network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
apero_install_deps build-essential pkg-config cmake libasound2-dev libvpx-dev iproute2 python3-venv python3-dev
venv=/opt/apero-bench-venv
[ -x $venv/bin/python ] || python3 -m venv $venv
$venv/bin/python -c 'import numpy' 2>/dev/null || $venv/bin/pip install -q numpy
cargo build --release --locked -p aperod -p apero
exec $venv/bin/python bench/breakout.py "$@"
