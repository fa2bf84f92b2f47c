#!/usr/bin/env bash
# Builds apero's .deb: aperod, apero, apero-tray and apero-app, the desktop
# entry ("apero" in the applications menu), the icon, the systemd user unit
# and the tray's autostart template. Nothing is started or enabled for every
# user: `apero service install`, or the window's "Start apero when I log in",
# does that per user.
#
#   scripts/package-deb.sh                 # release build, then the package
#   scripts/package-deb.sh --bin-dir target/debug --no-build --out DIR
#
# Prints the package's path on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."

bin_dir=target/release
out=target/deb
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --bin-dir) bin_dir="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "package-deb.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [ "$build" = 1 ]; then
    . scripts/deps.sh
    apero_install_deps build-essential pkg-config cmake libasound2-dev dpkg-dev
    apero_need_cargo
    echo "==> cargo build --release" >&2
    cargo build --release --locked -p aperod -p apero -p apero-tray >&2
fi

for b in aperod apero apero-tray apero-app; do
    [ -x "$bin_dir/$b" ] || { echo "package-deb.sh: $bin_dir/$b is missing (build first, or drop --no-build)" >&2; exit 1; }
done

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

for b in aperod apero apero-tray apero-app; do
    install -Dm755 "$bin_dir/$b" "$stage/usr/bin/$b"
    # Debug symbols would make the package ten times larger.
    strip --strip-unneeded "$stage/usr/bin/$b"
done
install -Dm644 packaging/apero.desktop "$stage/usr/share/applications/apero.desktop"
install -Dm644 packaging/apero.svg "$stage/usr/share/icons/hicolor/scalable/apps/apero.svg"
# Rendered by scripts/icons.sh: panels and menus that draw no SVG, and sharp small sizes.
for png in packaging/icons/*x*.png; do
    size=$(basename "$png" .png)
    install -Dm644 "$png" "$stage/usr/share/icons/hicolor/$size/apps/apero.png"
done
install -Dm644 packaging/aperod.service "$stage/usr/lib/systemd/user/aperod.service"
install -Dm644 packaging/apero-tray.desktop "$stage/usr/share/apero/apero-tray.desktop"
install -d "$stage/usr/share/doc/apero"
{
    echo "apero: group voice calls, text and files between friends, with no server."
    echo "License: AGPL-3.0-or-later (https://www.gnu.org/licenses/agpl-3.0.html)."
} > "$stage/usr/share/doc/apero/copyright"

# Linked: glibc, libgcc, ALSA (cpal). Loaded at run time by the window
# (winit and glow dlopen them, so no tool can see them): X11, Wayland,
# xkbcommon, EGL/GL.
depends="libc6 (>= 2.34), libgcc-s1, libasound2 | libasound2t64, libx11-6, libx11-xcb1, libxcursor1, libxi6, libxrandr2, libxkbcommon0, libxkbcommon-x11-0, libwayland-client0, libwayland-egl1 | libwayland-egl1-mesa, libegl1, libgl1"
size=$(du -sk "$stage/usr" | cut -f1)
install -d "$stage/DEBIAN"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: apero
Version: $version
Architecture: $arch
Maintainer: apero developers <apero@users.noreply.invalid>
Installed-Size: $size
Depends: $depends
Recommends: pulseaudio | pipewire-pulse, at-spi2-core, xdg-desktop-portal
Section: net
Priority: optional
Description: group voice calls, text and files between friends, with no server
 apero connects friends directly (peer to peer, end-to-end encrypted) for
 group voice calls, chat and file sharing. Nothing passes through a server
 that anyone owns: a friend's computer with a public address may relay for
 the others. Open "apero" from the applications menu, create a room, and
 read the short code to a friend over the phone.
CONTROL
mkdir -p "$out"
deb="$out/apero_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >&2
echo "$deb"
