#!/usr/bin/env bash
# The main job: installs what is missing, builds rootvault, and runs a ceremony on a
# throwaway SoftHSM2 token in a new directory (default: a fresh temporary directory).
#
#   hsm-test/demo.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
hsm-test/install-deps.sh
cargo build --locked --release -q
rv="${CARGO_TARGET_DIR:-$PWD/target}/release/rootvault"

dir=${1:-$(mktemp -d -t rootvault-demo.XXXXXX)}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
echo "== throwaway SoftHSM2 token in $dir/hsm" >&2
eval "$(hsm-test/make-token.sh "$dir/hsm" demo-root "demo-so-$RANDOM$RANDOM" demo-user-pin)"
printf 'demo-user-pin\n' >"$dir/pin"
chmod 600 "$dir/pin"
export ROOTVAULT_DIR="$dir/vault"
module=$(hsm-test/module-path.sh)

step() { echo; echo "== rootvault $*" >&2; "$rv" "$@"; }
step init --module "$module" --token demo-root
step token
step --pin-file "$dir/pin" root create --subject "CN=Demo Root CA,O=Demo Mesh,C=GB" --key-type ecdsa-p384
step root show
step root cert --out "$dir/root.pem"
echo; echo "== openssl verify -x509_strict (a tool rootvault did not write)" >&2
openssl verify -x509_strict -CAfile "$dir/root.pem" "$dir/root.pem"
step ledger show
step ledger verify
echo
echo "demo vault: $dir/vault   (ROOTVAULT_DIR=$dir/vault SOFTHSM2_CONF=$SOFTHSM2_CONF)" >&2
