//! Issue 12, attack 9: compromised keys come back. A key whose certificate was revoked for
//! keyCompromise is never certified again; a key already certified for another cluster needs
//! `--allow-key-reuse` and is shown in the confirmation. One rule (ceremony/keyuse.rs) for
//! `csr inspect`, `sign` and `sign-batch`, each run as the real binary on its own token.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

fn events(h: &Hsm) -> Vec<Value> {
    run(h.rv().args(["ledger", "show", "--json"]))
        .expect(0)
        .json()
        .as_array()
        .unwrap()
        .clone()
}

fn certificates(h: &Hsm) -> Vec<Value> {
    run(h.rv().args(["list", "--json"]))
        .expect(0)
        .json()
        .as_array()
        .unwrap()
        .clone()
}

/// `sign CSR --cluster CLUSTER --confirm <16 hex> --out DIR/CLUSTER-N.pem` plus `extra`.
fn sign(h: &Hsm, csr: &ClusterCsr, cluster: &str, extra: &[&str]) -> Run {
    let n = events(h).len();
    run(h
        .rv_pin()
        .arg("sign")
        .arg(&csr.csr)
        .args(["--cluster", cluster, "--confirm", &csr.spki_sha256[..16]])
        .args(extra)
        .arg("--out")
        .arg(h.path(&format!("{cluster}-{n}.pem"))))
}

fn serial_of(run: &Run) -> String {
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("signed: cluster"))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    line.split_whitespace().nth(4).unwrap().to_owned()
}

/// The last event, which must be a `signing_rejected` whose reasons contain `needle`.
#[track_caller]
fn last_rejected(h: &Hsm, needle: &str) {
    let last = events(h).last().unwrap().clone();
    assert_eq!(last["kind"], "signing_rejected", "{last}");
    let reasons = last["payload"]["reasons"].to_string();
    assert!(reasons.contains(needle), "{reasons}");
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

#[test]
fn a_key_revoked_for_compromise_is_refused_for_any_cluster_naming_the_revoked_certificate() {
    let h = Hsm::new("compromised");
    h.vault_with_root("ecdsa-p256").expect(0);
    let csr = make_cluster_csr(h.dir.path(), "east", P256);
    let east = serial_of(&sign(&h, &csr, "east", &[]).expect(0));
    revoke(&h, &east, "keyCompromise");
    let revoked_at = certificates(&h)[0]["revoked_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let reason = format!(
        "the request's key is the key of certificate {east} of cluster east, revoked for keyCompromise at {revoked_at}; a compromised key is never certified again: the cluster must generate a new key"
    );

    // The same key for another cluster, for its own cluster, and with --allow-key-reuse.
    for (cluster, extra) in [
        ("west", &[][..]),
        ("east", &[][..]),
        ("west", &["--allow-key-reuse"][..]),
    ] {
        let before = certificates(&h);
        let r = sign(&h, &csr, cluster, extra).expect(3);
        assert_eq!(
            r.stderr.lines().last().unwrap(),
            format!("rootvault: error: request refused, nothing was signed: {reason}"),
            "{cluster} {extra:?}"
        );
        assert!(!r.stderr.contains("About to sign"), "{}", r.stderr);
        last_rejected(&h, &reason);
        assert_eq!(certificates(&h), before);
        assert!(!h
            .path(&format!("{cluster}-{}.pem", events(&h).len() - 1))
            .exists());
    }

    // csr inspect says the same, and lists the certificate with its reason.
    let r = run(h
        .rv()
        .args(["csr", "inspect", "--json", "--cluster", "west"])
        .arg(&csr.csr))
    .expect(3);
    let i = r.json();
    assert_eq!(i["acceptable"], false);
    assert_eq!(i["reasons"], serde_json::json!([reason]));
    assert_eq!(
        i["key_reuse"],
        serde_json::json!([{
            "serial": east,
            "cluster": "east",
            "status": "revoked",
            "revocation_reason": "keyCompromise",
            "revoked_at": revoked_at,
        }])
    );
    let text = run(h
        .rv()
        .args(["csr", "inspect", "--cluster", "west"])
        .arg(&csr.csr))
    .expect(3)
    .stdout;
    assert!(
        text.contains(&format!(
            "same key as            certificate {east} of cluster east (revoked: keyCompromise)\n"
        )),
        "{text}"
    );

    // sign-batch too, whatever its flag.
    let manifest = h.path("manifest");
    std::fs::write(
        &manifest,
        format!("north  {}  {}\n", csr.spki_sha256, csr.csr.display()),
    )
    .unwrap();
    for extra in [&[][..], &["--allow-key-reuse"][..]] {
        let sha = rootvault::keys::sha256_hex(&std::fs::read(&manifest).unwrap());
        let r = run(h
            .rv_pin()
            .arg("sign-batch")
            .arg(&manifest)
            .args(["--confirm", &sha[..16], "--out-dir"])
            .arg(h.path("batch"))
            .args(extra))
        .expect(3);
        assert!(
            r.stderr.contains(&format!("line 1 (north): {reason}")),
            "{}",
            r.stderr
        );
        assert!(!h.path("batch").exists());
    }
    // A key revoked for another reason is only a note.
    let other = make_cluster_csr(h.dir.path(), "south", P256);
    let south = serial_of(&sign(&h, &other, "south", &[]).expect(0));
    revoke(&h, &south, "superseded");
    let r = sign(&h, &other, "south2", &[]).expect(0);
    assert!(
        r.stderr.contains(&format!(
            "this key had certificate {south} for cluster south (revoked: superseded)"
        )),
        "{}",
        r.stderr
    );
    run(h.rv().args(["ledger", "verify"])).expect(0);
}

#[test]
fn a_key_valid_for_another_cluster_needs_allow_key_reuse_and_is_shown_in_the_confirmation() {
    let h = Hsm::new("reuse");
    h.vault_with_root("ecdsa-p256").expect(0);
    let csr = make_cluster_csr(h.dir.path(), "east", P256);
    let east = serial_of(&sign(&h, &csr, "east", &[]).expect(0));
    // The same key for its own cluster again (a renewal that keeps the key) is a note.
    let r = sign(&h, &csr, "east", &[]).expect(0);
    assert!(
        r.stderr.contains(&format!(
            "  same key               this key already has valid certificate {east} for cluster east (a renewal that keeps its key)\n"
        )),
        "{}",
        r.stderr
    );
    let renewed = serial_of(&r);

    let before = certificates(&h);
    let r = sign(&h, &csr, "west", &[]).expect(3);
    let reason = |serial: &str| {
        format!(
            "the request's key already has valid certificate {serial} for cluster east; one key for two clusters lets each act as the other's CA. Have cluster west make its own key, or sign it anyway with --allow-key-reuse"
        )
    };
    let reasons = [reason(&east), reason(&renewed)];
    assert_eq!(
        r.stderr.lines().last().unwrap(),
        format!(
            "rootvault: error: request refused, nothing was signed: {}",
            reasons.join("; ")
        )
    );
    last_rejected(&h, &reasons[1]);
    assert_eq!(certificates(&h), before);
    let i = run(h
        .rv()
        .args(["csr", "inspect", "--json", "--cluster", "west"])
        .arg(&csr.csr))
    .expect(3)
    .json();
    assert_eq!(i["reasons"], serde_json::json!(reasons));
    assert_eq!(i["key_reuse"][0]["status"], "valid");
    let i = run(h
        .rv()
        .args([
            "csr",
            "inspect",
            "--json",
            "--allow-key-reuse",
            "--cluster",
            "west",
        ])
        .arg(&csr.csr))
    .expect(0)
    .json();
    assert_eq!(i["acceptable"], true);

    // Allowed explicitly: signed, and the operator saw it before confirming.
    let r = sign(&h, &csr, "west", &["--allow-key-reuse"]).expect(0);
    let summary = r.stderr.split("About to sign:").nth(1).unwrap();
    assert!(
        summary.contains(&format!(
            "  same key               KEY REUSE (allowed by --allow-key-reuse): this key also has valid certificate {east} for cluster east\n"
        )),
        "{}",
        r.stderr
    );
    run(h.rv().args(["ledger", "verify"])).expect(0);
}

/// A manifest of `(cluster, csr)` lines at DIR/NAME; its path and SHA-256.
fn manifest(dir: &Path, name: &str, lines: &[(&str, &ClusterCsr)]) -> (std::path::PathBuf, String) {
    let text: String = lines
        .iter()
        .map(|(c, csr)| format!("{c}  {}  {}\n", csr.spki_sha256, csr.csr.display()))
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, &text).unwrap();
    (path, rootvault::keys::sha256_hex(text.as_bytes()))
}

#[test]
fn a_batch_reusing_a_key_across_lines_or_clusters_needs_its_flag() {
    let h = Hsm::new("batch-reuse");
    h.vault_with_root("ecdsa-p256").expect(0);
    let shared = make_cluster_csr(h.dir.path(), "shared", P256);
    let own = make_cluster_csr(h.dir.path(), "own", P256);
    let (m, sha) = manifest(
        h.dir.path(),
        "m1",
        &[("east", &shared), ("own", &own), ("west", &shared)],
    );
    let batch = |m: &Path, sha: &str, out: &str, extra: &[&str]| {
        run(h
            .rv_pin()
            .arg("sign-batch")
            .arg(m)
            .args(["--confirm", &sha[..16], "--out-dir"])
            .arg(h.path(out))
            .args(extra))
    };
    let r = batch(&m, &sha, "b1", &[]).expect(3);
    assert!(
        r.stderr.contains("line 3 (west): the request's key is also the key of line 1 (cluster east); one key for two clusters lets each act as the other's CA. Give each cluster its own key, or sign the batch with --allow-key-reuse"),
        "{}",
        r.stderr
    );
    assert!(certificates(&h).is_empty());
    let r = batch(&m, &sha, "b1", &["--allow-key-reuse"]).expect(0);
    assert!(
        r.stderr.contains("  line 3 same key        KEY REUSE (allowed by --allow-key-reuse): this key is also the key of line 1 (cluster east)\n"),
        "{}",
        r.stderr
    );
    assert_eq!(certificates(&h).len(), 3);

    // A later batch with the key already valid for east and west.
    let (m, sha) = manifest(h.dir.path(), "m2", &[("north", &shared)]);
    let r = batch(&m, &sha, "b2", &[]).expect(3);
    assert!(
        r.stderr
            .contains("line 1 (north): the request's key already has valid certificate")
            && r.stderr.contains("for cluster east;")
            && r.stderr.contains("for cluster west;"),
        "{}",
        r.stderr
    );
    batch(&m, &sha, "b2", &["--allow-key-reuse"]).expect(0);
    assert_eq!(certificates(&h).len(), 4);
    run(h.rv().args(["ledger", "verify"])).expect(0);
}

/// Two processes judge one key for two clusters at once: the key rule runs again under the
/// ledger's write lock, so the second to commit records nothing.
#[cfg(feature = "fault-injection")]
#[test]
fn a_key_certified_by_another_process_meanwhile_is_not_recorded() {
    let h = Hsm::new("reuse-race");
    h.vault_with_root("ecdsa-p256").expect(0);
    let csr = make_cluster_csr(h.dir.path(), "east", P256);
    let mut east = h.rv_pin();
    east.arg("sign").arg(&csr.csr).args([
        "--cluster",
        "east",
        "--confirm",
        &csr.spki_sha256[..16],
        "--out",
    ]);
    east.arg(h.path("east.pem"));
    // East has been judged (no other certificate for the key) and confirmed, and waits before
    // taking the token. West signs the same key meanwhile.
    let r = with_pause(east, "sign.after_confirm", || {
        sign(&h, &csr, "west", &[]).expect(0);
    })
    .expect(1);
    assert!(
        r.stderr.contains("rootvault: error: another process certified this key for another cluster, or revoked it, after it was judged; nothing was recorded, run the command again"),
        "{}",
        r.stderr
    );
    assert!(!h.path("east.pem").exists());
    let listed = certificates(&h);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["cluster"], "west");
    // Run again, east is refused as it would have been.
    sign(&h, &csr, "east", &[]).expect(3);
    run(h.rv().args(["ledger", "verify"])).expect(0);
}

/// Someone with the vault's files removes the compromised certificate's row, or its
/// revocation: the judgement, which reads those rows, lets the key through, but the token's
/// attested revocations do not, and nothing is signed (exit 4).
#[test]
fn removing_a_compromised_certificate_or_its_revocation_from_the_files_brings_no_key_back() {
    let h = Hsm::new("compromised-rows");
    h.vault_with_root("ecdsa-p256").expect(0);
    let csr = make_cluster_csr(h.dir.path(), "east", P256);
    let east = serial_of(&sign(&h, &csr, "east", &[]).expect(0));
    revoke(&h, &east, "keyCompromise");
    let ledger = h.vault().join("ledger.sqlite");
    let good = h.path("ledger.good");
    std::fs::copy(&ledger, &good).unwrap();
    let issued = |h: &Hsm| {
        events(h)
            .iter()
            .filter(|e| e["kind"] == "certificate_issued")
            .count()
    };

    // The certificate's row removed (the sqlite3 shell does not enforce foreign keys): no
    // certificate has the key any more, so it is judged a fresh key.
    h.sqlite(&format!(
        "DROP TRIGGER certificates_append_only_delete; DELETE FROM certificates WHERE serial = '{east}';"
    ))
    .expect(0);
    let r = sign(&h, &csr, "west", &[]).expect(4);
    assert!(
        r.stderr.contains(&format!(
            "certificate {east} was revoked for keyCompromise, but the ledger's certificates no longer hold it: it was removed. Nothing was signed"
        )),
        "{}",
        r.stderr
    );
    assert_eq!(issued(&h), 1);
    let written: Vec<_> = std::fs::read_dir(h.dir.path())
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter(|n| n.starts_with("west-"))
        .collect();
    assert!(written.is_empty(), "{written:?}");

    // The revocation's row removed instead: the key looks valid for east, and with
    // --allow-key-reuse the request reaches the token, which refuses it.
    std::fs::copy(&good, &ledger).unwrap();
    h.sqlite(&format!(
        "DROP TRIGGER revocations_append_only_delete; DELETE FROM revocations WHERE serial = '{east}';"
    ))
    .expect(0);
    let r = sign(&h, &csr, "west", &["--allow-key-reuse"]).expect(4);
    assert!(
        r.stderr.contains("a revocation was removed or altered"),
        "{}",
        r.stderr
    );
    assert_eq!(issued(&h), 1);
}
