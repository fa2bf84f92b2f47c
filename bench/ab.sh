#!/usr/bin/env bash
# A/B between a base commit and this tree: release builds of both (the base
# in a throwaway worktree, sharing the dependency builds), then bench/ab.py.
# Root: network namespaces.   sudo bench/ab.sh BASE_COMMIT [ab.py args]
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: bench/ab.sh BASE_COMMIT [--rounds N] [--only voice|files]}
shift
. scripts/deps.sh
apero_install_deps build-essential pkg-config cmake libasound2-dev espeak-ng sox iproute2 python3-venv python3-dev
venv=/opt/apero-bench-venv
[ -x $venv/bin/python ] || python3 -m venv $venv
$venv/bin/python -c 'import pesq, numpy, scipy' 2>/dev/null || $venv/bin/pip install -q pesq numpy scipy
$venv/bin/python -c 'import wormhole' 2>/dev/null || $venv/bin/pip install -q magic-wormhole magic-wormhole-mailbox-server magic-wormhole-transit-relay
target=${CARGO_TARGET_DIR:-$PWD/target}
out=$(mktemp -d /tmp/apero-ab-bin.XXXXXX)
tree=$(mktemp -d /tmp/apero-ab-base.XXXXXX)
git worktree add --detach "$tree" "$base" >/dev/null
trap 'git worktree remove --force "$tree"' EXIT
(cd "$tree" && CARGO_TARGET_DIR="$target" cargo build --release --locked -p aperod -p apero)
mkdir -p "$out/base" "$out/new"
cp "$target/release/aperod" "$target/release/apero" "$out/base/"
CARGO_TARGET_DIR="$target" cargo build --release --locked -p aperod -p apero
cp "$target/release/aperod" "$target/release/apero" "$out/new/"
exec $venv/bin/python bench/ab.py --base "$out/base" --new "$out/new" "$@"
