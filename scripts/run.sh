#!/usr/bin/env bash
# Quick start: build apero, start the daemon, make sure there is a first
# room, and print an invite code for it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
apero_install_deps build-essential pkg-config cmake libasound2-dev libvpx-dev ca-certificates
apero_need_cargo

echo "==> building apero (release; the first build takes a few minutes)"
cargo build --release --locked --workspace --quiet
bin=target/release

"$bin/apero" up
room=$("$bin/apero" --json room list | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r[0]["id"] if r else "")' 2>/dev/null || true)
if [ -z "$room" ]; then
    room=$("$bin/apero" --json room create "first room" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    echo "==> created the room \"first room\""
fi
echo "==> invite code for your room (give it to a friend, who runs: apero join CODE):"
"$bin/apero" invite "$room"
echo
echo "The commands are in $PWD/$bin: try '$bin/apero status', '$bin/apero chat \"first room\"', '$bin/apero --help'."
