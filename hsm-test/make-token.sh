#!/usr/bin/env bash
# Makes an isolated SoftHSM2 configuration and token directory, and initialises one token.
#
#   hsm-test/make-token.sh DIR LABEL SO_PIN USER_PIN
#
# Creates DIR/softhsm2.conf and DIR/tokens/, initialises a token labelled LABEL, and prints
# the line `export SOFTHSM2_CONF=DIR/softhsm2.conf` on stdout. Nothing outside DIR is touched,
# so every test (and every demo) gets a token of its own. The PINs are arguments because this
# is a throwaway test token; never do this with a production token's PINs.
set -euo pipefail

if [ "$#" -ne 4 ]; then
  echo "usage: $0 DIR LABEL SO_PIN USER_PIN" >&2
  exit 2
fi
dir=$1 label=$2 so_pin=$3 user_pin=$4

command -v softhsm2-util >/dev/null || {
  echo "softhsm2-util not found: apt-get install -y softhsm2" >&2
  exit 1
}

mkdir -p "$dir/tokens"
dir=$(cd "$dir" && pwd)
cat >"$dir/softhsm2.conf" <<CONF
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF

export SOFTHSM2_CONF="$dir/softhsm2.conf"
softhsm2-util --init-token --free --label "$label" --so-pin "$so_pin" --pin "$user_pin" >/dev/null
echo "export SOFTHSM2_CONF=$dir/softhsm2.conf"
