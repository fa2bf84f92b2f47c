#!/usr/bin/env bash
# Screenshots of the window's main views, in English and French, for the
# README: docs/screenshots/{chat,call,join,file}-{en,fr}.png. Real daemons on
# loopback play a small room (two friends, a few messages, a call, a file
# being downloaded); the real `apero-app` is drawn on a virtual X server
# (Xvfb, Mesa's software OpenGL) and dumped with xwd.
#
#   scripts/screenshots.sh            # builds (debug) if needed
#
# Run it again after changing the window so the pictures stay current.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
apero_install_deps xvfb x11-apps libgl1-mesa-dri libegl1 libgl1 python3
apero_need_cargo
cargo build --locked -p aperod -p apero -p apero-tray >&2
bin=target/debug
out=docs/screenshots
mkdir -p "$out"
work=$(mktemp -d /tmp/apero-shots.XXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

display=:57
Xvfb "$display" -screen 0 1100x720x24 -nolisten tcp >/dev/null 2>&1 &
pids+=($!)
export LIBGL_ALWAYS_SOFTWARE=1

daemon() { # NAME EXTRA...
    local name=$1; shift
    mkdir -p "$work/$name"
    "$bin/aperod" --foreground --no-mdns --bootstrap none --audio null --name "$name" --home "$work/$name" \
        --listen /ip4/127.0.0.1/udp/0/quic-v1 --listen /ip4/127.0.0.1/tcp/0 "$@" >"$work/$name.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do "$bin/apero" --home "$work/$name" status >/dev/null 2>&1 && return; sleep 0.1; done
    echo "screenshots.sh: $name's daemon did not start" >&2; cat "$work/$name.log" >&2; exit 1
}
a() { "$bin/apero" --home "$work/Camille" "$@"; }
b() { "$bin/apero" --home "$work/Dominique" "$@"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

daemon Camille --upload-limit 800
daemon Dominique
room=$(a --json room create "Apéro du jeudi" | json '["id"]')
b join "$(a --json invite "$room" | json '["code"]')" >/dev/null
a say "$room" "Bonsoir ! On s'appelle à 19 h ?" >/dev/null
sleep 0.3
b say "$room" "Oui ! J'apporte les olives." >/dev/null
sleep 0.3
a say "$room" "Le plan pour venir : https://www.openstreetmap.org/#map=17/48.8566/2.3522" >/dev/null
# A reply, a reaction and a picture (a sunset drawn here: stdlib PNG).
first=$(a --json history "$room" | json '[0]["id"]')
b say "$room" "Parfait, à tout à l'heure @Camille" --reply-to "$first" >/dev/null
a react "$room" "$first" "🎉" >/dev/null
python3 - "$work/coucher de soleil.png" <<'PY'
import struct, sys, zlib
w, h = 480, 300
rows = b"".join(b"\0" + bytes(v for x in range(w) for v in (255, max(0, 200 - y * 2 // 3) , max(0, 120 - y // 3))) for y in range(h))
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
PY
a send "$room" "$work/coucher de soleil.png" >/dev/null
head -c 4000000 /dev/urandom > "$work/photos-atelier.zip"
a send "$room" "$work/photos-atelier.zip" >/dev/null
b room create "Atelier couture" >/dev/null
sleep 1

shot() { # NAME LANG ARGS...
    local name=$1 lang=$2; shift 2
    DISPLAY=$display "$bin/apero-app" --home "$work/Dominique" --no-start --lang "$lang" "$@" >"$work/app-$name-$lang.log" 2>&1 &
    local app=$!
    sleep 5
    if ! DISPLAY=$display xwd -silent -name apero | python3 scripts/xwd2png.py "$out/$name-$lang.png"; then
        echo "screenshots.sh: no window for $name ($lang)" >&2; cat "$work/app-$name-$lang.log" >&2; exit 1
    fi
    kill "$app" 2>/dev/null || true
    wait "$app" 2>/dev/null || true
    echo "$out/$name-$lang.png"
}

for lang in en fr; do
    shot chat "$lang" --room "$room"
    shot join "$lang" --join "7-guitar-orbit"
done
a call join "$room" >/dev/null
b call join "$room" >/dev/null
sleep 2
for lang in en fr; do shot call "$lang" --room "$room"; done
b call leave >/dev/null
a call leave >/dev/null
file=$(b --json files "$room" | json '[0]["id"]')
mkdir -p "$work/downloads"
# The download runs (slowly: Camille's upload is capped) while the window looks.
b get "$file" --to "$work/downloads" >/dev/null 2>&1 &
pids+=($!)
sleep 3
for lang in en fr; do shot file "$lang" --room "$room"; done
