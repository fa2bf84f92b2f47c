#!/usr/bin/env bash
# Renders packaging/apero.svg into the PNG sizes of the hicolor icon theme
# (packaging/icons/NxN.png), for menus and panels that do not draw SVG and
# for sharp small sizes. The PNGs are committed: building the .deb needs no
# SVG renderer. Run again after changing the SVG (needs rsvg-convert, from
# the librsvg2-bin package).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v rsvg-convert >/dev/null || { echo "icons.sh: needs rsvg-convert (apt-get install librsvg2-bin)" >&2; exit 1; }
mkdir -p packaging/icons
for n in 16 24 32 48 64 128 256; do
    rsvg-convert -w "$n" -h "$n" packaging/apero.svg -o "packaging/icons/${n}x${n}.png"
done
ls -l packaging/icons
