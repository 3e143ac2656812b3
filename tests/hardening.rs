//! Issue 12: what the vault's files, its outputs and its PIN file expose, and what a second
//! `init` on a used token says. Each test runs the real binary on a SoftHSM2 token of its own.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;

/// The permission bits of `path` itself (a link is not followed).
fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The vault directory is 0700 and everything in it 0600.
#[track_caller]
fn assert_private(vault: &Path) {
    assert_eq!(mode(vault), 0o700, "{}", vault.display());
    let files = files_under(vault);
    for name in ["vault.toml", "ledger.sqlite"] {
        assert!(
            files.contains(&vault.join(name)),
            "{name} missing: {files:?}"
        );
    }
    for f in files {
        assert_eq!(mode(&f), 0o600, "{} is {:04o}", f.display(), mode(&f));
    }
}

#[test]
fn init_and_restore_make_the_vault_directory_0700_and_its_files_0600() {
    let h = Hsm::new("private-vault");
    h.init().expect(0);
    assert_private(&h.vault());
    run(h.rv_pin().args([
        "root",
        "create",
        "--subject",
        "CN=Private Root",
        "--key-type",
        "ecdsa-p256",
    ]))
    .expect(0);
    assert_private(&h.vault());

    let identity = h.path("backup.age-key");
    let recipient = age_identity(&identity);
    let backup = h.path("vault.backup");
    run(h
        .rv_pin()
        .args(["backup", "--out"])
        .arg(&backup)
        .args(["--age-recipient", &recipient]))
    .expect(0);
    let restored = h.path("restored");
    run(h
        .rv_pin()
        .arg("--vault")
        .arg(&restored)
        .args(["restore", "--from"])
        .arg(&backup)
        .arg("--identity")
        .arg(&identity))
    .expect(0);
    assert_private(&restored);
    // The restored vault's first token action makes its token lock, private too.
    run(h
        .rv_pin()
        .arg("--vault")
        .arg(&restored)
        .args(["crl", "--out"])
        .arg(h.path("crl.pem")))
    .expect(0);
    assert!(restored.join(".token.lock").exists());
    assert_private(&restored);
}

/// SQLite makes `ledger.sqlite-wal` and `-shm` while a command has the ledger open; they take
/// the ledger's mode, so they are 0600 too.
#[cfg(feature = "fault-injection")]
#[test]
fn the_ledgers_write_ahead_log_and_shared_memory_are_0600_while_in_use() {
    let h = Hsm::new("private-wal");
    h.vault_with_root("ecdsa-p256").expect(0);
    let csr = make_cluster_csr(h.dir.path(), "east", P256);
    let mut sign = h.rv_pin();
    sign.arg("sign").arg(&csr.csr).args([
        "--cluster",
        "east",
        "--confirm",
        &csr.spki_sha256[..16],
        "--out",
    ]);
    sign.arg(h.path("east.pem"));
    let mut seen = Vec::new();
    with_pause(sign, "sign.after_lint", || {
        for suffix in ["-wal", "-shm"] {
            let p = h.vault().join(format!("ledger.sqlite{suffix}"));
            seen.push((suffix, mode(&p)));
        }
        assert_eq!(mode(&h.vault()), 0o700);
    })
    .expect(0);
    assert_eq!(seen, [("-wal", 0o600), ("-shm", 0o600)]);
}

#[test]
fn a_pin_file_group_or_others_can_access_is_refused_with_exit_5_naming_the_fix() {
    let h = Hsm::new("loose-pin");
    let pin = h.pin_file();
    // `init` with such a file creates nothing.
    set_mode(&pin, 0o644);
    let r = h.init().expect(5);
    assert_eq!(
        r.stderr.trim(),
        format!(
            "rootvault: error: the PIN file {p} is accessible by group or others (mode 0644), so its PIN may already be known to others; refusing to use it. Make it private with `chmod 600 {p}` (and consider changing the PIN)",
            p = pin.display()
        )
    );
    assert!(!h.vault().exists());

    set_mode(&pin, 0o600);
    h.init().expect(0);
    let before = snapshot(&h.vault());
    for loose in [0o640, 0o604, 0o620, 0o602, 0o660, 0o666, 0o610] {
        set_mode(&pin, loose);
        let r = run(h.rv_pin().args(["root", "create", "--subject", "CN=Root"])).expect(5);
        assert!(
            r.stderr.contains(&format!(
                "is accessible by group or others (mode {loose:04o})"
            )) && r.stderr.contains(&format!("chmod 600 {}", pin.display())),
            "{loose:04o}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains(PIN) && !r.stdout.contains(PIN));
        assert_eq!(
            snapshot(&h.vault()),
            before,
            "{loose:04o} changed the vault"
        );
    }
    // Owner-only, read-only or read-write, is accepted.
    set_mode(&pin, 0o400);
    run(h.rv_pin().args(["root", "create", "--subject", "CN=Root"])).expect(0);
}

#[test]
fn a_dangling_symbolic_link_at_out_is_refused_before_the_token_signs_and_left_alone() {
    let h = Hsm::new("out-link");
    h.vault_with_root("ecdsa-p256").expect(0);
    let csr = make_cluster_csr(h.dir.path(), "east", P256);
    let target = h.path("elsewhere/planted.pem");
    let link = h.path("east.pem");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let before = snapshot(&h.vault());
    let events = run(h.rv().args(["ledger", "show", "--json"]))
        .expect(0)
        .json();

    let r = run(h
        .rv_pin()
        .arg("sign")
        .arg(&csr.csr)
        .args([
            "--cluster",
            "east",
            "--confirm",
            &csr.spki_sha256[..16],
            "--out",
        ])
        .arg(&link))
    .expect(1);
    assert_eq!(
        r.stderr.trim(),
        format!(
            "rootvault: error: {} already exists; choose another path, or pass --force to replace it",
            link.display()
        )
    );
    // Not signed (the confirmation summary is never reached), nothing recorded, the link as
    // it was and nothing made where it points.
    assert!(!r.stderr.contains("About to sign"), "{}", r.stderr);
    assert_eq!(snapshot(&h.vault()), before);
    assert_eq!(
        run(h.rv().args(["ledger", "show", "--json"]))
            .expect(0)
            .json(),
        events
    );
    assert_eq!(std::fs::read_link(&link).unwrap(), target);
    assert!(!target.exists() && !h.path("elsewhere").exists());

    // --force does not write through a link either.
    let r = run(h
        .rv_pin()
        .arg("sign")
        .arg(&csr.csr)
        .args([
            "--cluster",
            "east",
            "--confirm",
            &csr.spki_sha256[..16],
            "--force",
            "--out",
        ])
        .arg(&link))
    .expect(1);
    assert!(
        r.stderr
            .contains("is a symbolic link, but this output is one file"),
        "{}",
        r.stderr
    );
    assert_eq!(snapshot(&h.vault()), before);
    assert_eq!(std::fs::read_link(&link).unwrap(), target);
    assert!(!target.exists());
}

/// Every checkpoint object of a `ledger export`.
fn exported_checkpoints(export: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(export)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|v| v.get("checkpoint").cloned())
        .collect()
}

#[test]
fn checkpoints_are_exported_with_only_what_their_signature_covers() {
    let h = Hsm::new("cp-meta");
    h.vault_with_root("ecdsa-p256").expect(0);
    let first = h.path("first.jsonl");
    run(h.rv().args(["ledger", "export", "--out"]).arg(&first)).expect(0);
    let checkpoints = exported_checkpoints(&first);
    assert!(checkpoints.len() >= 2, "{checkpoints:?}");
    for cp in &checkpoints {
        let mut keys: Vec<&str> = cp.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["hash", "seq", "signature", "time"], "{cp}");
    }

    // Someone with the files relabels every checkpoint: no signature covers the label, and
    // nothing exported or printed changes.
    h.sqlite(
        "DROP TRIGGER checkpoints_append_only_update;
         UPDATE checkpoints SET key_label = 'forged-label';
         CREATE TRIGGER checkpoints_append_only_update BEFORE UPDATE ON checkpoints
         BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;",
    )
    .expect(0);
    let second = h.path("second.jsonl");
    run(h.rv().args(["ledger", "export", "--out"]).arg(&second)).expect(0);
    assert_eq!(
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap()
    );
    let transcript = h.path("transcript.txt");
    run(h
        .rv()
        .args(["ledger", "transcript", "--out"])
        .arg(&transcript))
    .expect(0);
    let text = std::fs::read_to_string(&transcript).unwrap();
    assert!(!text.contains("forged-label"), "{text}");
    // The closing checkpoint names the key that verifies it, by its SHA-256.
    let audit_pem = run(h.rv().args(["root", "show", "--json"]))
        .expect(0)
        .json()["audit_public_key_pem"]
        .as_str()
        .unwrap()
        .to_owned();
    let der = pem::parse(&audit_pem).unwrap().into_contents();
    let sha = rootvault::keys::sha256_hex(&der);
    let closing = text.split("CLOSING CHECKPOINT").nth(1).unwrap();
    assert!(
        closing.contains(&format!("\naudit key       {sha}\n")),
        "{closing}"
    );
    // The auditor's script takes the export as it is, and one made by an older rootvault,
    // whose checkpoints carried the label, too.
    run(std::process::Command::new("python3")
        .arg(repo().join("docs/audit/verify_ledger.py"))
        .arg(&second))
    .expect(0);
    let older = h.path("older.jsonl");
    let text: String = std::fs::read_to_string(&second)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if let Some(cp) = v.get_mut("checkpoint") {
                cp["key_label"] = "rootvault-audit".into();
            }
            v.to_string() + "\n"
        })
        .collect();
    std::fs::write(&older, text).unwrap();
    run(std::process::Command::new("python3")
        .arg(repo().join("docs/audit/verify_ledger.py"))
        .arg(&older))
    .expect(0);
}

#[test]
fn a_second_init_on_a_token_with_another_vaults_keys_is_refused_naming_its_audit_key() {
    let h = Hsm::new("used-token");
    h.vault_with_root("ecdsa-p256").expect(0);
    let audit_pem = run(h.rv().args(["root", "show", "--json"]))
        .expect(0)
        .json()["audit_public_key_pem"]
        .as_str()
        .unwrap()
        .to_owned();
    let audit_sha = rootvault::keys::sha256_hex(&pem::parse(&audit_pem).unwrap().into_contents());
    let objects = || {
        h.pkcs11_tool(&["--login", "--pin", PIN, "--list-objects"])
            .expect(0)
            .stdout
    };
    let (objects_before, vault_before) = (objects(), snapshot(&h.vault()));

    let second = h.path("second-vault");
    let r = run(h
        .rv_pin()
        .arg("--vault")
        .arg(&second)
        .args(["init", "--module"])
        .arg(module())
        .args(["--token", &h.label]))
    .expect(3);
    assert_eq!(
        r.stderr.trim(),
        format!(
            "rootvault: error: the token \"used-token\" already holds another vault's keys (its audit key has SHA-256 {audit_sha}), so no vault was created. A token serves one vault: open that vault (its `root show`, transcripts and receipts name the same audit key), restore it from a backup, or initialise a fresh token"
        )
    );
    // Nothing made: no directory (nor a staging one beside it), no object on the token.
    assert!(!second.exists());
    let leftovers: Vec<_> = std::fs::read_dir(h.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("second-vault"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_eq!(objects(), objects_before);
    // The vault that owns the token is untouched and still works.
    assert_eq!(snapshot(&h.vault()), vault_before);
    run(h.rv().args(["ledger", "verify"])).expect(0);
    run(h.rv_pin().args(["crl", "--out"]).arg(h.path("crl.pem"))).expect(0);
}
