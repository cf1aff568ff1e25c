#!/usr/bin/env bash
# Installs what a fresh machine lacks to build bbchain: the wasm target, rustfmt/clippy, the
# wasm-bindgen CLI at exactly the version in Cargo.lock, and (with --browser) Debian's Chromium,
# ChromeDriver and Node.js for the browser and wasm tests. Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed | grep -q '^clippy' || rustup component add clippy

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -n "$want" ] && ! wasm-bindgen --version 2>/dev/null | grep -qF " $want"; then
  echo "installing wasm-bindgen-cli $want"
  # --locked first; a lock file naming a crate version the registry no longer serves falls back to a
  # fresh resolution of the same CLI version.
  cargo install wasm-bindgen-cli --version "=$want" --locked ||
    cargo install wasm-bindgen-cli --version "=$want"
fi

# --browser: what `make test` needs besides Rust: Chromium and ChromeDriver for the browser tests,
# and Node.js, which runs the wasm build's own tests (`make test-wasm`, wasm-bindgen-test-runner).
if [ "${1:-}" = --browser ]; then
  missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
