#!/usr/bin/env bash
# Runs bench/voice.py with its Python packages (a venv in /opt/apero-bench-venv)
# against a release build, with Chromium's WebRTC as the anchor (--no-anchor
# to skip it). Root: network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
apero_install_deps build-essential pkg-config cmake libasound2-dev espeak-ng sox iproute2 python3-venv python3-dev
# The anchor (bench/webrtc.py): Chromium's WebRTC, driven over plain HTTP
# WebDriver by the standard library, so nothing more from PyPI.
case " $* " in
    *" --no-anchor "*) ;;
    *) apero_install_deps chromium chromium-driver ;;
esac
venv=/opt/apero-bench-venv
[ -x $venv/bin/python ] || python3 -m venv $venv
$venv/bin/python -c 'import pesq, numpy, scipy' 2>/dev/null || $venv/bin/pip install -q pesq numpy scipy
cargo build --release --locked -p aperod -p apero
exec $venv/bin/python bench/voice.py "$@"
