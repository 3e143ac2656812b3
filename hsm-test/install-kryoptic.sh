#!/usr/bin/env bash
# Builds kryoptic (a PKCS#11 soft token written in Rust, published on crates.io) once and
# keeps the module in a cache outside the repository, so later runs (and CI on the same
# machine) reuse it. Prints the module's path on stdout.
#
#   hsm-test/install-kryoptic.sh            build if not cached, print the path
#   hsm-test/install-kryoptic.sh --path     print the path if cached (exit 1 if not)
#
# The cache is $ROOTVAULT_HSM_CACHE (default ~/.cache/rootvault-hsm). The crate is fetched by
# cargo from crates.io like any dependency: a throwaway project in the cache depends on the
# exact version, `cargo fetch` downloads it, and the crate's own Cargo.lock pins everything it
# builds with (--locked). Debian 12's OpenSSL is 3.0, so the default features (which want
# OpenSSL >= 3.2) are off: `minimal` (the mechanisms a vault needs: EC, RSA, SHA-2) linked
# against the system libcrypto. bindgen needs libclang-dev; hsm-test/install-deps.sh installs
# it with libssl-dev, libsqlite3-dev and pkg-config.
set -euo pipefail

version=1.5.4
cache=${ROOTVAULT_HSM_CACHE:-${HOME:-/root}/.cache/rootvault-hsm}
dest=$cache/kryoptic-$version
lib=$dest/libkryoptic_pkcs11.so

if [ -f "$lib" ]; then
  echo "$lib"
  exit 0
fi
if [ "${1:-}" = "--path" ]; then
  echo "kryoptic $version is not built yet: run hsm-test/install-kryoptic.sh" >&2
  exit 1
fi

command -v cargo >/dev/null || {
  echo "cargo not found: kryoptic is built from crates.io with cargo" >&2
  exit 1
}

start=$(date +%s)
work=$cache/build-kryoptic-$version
rm -rf "$work"
mkdir -p "$work/fetch/src"
cat >"$work/fetch/Cargo.toml" <<TOML
[package]
name = "fetch-kryoptic"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
kryoptic = { version = "=$version", default-features = false }
TOML
: >"$work/fetch/src/lib.rs"
echo "fetching kryoptic $version from crates.io" >&2
(cd "$work/fetch" && cargo fetch -q)
src=$(cd "$work/fetch" && cargo metadata --format-version 1 2>/dev/null |
  python3 -c 'import json,sys; m=json.load(sys.stdin); print(next(p["manifest_path"] for p in m["packages"] if p["name"]=="kryoptic"))')
src=$(dirname "$src")

# Build in a copy: the registry's unpacked sources are shared by every project.
cp -r "$src" "$work/src"
echo "building kryoptic $version (minimal features, system OpenSSL); this takes about a minute" >&2
(cd "$work/src" && CARGO_TARGET_DIR="$work/target" nice cargo build -q --release --locked \
  --no-default-features --features minimal,kryoptic-lib/dynamic)
mkdir -p "$dest"
cp "$work/target/release/libkryoptic_pkcs11.so" "$lib.tmp"
mv "$lib.tmp" "$lib"
rm -rf "$work"
echo "kryoptic $version built in $(($(date +%s) - start)) s: $lib" >&2
echo "$lib"
