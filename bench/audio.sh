#!/usr/bin/env bash
# Runs bench/audio.py (echo cancellation, double talk, noise suppression,
# mouth-to-ear delay and CPU, processing on and off) with its Python packages
# (a venv in /opt/apero-bench-venv) against a release build, through a private
# PulseAudio server with virtual microphones and speakers
# (shared/recipes/audio-rig.md). As root: no sound card, no D-Bus needed.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
apero_install_deps build-essential pkg-config cmake libasound2-dev pulseaudio pulseaudio-utils sox espeak-ng \
    python3-venv python3-dev
venv=/opt/apero-bench-venv
[ -x $venv/bin/python ] || python3 -m venv $venv
$venv/bin/python -c 'import pesq, numpy, scipy' 2>/dev/null || $venv/bin/pip install -q pesq numpy scipy
# --anchor: the same scenarios with Chromium's WebRTC (bench/webrtc_rig.py).
case " $* " in
    *" --anchor "*) apero_install_deps chromium chromium-driver ;;
esac
cargo build --release --locked -p aperod -p apero
exec $venv/bin/python bench/audio.py "$@"
