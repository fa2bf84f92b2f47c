#!/usr/bin/env bash
# Renders the benchmark deck (bench/video/deck.html) to PNGs with headless
# Chromium: four 1920×1080 slides and one tall page to scroll through.
# Usage: bash bench/video_deck.sh [OUT_DIR]   (default: target/video-deck)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/video-deck}
mkdir -p "$out"
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome)
deck="file://$PWD/bench/video/deck.html"
shot() { "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
    --window-size="$1" --screenshot="$2" "$3" >/dev/null 2>&1; }
for n in 0 1 2 3; do shot 1920,1080 "$out/slide$n.png" "$deck?slide=$n"; done
shot 1920,5400 "$out/page.png" "$deck?page"
ls -1 "$out"
