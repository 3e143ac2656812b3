//! Issue 12: an attacker who can write the vault's files (or hand the operator a copy of
//! them) but holds neither the token nor the PIN. Each test performs one attack from the
//! security review with the tools such an attacker has (`sqlite3`, `cp`, `openssl`, a
//! backup), then shows that the operator's next token action refuses (exit 4) instead of
//! signing over the forged state, and says which kind of forgery it found.

mod common;

use std::path::Path;

use common::*;
use rootvault::ledger::EventFields;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Signs a CSR for `cluster`; returns the certificate's serial.
fn sign(h: &Hsm, cluster: &str) -> String {
    let c = make_cluster_csr(h.dir.path(), cluster, P256);
    let out = h.path(&format!("{cluster}.pem"));
    let r = run(h
        .rv_pin()
        .arg("sign")
        .arg(&c.csr)
        .args([
            "--cluster",
            cluster,
            "--confirm",
            &c.spki_sha256[..16],
            "--json",
            "--force",
            "--out",
        ])
        .arg(&out))
    .expect(0);
    r.json()["serial"].as_str().unwrap().to_owned()
}

fn revoke(h: &Hsm, serial: &str, reason: &str) {
    run(h.rv_pin().args([
        "revoke",
        "--serial",
        serial,
        "--reason",
        reason,
        "--confirm",
        &serial[..16],
    ]))
    .expect(0);
}

/// A vault with a root and two clusters, west revoked for keyCompromise and a CRL issued.
fn ceremony(label: &str) -> (Hsm, String, String) {
    let h = Hsm::new(label);
    h.vault_with_root("ecdsa-p256").expect(0);
    let east = sign(&h, "east");
    let west = sign(&h, "west");
    revoke(&h, &west, "keyCompromise");
    run(h.rv_pin().args(["crl", "--out"]).arg(h.path("first.crl"))).expect(0);
    (h, east, west)
}

fn drop_triggers(h: &Hsm) {
    let r =
        h.sqlite("SELECT 'DROP TRIGGER ' || name || ';' FROM sqlite_master WHERE type = 'trigger'");
    let drops = r.expect(0).stdout;
    h.sqlite(&drops).expect(0);
}

fn event_count(h: &Hsm) -> i64 {
    h.sqlite("SELECT count(*) FROM events")
        .expect(0)
        .stdout
        .trim()
        .parse()
        .unwrap()
}

/// Re-hashes the chain from `from` on, as docs/ledger.md specifies, with rusqlite (triggers
/// already dropped): what an attacker with the documented encoding does after an edit.
fn rehash_from(h: &Hsm, from: i64) {
    let conn = rusqlite::Connection::open(h.vault().join("ledger.sqlite")).unwrap();
    let mut prev: String = conn
        .query_row("SELECT hash FROM events WHERE seq = ?1", [from - 1], |r| {
            r.get(0)
        })
        .unwrap();
    let rows: Vec<(i64, String, String, String, String)> = conn
        .prepare("SELECT seq, time, kind, actor, payload FROM events WHERE seq >= ?1 ORDER BY seq")
        .unwrap()
        .query_map([from], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (seq, time, kind, actor, payload) in rows {
        let hash = EventFields {
            seq,
            time: &time,
            kind: &kind,
            actor: &actor,
            payload: &payload,
            prev_hash: &prev,
        }
        .hash_hex();
        conn.execute(
            "UPDATE events SET prev_hash = ?1, hash = ?2 WHERE seq = ?3",
            rusqlite::params![prev, hash, seq],
        )
        .unwrap();
        prev = hash;
    }
}

fn crl(h: &Hsm) -> Run {
    run(h
        .rv_pin()
        .args(["crl", "--force", "--out"])
        .arg(h.path("next.crl")))
}

#[test]
fn a_laundered_ledger_is_refused_before_the_token_signs_anything() {
    let (h, _east, west) = ceremony("attack-launder");
    let seq: i64 = h
        .sqlite("SELECT seq FROM events WHERE kind = 'certificate_revoked'")
        .expect(0)
        .stdout
        .trim()
        .parse()
        .unwrap();
    let checkpoints_before = h
        .sqlite("SELECT count(*) FROM checkpoints")
        .expect(0)
        .stdout;
    // The keyCompromise revocation becomes a refusal; its row goes; the chain is re-hashed
    // and every checkpoint from there on deleted, so nothing left contradicts the chain.
    drop_triggers(&h);
    h.sqlite(&format!(
        "UPDATE events SET kind = 'signing_rejected', payload = '{{\"cluster\":\"west\",\"input_sha256\":\"{}\",\"reasons\":[\"withdrawn\"]}}' WHERE seq = {seq};
         DELETE FROM revocations; DELETE FROM crls; DELETE FROM checkpoints WHERE seq >= {seq};",
        "0".repeat(64)
    ))
    .expect(0);
    rehash_from(&h, seq);
    assert_ne!(
        h.sqlite("SELECT count(*) FROM checkpoints")
            .expect(0)
            .stdout,
        checkpoints_before
    );

    let before = event_count(&h);
    let r = crl(&h).expect(4);
    assert!(
        r.stderr.contains("the ledger has diverged from the token")
            && r.stderr.contains("history was rewritten"),
        "{}",
        r.stderr
    );
    assert!(!h.path("next.crl").exists());
    assert_eq!(
        event_count(&h),
        before,
        "the refused CRL recorded something"
    );
    // Nothing was attested over the forged head: ledger verify still names the gap.
    run(h.rv().args(["ledger", "verify"])).expect(4);
    // And the revoked certificate is not exported as if valid.
    let r = run(h
        .rv_pin()
        .args([
            "export",
            "--cluster",
            "west",
            "--format",
            "pem-bundle",
            "--out",
        ])
        .arg(h.path("west-bundle.pem")))
    .expect(4);
    assert!(!h.path("west-bundle.pem").exists(), "{}", r.stderr);
    let _ = west;
}

#[test]
fn a_revocation_deleted_from_the_derived_table_cannot_be_left_off_the_crl_or_exported() {
    let (h, _east, west) = ceremony("attack-unrevoke");
    drop_triggers(&h);
    h.sqlite(&format!("DELETE FROM revocations WHERE serial = '{west}'"))
        .expect(0);

    let r = crl(&h).expect(4);
    assert!(
        r.stderr
            .contains("the ledger's revocations are not the ones the token attested (0 in the ledger, 1 attested"),
        "{}",
        r.stderr
    );
    assert!(!h.path("next.crl").exists());
    let out = h.path("west-istio");
    let r = run(h
        .rv_pin()
        .args(["export", "--cluster", "west", "--format", "istio", "--out"])
        .arg(&out))
    .expect(4);
    assert!(r.stderr.contains("revocations"), "{}", r.stderr);
    assert!(!out.exists());

    // The row put back (as the attacker would, to hide the edit), everything works again and
    // the CRL still lists the revoked serial.
    h.sqlite(
        "INSERT INTO revocations SELECT json_extract(payload, '$.serial'), json_extract(payload, '$.reason'), json_extract(payload, '$.revoked_at'), seq FROM events WHERE kind = 'certificate_revoked'",
    )
    .expect(0);
    crl(&h).expect(0);
    let listed = openssl(&["crl", "-in", s(&h.path("next.crl")), "-noout", "-text"])
        .expect(0)
        .stdout
        .to_uppercase();
    assert!(listed.contains(&west.to_uppercase()), "{listed}");
}

#[test]
fn a_revocation_softened_from_key_compromise_is_refused() {
    // The count of revocations stays; only the reason changes, which would let west's key be
    // certified again (a compromised key never is) and list it as merely superseded.
    let (h, _east, west) = ceremony("attack-soften");
    drop_triggers(&h);
    h.sqlite(&format!(
        "UPDATE revocations SET reason = 'superseded' WHERE serial = '{west}'"
    ))
    .expect(0);
    let r = crl(&h).expect(4);
    assert!(
        r.stderr.contains(
            "the ledger's revocations are not the ones the token attested (1 in the ledger, 1 attested, digests differ)"
        ),
        "{}",
        r.stderr
    );
    assert!(!h.path("next.crl").exists());
}

#[test]
fn another_clusters_certificate_under_this_clusters_serial_is_never_exported() {
    // West's genuine certificate (signed by the vault's root) moved into east's row, with the
    // row's SHA-256 made to match it: only the serial gives it away.
    let (h, east, west) = ceremony("attack-row-swap");
    drop_triggers(&h);
    h.sqlite(&format!(
        "CREATE TEMP TABLE w AS SELECT der, sha256 FROM certificates WHERE serial = '{west}';
         DELETE FROM certificates WHERE serial = '{west}';
         UPDATE certificates SET der = (SELECT der FROM w), sha256 = (SELECT sha256 FROM w)
         WHERE serial = '{east}';"
    ))
    .expect(0);
    let out = h.path("east-bundle.pem");
    let r = run(h
        .rv_pin()
        .args([
            "export",
            "--cluster",
            "east",
            "--format",
            "pem-bundle",
            "--out",
        ])
        .arg(&out))
    .expect(4);
    assert!(
        r.stderr.contains(&format!(
            "the ledger's certificate {east} is not what its row says: the certificate was replaced"
        )),
        "{}",
        r.stderr
    );
    assert!(!out.exists(), "west's certificate was handed to east");
}

#[test]
fn a_swapped_anchor_is_never_exported_as_the_root() {
    let (h, east, _west) = ceremony("attack-anchor");
    let d = h.path("attacker");
    std::fs::create_dir_all(&d).unwrap();
    // An attacker's root with the vault root's subject, and an intermediate for east's own
    // key signed by it (with the attacker's own key: the attacker has no cluster key).
    let script = format!(
        r#"set -e
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key \
          -out root.pem -subj "/C=GB/O=Example Org/CN=Test Root CA" -days 30 \
          -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout int.key \
          -subj "/O=Example Org/CN=Intermediate CA/L=east" -out int.csr 2>/dev/null
        printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' > ext
        openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -days 10 -set_serial 0x{east} \
          -extfile ext -out int.pem 2>/dev/null
        openssl x509 -in root.pem -outform DER -out root.der
        openssl x509 -in int.pem -outform DER -out int.der"#
    );
    run(std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(&d))
    .expect(0);
    drop_triggers(&h);
    h.sqlite(&format!(
        "UPDATE certificates SET der = readfile('{}') WHERE role = 'root';
         UPDATE certificates SET der = readfile('{}') WHERE serial = '{east}';",
        s(&d.join("root.der")),
        s(&d.join("int.der"))
    ))
    .expect(0);

    let out = h.path("east-istio");
    let r = run(h
        .rv_pin()
        .args(["export", "--cluster", "east", "--format", "istio", "--out"])
        .arg(&out))
    .expect(4);
    assert!(
        r.stderr.contains("is not the one the token attested")
            && r.stderr.contains("the root was replaced"),
        "{}",
        r.stderr
    );
    assert!(!out.exists(), "the forged anchor was written");
}

#[test]
fn a_restored_older_backup_is_refused_and_crl_numbers_never_repeat() {
    let h = Hsm::new("attack-rollback");
    h.vault_with_root("ecdsa-p256").expect(0);
    let east = sign(&h, "east");
    crl(&h).expect(0);
    let id = h.path("backup.key");
    let recipient = age_identity(&id);
    let backup = h.path("before.age");
    run(h
        .rv_pin()
        .args(["backup", "--age-recipient", &recipient, "--out"])
        .arg(&backup))
    .expect(0);
    revoke(&h, &east, "keyCompromise");
    crl(&h).expect(0);
    let restored = h.path("restored");
    run(h
        .rv()
        .arg("--vault")
        .arg(&restored)
        .args(["restore", "--from"])
        .arg(&backup)
        .arg("--identity")
        .arg(&id))
    .expect(0);

    let r = run(h
        .rv_pin()
        .arg("--vault")
        .arg(&restored)
        .args(["crl", "--out"])
        .arg(h.path("rolled-back.crl")))
    .expect(4);
    assert!(
        r.stderr.contains("the ledger is behind the token")
            && r.stderr.contains("a restored backup"),
        "{}",
        r.stderr
    );
    assert!(!h.path("rolled-back.crl").exists());
    // The vault's own ledger goes on, and its next CRL is number 3.
    crl(&h).expect(0);
    let number = openssl(&["crl", "-in", s(&h.path("next.crl")), "-noout", "-crlnumber"])
        .expect(0)
        .stdout;
    assert!(number.contains("crlNumber=0x03"), "{number}");
}

#[test]
fn a_copied_vault_that_goes_on_without_the_token_is_refused() {
    let h = Hsm::new("attack-fork");
    h.vault_with_root("ecdsa-p256").expect(0);
    sign(&h, "east");
    let copy = h.path("copy");
    run(std::process::Command::new("cp")
        .arg("-a")
        .arg(h.vault())
        .arg(&copy))
    .expect(0);
    // The original goes on with the token.
    sign(&h, "west");
    // The copy is behind the token...
    let in_copy = |args: &[&str]| {
        let mut c = h.rv_pin();
        c.arg("--vault").arg(&copy).args(args);
        c
    };
    let r = run(&mut in_copy(&["crl", "--out", "copy.crl"])).expect(4);
    assert!(
        r.stderr.contains("the ledger is behind the token"),
        "{}",
        r.stderr
    );
    // ...and once it records something of its own (a refusal needs no token), it has forked.
    std::fs::write(h.path("junk.csr"), "not a request").unwrap();
    run(&mut in_copy(&[
        "sign",
        "junk.csr",
        "--cluster",
        "north",
        "--confirm",
        "00",
    ]))
    .expect(3);
    let r = run(&mut in_copy(&["crl", "--out", "copy.crl"])).expect(4);
    assert!(
        r.stderr.contains("the ledger has diverged from the token") && r.stderr.contains("a fork"),
        "{}",
        r.stderr
    );
    assert!(!h.path("copy.crl").exists());
    // The original is unaffected.
    crl(&h).expect(0);
}

#[test]
fn a_crash_between_the_commit_and_the_token_update_is_recovered_by_the_next_action() {
    let h = Hsm::new("attack-crash-state");
    h.vault_with_root("ecdsa-p256").expect(0);
    let c = make_cluster_csr(h.dir.path(), "east", P256);
    let r = run(h
        .rv_pin()
        .env("ROOTVAULT_FAULT", "state.before_token_write")
        .arg("sign")
        .arg(&c.csr)
        .args(["--cluster", "east", "--confirm", &c.spki_sha256[..16]]));
    assert!(r.stderr.contains("fault injected"), "{}", r.stderr);
    // The certificate is recorded and attested; the token still holds the head before it.
    let listed = run(h.rv().args(["list", "--json"])).expect(0).json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    // The next action finds the attested tail, folds it in and goes on.
    crl(&h).expect(0);
    run(h.rv().args(["ledger", "verify"])).expect(0);
    // A tail that the token's audit key did not attest is not folded in: append an event by
    // hand after the head, chained correctly but without a checkpoint.
    drop_triggers(&h);
    let conn = rusqlite::Connection::open(h.vault().join("ledger.sqlite")).unwrap();
    let (seq, prev): (i64, String) = conn
        .query_row(
            "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let payload = format!(
        "{{\"serial\":\"{}\",\"cluster\":\"east\",\"reason\":\"superseded\",\"revoked_at\":\"2026-01-01T00:00:00Z\"}}",
        listed[0]["serial"].as_str().unwrap()
    );
    let (time, kind, actor) = (
        "2026-01-01T00:00:00.000000Z",
        "certificate_revoked",
        "mallory",
    );
    let hash = EventFields {
        seq: seq + 1,
        time,
        kind,
        actor,
        payload: &payload,
        prev_hash: &prev,
    }
    .hash_hex();
    conn.execute(
        "INSERT INTO events (seq, time, kind, actor, payload, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        rusqlite::params![seq + 1, time, kind, actor, payload, prev, hash],
    )
    .unwrap();
    drop(conn);
    let r = crl(&h).expect(4);
    assert!(
        r.stderr
            .contains("no checkpoint signed by the token's audit key covers it"),
        "{}",
        r.stderr
    );
}

/// The check before a token action folds a crash's attested tail into the token's state and
/// writes it there before the action goes on, so that a rollback to before that tail is
/// refused even when the action itself then fails (here: the process dies after the CRL was
/// signed, before anything was committed).
#[test]
fn a_tail_folded_in_by_an_action_that_then_failed_still_stops_a_rollback() {
    let h = Hsm::new("attack-fold-then-fail");
    h.vault_with_root("ecdsa-p256").expect(0);
    sign(&h, "east");
    let before = h.path("before");
    run(std::process::Command::new("cp")
        .arg("-a")
        .arg(h.vault())
        .arg(&before))
    .expect(0);
    // West is recorded and attested, but the token is not told (the process dies first).
    let c = make_cluster_csr(h.dir.path(), "west", P256);
    let r = run(h
        .rv_pin()
        .env("ROOTVAULT_FAULT", "state.before_token_write")
        .arg("sign")
        .arg(&c.csr)
        .args(["--cluster", "west", "--confirm", &c.spki_sha256[..16]]));
    assert!(r.stderr.contains("fault injected"), "{}", r.stderr);
    // The next action folds west in, then dies after signing, before it commits.
    let r = run(h
        .rv_pin()
        .env("ROOTVAULT_FAULT", "crl.after_sign")
        .args(["crl", "--out"])
        .arg(h.path("lost.crl")));
    assert!(r.stderr.contains("fault injected"), "{}", r.stderr);
    // The copy from before west is behind what the token now holds.
    let r = run(h
        .rv_pin()
        .arg("--vault")
        .arg(&before)
        .args(["crl", "--out"])
        .arg(h.path("rolled-back.crl")))
    .expect(4);
    assert!(
        r.stderr.contains("the ledger is behind the token"),
        "{}",
        r.stderr
    );
    assert!(!h.path("rolled-back.crl").exists());
    crl(&h).expect(0);
}

#[test]
fn an_event_appended_without_the_token_behind_an_attested_tail_is_refused() {
    let h = Hsm::new("attack-append-tail");
    h.vault_with_root("ecdsa-p256").expect(0);
    sign(&h, "east");
    // West is recorded with its checkpoint, but the token is not told (the process dies).
    let c = make_cluster_csr(h.dir.path(), "west", P256);
    let r = run(h
        .rv_pin()
        .env("ROOTVAULT_FAULT", "state.before_token_write")
        .arg("sign")
        .arg(&c.csr)
        .args(["--cluster", "west", "--confirm", &c.spki_sha256[..16]]));
    assert!(r.stderr.contains("fault injected"), "{}", r.stderr);
    // Behind that genuine, checkpointed tail the attacker appends one more certificate_issued
    // (a copy of west's), chained and hashed as docs/ledger.md says, with no checkpoint: the
    // attacker has no audit key.
    drop_triggers(&h);
    let n = event_count(&h);
    assert_eq!(
        h.sqlite(&format!("SELECT kind FROM events WHERE seq = {n}"))
            .expect(0)
            .stdout
            .trim(),
        "certificate_issued"
    );
    h.sqlite(&format!(
        "INSERT INTO events (seq, time, kind, actor, payload, prev_hash, hash)
           SELECT seq + 1, time, kind, actor, payload, '', 'forged' FROM events WHERE seq = {n}"
    ))
    .expect(0);
    rehash_from(&h, n + 1);
    let r = crl(&h).expect(4);
    assert!(
        r.stderr.contains(&format!("event {}", n + 1))
            && r.stderr.contains(
                "it needed the token, but no checkpoint signed by the token's audit key covers it"
            ),
        "{}",
        r.stderr
    );
    assert!(!h.path("next.crl").exists());
}

/// `vault.toml`'s `[token] module` pointed at `path`.
fn point_module_at(h: &Hsm, path: &Path) {
    let config = h.vault().join("vault.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let edited: String = text
        .lines()
        .map(|l| {
            if l.starts_with("module = ") {
                format!("module = {:?}\n", s(path))
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert_ne!(edited, text);
    std::fs::write(&config, edited).unwrap();
}

#[test]
fn a_module_the_operator_did_not_approve_never_sees_the_pin() {
    let h = Hsm::new("attack-module");
    h.vault_with_root("ecdsa-p256").expect(0);
    // The attacker's module: here SoftHSM2 itself with a byte appended (it loads the same),
    // standing in for a shim that forwards to the real module and logs C_Login.
    let shim = h.path("shim.so");
    let mut bytes = std::fs::read(module()).unwrap();
    bytes.push(0);
    std::fs::write(&shim, &bytes).unwrap();
    let sha = rootvault::keys::sha256_hex(&bytes);
    point_module_at(&h, &shim);

    // No PIN source at all: the refusal comes before the PIN would be asked for.
    let r = run(h.rv().args(["crl", "--out"]).arg(h.path("x.crl"))).expect(1);
    assert!(
        r.stderr.contains(&format!(
            "the PKCS#11 module {} (SHA-256 {sha}) is not approved for this vault",
            shim.display()
        )) && r.stderr.contains("no PIN was given to it")
            && r.stderr
                .contains(&format!("token approve-module --confirm {}", &sha[..16])),
        "{}",
        r.stderr
    );
    // A module others can write is refused even before it is hashed against the ledger.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o666)).unwrap();
    let r = run(h.rv_pin().args(["crl", "--out"]).arg(h.path("x.crl"))).expect(1);
    assert!(r.stderr.contains("writable by everyone"), "{}", r.stderr);
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o644)).unwrap();

    // The operator approves it on purpose (a module update), confirming its SHA-256; the
    // approval is an attested event, and the module is used from then on.
    let wrong = if sha.starts_with('0') { "1" } else { "0" }.repeat(16);
    run(h
        .rv_pin()
        .args(["token", "approve-module", "--confirm", &wrong]))
    .expect(6);
    run(h
        .rv_pin()
        .args(["token", "approve-module", "--confirm", &sha[..16]]))
    .expect(0);
    run(h.rv_pin().args(["crl", "--out"]).arg(h.path("x.crl"))).expect(0);
    let events = run(h.rv().args(["ledger", "show", "--json"]))
        .expect(0)
        .json();
    let approved: Vec<_> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "module_approved")
        .collect();
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0]["payload"]["sha256"], sha.as_str());
    run(h.rv().args(["ledger", "verify"])).expect(0);
}

#[test]
fn a_lost_tail_is_recovered_only_on_purpose_and_numbers_go_on() {
    let h = Hsm::new("attack-recover");
    h.vault_with_root("ecdsa-p256").expect(0);
    let east = sign(&h, "east");
    let id = h.path("backup.key");
    let recipient = age_identity(&id);
    let backup = h.path("old.age");
    run(h
        .rv_pin()
        .args(["backup", "--age-recipient", &recipient, "--out"])
        .arg(&backup))
    .expect(0);
    revoke(&h, &east, "keyCompromise");
    crl(&h).expect(0);
    crl(&h).expect(0);
    // The disk dies; the backup is all that is left.
    std::fs::remove_dir_all(h.vault()).unwrap();
    run(h
        .rv()
        .args(["restore", "--from"])
        .arg(&backup)
        .arg("--identity")
        .arg(&id))
    .expect(0);
    let r = crl(&h).expect(4);
    let token_hash = r
        .stderr
        .split("(hash ")
        .nth(1)
        .and_then(|t| t.get(..64))
        .unwrap_or_else(|| panic!("{}", r.stderr))
        .to_owned();
    // Not without the operator's confirmation of the lost head.
    run(h.rv_pin().args(["ledger", "recover"])).expect(6);
    let r = run(h.rv_pin().args([
        "ledger",
        "recover",
        "--json",
        "--confirm",
        &token_hash[..16],
    ]))
    .expect(0);
    let report = r.json();
    assert_eq!(report["revocations_lost"], 1, "{}", r.stdout);
    assert_eq!(report["lost_head_hash"], token_hash.as_str());
    // The next CRL is number 3: the token counted two; a number is never reused.
    crl(&h).expect(0);
    let number = openssl(&["crl", "-in", s(&h.path("next.crl")), "-noout", "-crlnumber"])
        .expect(0)
        .stdout;
    assert!(number.contains("crlNumber=0x03"), "{number}");
    run(h.rv_pin().args(["ledger", "verify", "--with-token"])).expect(0);
    // Recovering again has nothing to do.
    run(h
        .rv_pin()
        .args(["ledger", "recover", "--confirm", &token_hash[..16]]))
    .expect(3);
}

/// Decrypts `backup` with `id` into `dir` (age and tar, as an attacker holding a recipient's
/// key would), lets `edit` change the files and the manifest, and packs and encrypts it again
/// to `recipient` into `out`, with the manifest's sizes and digests made to match.
fn forge_backup(
    backup: &Path,
    id: &Path,
    recipient: &str,
    dir: &Path,
    out: &Path,
    edit: impl FnOnce(&Path, &mut serde_json::Value),
) {
    std::fs::create_dir_all(dir).unwrap();
    run(std::process::Command::new("bash")
        .arg("-c")
        .arg("age -d -i \"$1\" \"$2\" | tar xf - -C \"$3\"")
        .args(["x", s(id), s(backup), s(dir)]))
    .expect(0);
    let manifest_path = dir.join("backup.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    edit(dir, &mut manifest);
    for f in manifest["files"].as_array_mut().unwrap() {
        let bytes = std::fs::read(dir.join(f["name"].as_str().unwrap())).unwrap();
        f["size"] = bytes.len().into();
        f["sha256"] = rootvault::keys::sha256_hex(&bytes).into();
    }
    std::fs::write(
        &manifest_path,
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    run(std::process::Command::new("bash")
        .arg("-c")
        .arg("tar cf - -C \"$1\" backup.json vault.toml ledger.sqlite | age -r \"$2\" -o \"$3\"")
        .args(["x", s(dir), recipient, s(out)]))
    .expect(0);
}

#[test]
fn a_forged_backup_is_refused_and_a_genuine_one_is_checked_against_the_token() {
    let h = Hsm::new("attack-backup");
    h.vault_with_root("ecdsa-p256").expect(0);
    let id = h.path("backup.key");
    let recipient = age_identity(&id);
    let good = h.path("good.age");
    // A backup is signed by the audit key: it needs the token and its PIN.
    run(h
        .rv()
        .args(["backup", "--age-recipient", &recipient, "--out"])
        .arg(&good))
    .expect(5);
    run(h
        .rv_pin()
        .args(["backup", "--age-recipient", &recipient, "--out"])
        .arg(&good))
    .expect(0);
    let restore = |from: &Path, into: &str| {
        run(h
            .rv()
            .arg("--vault")
            .arg(h.path(into))
            .args(["restore", "--json", "--from"])
            .arg(from)
            .arg("--identity")
            .arg(&id))
    };

    // Its configuration pointed at another module (the forged-backup attack of the review).
    let shim = h.path("shim.so");
    let mut bytes = std::fs::read(module()).unwrap();
    bytes.push(0);
    std::fs::write(&shim, bytes).unwrap();
    let forged = h.path("forged-module.age");
    forge_backup(&good, &id, &recipient, &h.path("f1"), &forged, |dir, _| {
        let config = dir.join("vault.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        let edited: String = text
            .lines()
            .map(|l| {
                if l.starts_with("module = ") {
                    format!("module = {:?}\n", s(&shim))
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(&config, edited).unwrap();
    });
    let r = restore(&forged, "r1").expect(3);
    assert!(
        r.stderr
            .contains("which the backup's own ledger never approved"),
        "{}",
        r.stderr
    );
    assert!(!h.path("r1").exists());

    // Its manifest altered (any field the signature covers).
    let forged = h.path("forged-manifest.age");
    forge_backup(&good, &id, &recipient, &h.path("f2"), &forged, |_, m| {
        m["created"] = "2020-01-01T00:00:00Z".into();
    });
    let r = restore(&forged, "r2").expect(3);
    assert!(
        r.stderr
            .contains("its signature does not verify with the vault's audit key"),
        "{}",
        r.stderr
    );
    assert!(!h.path("r2").exists());

    // The genuine backup restores, its signature checked against the token's own audit key.
    let r = restore(&good, "r3").expect(0);
    assert_eq!(r.json()["signature"], "token", "{}", r.stdout);
}
