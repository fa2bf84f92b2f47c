#!/usr/bin/env bash
# Runs bench/files.py with its Python packages (a venv in /opt/apero-bench-venv)
# against a release build. Root: network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
apero_install_deps build-essential pkg-config cmake libasound2-dev espeak-ng sox iproute2 python3-venv python3-dev
venv=/opt/apero-bench-venv
[ -x $venv/bin/python ] || python3 -m venv $venv
$venv/bin/python -c 'import numpy' 2>/dev/null || $venv/bin/pip install -q numpy
$venv/bin/python -c 'import wormhole, wormhole_mailbox_server, wormhole_transit_relay' 2>/dev/null \
    || $venv/bin/pip install -q magic-wormhole magic-wormhole-mailbox-server magic-wormhole-transit-relay
cargo build --release --locked -p aperod -p apero
exec $venv/bin/python bench/files.py "$@"
