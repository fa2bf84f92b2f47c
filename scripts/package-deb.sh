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
    apero_install_deps build-essential pkg-config cmake libasound2-dev libvpx-dev dpkg-dev help2man
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
cat > "$stage/usr/share/doc/apero/copyright" <<'COPYRIGHT'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: apero
Comment: group voice calls, text and files between friends, with no server.

Files: *
Copyright: 2026 apero developers
License: AGPL-3.0-or-later
 This program is free software: you can redistribute it and/or modify it
 under the terms of the GNU Affero General Public License as published by
 the Free Software Foundation, either version 3 of the License, or (at your
 option) any later version. The full text:
 https://www.gnu.org/licenses/agpl-3.0.html
COPYRIGHT
# A native package's changelog, dated by the last commit (the same source
# gives the same package).
when=$(git log -1 --format=%cD 2>/dev/null || date -R)
printf 'apero (%s) unstable; urgency=medium\n\n  * Built from the apero source tree; its history holds the changes.\n\n -- apero developers <apero@users.noreply.invalid>  %s\n' \
    "$version" "$when" | gzip -9n > "$stage/usr/share/doc/apero/changelog.gz"
# Manual pages from each program's --help (help2man), where it is installed.
if command -v help2man >/dev/null; then
    install -d "$stage/usr/share/man/man1"
    while IFS='|' read -r b what; do
        help2man --no-info --version-string="$version" --name="$what" "$bin_dir/$b" | gzip -9n > "$stage/usr/share/man/man1/$b.1.gz"
    done <<'PAGES'
aperod|apero's daemon: calls, chat and files between friends, peer to peer
apero|apero's command line: rooms, invites, chat, calls and files
apero-tray|apero's tray icon: calls, mute and notifications from the panel
apero-app|apero's window: join with a code, talk, chat and share files
PAGES
else
    echo "package-deb.sh: help2man is not installed: no manual pages" >&2
fi

# Linked: glibc, libgcc, ALSA (cpal). Loaded at run time by the window
# (winit and glow dlopen them, so no tool can see them): X11, Wayland,
# xkbcommon, EGL/GL.
depends="libc6 (>= 2.34), libgcc-s1, libasound2 | libasound2t64, libvpx7 | libvpx9, libx11-6, libx11-xcb1, libxcursor1, libxi6, libxrandr2, libxkbcommon0, libxkbcommon-x11-0, libwayland-client0, libwayland-egl1 | libwayland-egl1-mesa, libegl1, libgl1"
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
