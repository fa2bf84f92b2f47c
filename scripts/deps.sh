#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages apero needs to build and test, when run
# as root and when they are missing. Sourced by run.sh and test.sh.
apero_install_deps() {
    local want=("$@") missing=()
    for p in "${want[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ]; then
        echo "==> installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "!!! missing packages: ${missing[*]}"
        echo "!!! install them with: sudo apt-get install ${missing[*]}"
    fi
}

apero_need_cargo() {
    if ! command -v cargo >/dev/null; then
        [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
    fi
    if ! command -v cargo >/dev/null; then
        echo "apero is written in Rust and needs cargo: install it with 'apt-get install cargo' or from rustup.rs" >&2
        exit 1
    fi
}

# clippy and rustfmt gate the test suite. rustup can add them; a distribution
# cargo may come without them: then say so, and fail under CI.
apero_need_lint_tools() {
    if cargo clippy --version >/dev/null 2>&1 && cargo fmt --version >/dev/null 2>&1; then
        return 0
    fi
    if command -v rustup >/dev/null; then
        rustup component add clippy rustfmt
        return 0
    fi
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        apt-get install -y -qq --no-install-recommends rust-clippy rustfmt >/dev/null 2>&1 || true
        cargo clippy --version >/dev/null 2>&1 && cargo fmt --version >/dev/null 2>&1 && return 0
    fi
    echo "!!! cargo clippy and cargo fmt are needed (rustup component add clippy rustfmt)" >&2
    exit 1
}
