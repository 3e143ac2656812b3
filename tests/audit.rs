//! Issue 6, the auditor's side. Someone with write access to `ledger.sqlite` and no token
//! edits the ledger with the `sqlite3` CLI: a payload, a deleted, inserted or reordered event,
//! a cut tail, a whole chain re-hashed, a substituted audit key. Each is caught by
//! `rootvault ledger verify` and, agreeing with it, by the auditor's own verifier
//! (`docs/audit/verify_ledger.py`: Python's standard library and the `openssl` CLI) run on a
//! fresh `ledger export` of the edited vault. Checkpoints and receipts are also checked with
//! `openssl dgst` alone, with the commands docs/audit.md gives.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// What an attacker drops before editing: the append-only triggers of migrations 0001, 0003
/// and 0004.
const DROP_TRIGGERS: &str = "
DROP TRIGGER events_append_only_update;
DROP TRIGGER events_append_only_delete;
DROP TRIGGER checkpoints_append_only_update;
DROP TRIGGER checkpoints_append_only_delete;
DROP TRIGGER token_keys_append_only_update;
DROP TRIGGER token_keys_append_only_delete;
DROP TRIGGER certificates_append_only_update;
DROP TRIGGER certificates_append_only_delete;
DROP TRIGGER revocations_append_only_update;
DROP TRIGGER revocations_append_only_delete;
DROP TRIGGER crls_append_only_update;
DROP TRIGGER crls_append_only_delete;
DROP TRIGGER exports_append_only_update;
DROP TRIGGER exports_append_only_delete;
";

/// ... and puts back afterwards, so that a missing trigger does not give the edit away and
/// only the chain and the checkpoints can.
const CREATE_TRIGGERS: &str = "
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'ledger events are append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'ledger events are append-only'); END;
CREATE TRIGGER checkpoints_append_only_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER checkpoints_append_only_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER token_keys_append_only_update BEFORE UPDATE ON token_keys
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;
CREATE TRIGGER token_keys_append_only_delete BEFORE DELETE ON token_keys
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;
CREATE TRIGGER certificates_append_only_update BEFORE UPDATE ON certificates
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;
CREATE TRIGGER certificates_append_only_delete BEFORE DELETE ON certificates
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;
CREATE TRIGGER revocations_append_only_update BEFORE UPDATE ON revocations
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;
CREATE TRIGGER revocations_append_only_delete BEFORE DELETE ON revocations
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;
CREATE TRIGGER crls_append_only_update BEFORE UPDATE ON crls
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;
CREATE TRIGGER crls_append_only_delete BEFORE DELETE ON crls
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;
CREATE TRIGGER exports_append_only_update BEFORE UPDATE ON exports
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;
CREATE TRIGGER exports_append_only_delete BEFORE DELETE ON exports
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;
";

/// The events of [`ceremony`], in order (seq = index + 1).
const KINDS: [&str; 10] = [
    "vault_initialised",   // 1
    "audit_key_created",   // 2  checkpoint
    "root_created",        // 3  checkpoint
    "certificate_issued",  // 4  checkpoint (east)
    "certificate_issued",  // 5  checkpoint (west)
    "certificate_revoked", // 6  checkpoint (west)
    "crl_issued",          // 7  checkpoint
    "bundle_exported",     // 8  checkpoint (east, istio; its receipt attests 7)
    "bundle_exported",     // 9  checkpoint (east, pem-bundle; its receipt attests 8)
    "signing_rejected",    // 10 no checkpoint: refusals are recorded without the token
];

/// A vault after a small ceremony, and what the clusters and the auditor took away from it.
struct Ceremony {
    h: Hsm,
    /// `ledger-receipt.json` of the istio export of east: attests event 7.
    receipt_istio: PathBuf,
    /// `east.pem.receipt.json` beside the pem-bundle export: attests event 8.
    receipt_bundle: PathBuf,
    /// The audit key as `root show --json` printed it during the ceremony: the auditor's pin.
    audit_pem: PathBuf,
    east: String,
}

/// A P-256 CSR and its SPKI fingerprint (tests/common's `make_cluster_csr`).
fn make_csr(dir: &Path, name: &str) -> (PathBuf, String) {
    let c = make_cluster_csr(dir, name, P256);
    (c.csr, c.spki_sha256)
}

fn serial_of(pem: &Path) -> String {
    openssl(&["x509", "-in", s(pem), "-noout", "-serial"])
        .expect(0)
        .stdout
        .trim()
        .strip_prefix("serial=")
        .unwrap()
        .to_lowercase()
}

/// Root, two intermediates from `openssl req` CSRs, a revocation, a CRL, two exports with
/// receipts and a refused request: the events of [`KINDS`]. Both verifiers pass it.
fn ceremony(label: &str) -> Ceremony {
    let h = Hsm::new(label);
    h.vault_with_root("ecdsa-p384").expect(0);
    let mut serials = Vec::new();
    for cluster in ["east", "west"] {
        let (csr, fp) = make_csr(h.dir.path(), cluster);
        let out = h.path(&format!("{cluster}.pem"));
        run(h
            .rv_pin()
            .arg("sign")
            .arg(&csr)
            .args(["--cluster", cluster, "--confirm", &fp[..16], "--out"])
            .arg(&out))
        .expect(0);
        serials.push(serial_of(&out));
    }
    let (east, west) = (serials[0].clone(), &serials[1]);
    run(h.rv_pin().args([
        "revoke",
        "--serial",
        west,
        "--reason",
        "keyCompromise",
        "--confirm",
        &west[..16],
    ]))
    .expect(0);
    run(h.rv_pin().args(["crl", "--out"]).arg(h.path("root.crl"))).expect(0);
    let istio = h.path("east-istio");
    run(h
        .rv_pin()
        .args(["export", "--cluster", "east", "--format", "istio", "--out"])
        .arg(&istio))
    .expect(0);
    let bundle = h.path("east-bundle.pem");
    run(h
        .rv_pin()
        .args([
            "export",
            "--cluster",
            "east",
            "--format",
            "pem-bundle",
            "--out",
        ])
        .arg(&bundle))
    .expect(0);
    // Not a CSR: refused and recorded, without the token.
    std::fs::write(h.path("junk.csr"), "this is not a CSR\n").unwrap();
    run(h
        .rv()
        .arg("sign")
        .arg(h.path("junk.csr"))
        .args(["--cluster", "east"]))
    .expect(3);

    let audit_pem = h.path("pinned-audit.pem");
    let show = run(h.rv().args(["root", "show", "--json"]))
        .expect(0)
        .json();
    let pem = show["audit_public_key_pem"]
        .as_str()
        .expect("root show --json has audit_public_key_pem");
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
    std::fs::write(&audit_pem, pem).unwrap();

    let c = Ceremony {
        receipt_istio: istio.join("ledger-receipt.json"),
        receipt_bundle: h.path("east-bundle.pem.receipt.json"),
        audit_pem,
        east,
        h,
    };
    let kinds: Vec<String> = events_in(&c.h).into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, KINDS, "the ceremony's events");
    let seqs: Vec<i64> = checkpoints_in(&c.h).iter().map(|cp| cp.seq).collect();
    assert_eq!(seqs, [2, 3, 4, 5, 6, 7, 8, 9], "checkpoints");
    assert_eq!(receipt(&c.receipt_istio)["seq"], 7);
    assert_eq!(receipt(&c.receipt_bundle)["seq"], 8);
    for r in [None, Some(&c.receipt_istio), Some(&c.receipt_bundle)] {
        let v = judged(&c, r.map(|p| p.as_path()), 0);
        assert_eq!(v.rootvault["checkpoints"], 8);
        assert_eq!(v.auditor["checkpoints"], 8);
        assert_eq!(v.rootvault["attested_seq"], 9);
        assert_eq!(v.auditor["attested_seq"], 9);
    }
    c
}

fn receipt(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A new `ledger export` of the vault as it is now.
fn export(h: &Hsm) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let out = h.path(&format!(
        "export-{}.jsonl",
        N.fetch_add(1, Ordering::Relaxed)
    ));
    run(h.rv().args(["ledger", "export", "--out"]).arg(&out)).expect(0);
    out
}

/// The auditor's verifier.
fn auditor(export: &Path, args: &[&str]) -> Run {
    run(Command::new("python3")
        .arg(repo().join("docs/audit/verify_ledger.py"))
        .arg(export)
        .args(args))
}

/// What each verifier said.
struct Verdicts {
    rootvault: Value,
    auditor: Value,
}

/// `rootvault ledger verify --json` and, on a fresh export, the auditor's verifier with the
/// audit key pinned, each with `receipt` if given: both exit `code`, and they agree on `ok`,
/// the number of events, the head and the first bad event.
#[track_caller]
fn judged(c: &Ceremony, receipt: Option<&Path>, code: i32) -> Verdicts {
    let mut cmd = c.h.rv();
    cmd.args(["ledger", "verify", "--json"]);
    if let Some(r) = receipt {
        cmd.arg("--receipt").arg(r);
    }
    let rootvault = run(&mut cmd).expect(code).json();
    let ex = export(&c.h);
    let mut args = vec!["--json", "--audit-key", s(&c.audit_pem)];
    if let Some(r) = receipt {
        args.extend(["--receipt", s(r)]);
    }
    let auditor = auditor(&ex, &args).expect(code).json();
    for key in ["ok", "events", "head", "first_bad_seq"] {
        assert_eq!(
            rootvault[key], auditor[key],
            "the verifiers disagree on {key}\nrootvault: {rootvault:#}\nauditor: {auditor:#}"
        );
    }
    assert_eq!(rootvault["ok"], code == 0);
    Verdicts { rootvault, auditor }
}

/// Panics unless one of the report's problems contains `needle`.
#[track_caller]
fn names(report: &Value, needle: &str) {
    let problems = report["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.as_str().unwrap().contains(needle)),
        "no problem mentions {needle:?}: {report:#}"
    );
}

impl Verdicts {
    /// Both name `needle`, and neither blames a trigger (the attacker put them back).
    #[track_caller]
    fn both_name(&self, needle: &str) -> &Self {
        names(&self.rootvault, needle);
        names(&self.auditor, needle);
        for r in [&self.rootvault, &self.auditor] {
            assert!(!r["problems"].to_string().contains("trigger"), "{r:#}");
        }
        self
    }
}

/// An event as the `events` table stores it.
#[derive(Debug, Clone, serde::Deserialize)]
struct Ev {
    seq: i64,
    time: String,
    kind: String,
    actor: String,
    payload: String,
    prev_hash: String,
    hash: String,
}

/// A row of `checkpoints`.
#[derive(Debug, Clone, serde::Deserialize)]
struct Cp {
    seq: i64,
    hash: String,
    time: String,
    key_label: String,
    signature: String,
}

/// `sqlite3 -json` on the vault's ledger.
fn query<T: serde::de::DeserializeOwned>(h: &Hsm, sql: &str) -> Vec<T> {
    let r = run(Command::new("sqlite3")
        .arg("-json")
        .arg(h.vault().join("ledger.sqlite"))
        .arg(sql))
    .expect(0);
    if r.stdout.trim().is_empty() {
        return Vec::new();
    }
    serde_json::from_str(&r.stdout).unwrap()
}

fn events_in(h: &Hsm) -> Vec<Ev> {
    query(
        h,
        "SELECT seq, time, kind, actor, payload, prev_hash, hash FROM events ORDER BY seq",
    )
}

fn checkpoints_in(h: &Hsm) -> Vec<Cp> {
    query(
        h,
        "SELECT seq, hash, time, key_label, signature FROM checkpoints ORDER BY seq",
    )
}

/// docs/ledger.md, written from the page: seven netstrings (byte lengths), SHA-256, hex.
fn canonical_hash(e: &Ev) -> String {
    let seq = e.seq.to_string();
    let mut enc = Vec::new();
    for f in [
        "rootvault-ledger-v1",
        &seq,
        &e.time,
        &e.kind,
        &e.actor,
        &e.payload,
        &e.prev_hash,
    ] {
        enc.extend_from_slice(format!("{}:", f.len()).as_bytes());
        enc.extend_from_slice(f.as_bytes());
        enc.push(b',');
    }
    hex::encode(Sha256::digest(&enc))
}

/// The re-hasher: numbers the events 1, 2, … in order and recomputes every prev_hash and
/// hash, as someone who knows docs/ledger.md and has no token would.
fn rechain(events: &mut [Ev]) {
    let mut prev = "0".repeat(64);
    for (i, e) in events.iter_mut().enumerate() {
        e.seq = i as i64 + 1;
        e.prev_hash = prev;
        e.hash = canonical_hash(e);
        prev = e.hash.clone();
    }
}

fn sql_text(v: &str) -> String {
    format!("'{}'", v.replace('\'', "''"))
}

/// SQL that replaces the whole `events` table by `events`, exactly as given.
fn replace_events(events: &[Ev]) -> String {
    let mut sql = String::from("DELETE FROM events;\n");
    for e in events {
        sql += &format!(
            "INSERT INTO events (seq, time, kind, actor, payload, prev_hash, hash) VALUES ({}, {}, {}, {}, {}, {}, {});\n",
            e.seq,
            sql_text(&e.time),
            sql_text(&e.kind),
            sql_text(&e.actor),
            sql_text(&e.payload),
            sql_text(&e.prev_hash),
            sql_text(&e.hash)
        );
    }
    sql
}

/// SQL that replaces the whole `checkpoints` table.
fn replace_checkpoints(cps: &[Cp]) -> String {
    let mut sql = String::from("DELETE FROM checkpoints;\n");
    for cp in cps {
        sql += &format!(
            "INSERT INTO checkpoints (seq, hash, time, key_label, signature) VALUES ({}, {}, {}, {}, {});\n",
            cp.seq,
            sql_text(&cp.hash),
            sql_text(&cp.time),
            sql_text(&cp.key_label),
            sql_text(&cp.signature)
        );
    }
    sql
}

/// Runs `sql` in one transaction with the triggers dropped first and put back after.
fn tamper(h: &Hsm, sql: &str) {
    h.sqlite(&format!(
        "BEGIN;\n{DROP_TRIGGERS}\n{sql}\n{CREATE_TRIGGERS}\nCOMMIT;"
    ))
    .expect(0);
}

/// `certificates.event_seq` etc. moved from `from` to `to` (through a negative value, so
/// that UNIQUE constraints never see two rows at once).
fn move_rows(table: &str, from: i64, to: i64) -> String {
    format!(
        "UPDATE {table} SET event_seq = -{to} WHERE event_seq = {from};\nUPDATE {table} SET event_seq = {to} WHERE event_seq = -{to};\n"
    )
}

fn revocation_payload(serial: &str, cluster: &str) -> String {
    format!(
        r#"{{"serial":"{serial}","cluster":"{cluster}","reason":"keyCompromise","revoked_at":"2026-01-01T00:00:00Z"}}"#
    )
}

#[test]
fn an_untampered_ceremony_passes_both_verifiers_and_the_unpinned_one_says_so() {
    let c = ceremony("audit-intact");
    let ex = export(&c.h);
    // Without --audit-key the script trusts the key in the export, and warns that it does.
    let r = auditor(&ex, &[]).expect(0);
    assert!(
        r.stdout.starts_with("ledger intact: 10 events"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("NOT pinned"), "{}", r.stderr);
    assert!(r.stdout.contains("events 10..10"), "{}", r.stdout);
    let r = auditor(&ex, &["--audit-key", s(&c.audit_pem)]).expect(0);
    assert!(!r.stderr.contains("NOT pinned"), "{}", r.stderr);
    // Several receipts at once.
    auditor(
        &ex,
        &[
            "--audit-key",
            s(&c.audit_pem),
            "--receipt",
            s(&c.receipt_istio),
            "--receipt",
            s(&c.receipt_bundle),
        ],
    )
    .expect(0);
    // Both read the refusal at the tail as uncovered, and fine.
    let v = judged(&c, None, 0);
    for r in [&v.rootvault, &v.auditor] {
        assert!(r["notes"].to_string().contains("events 10..10"), "{r:#}");
    }
    // The export is exactly what the ledger holds.
    let lines = std::fs::read_to_string(&ex).unwrap();
    assert_eq!(lines.lines().count(), 10 + 8 + 1);
}

#[test]
fn usage_errors_exit_2_and_an_edited_export_file_exits_4() {
    let c = ceremony("audit-usage");
    let ex = export(&c.h);
    auditor(&ex, &["--no-such-flag"]).expect(2);
    run(Command::new("python3").arg(repo().join("docs/audit/verify_ledger.py"))).expect(2);
    let not_a_key = c.h.path("not-a-key.pem");
    std::fs::write(&not_a_key, "hello\n").unwrap();
    auditor(&ex, &["--audit-key", s(&not_a_key)]).expect(2);
    // The root certificate is not the audit key either.
    auditor(&ex, &["--audit-key", s(&c.h.root_pem())]).expect(2);
    auditor(&c.h.path("missing.jsonl"), &[]).expect(1);

    // An export edited in transit (one character of a payload) fails on its own.
    let text = std::fs::read_to_string(&ex).unwrap();
    let edited = text.replacen("keyCompromise", "keyCompromisf", 1);
    assert_ne!(text, edited);
    let bad = c.h.path("edited.jsonl");
    std::fs::write(&bad, edited).unwrap();
    let r = auditor(&bad, &["--audit-key", s(&c.audit_pem)]).expect(4);
    assert!(
        r.stdout.contains("ledger integrity FAILED at event 6")
            && r.stdout
                .contains("event 6 (certificate_revoked): stored hash does not match"),
        "{}",
        r.stdout
    );
}

#[test]
fn the_audit_key_is_a_p256_key_and_not_the_roots() {
    // docs/audit.md's hand checks themselves run in tests/doc_snippets.rs.
    let c = ceremony("audit-openssl");
    let t = openssl(&["pkey", "-pubin", "-in", s(&c.audit_pem), "-noout", "-text"]).expect(0);
    assert!(t.stdout.contains("prime256v1"), "{}", t.stdout);
    let root = openssl(&["x509", "-in", s(&c.h.root_pem()), "-noout", "-pubkey"]).expect(0);
    assert_ne!(
        root.stdout.trim(),
        std::fs::read_to_string(&c.audit_pem).unwrap().trim()
    );
}

#[test]
fn receipts_verify_with_openssl_and_carry_the_pinned_key() {
    let c = ceremony("audit-receipt");
    let pinned = std::fs::read_to_string(&c.audit_pem).unwrap();
    for path in [&c.receipt_istio, &c.receipt_bundle] {
        let r = receipt(path);
        let mut sorted: Vec<&str> = r.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        sorted.sort();
        assert_eq!(
            sorted,
            [
                "audit_public_key_pem",
                "format",
                "hash",
                "message",
                "seq",
                "signature",
                "time"
            ]
        );
        assert_eq!(r["format"], "rootvault-receipt-v1");
        assert_eq!(
            r["message"],
            format!(
                "rootvault-checkpoint-v1\nseq={}\nhash={}\ntime={}\n",
                r["seq"],
                r["hash"].as_str().unwrap(),
                r["time"].as_str().unwrap()
            )
        );
        assert_eq!(
            r["audit_public_key_pem"].as_str().unwrap().trim(),
            pinned.trim()
        );
        // The receipt verifies with openssl alone.
        let dir = c.h.path("receipt-by-hand");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("msg.txt"), r["message"].as_str().unwrap()).unwrap();
        std::fs::write(
            dir.join("sig.der"),
            base64::engine::general_purpose::STANDARD
                .decode(r["signature"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        let v = openssl(&[
            "dgst",
            "-sha256",
            "-verify",
            s(&c.audit_pem),
            "-signature",
            s(&dir.join("sig.der")),
            s(&dir.join("msg.txt")),
        ])
        .expect(0);
        assert_eq!(v.stdout.trim(), "Verified OK");
    }
}

#[test]
fn an_edited_payload_is_named_by_both_verifiers() {
    let c = ceremony("audit-edit");
    // West's revocation made to look routine; the derived row edited to match.
    tamper(
        &c.h,
        "UPDATE events SET payload = replace(payload, '\"keyCompromise\"', '\"superseded\"') WHERE seq = 6;
         UPDATE revocations SET reason = 'superseded';",
    );
    let v = judged(&c, None, 4);
    v.both_name("event 6 (certificate_revoked): stored hash does not match its contents");
    assert_eq!(v.rootvault["first_bad_seq"], 6);
}

#[test]
fn a_deleted_event_is_named_by_both_verifiers() {
    let c = ceremony("audit-delete");
    // West's revocation removed, with its derived row.
    tamper(
        &c.h,
        "DELETE FROM events WHERE seq = 6; DELETE FROM revocations;",
    );
    let v = judged(&c, None, 4);
    v.both_name("event 6 is missing: event 7 follows event 5")
        .both_name("event 7: prev_hash does not match the hash of the event before it")
        .both_name("checkpoint at seq 6 names an event that is not in the ledger");
    assert_eq!(v.rootvault["first_bad_seq"], 6);
}

#[test]
fn an_inserted_event_is_named_by_both_verifiers() {
    // In the middle: a revocation of east forged as event 7, correctly chained to event 6;
    // the later events renumbered, their derived rows moved along, the checkpoints left alone.
    let c = ceremony("audit-insert");
    let mut events = events_in(&c.h);
    let mut forged = Ev {
        seq: 7,
        time: events[5].time.clone(),
        kind: "certificate_revoked".into(),
        actor: "test-operator".into(),
        payload: revocation_payload(&c.east, "east"),
        prev_hash: events[5].hash.clone(),
        hash: String::new(),
    };
    forged.hash = canonical_hash(&forged);
    for e in &mut events[6..] {
        e.seq += 1;
    }
    events.insert(6, forged);
    let mut sql = replace_events(&events);
    for from in [9, 8, 7] {
        sql += &move_rows("crls", from, from + 1);
        sql += &move_rows("exports", from, from + 1);
    }
    sql += &format!(
        "INSERT INTO revocations (serial, reason, revoked_at, event_seq) VALUES ('{}', 'keyCompromise', '2026-01-01T00:00:00Z', 7);",
        c.east
    );
    tamper(&c.h, &sql);
    let v = judged(&c, None, 4);
    v.both_name("event 8: prev_hash does not match the hash of the event before it")
        .both_name("event 8 (crl_issued): stored hash does not match its contents")
        .both_name(
            "checkpoint at seq 7: event 7 no longer has the hash that was signed (rewritten?)",
        );
    assert_eq!(v.rootvault["first_bad_seq"], 8);
    assert_eq!(v.rootvault["events"], 11);

    // At the end: the same forgery appended after the last event, chained, with its row.
    // The chain is whole, but a revocation needs the token and no checkpoint covers it.
    let c = ceremony("audit-append");
    let events = events_in(&c.h);
    let mut forged = Ev {
        seq: 11,
        time: events[9].time.clone(),
        kind: "certificate_revoked".into(),
        actor: "test-operator".into(),
        payload: revocation_payload(&c.east, "east"),
        prev_hash: events[9].hash.clone(),
        hash: String::new(),
    };
    forged.hash = canonical_hash(&forged);
    tamper(
        &c.h,
        &format!(
            "{}\nINSERT INTO revocations (serial, reason, revoked_at, event_seq) VALUES ('{}', 'keyCompromise', '2026-01-01T00:00:00Z', 11);",
            replace_events(&[&events[..], &[forged]].concat()),
            c.east
        ),
    );
    let v = judged(&c, None, 4);
    v.both_name("event 11 needed the token but no signed checkpoint covers it");
    assert_eq!(v.rootvault["first_bad_seq"], 11);
    assert_eq!(
        v.rootvault["problems"].as_array().unwrap().len(),
        1,
        "{:#}",
        v.rootvault
    );
}

#[test]
fn a_reordered_pair_is_named_by_both_verifiers() {
    let c = ceremony("audit-reorder");
    // West's issuance moved before east's; their certificates rows moved to match.
    let mut events = events_in(&c.h);
    events.swap(3, 4);
    events[3].seq = 4;
    events[4].seq = 5;
    let sql = replace_events(&events)
        + "UPDATE certificates SET event_seq = -4 WHERE event_seq = 5;
           UPDATE certificates SET event_seq = 5 WHERE event_seq = 4;
           UPDATE certificates SET event_seq = 4 WHERE event_seq = -4;";
    tamper(&c.h, &sql);
    let v = judged(&c, None, 4);
    v.both_name("event 4: prev_hash does not match the hash of the event before it")
        .both_name("event 4 (certificate_issued): stored hash does not match its contents")
        .both_name("event 5 (certificate_issued): stored hash does not match its contents")
        .both_name("checkpoint at seq 4: event 4 no longer has the hash that was signed");
    assert_eq!(v.rootvault["first_bad_seq"], 4);
}

#[test]
fn a_truncated_tail_passes_plain_verification_but_not_a_receipt_from_an_earlier_export() {
    let c = ceremony("audit-truncate");
    // Everything from west's revocation on cut away, checkpoints and derived rows with it:
    // what is left is a whole, checkpointed ledger of five events.
    tamper(
        &c.h,
        "DELETE FROM events WHERE seq >= 6; DELETE FROM checkpoints WHERE seq >= 6;
         DELETE FROM revocations; DELETE FROM crls; DELETE FROM exports;",
    );
    let v = judged(&c, None, 0);
    assert_eq!(v.rootvault["events"], 5);
    assert_eq!(v.auditor["attested_seq"], 5);
    // East's clusters hold receipts for events 7 and 8.
    for (receipt, seq) in [(&c.receipt_istio, 7), (&c.receipt_bundle, 8)] {
        let v = judged(&c, Some(receipt), 4);
        v.both_name(&format!(
            "the receipt attests event {seq}, which the ledger no longer contains (truncated)"
        ));
        // The human output of rootvault names it too.
        let r = run(c
            .h
            .rv()
            .args(["ledger", "verify", "--receipt"])
            .arg(receipt))
        .expect(4);
        assert!(r.stderr.contains("truncated"), "{}", r.stderr);
    }
    // A receipt from before the cut still passes: a receipt proves only its own head.
    let old = c.h.path("receipt-at-5.json");
    let mut r = receipt(&c.receipt_istio);
    r["seq"] = 5.into();
    std::fs::write(&old, r.to_string()).unwrap();
    // (Re-pointed, its signature no longer matches: both refuse it as not genuine.)
    let v = judged(&c, Some(&old), 4);
    v.both_name("the receipt is not valid");
}

#[test]
fn a_ledger_rehashed_consistently_without_the_token_fails_on_its_checkpoints() {
    let c = ceremony("audit-rehash");
    // West's revocation reason rewritten and every hash and prev_hash recomputed after it:
    // the chain is whole, but the checkpoints at 6.. signed other hashes.
    let mut events = events_in(&c.h);
    events[5].payload = events[5]
        .payload
        .replace("\"keyCompromise\"", "\"superseded\"");
    rechain(&mut events);
    tamper(
        &c.h,
        &(replace_events(&events) + "UPDATE revocations SET reason = 'superseded';"),
    );
    let v = judged(&c, None, 4);
    for seq in 6..=9 {
        v.both_name(&format!(
            "checkpoint at seq {seq}: event {seq} no longer has the hash that was signed (rewritten?)"
        ));
    }
    for r in [&v.rootvault, &v.auditor] {
        assert!(
            !r["problems"]
                .to_string()
                .contains("stored hash does not match"),
            "the chain itself is consistent: {r:#}"
        );
        assert_eq!(r["problems"].as_array().unwrap().len(), 4, "{r:#}");
    }
    assert_eq!(v.rootvault["first_bad_seq"], 6);
    judged(&c, Some(&c.receipt_istio), 4)
        .both_name("event 7 no longer has the hash the receipt attests (rewritten)");

    // The same, with the checkpoints that no longer match deleted as well: the events that
    // needed the token are no longer covered.
    let c = ceremony("audit-rehash-2");
    let mut events = events_in(&c.h);
    events[5].payload = events[5]
        .payload
        .replace("\"keyCompromise\"", "\"superseded\"");
    rechain(&mut events);
    tamper(
        &c.h,
        &(replace_events(&events)
            + "UPDATE revocations SET reason = 'superseded'; DELETE FROM checkpoints WHERE seq >= 6;"),
    );
    let v = judged(&c, None, 4);
    v.both_name("event 9 needed the token but no signed checkpoint covers it");
    assert_eq!(v.rootvault["first_bad_seq"], 9);
}

/// `rootvault ledger verify`, human and `--json`, exits 4 and names checkpoint `seq`'s
/// signature; the auditor's script agrees (issue 17: nothing else noticed a checkpoint
/// whose signature was not the audit key's while the key itself stayed recorded).
#[track_caller]
fn checkpoint_signature_refused(c: &Ceremony, seq: i64) {
    let r = run(c.h.rv().args(["ledger", "verify"])).expect(4);
    let named = format!("checkpoint at seq {seq}: signature does not verify with the audit key");
    assert!(
        r.stderr
            .contains(&format!("ledger integrity FAILED at event {seq}:"))
            && r.stderr.contains(&format!("  - {named}")),
        "{}",
        r.stderr
    );
    let v = judged(c, None, 4);
    assert_eq!(v.rootvault["problems"], serde_json::json!([named]));
    assert_eq!(
        v.auditor["problems"],
        serde_json::json!([format!(
            "checkpoint at seq {seq}: the signature does not verify with the audit key"
        )])
    );
    assert_eq!(v.rootvault["first_bad_seq"], seq);
}

#[test]
fn a_checkpoint_with_a_corrupted_signature_fails_ledger_verify_naming_it() {
    let c = ceremony("audit-cp-corrupt");
    let cp = checkpoints_in(&c.h)
        .into_iter()
        .find(|cp| cp.seq == 6)
        .unwrap();
    let mut sig = base64::engine::general_purpose::STANDARD
        .decode(&cp.signature)
        .unwrap();
    *sig.last_mut().unwrap() ^= 0x01;
    let sig = base64::engine::general_purpose::STANDARD.encode(sig);
    tamper(
        &c.h,
        &format!("UPDATE checkpoints SET signature = '{sig}' WHERE seq = 6;"),
    );
    checkpoint_signature_refused(&c, 6);
}

#[test]
fn a_checkpoint_signed_by_another_key_fails_ledger_verify_while_the_real_key_stays_recorded() {
    let c = ceremony("audit-cp-otherkey");
    let key = c.h.path("other.key");
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        s(&key),
    ])
    .expect(0);
    let cp = checkpoints_in(&c.h)
        .into_iter()
        .find(|cp| cp.seq == 8)
        .unwrap();
    let message = format!(
        "rootvault-checkpoint-v1\nseq={}\nhash={}\ntime={}\n",
        cp.seq, cp.hash, cp.time
    );
    let sig = attacker_sign(c.h.dir.path(), &key, &message);
    tamper(
        &c.h,
        &format!("UPDATE checkpoints SET signature = '{sig}' WHERE seq = 8;"),
    );
    // The ledger still records the genuine audit key, the pinned one.
    let show = run(c.h.rv().args(["root", "show", "--json"]))
        .expect(0)
        .json();
    assert_eq!(
        show["audit_public_key_pem"].as_str().unwrap().trim(),
        std::fs::read_to_string(&c.audit_pem).unwrap().trim()
    );
    checkpoint_signature_refused(&c, 8);
}

/// Signs `message` with an attacker's P-256 key, as `openssl dgst` does: base64 DER.
fn attacker_sign(dir: &Path, key: &Path, message: &str) -> String {
    let msg = dir.join("forged-msg.txt");
    let sig = dir.join("forged-sig.der");
    std::fs::write(&msg, message).unwrap();
    openssl(&["dgst", "-sha256", "-sign", s(key), "-out", s(&sig), s(&msg)]).expect(0);
    base64::engine::general_purpose::STANDARD.encode(std::fs::read(&sig).unwrap())
}

#[test]
fn a_substituted_audit_key_is_caught_only_by_the_pinned_key_or_a_receipt() {
    let c = ceremony("audit-substitute");
    let h = &c.h;
    // The attacker makes a P-256 key of their own, writes its public half into the
    // audit_key_created event, rewrites the revocation, re-hashes everything and re-signs
    // every checkpoint with their key.
    let key = h.path("attacker.key");
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        s(&key),
    ])
    .expect(0);
    let spki_path = h.path("attacker.spki.der");
    openssl(&[
        "pkey",
        "-in",
        s(&key),
        "-pubout",
        "-outform",
        "DER",
        "-out",
        s(&spki_path),
    ])
    .expect(0);
    let spki_b64 =
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(&spki_path).unwrap());

    let mut events = events_in(h);
    assert_eq!(events[1].kind, "audit_key_created");
    let audit: Value = serde_json::from_str(&events[1].payload).unwrap();
    let genuine = audit["public_key_der_base64"].as_str().unwrap();
    events[1].payload = events[1].payload.replace(genuine, &spki_b64);
    events[5].payload = events[5]
        .payload
        .replace("\"keyCompromise\"", "\"superseded\"");
    rechain(&mut events);
    let mut cps = checkpoints_in(h);
    for cp in &mut cps {
        cp.hash = events[cp.seq as usize - 1].hash.clone();
        cp.signature = attacker_sign(
            h.dir.path(),
            &key,
            &format!(
                "rootvault-checkpoint-v1\nseq={}\nhash={}\ntime={}\n",
                cp.seq, cp.hash, cp.time
            ),
        );
    }
    tamper(
        h,
        &(replace_events(&events)
            + &replace_checkpoints(&cps)
            + "UPDATE revocations SET reason = 'superseded';"),
    );

    // rootvault trusts the key its own ledger records: the forgery passes.
    run(h.rv().args(["ledger", "verify"])).expect(0);
    // So does the script when the key is not pinned, with its warning.
    let ex = export(h);
    let r = auditor(&ex, &[]).expect(0);
    assert!(r.stderr.contains("NOT pinned"), "{}", r.stderr);
    // And `root show` on this machine now prints the attacker's key: pin it from elsewhere.
    let shown = run(h.rv().args(["root", "show", "--json"]))
        .expect(0)
        .json();
    assert_ne!(
        shown["audit_public_key_pem"].as_str().unwrap().trim(),
        std::fs::read_to_string(&c.audit_pem).unwrap().trim()
    );

    // The key pinned at the ceremony catches it...
    let r = auditor(&ex, &["--json", "--audit-key", s(&c.audit_pem)]).expect(4);
    let v = r.json();
    names(
        &v,
        "event 2: the ledger's audit key is not the pinned audit key (substituted?)",
    );
    names(
        &v,
        "checkpoint at seq 2: the signature does not verify with the audit key",
    );
    assert_eq!(v["first_bad_seq"], 2);
    // ... and so does any cluster's receipt, with either verifier.
    for receipt in [&c.receipt_istio, &c.receipt_bundle] {
        let r = run(h
            .rv()
            .args(["ledger", "verify", "--json", "--receipt"])
            .arg(receipt))
        .expect(4);
        names(
            &r.json(),
            "the receipt's audit key is not this ledger's audit key",
        );
        let r = auditor(&ex, &["--json", "--receipt", s(receipt)]).expect(4);
        names(
            &r.json(),
            "the receipt's audit key is not this ledger's audit key",
        );
    }
}

/// The ceremony's ledger without its `audit_key_created` event and without any checkpoint,
/// re-hashed from the first event, every derived row moved to its event's new seq.
fn strip_audit_key(c: &Ceremony) {
    let mut events = events_in(&c.h);
    events.retain(|e| e.kind != "audit_key_created");
    rechain(&mut events);
    let mut sql = replace_events(&events)
        + "DELETE FROM checkpoints; DELETE FROM token_keys WHERE purpose = 'audit';\n";
    for table in [
        "certificates",
        "token_keys",
        "revocations",
        "crls",
        "exports",
    ] {
        sql += &format!(
            "UPDATE {table} SET event_seq = -(event_seq - 1) WHERE event_seq > 2;\nUPDATE {table} SET event_seq = -event_seq WHERE event_seq < 0;\n"
        );
    }
    tamper(&c.h, &sql);
}

#[test]
fn a_ledger_stripped_of_its_audit_key_and_checkpoints_fails_with_the_pinned_key_or_a_receipt() {
    let c = ceremony("audit-strip");
    strip_audit_key(&c);
    let ex = export(&c.h);
    // The auditor who pinned the key expects checkpoints by it.
    let v = auditor(&ex, &["--json", "--audit-key", s(&c.audit_pem)])
        .expect(4)
        .json();
    names(&v, "an audit key was pinned, but this ledger has none");
    names(
        &v,
        "event 8 needed the token but no signed checkpoint covers it",
    );
    // Any cluster's receipt shows it, with either verifier.
    for receipt in [&c.receipt_istio, &c.receipt_bundle] {
        let r = run(c
            .h
            .rv()
            .args(["ledger", "verify", "--json", "--receipt"])
            .arg(receipt))
        .expect(4);
        names(
            &r.json(),
            "this ledger has no audit key, but the receipt was signed by one",
        );
        let r = auditor(&ex, &["--json", "--receipt", s(receipt)]).expect(4);
        names(
            &r.json(),
            "this ledger has no audit key, but the receipt was signed by one",
        );
    }
    // The next ceremony action does not sign the forged history: the token still holds the
    // real audit key, so no second one is made and no checkpoint is added.
    let r = run(c
        .h
        .rv_pin()
        .args(["crl", "--out"])
        .arg(c.h.path("after.crl")));
    assert_eq!(r.code, 4, "an integrity failure: {}", r.stderr);
    assert!(r.stderr.contains("rootvault-audit"), "{}", r.stderr);
    assert!(r.stderr.contains("do not delete the key"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("--delete-object"),
        "never advise deleting the real audit key: {}",
        r.stderr
    );
    assert_eq!(events_in(&c.h).len(), 9);
    assert!(checkpoints_in(&c.h).is_empty());
    assert!(events_in(&c.h)
        .iter()
        .all(|e| e.kind != "audit_key_created"));
}

#[test]
fn ledger_verify_alone_refuses_a_ledger_stripped_of_its_audit_key() {
    let c = ceremony("audit-strip-verify");
    strip_audit_key(&c);
    let v = run(c.h.rv().args(["ledger", "verify", "--json"]))
        .expect(4)
        .json();
    assert_eq!(v["ok"], false);
}

/// `rootvault --version --json` of the binary at `exe`.
fn version_of(exe: &Path) -> Value {
    run(Command::new(exe).args(["--version", "--json"]))
        .expect(0)
        .json()
}

/// `sha256sum FILE`, the digest alone.
fn sha256sum(path: &Path) -> String {
    let r = run(Command::new("sha256sum").arg(path)).expect(0);
    r.stdout.split_whitespace().next().unwrap().to_owned()
}

/// The payloads of the events of `kind`, parsed.
fn payloads(h: &Hsm, kind: &str) -> Vec<(i64, Value)> {
    events_in(h)
        .into_iter()
        .filter(|e| e.kind == kind)
        .map(|e| (e.seq, serde_json::from_str(&e.payload).unwrap()))
        .collect()
}

#[test]
fn the_running_binarys_sha256_and_commit_are_printed_and_recorded_at_init() {
    let h = Hsm::new("audit-software-init");
    let exe = Path::new(env!("CARGO_BIN_EXE_rootvault"));
    let hash = sha256sum(exe);
    let v = version_of(exe);
    assert_eq!(v["sha256"], hash.as_str());
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    // The commit this tree is checked out at, as git itself says (the test runs in the repo).
    let head = run(Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(repo()))
    .expect(0);
    assert_eq!(v["commit"], head.stdout.trim());
    let text = run(Command::new(exe).arg("--version")).expect(0).stdout;
    assert_eq!(
        text,
        format!(
            "rootvault {}\ncommit {}\nsha256 {hash}\n",
            env!("CARGO_PKG_VERSION"),
            head.stdout.trim()
        )
    );

    h.init().expect(0);
    let ex = export(&h);
    let first: Value = serde_json::from_str(
        std::fs::read_to_string(&ex)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["kind"], "vault_initialised");
    let payload: Value = serde_json::from_str(first["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["software"], v, "{payload:#}");
    assert!(std::fs::read_to_string(&ex).unwrap().contains(&hash));
}

#[test]
fn another_binary_is_recorded_before_its_first_token_action_under_that_actions_checkpoint() {
    let h = Hsm::new("audit-software-change");
    h.vault_with_root("ecdsa-p256").expect(0);
    let original = Path::new(env!("CARGO_BIN_EXE_rootvault"));
    // Another build: the same program with one byte appended (the loader ignores it).
    let other = h.path("rootvault-other");
    let mut bytes = std::fs::read(original).unwrap();
    bytes.push(b'\n');
    std::fs::write(&other, bytes).unwrap();
    std::fs::set_permissions(&other, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (orig_hash, other_hash) = (sha256sum(original), sha256sum(&other));
    assert_ne!(orig_hash, other_hash);
    let with = |exe: &Path| {
        let c = h.rv_pin();
        let mut other = Command::new(exe);
        other.args(c.get_args());
        for (k, v) in c.get_envs() {
            match v {
                Some(v) => other.env(k, v),
                None => other.env_remove(k),
            };
        }
        other.current_dir(h.dir.path());
        other
    };
    // Reading is no token action: nothing is recorded.
    run(with(&other).args(["list"])).expect(0);
    assert_eq!(events_in(&h).len(), 3);
    // The first token action of the other binary: software_changed, then the CRL, one checkpoint.
    run(with(&other).args(["crl", "--out"]).arg(h.path("1.crl"))).expect(0);
    run(with(&other).args(["crl", "--out"]).arg(h.path("2.crl"))).expect(0);
    run(with(original).args(["crl", "--out"]).arg(h.path("3.crl"))).expect(0);
    let kinds: Vec<String> = events_in(&h).into_iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            "vault_initialised",
            "audit_key_created",
            "root_created",
            "software_changed",
            "crl_issued",
            "crl_issued",
            "software_changed",
            "crl_issued"
        ]
    );
    let seqs: Vec<i64> = checkpoints_in(&h).iter().map(|c| c.seq).collect();
    assert_eq!(
        seqs,
        [2, 3, 5, 6, 8],
        "no checkpoint between a change and its action"
    );
    let changes = payloads(&h, "software_changed");
    assert_eq!(changes[0].1["sha256"], other_hash.as_str());
    assert_eq!(changes[1].1["sha256"], orig_hash.as_str());
    assert_eq!(changes[0].1, version_of(&other));
    run(h.rv().args(["ledger", "verify"])).expect(0);

    // The transcript and the auditor's script list each binary with the events it wrote.
    let t = run(h.rv().args(["ledger", "transcript", "--json"]))
        .expect(0)
        .json();
    let spans: Vec<(i64, i64, String)> = t["software"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["first_seq"].as_i64().unwrap(),
                s["last_seq"].as_i64().unwrap(),
                s["software"]["sha256"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        spans,
        [
            (1, 3, orig_hash.clone()),
            (4, 6, other_hash.clone()),
            (7, 8, orig_hash.clone())
        ]
    );
    assert!(
        t["text"].as_str().unwrap().contains(&format!(
            "events #4 to #6\n  rootvault     {}",
            env!("CARGO_PKG_VERSION")
        )),
        "{}",
        t["text"]
    );
    let r = auditor(&export(&h), &["--json"]).expect(0).json();
    assert_eq!(r["software"], t["software"]);
}

#[test]
fn the_transcripts_receipt_catches_a_cut_tail_that_every_export_receipt_misses() {
    let c = ceremony("audit-transcript-receipt");
    let out = c.h.path("ceremony.txt");
    let r = run(c.h.rv().args(["ledger", "transcript", "--out"]).arg(&out)).expect(0);
    let receipt_path = c.h.path("ceremony.txt.receipt.json");
    assert!(
        r.stderr.contains("ceremony.txt.receipt.json"),
        "{}",
        r.stderr
    );
    // It attests the newest checkpoint: event 9, the last event that needed the token.
    let tr = receipt(&receipt_path);
    assert_eq!(tr["seq"], 9);
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .contains(tr["signature"].as_str().unwrap().get(..64).unwrap()));
    // Both verifiers accept it as it is.
    judged(&c, Some(&receipt_path), 0);
    // Never overwritten: the transcript again, without --force, is refused and changes nothing.
    let before = std::fs::read(&receipt_path).unwrap();
    std::fs::remove_file(&out).unwrap();
    run(c.h.rv().args(["ledger", "transcript", "--out"]).arg(&out)).expect(1);
    assert!(
        !out.exists(),
        "the transcript was written although its receipt exists"
    );
    assert_eq!(std::fs::read(&receipt_path).unwrap(), before);

    // The attacker cuts the last events (10, a refusal; 9, the pem-bundle export) and the
    // checkpoint at 9 from an export: what remains is a whole ledger of 8 events.
    let ex = export(&c.h);
    let cut = c.h.path("cut.jsonl");
    let kept: String = std::fs::read_to_string(&ex)
        .unwrap()
        .lines()
        .filter(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let seq = v["seq"].as_i64().or(v["checkpoint"]["seq"].as_i64());
            seq.is_none_or(|s| s <= 8)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&cut, kept).unwrap();
    let pin = ["--audit-key", s(&c.audit_pem)];
    auditor(&cut, &pin).expect(0);
    // Every receipt the clusters hold predates the cut.
    auditor(
        &cut,
        &[
            pin[0],
            pin[1],
            "--receipt",
            s(&c.receipt_istio),
            "--receipt",
            s(&c.receipt_bundle),
        ],
    )
    .expect(0);
    // The transcript's receipt does not.
    let r = auditor(&cut, &[pin[0], pin[1], "--receipt", s(&receipt_path)]).expect(4);
    assert!(
        r.stdout.contains(&format!(
            "receipt {}: the receipt attests event 9, which the ledger no longer contains (truncated)",
            s(&receipt_path)
        )),
        "{}",
        r.stdout
    );
}

#[test]
fn json_output_is_one_json_document_for_transcript_export_and_root_cert() {
    let h = Hsm::new("audit-json");
    h.vault_with_root("ecdsa-p256").expect(0);
    let t = run(h.rv().args(["ledger", "transcript", "--json"]))
        .expect(0)
        .json();
    assert_eq!(t["events"], 3);
    assert_eq!(t["receipt"]["seq"], 3);
    assert!(t["text"]
        .as_str()
        .unwrap()
        .starts_with("ROOTVAULT CEREMONY TRANSCRIPT\n"));
    let out = h.path("ledger.jsonl");
    let e = run(h
        .rv()
        .args(["ledger", "export", "--json", "--out"])
        .arg(&out))
    .expect(0)
    .json();
    assert_eq!(e["events"], 3);
    assert_eq!(e["sha256"], sha256sum(&out).as_str());
    let c = run(h.rv().args(["root", "cert", "--json"]))
        .expect(0)
        .json();
    assert!(c["pem"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));
}

#[test]
fn the_report_on_the_demos_export_counts_what_the_demo_did_and_checks_the_files_it_handed_out() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    run(Command::new(env!("CARGO_BIN_EXE_rootvault"))
        .arg("demo")
        .arg("--dir")
        .arg(&demo))
    .expect(0);
    let ex = dir.path().join("ledger.jsonl");
    run(Command::new(env!("CARGO_BIN_EXE_rootvault"))
        .env("SOFTHSM2_CONF", demo.join("hsm/softhsm2.conf"))
        .arg("--vault")
        .arg(demo.join("vault"))
        .args(["ledger", "export", "--out"])
        .arg(&ex))
    .expect(0);
    // A file handed out and then altered no longer matches what the ledger records.
    let east_root = demo.join("east-cacerts/root-cert.pem");
    // (Text added around a PEM block would still match by the certificate inside it.)
    let pem = std::fs::read_to_string(&east_root).unwrap();
    let body_start = pem.find('\n').unwrap() + 1;
    let mut altered = pem.into_bytes();
    altered[body_start + 40] = if altered[body_start + 40] == b'A' {
        b'B'
    } else {
        b'A'
    };
    std::fs::write(&east_root, altered).unwrap();
    let r = auditor(&ex, &["--json", "--report", "--files", s(&demo)])
        .expect(0)
        .json();
    let rep = &r["report"];
    assert_eq!(rep["events_used"], serde_json::json!([1, r["events"]]));
    for cluster in ["east", "west", "legacy"] {
        let months = rep["clusters"][cluster].as_object().unwrap();
        assert_eq!(months.len(), 1, "{rep:#}");
        let m = months.values().next().unwrap();
        assert_eq!(m["issued"].as_array().unwrap().len(), 1, "{cluster}: {m:#}");
    }
    let legacy = rep["clusters"]["legacy"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert_eq!(legacy["revoked"][0]["reason"], "cessationOfOperation");
    let east = rep["clusters"]["east"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    let formats: Vec<&str> = east["exported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["format"].as_str().unwrap())
        .collect();
    assert!(
        formats.contains(&"istio") && formats.contains(&"pem-bundle"),
        "{formats:?}"
    );
    let crls: Vec<&Value> = rep["crls"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|v| v.as_array().unwrap())
        .collect();
    assert_eq!(crls.len(), 1);
    assert_eq!(crls[0]["entries"], 1);
    assert_eq!(
        rep["actors"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["demo-operator"]
    );
    // Matched by the SHA-256 the events record, computed here with openssl and sha256sum.
    let matched: Vec<(String, String)> = rep["files"]["matched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_owned(),
                f["matches"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let unmatched: Vec<&str> = rep["files"]["unmatched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    let matches = |name: &str| {
        matched
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, m)| m.as_str())
    };
    assert!(
        matches("root.pem")
            .unwrap()
            .contains("root certificate, serial "),
        "{matched:?}"
    );
    assert!(
        matches("crl.pem").unwrap().starts_with("CRL number 1"),
        "{matched:?}"
    );
    assert!(
        matches("west-cacerts/ca-key.pem.age").is_some(),
        "{matched:?}"
    );
    assert!(matches("east-cacerts/ca-cert.pem").is_some(), "{matched:?}");
    let root_der_sha = run(Command::new("sh")
        .arg("-c")
        .arg("openssl x509 -in \"$1\" -outform DER | sha256sum | cut -d' ' -f1")
        .arg("sh")
        .arg(demo.join("root.pem")))
    .expect(0)
    .stdout
    .trim()
    .to_owned();
    let root_event = payloads_of(&ex, "root_created");
    assert_eq!(root_event["certificate"]["sha256"], root_der_sha.as_str());
    assert!(
        unmatched.contains(&"east-cacerts/root-cert.pem"),
        "{unmatched:?}"
    );
    // Private keys and CSRs are never recorded.
    for name in ["east-ca-key.pem", "east.csr"] {
        assert!(unmatched.contains(&name), "{name}: {unmatched:?}");
    }
    // The text form says the same.
    let text = auditor(&ex, &["--report", "--files", s(&demo)])
        .expect(0)
        .stdout;
    assert!(
        text.contains("NO MATCH  east-cacerts/root-cert.pem"),
        "{text}"
    );
    assert!(text.contains("by actor:\n  demo-operator: "), "{text}");
}

/// The first payload of `kind` in an export file.
fn payloads_of(export: &Path, kind: &str) -> Value {
    for line in std::fs::read_to_string(export).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["kind"] == kind {
            return serde_json::from_str(v["payload"].as_str().unwrap()).unwrap();
        }
    }
    panic!("no {kind} in {}", export.display())
}
