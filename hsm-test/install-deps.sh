#!/usr/bin/env bash
# Installs what rootvault's demo and tests need and is missing: SoftHSM2, OpenSC
# (pkcs11-tool), OpenSSL, sqlite3, age, tmux and Python 3 with pkilint and PyYAML; and the two
# other PKCS#11 implementations the tests run the ceremony on (docs/hsm.md): TPM 2.0 through
# tpm2-pkcs11 on swtpm (Debian packages), and kryoptic (built once from crates.io by
# hsm-test/install-kryoptic.sh, cached outside the repository). Debian/Ubuntu, as root or via
# sudo. A Rust toolchain (cargo) is expected to be present already.
#
#   hsm-test/install-deps.sh           everything the tests need
#   hsm-test/install-deps.sh --demo    only what `rootvault demo` needs (SoftHSM2 and tools)
set -euo pipefail
demo_only=false
[ "${1:-}" = "--demo" ] && demo_only=true

need=()
command -v softhsm2-util >/dev/null || need+=(softhsm2)
command -v pkcs11-tool   >/dev/null || need+=(opensc)
command -v openssl       >/dev/null || need+=(openssl)
command -v sqlite3       >/dev/null || need+=(sqlite3)
command -v age           >/dev/null || need+=(age)
command -v ssh-keygen    >/dev/null || need+=(openssh-client)
command -v tmux          >/dev/null || need+=(tmux)
command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1 || need+=(python3 python3-pip)
if ! $demo_only; then
  # TPM 2.0: a software TPM, its resource manager (and the D-Bus it talks over), the PKCS#11
  # module and its token tool.
  command -v swtpm         >/dev/null || need+=(swtpm swtpm-tools)
  command -v tpm2-abrmd    >/dev/null || need+=(tpm2-abrmd libtss2-tcti-tabrmd0)
  command -v dbus-daemon   >/dev/null || need+=(dbus)
  command -v tpm2_getrandom >/dev/null || need+=(tpm2-tools)
  command -v tpm2_ptool    >/dev/null || need+=(libtpm2-pkcs11-1 libtpm2-pkcs11-tools)
  # kryoptic's build: bindgen needs libclang; it links the system OpenSSL and SQLite.
  dpkg -s libclang-dev libssl-dev libsqlite3-dev pkg-config >/dev/null 2>&1 ||
    need+=(libclang-dev libssl-dev libsqlite3-dev pkg-config)
fi

if [ "${#need[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# pkilint (an RFC 5280 linter from DigiCert) judges our certificates in the tests.
if ! python3 -c 'import pkilint' 2>/dev/null; then
  echo "installing: pkilint (PyPI)" >&2
  python3 -m pip install -q pkilint 2>/dev/null || python3 -m pip install -q --break-system-packages pkilint
fi

# PyYAML parses the Kubernetes Secrets that the export tests write.
if ! python3 -c 'import yaml' 2>/dev/null; then
  echo "installing: PyYAML (PyPI)" >&2
  python3 -m pip install -q pyyaml 2>/dev/null || python3 -m pip install -q --break-system-packages pyyaml
fi

command -v cargo >/dev/null || {
  echo "cargo not found: install a Rust toolchain (https://rustup.rs) and run this again" >&2
  exit 1
}

# kryoptic: built once (about a minute on 2 cores), then found in the cache.
$demo_only || "$(dirname "$0")/install-kryoptic.sh" >/dev/null
