#!/usr/bin/env bash
# The whole test suite: unit and property tests, then end-to-end tests with
# real daemons. One build, shared by every test.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
# cmake builds libopus; libasound2-dev is cpal's ALSA; espeak-ng, sox and a
# user-mode PulseAudio with its ALSA plugin make speech and virtual sound
# devices for the voice tests; tmux drives the terminal chat test; iproute2,
# iptables and nftables build the NAT testbed (network namespaces, as root);
# the tray tests run a private session bus (dbus-daemon) and `apero service`
# checks its unit with systemd-analyze (from systemd); the package test
# builds the .deb with dpkg-deb, installs it (so the window's run-time
# libraries must be there: X11, Wayland, xkbcommon, EGL/GL) and checks its
# desktop entry with desktop-file-validate; the tray's mute shortcut is
# pressed with xdotool on a private X server (Xvfb); the window's
# accessibility tree is read over AT-SPI as a screen reader does (the bus
# launcher from at-spi2-core, libatspi's Python bindings, Mesa's software GL);
# tinyproxy is the office's HTTP proxy in e2e_proxy.
apero_install_deps build-essential pkg-config cmake libasound2-dev libvpx-dev tmux espeak-ng sox \
    pulseaudio pulseaudio-utils libasound2-plugins alsa-utils iproute2 iptables nftables dbus systemd python3 \
    desktop-file-utils libx11-6 libx11-xcb1 libxcursor1 libxi6 libxrandr2 libxkbcommon0 libxkbcommon-x11-0 \
    libwayland-client0 libwayland-egl1 libegl1 libgl1 libgl1-mesa-dri xvfb xdotool help2man \
    at-spi2-core python3-gi gir1.2-atspi-2.0 python3-pyatspi tinyproxy
apero_need_cargo
apero_need_lint_tools

export CARGO_TERM_COLOR=never
# The gates hold before anything runs: formatting, then clippy's default set
# and the workspace lints (Cargo.toml) as errors.
echo "==> cargo fmt --check"
cargo fmt --all --check
echo "==> cargo clippy (warnings are errors)"
cargo clippy --locked --workspace --all-targets -- -D warnings
echo "==> building (once, for all tests)"
cargo build --locked --workspace --all-targets
echo "==> running the tests"
# Each binary's time is printed at the end (scripts/test-times.py); the
# exit status is cargo's.
cargo test --locked --workspace --no-fail-fast 2>&1 | python3 scripts/test-times.py
