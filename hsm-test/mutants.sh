#!/usr/bin/env bash
# Mutation testing of the security-critical code with cargo-mutants (issue 17): each group is
# a set of files and the test binaries that cover them, so that a 2-core machine runs one
# group in an hour or two rather than the whole suite once per mutant. Not run by CI (too
# slow): run it before each release and after changing any of these files, then record the
# counts and explain every missed mutant in docs/testing.md.
#
#   hsm-test/mutants.sh                  # every group
#   hsm-test/mutants.sh x509 confirm     # only these groups (x509 = lint crl csr)
#   MUTANTS_ARGS=--iterate hsm-test/mutants.sh crl   # only what the last run missed
#   hsm-test/mutants.sh --list ledger    # list the mutants of a group, run nothing
#   MUTANTS_ARGS="--in-diff changes.diff" hsm-test/mutants.sh ledger   # only changed lines
#
# Groups (files: test binaries; passed to cargo as --lib / --test=NAME):
#   lint     src/x509/lint.rs: the library's unit tests and tests/rotation.rs
#   csr      src/x509/csr.rs: the library's unit tests
#   crl      src/x509/crl.rs: the library's unit tests and tests/bad_signers.rs
#   confirm  src/ceremony/confirm.rs: the library's unit tests
#   policy   src/policy/ (mod.rs, names.rs, profile.rs): the library's unit tests
#   ledger   src/ledger/ (mod.rs and verify.rs: verify and checkpoints, checkpoint.rs,
#            canonical.rs): the unit tests, tests/audit.rs and tests/rotation.rs (real SoftHSM2
#            tokens, real binary; rotation for the root generations' history)
#   state    src/ceremony/state.rs and verified.rs (the token-held state, issue 12): the unit
#            tests, tests/attacks.rs, tests/rotation.rs and tests/revoke_export.rs
#
# Results: target/mutants/GROUP/mutants.out/{caught,missed,unviable,timeout}.txt and
# outcomes.json; a summary line per group at the end. Install the tool once with
# `cargo install --locked cargo-mutants` (27.x). Environment: MUTANTS_JOBS (default 1: each
# job is a full build of the crate), MUTANTS_ARGS (more cargo-mutants options),
# MUTANTS_LIB_FIRST=1 (run the groups whose tests include integration tests with the unit tests
# alone; follow with MUTANTS_ARGS=--iterate and without it, so the slow tests see only the
# mutants the unit tests missed).
set -euo pipefail
cd "$(dirname "$0")/.."

list=()
if [[ ${1:-} == --list ]]; then
    list=(--list)
    shift
fi
groups=("$@")
[[ ${#groups[@]} -gt 0 ]] || groups=(x509 confirm policy ledger state)
# The ledger group is the one to re-run after the ledger changes: hsm-test/mutants.sh ledger

command -v cargo-mutants >/dev/null || {
    echo "mutants.sh: cargo-mutants is not installed: cargo install --locked cargo-mutants" >&2
    exit 1
}

run_group() {
    local group=$1
    shift
    local files=() tests=() re=()
    while [[ $# -gt 0 ]]; do
        case $1 in
        --file) files+=(--file "$2"); shift 2 ;;
        --re) re+=(--re "$2"); shift 2 ;;
        --) shift
            for t in "$@"; do
                # MUTANTS_LIB_FIRST=1: the unit tests only (seconds a mutant); then an
                # --iterate run with the integration tests takes only what they missed.
                [[ -n ${MUTANTS_LIB_FIRST:-} && $t == --test=* ]] && continue
                tests+=("--cargo-arg=$t")
            done
            break ;;
        *) echo "mutants.sh: bad group spec $1" >&2; exit 2 ;;
        esac
    done
    local out=target/mutants/$group
    mkdir -p "$out"
    # The scratch copy builds into one target directory kept across runs and groups, seeded
    # from this tree's (cp -a keeps the times cargo compares), so only the crate itself is
    # rebuilt per mutant (no --cap-lints: it changes RUSTFLAGS and so rebuilds every
    # dependency). The test selection goes to the build as well as the run (--cargo-arg), so
    # only the covering test binaries are linked. The unmutated tests run first (baseline)
    # and their time sets each mutant's timeout.
    # The copy cargo-mutants builds in has no .git: the test that compares the recorded
    # commit with `git rev-parse HEAD` cannot pass there, in any group that runs it.
    # (After cargo-mutants' own `--`, cargo test's: what follows goes to the test binaries.)
    nice cargo mutants "${list[@]}" "${files[@]}" "${re[@]}" \
        --jobs "${MUTANTS_JOBS:-1}" --output "$out" \
        --minimum-test-timeout 60 "${tests[@]}" ${MUTANTS_ARGS:-} \
        -- -- --skip the_running_binarys_sha256_and_commit || true
    if [[ ${#list[@]} -eq 0 ]]; then
        local d=$out/mutants.out
        printf '%-8s caught %s, missed %s, unviable %s, timeouts %s\n' "$group" \
            "$(wc -l <"$d/caught.txt")" "$(wc -l <"$d/missed.txt")" \
            "$(wc -l <"$d/unviable.txt")" "$(wc -l <"$d/timeout.txt")" | tee -a target/mutants/summary.txt
    fi
}

export CARGO_TARGET_DIR=$PWD/target/mutants/target
if [[ ! -d $CARGO_TARGET_DIR/debug && -d target/debug && ${#list[@]} -eq 0 ]]; then
    mkdir -p "$CARGO_TARGET_DIR"
    cp -a target/debug "$CARGO_TARGET_DIR/debug"
fi

expanded=()
for g in "${groups[@]}"; do
    case $g in
    x509) expanded+=(lint crl csr) ;;
    *) expanded+=("$g") ;;
    esac
done

for g in "${expanded[@]}"; do
    case $g in
    # The library's unit tests cover lint.rs and csr.rs (the fake signers of issue 17 are in
    # lint.rs's own tests); crl.rs also needs tests/bad_signers.rs, which drives the CRL
    # path through the public API.
    # lint.rs: also tests/rotation.rs, where an enterprise CA (openssl) issues the subordinate
    # root with a SHA-1 subjectKeyIdentifier, not RFC 7093's: only that path checks the arm.
    lint) run_group lint --file src/x509/lint.rs -- --features=fault-injection --lib --test=rotation ;;
    csr) run_group csr --file src/x509/csr.rs -- --lib ;;
    crl) run_group crl --file src/x509/crl.rs -- --lib --test=bad_signers ;;
    confirm) run_group confirm --file src/ceremony/confirm.rs -- --lib ;;
    policy) run_group policy --file src/policy/mod.rs --file src/policy/names.rs \
        --file src/policy/profile.rs -- --lib ;;
    # verify, checkpoints and receipts; the append path is exercised by every other test.
    ledger) run_group ledger --file 'src/ledger/mod.rs' --file src/ledger/checkpoint.rs \
        --file src/ledger/canonical.rs --file src/ledger/verify.rs \
        --re 'verify|checkpoint|Checkpoint|Receipt|receipt|head|EventFields|software' \
        -- --features=fault-injection --lib --test=audit --test=rotation ;;
    # The token-held state and what is proven against it (issue 12): the attacks of the
    # security review, run on real tokens, the library's unit tests, and the rotation and
    # export tests (generations, chains, cross-certificates and exported intermediates are
    # proven against the token there).
    state) run_group state --file src/ceremony/state.rs --file src/ceremony/verified.rs \
        -- --features=fault-injection --lib --test=attacks --test=rotation --test=revoke_export ;;
    *) echo "mutants.sh: unknown group $g (lint csr crl x509 confirm policy ledger state)" >&2; exit 2 ;;
    esac
done
