#!/usr/bin/env bash
# Builds apero in release mode and installs apero, aperod, apero-tray and apero-app
# into ~/.local/bin (or $PREFIX/bin). Then `apero service install` makes
# the daemon and the tray start at login.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
apero_install_deps build-essential pkg-config cmake libasound2-dev libvpx-dev ca-certificates
apero_need_cargo

prefix="${PREFIX:-$HOME/.local}"
echo "==> building apero (release; the first build takes a few minutes)"
cargo build --release --locked --workspace --quiet
mkdir -p "$prefix/bin"
for bin in apero aperod apero-tray apero-app; do
    # Replace rather than overwrite: a running aperod keeps its old file.
    install -m 0755 "target/release/$bin" "$prefix/bin/.$bin.new"
    mv -f "$prefix/bin/.$bin.new" "$prefix/bin/$bin"
done
echo "==> installed apero, aperod, apero-tray and apero-app in $prefix/bin"
case ":$PATH:" in
    *":$prefix/bin:"*) ;;
    *) echo "!!! $prefix/bin is not on your PATH; add it (e.g. in ~/.profile)" ;;
esac
echo "Start apero at login with: $prefix/bin/apero service install"
