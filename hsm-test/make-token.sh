#!/usr/bin/env bash
# Makes a throwaway token of one PKCS#11 implementation under DIR, and prints shell lines to
# `eval`: the environment the module needs (`export NAME=VALUE`) and `MODULE=PATH`.
#
#   hsm-test/make-token.sh [--impl NAME] DIR LABEL SO_PIN USER_PIN
#   hsm-test/make-token.sh --list         the implementations it can make, one a line
#   hsm-test/make-token.sh --stop DIR     stops the daemons a token under DIR runs (tpm2)
#
# Implementations (docs/hsm.md says why these):
#   softhsm2  (default) SoftHSM2: DIR/softhsm2.conf and DIR/tokens/. The first line printed is
#             `export SOFTHSM2_CONF=DIR/softhsm2.conf`, as it always was.
#   kryoptic  kryoptic, a PKCS#11 soft token in Rust, built from crates.io by
#             hsm-test/install-kryoptic.sh: DIR/kryoptic.conf, a sqlite token in DIR.
#   tpm2      TPM 2.0 through tpm2-pkcs11 on a software TPM: swtpm, a private D-Bus and
#             tpm2-abrmd (the resource manager) run under DIR, on Unix sockets only, until
#             `--stop DIR`; their pids are in DIR/*.pid.
#
# Nothing outside DIR is touched, so every test (and every demo) gets a token of its own. The
# PINs are arguments because this is a throwaway test token; never do this with a production
# token's PINs. hsm-test/install-deps.sh installs everything the three need.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
impls=(softhsm2 kryoptic tpm2)

usage() {
  echo "usage: $0 [--impl softhsm2|kryoptic|tpm2] DIR LABEL SO_PIN USER_PIN | --list | --stop DIR" >&2
  exit 2
}

stop() {
  local dir=$1 pidfile pid
  for pidfile in "$dir"/abrmd.pid "$dir"/dbus.pid "$dir"/swtpm.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    # Only a process this script started: its pid file is ours, and it must still be the
    # program we started (a recycled pid belongs to someone else).
    case "$(cat "/proc/$pid/comm" 2>/dev/null)" in
      tpm2-abrmd | dbus-daemon | swtpm) kill "$pid" 2>/dev/null || true ;;
    esac
    rm -f "$pidfile"
  done
}

case "${1:-}" in
  --list)
    printf '%s\n' "${impls[@]}"
    exit 0
    ;;
  --stop)
    [ "$#" -eq 2 ] || usage
    stop "$2"
    exit 0
    ;;
esac

impl=softhsm2
if [ "${1:-}" = "--impl" ]; then
  [ "$#" -ge 2 ] || usage
  impl=$2
  shift 2
fi
[ "$#" -eq 4 ] || usage
dir=$1 label=$2 so_pin=$3 user_pin=$4

need() {
  command -v "$1" >/dev/null || {
    echo "$1 not found: $impl tokens need it; run hsm-test/install-deps.sh" >&2
    exit 1
  }
}

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

case "$impl" in
softhsm2)
  need softhsm2-util
  module=$("$here/module-path.sh")
  mkdir -p "$dir/tokens"
  cat >"$dir/softhsm2.conf" <<CONF
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
  export SOFTHSM2_CONF="$dir/softhsm2.conf"
  softhsm2-util --init-token --free --label "$label" --so-pin "$so_pin" --pin "$user_pin" >/dev/null
  echo "export SOFTHSM2_CONF=$dir/softhsm2.conf"
  ;;

kryoptic)
  need pkcs11-tool
  module=$("$here/install-kryoptic.sh" --path)
  # kryoptic refuses PINs shorter than 8 characters.
  cat >"$dir/kryoptic.conf" <<CONF
[[slots]]
slot = 42
dbtype = "sqlite"
dbargs = "$dir/token.sql"
CONF
  export KRYOPTIC_CONF="$dir/kryoptic.conf"
  pkcs11-tool --module "$module" --slot 42 --init-token --label "$label" --so-pin "$so_pin" >/dev/null
  pkcs11-tool --module "$module" --slot 42 --login --login-type so --so-pin "$so_pin" \
    --init-pin --pin "$user_pin" >/dev/null
  echo "export KRYOPTIC_CONF=$dir/kryoptic.conf"
  ;;

tpm2)
  for c in swtpm dbus-daemon tpm2-abrmd tpm2_ptool tpm2_getrandom; do need "$c"; done
  module=
  for p in /usr/lib/*-linux-gnu/pkcs11/libtpm2_pkcs11.so /usr/lib/*-linux-gnu/libtpm2_pkcs11.so.1 \
           /usr/lib/pkcs11/libtpm2_pkcs11.so /usr/local/lib/libtpm2_pkcs11.so; do
    if [ -f "$p" ]; then module=$p; break; fi
  done
  [ -n "$module" ] || {
    echo "libtpm2_pkcs11.so not found: run hsm-test/install-deps.sh" >&2
    exit 1
  }
  stop "$dir"
  trap 'stop "$dir"' ERR
  mkdir -p "$dir/tpm" "$dir/store"
  # A software TPM on a Unix socket (no TCP port to collide with another test's).
  swtpm socket --tpm2 --tpmstate "dir=$dir/tpm" \
    --server "type=unixio,path=$dir/swtpm.sock" --ctrl "type=unixio,path=$dir/swtpm.sock.ctrl" \
    --flags not-need-init,startup-clear --daemon --pid "file=$dir/swtpm.pid" \
    --log "file=$dir/swtpm.log"
  # tpm2-abrmd talks to its clients over D-Bus; a private session bus keeps tokens apart.
  dbus-daemon --session --fork --address="unix:path=$dir/dbus.sock" --print-pid=1 >"$dir/dbus.pid"
  export DBUS_SESSION_BUS_ADDRESS="unix:path=$dir/dbus.sock"
  # The resource manager: without it every process leaks transient objects and the TPM
  # soon answers 0x902 (out of memory for object contexts).
  setsid tpm2-abrmd --session --allow-root --flush-all --tcti="swtpm:path=$dir/swtpm.sock" \
    </dev/null >"$dir/abrmd.log" 2>&1 &
  echo $! >"$dir/abrmd.pid"
  export TPM2TOOLS_TCTI=tabrmd:bus_type=session TPM2_PKCS11_TCTI=tabrmd:bus_type=session
  export TPM2_PKCS11_STORE="$dir/store" TSS2_LOG=all+NONE
  for _ in $(seq 100); do
    tpm2_getrandom 4 >/dev/null 2>&1 && break
    sleep 0.1
  done
  tpm2_getrandom 4 >/dev/null || {
    echo "tpm2-abrmd did not come up; see $dir/abrmd.log" >&2
    stop "$dir"
    exit 1
  }
  tpm2_ptool init --path "$dir/store" >/dev/null
  tpm2_ptool addtoken --pid=1 --sopin="$so_pin" --userpin="$user_pin" --label="$label" \
    --path "$dir/store" >/dev/null
  trap - ERR
  echo "export DBUS_SESSION_BUS_ADDRESS=$DBUS_SESSION_BUS_ADDRESS"
  echo "export TPM2_PKCS11_TCTI=$TPM2_PKCS11_TCTI"
  echo "export TPM2_PKCS11_STORE=$TPM2_PKCS11_STORE"
  # Quiet: tpm2-pkcs11 and the TSS otherwise write warnings on rootvault's stderr.
  echo "export TPM2_PKCS11_LOG_LEVEL=0"
  echo "export TSS2_LOG=all+NONE"
  ;;

*)
  echo "unknown implementation $impl; hsm-test/make-token.sh --list names them" >&2
  exit 2
  ;;
esac
echo "MODULE=$module"
