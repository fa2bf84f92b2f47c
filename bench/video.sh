#!/usr/bin/env bash
# Runs bench/video.py (screen sharing: latency, sharpness, bitrate, CPU,
# voice during a share, loss) against a release build, with Chromium's
# WebRTC as the anchor (--no-anchor to skip it). Root: network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
apero_install_deps build-essential pkg-config cmake libasound2-dev libvpx-dev espeak-ng sox iproute2 python3-venv python3-dev xvfb
case " $* " in
    *" --no-anchor "*) ;;
    *) apero_install_deps chromium chromium-driver ;;
esac
venv=/opt/apero-bench-venv
[ -x $venv/bin/python ] || python3 -m venv $venv
$venv/bin/python -c 'import pesq, numpy, scipy' 2>/dev/null || $venv/bin/pip install -q pesq numpy scipy
cargo build --release --locked -p aperod -p apero
# The deck player (daemon/examples/deck_player.rs) and the deck's PNGs.
cargo build --release --locked -p aperod --example deck_player
[ -f target/video-deck/page.png ] || bash bench/video_deck.sh target/video-deck
exec $venv/bin/python bench/video.py "$@"
