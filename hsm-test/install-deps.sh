#!/usr/bin/env bash
# Installs what rootvault's demo and tests need and is missing: SoftHSM2, OpenSC
# (pkcs11-tool), OpenSSL, sqlite3, age, tmux and Python 3 with pkilint and PyYAML. Debian/Ubuntu, as root or via sudo.
# A Rust toolchain (cargo) is expected to be present already.
set -euo pipefail

need=()
command -v softhsm2-util >/dev/null || need+=(softhsm2)
command -v pkcs11-tool   >/dev/null || need+=(opensc)
command -v openssl       >/dev/null || need+=(openssl)
command -v sqlite3       >/dev/null || need+=(sqlite3)
command -v age           >/dev/null || need+=(age)
command -v ssh-keygen    >/dev/null || need+=(openssh-client)
command -v tmux          >/dev/null || need+=(tmux)
command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1 || need+=(python3 python3-pip)

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
