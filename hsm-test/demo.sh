#!/usr/bin/env bash
# The main job: installs what is missing, builds rootvault, and runs `rootvault demo`: a
# complete ceremony on a throwaway SoftHSM2 token (root, two clusters — one from a CSR, one
# with a vault-generated key —, a revocation, a CRL, exports in every format), each output
# checked with OpenSSL and age.
#
#   hsm-test/demo.sh [DIR]      (default: a new temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."
hsm-test/install-deps.sh --demo
cargo build --locked --release -q
rv="${CARGO_TARGET_DIR:-$PWD/target}/release/rootvault"
if [ "$#" -gt 0 ]; then
  exec "$rv" demo --dir "$1"
else
  exec "$rv" demo
fi
