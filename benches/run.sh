#!/usr/bin/env bash
# rootvault benchmarks (issue 7 item 5). Every figure is printed next to the physical limit it
# is compared with, measured in the same run on the same machine and disk. Results go to
# $BENCH_DIR/results.txt as `key value` lines (times in microseconds unless the key ends _s);
# docs/performance.md explains each figure.
#
#   benches/run.sh                 # everything (about 10-20 minutes on 2 cores)
#   benches/run.sh issuance crl    # only some phases: build issuance append verify crl startup precheck witness
#
# Environment:
#   BENCH_DIR     scratch directory (default /tmp/rootvault-bench; wiped). The ledger and the
#                 commit-floor database live here, so put it on the disk you want measured.
#   BENCH_N       CSRs per sign-batch run (default 1000)
#   BENCH_APPENDS durable single-event appends timed at each ledger size (default 200)
#   BENCH_WITNESS_RUNS  signings timed with and without witnesses (default 30 each)
#   CARGO_TARGET_DIR  default /tmp/bench-target
#
# Needs: SoftHSM2, OpenSC (pkcs11-tool), openssl, GNU time (/usr/bin/time); the repository's
# hsm-test/install-deps.sh installs the first three. Nothing here touches a real token: every
# token is a throwaway SoftHSM2 token made by hsm-test/make-token.sh inside $BENCH_DIR.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/bench-target}
BENCH_DIR=${BENCH_DIR:-/tmp/rootvault-bench}
N=${BENCH_N:-1000}
APPENDS=${BENCH_APPENDS:-200}
PIN=Bench-Pin-5521
SO_PIN=Bench-SoPin-9902
phases=${*:-build issuance append verify crl startup precheck witness}
has() { [[ " $phases " == *" $1 "* ]]; }

mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
results=$BENCH_DIR/results.txt
touch "$results"
rv=$CARGO_TARGET_DIR/release/rootvault
lb=$CARGO_TARGET_DIR/release/examples/ledger_bench
module=$("$repo/hsm-test/module-path.sh")
(umask 077 && echo "$PIN" >"$BENCH_DIR/pin")

log() { echo "== $*" >&2; }
record() { tee -a "$results"; }
now_ns() { date +%s%N; }

if has build; then
  log "building (release)"
  (cd "$repo" && cargo build --release --quiet && cargo build --release --quiet --example ledger_bench)
fi

{
  echo "machine_nproc $(nproc)"
  echo "machine_cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs | tr ' ' _)"
  echo "machine_mem_kb $(grep MemTotal /proc/meminfo | awk '{print $2}')"
  echo "machine_loadavg_at_start $(cut -d' ' -f1 /proc/loadavg)"
  echo "bench_dir_fs $(df -P "$BENCH_DIR" | awk 'NR==2{print $1}')"
} | record

# A vault with a root of KEY_TYPE on a fresh token, in $BENCH_DIR/vault-KEY_TYPE.
make_vault() {
  local kt=$1 d=$BENCH_DIR/vault-${2:-$1}
  rm -rf "$d"
  mkdir -p "$d"
  "$repo/hsm-test/make-token.sh" "$d/hsm" "bench-$kt" "$SO_PIN" "$PIN" >/dev/null
  chmod 600 "$BENCH_DIR/pin"
  export SOFTHSM2_CONF=$d/hsm/softhsm2.conf ROOTVAULT_DIR=$d/vault USER=bench-operator
  "$rv" --pin-file "$BENCH_DIR/pin" init --module "$module" --token "bench-$kt" >/dev/null
  "$rv" --pin-file "$BENCH_DIR/pin" root create --subject "CN=Bench Root CA,O=Example Org,C=GB" \
    --key-type "$kt" >/dev/null
}

if has issuance; then
  # N CSRs (P-256 intermediates), made once and signed by each root.
  csrs=$BENCH_DIR/csrs
  if [ ! -f "$csrs/manifest-$N.txt" ]; then
    log "making $N CSRs"
    rm -rf "$csrs" && mkdir -p "$csrs"
    for i in $(seq -w 1 "$N"); do
      c=cluster-$i
      openssl req -new -nodes -subj "/CN=$c" -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -keyout "$csrs/$c.key" -out "$csrs/$c.csr" 2>/dev/null
      fp=$(openssl req -in "$csrs/$c.csr" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)
      echo "$c  $fp  $c.csr"
    done >"$csrs/manifest-$N.txt"
  fi
  manifest=$csrs/manifest-$N.txt
  sha=$(sha256sum "$manifest" | cut -c1-64)

  log "token raw signing and durable commit floor"
  d=$BENCH_DIR/signtoken
  rm -rf "$d"
  SOFTHSM2_CONF=$("$repo/hsm-test/make-token.sh" "$d" bench-sign "$SO_PIN" "$PIN" | sed -n 's/^export SOFTHSM2_CONF=//p') \
    "$lb" token-sign "$module" bench-sign "$PIN" 200 | record
  "$lb" commit-floor "$BENCH_DIR" 300 | record
  # What writing one output PEM costs (temp file, fsync, rename, directory fsync), as the CLI does.
  mkdir -p "$BENCH_DIR/fs"
  python3 - "$BENCH_DIR/fs" <<'PY' | record
import os, sys, time, statistics
d = sys.argv[1]; v = []
for i in range(200):
    t = time.perf_counter()
    p = f"{d}/.c{i}.tmp"; fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, b"x" * 1200); os.fsync(fd); os.close(fd)
    os.rename(p, f"{d}/c{i}.pem"); dfd = os.open(d, os.O_RDONLY); os.fsync(dfd); os.close(dfd)
    v.append((time.perf_counter() - t) * 1e6)
v.sort(); print("atomic_pem_write_median_us %.0f\natomic_pem_write_mean_us %.0f" % (v[100], statistics.mean(v)))
PY

  for kt in ecdsa-p384 rsa-3072; do
    log "sign-batch of $N CSRs, $kt root"
    make_vault "$kt"
    out=$BENCH_DIR/out-$kt
    rm -rf "$out"
    t0=$(now_ns)
    "$rv" --pin-file "$BENCH_DIR/pin" sign-batch "$manifest" --confirm "${sha:0:16}" \
      --out-dir "$out" >/dev/null 2>"$BENCH_DIR/sign-batch-$kt.err"
    t1=$(now_ns)
    issued=$(ls "$out" | wc -l)
    echo "batch_${kt}_n $issued" | record
    echo "batch_${kt}_total_s $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f",(b-a)/1e9}')" | record
    echo "batch_${kt}_per_cert_us $(awk -v a="$t0" -v b="$t1" -v n="$N" 'BEGIN{printf "%.0f",(b-a)/1e3/n}')" | record
    "$rv" ledger verify >/dev/null && echo "batch_${kt}_ledger_verify ok" | record
  done
fi

if has append; then
  log "ledger append at 0, 100k, 1M events ($APPENDS durable appends each)"
  "$lb" append "$BENCH_DIR" "$APPENDS" | record
fi

if has verify; then
  db=$BENCH_DIR/ledger.sqlite
  [ -f "$db" ] || { echo "run the append phase first (it leaves a 1M-event ledger)" >&2; exit 1; }
  log "verify vs raw SHA-256 over the same canonical bytes"
  /usr/bin/time -v "$lb" verify "$db" 2>"$BENCH_DIR/verify.time" | record
  echo "verify_peak_rss_kb $(awk -F: '/Maximum resident/{gsub(/ /,"",$2);print $2}' "$BENCH_DIR/verify.time")" | record
  /usr/bin/time -v "$lb" sha "$db" 2>"$BENCH_DIR/sha.time" | record
  echo "sha_peak_rss_kb $(awk -F: '/Maximum resident/{gsub(/ /,"",$2);print $2}' "$BENCH_DIR/sha.time")" | record
  echo "ledger_file_bytes $(stat -c %s "$db")" | record
fi

if has crl; then
  log "CRL generation, 10k and 100k entries (software P-384 signer)"
  "$lb" crl 10000 100000 | record
fi

if has startup; then
  log "start-up: root show and token vs pkcs11-tool --list-objects (30 runs each)"
  [ -d "$BENCH_DIR/vault-ecdsa-p384/vault" ] || make_vault ecdsa-p384
  export SOFTHSM2_CONF=$BENCH_DIR/vault-ecdsa-p384/hsm/softhsm2.conf
  export ROOTVAULT_DIR=$BENCH_DIR/vault-ecdsa-p384/vault
  time_loop() {
    local name=$1
    shift
    "$@" >/dev/null 2>&1 # warm the page cache
    local v=() i t0
    for i in $(seq 30); do
      t0=$(now_ns)
      "$@" >/dev/null 2>&1
      v+=($(( ($(now_ns) - t0) / 1000 )))
    done
    printf '%s\n' "${v[@]}" | sort -n | awk -v n="$name" '{a[NR]=$1; s+=$1} END{printf "%s_median_us %d\n%s_mean_us %d\n", n, a[int((NR+1)/2)], n, s/NR}'
  }
  time_loop startup_root_show "$rv" root show | record
  time_loop startup_pkcs11_list "pkcs11-tool" --module "$module" --token-label bench-ecdsa-p384 --list-objects | record
  # Like for like: `rootvault token` loads the module, finds the token and lists its objects.
  time_loop startup_token "$rv" token | record
fi

echo "machine_loadavg_at_end $(cut -d' ' -f1 /proc/loadavg)" | record
log "results in $results"

if has precheck; then
  # Issue 12: the check of the ledger against the token's state before every token action is
  # incremental. The same token action (crl, P-384 root) on a fresh vault and on a vault whose
  # ledger holds 1,000,000 events; the ratio of the medians is the check's cost at that size.
  log "pre-action check: crl on a fresh vault and on a 1,000,000-event vault (30 runs each)"
  crl_loop() {
    local name=$1 v=() i t0
    "$rv" --pin-file "$BENCH_DIR/pin" crl --force --out "$BENCH_DIR/$name.crl" >/dev/null 2>&1
    for i in $(seq 30); do
      t0=$(now_ns)
      "$rv" --pin-file "$BENCH_DIR/pin" crl --force --out "$BENCH_DIR/$name.crl" >/dev/null 2>&1
      v+=($(( ($(now_ns) - t0) / 1000 )))
    done
    printf '%s\n' "${v[@]}" | sort -n | awk -v n="$name" '{a[NR]=$1} END {print n "_median_us " a[int((NR+1)/2)]}' | record
  }
  make_vault ecdsa-p384 fresh
  crl_loop precheck_fresh_crl
  make_vault ecdsa-p384 big
  t0=$(now_ns)
  "$lb" prefill "$ROOTVAULT_DIR/ledger.sqlite" 1000000 >/dev/null
  echo "precheck_prefill_1m_s $(( ($(now_ns) - t0) / 1000000000 ))" | record
  # The first action after a million refusals recorded without the token folds them in once.
  t0=$(now_ns)
  "$rv" --pin-file "$BENCH_DIR/pin" crl --force --out "$BENCH_DIR/catchup.crl" >/dev/null
  echo "precheck_catchup_1m_us $(( ($(now_ns) - t0) / 1000 ))" | record
  crl_loop precheck_1m_crl
  awk '/^precheck_fresh_crl_median_us/{f=$2} /^precheck_1m_crl_median_us/{b=$2} END {if (f) printf "precheck_ratio %.2f\n", b/f}' "$results" | record
fi

if has witness; then
  # Issue 14: what the witness gate costs the vault. The same `sign` (one P-256 CSR, P-384
  # root), interleaved run by run: on a vault that requires no witnesses, and on one that
  # requires 2 of 2 (ed25519 keys made by ssh-keygen), given both signatures. Each witnessed
  # run's statement is written (timed on its own) and signed by both witnesses first; their
  # ssh-keygen time is theirs, not the vault's, and is not counted.
  K=${BENCH_WITNESS_RUNS:-30}
  log "witness gate: sign with M = 0 and with M = 2 ($K runs each, interleaved)"
  make_vault ecdsa-p384 plain
  make_vault ecdsa-p384 witnessed
  w=$BENCH_DIR/witness
  rm -rf "$w" && mkdir -p "$w"
  openssl req -new -nodes -subj "/CN=bench" -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -keyout "$w/bench.key" -out "$w/bench.csr" 2>/dev/null
  fp=$(openssl req -in "$w/bench.csr" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -c1-16)
  in_vault() {
    local v=$1
    shift
    SOFTHSM2_CONF=$BENCH_DIR/vault-$v/hsm/softhsm2.conf ROOTVAULT_DIR=$BENCH_DIR/vault-$v/vault "$@"
  }
  for n in alice bob; do
    ssh-keygen -q -t ed25519 -N '' -C "$n" -f "$w/$n"
    in_vault witnessed "$rv" --pin-file "$BENCH_DIR/pin" witness add "$n" --ssh-key "$w/$n.pub" \
      --confirm "$(ssh-keygen -l -E sha256 -f "$w/$n.pub" | awk '{print $2}' | cut -c8-23)" >/dev/null 2>&1
  done
  in_vault witnessed "$rv" --pin-file "$BENCH_DIR/pin" witness require 2 >/dev/null 2>&1
  sign_args=(sign "$w/bench.csr" --cluster bench --confirm "$fp")
  plain=() witnessed=() statement=()
  for i in $(seq 0 "$K"); do
    t0=$(now_ns)
    in_vault plain "$rv" --pin-file "$BENCH_DIR/pin" "${sign_args[@]}" >/dev/null 2>&1
    t1=$(now_ns)
    rm -f "$w/st" "$w"/st-*
    in_vault witnessed "$rv" "${sign_args[@]}" --statement-out "$w/st" >/dev/null 2>&1
    t2=$(now_ns)
    for n in alice bob; do
      ssh-keygen -q -Y sign -f "$w/$n" -n rootvault-witness <"$w/st" >"$w/st-$n.sig"
    done
    t3=$(now_ns)
    in_vault witnessed "$rv" --pin-file "$BENCH_DIR/pin" "${sign_args[@]}" \
      --witness-sig "$w/st-alice.sig" --witness-sig "$w/st-bob.sig" >/dev/null 2>&1
    t4=$(now_ns)
    if [ "$i" -gt 0 ]; then # run 0 warms the page cache
      plain+=($(( (t1 - t0) / 1000 )))
      statement+=($(( (t2 - t1) / 1000 )))
      witnessed+=($(( (t4 - t3) / 1000 )))
    fi
  done
  stats() {
    printf '%s\n' "${@:2}" | sort -n | awk -v n="$1" '{a[NR]=$1; s+=$1} END {printf "%s_median_us %d\n%s_p10_us %d\n%s_p90_us %d\n", n, a[int((NR+1)/2)], n, a[int(NR*0.1)+1], n, a[int(NR*0.9)]}'
  }
  stats witness_plain_sign "${plain[@]}" | record
  stats witness_m2_sign "${witnessed[@]}" | record
  stats witness_statement_out "${statement[@]}" | record
  echo "witness_issued_plain $(in_vault plain "$rv" list --json | grep -o '"serial"' | wc -l)" | record
  echo "witness_issued_m2 $(in_vault witnessed "$rv" list --json | grep -o '"serial"' | wc -l)" | record
  in_vault witnessed "$rv" ledger verify >/dev/null && echo "witness_ledger_verify ok" | record
fi
