//! Issue 7: crash safety. With the `fault-injection` feature, `ROOTVAULT_FAULT=NAME` aborts
//! the real binary at a named point (src/fault.rs). After every crash: the ledger verifies,
//! every certificate on disk is in the ledger, no serial repeats, and the next run works
//! without repair.

#![cfg(feature = "fault-injection")]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;

/// A P-256 CSR and its SPKI fingerprint (tests/common's `make_cluster_csr`).
fn make_csr(dir: &Path, name: &str) -> (PathBuf, String) {
    let c = make_cluster_csr(dir, name, P256);
    (c.csr, c.spki_sha256)
}

/// The vault's state is sound: verify passes, serials are unique, and every certificate
/// PEM under `outputs` is one the ledger issued.
fn assert_sound(h: &Hsm, outputs: &Path, context: &str) {
    let v = run(h.rv().args(["ledger", "verify", "--json"]));
    assert_eq!(
        v.code, 0,
        "{context}: ledger verify failed after the crash: {}{}",
        v.stdout, v.stderr
    );
    let listed = run(h.rv().args(["list", "--json"])).expect(0).json();
    let mut serials = std::collections::HashSet::new();
    let mut digests = std::collections::HashSet::new();
    for c in listed.as_array().unwrap() {
        assert!(
            serials.insert(c["serial"].as_str().unwrap().to_owned()),
            "{context}: a serial repeats"
        );
        digests.insert(c["sha256"].as_str().unwrap().to_owned());
    }
    for f in files_under(outputs) {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".pem") || name.starts_with('.') || name == "root.pem" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            text.starts_with("-----BEGIN"),
            "{context}: {} is half-written",
            f.display()
        );
        if let Ok(block) = ::pem::parse(&text) {
            if block.tag() == "CERTIFICATE" {
                let der = block.into_contents();
                let digest = rootvault::keys::sha256_hex(&der);
                assert!(
                    digests.contains(&digest),
                    "{context}: {} holds a certificate the ledger does not",
                    f.display()
                );
            }
        }
    }
}

fn crashed(r: &Run, point: &str) {
    assert_ne!(
        r.code, 0,
        "the process did not stop at {point}: {}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains(&format!("fault injected: aborting at {point}")),
        "{point} was not reached: {}",
        r.stderr
    );
}

#[test]
fn a_crash_at_every_point_of_signing_leaves_a_sound_vault_and_the_next_run_works() {
    let h = Hsm::new("fault-sign");
    h.vault_with_root("ecdsa-p256").expect(0);
    let out = h.path("out");
    std::fs::create_dir_all(&out).unwrap();
    let (csr, fp) = make_csr(h.dir.path(), "east");
    for point in [
        "sign.after_confirm",
        "sign.after_lint",
        "sign.after_token_sign",
        "ledger.before_commit",
        "ledger.after_commit",
        "file.before_rename",
        "file.after_rename",
    ] {
        let pem = out.join(format!("{}.pem", point.replace('.', "-")));
        let r = run(h
            .rv_pin()
            .env("ROOTVAULT_FAULT", point)
            .arg("sign")
            .arg(&csr)
            .args(["--cluster", "east", "--confirm", &fp[..16], "--out"])
            .arg(&pem));
        crashed(&r, point);
        assert_sound(&h, &out, point);
        // The next run works without repair (the output may need --force if the crash came
        // after the file was in place).
        let again = run(h
            .rv_pin()
            .arg("sign")
            .arg(&csr)
            .args([
                "--cluster",
                "east",
                "--confirm",
                &fp[..16],
                "--force",
                "--out",
            ])
            .arg(&pem));
        assert_eq!(
            again.code, 0,
            "{point}: the next run failed: {}",
            again.stderr
        );
        assert_sound(&h, &out, point);
    }
}

#[test]
fn a_crash_during_revocation_crl_and_export_leaves_a_sound_vault() {
    let h = Hsm::new("fault-other");
    h.vault_with_root("ecdsa-p256").expect(0);
    let out = h.path("out");
    std::fs::create_dir_all(&out).unwrap();
    for c in ["east", "west"] {
        let (csr, fp) = make_csr(h.dir.path(), c);
        run(h
            .rv_pin()
            .arg("sign")
            .arg(&csr)
            .args(["--cluster", c, "--confirm", &fp[..16], "--out"])
            .arg(out.join(format!("{c}.pem"))))
        .expect(0);
    }
    for point in [
        "revoke.before_commit",
        "ledger.before_commit",
        "ledger.after_commit",
    ] {
        let listed = run(h.rv().args(["list", "--json", "--cluster", "west"]))
            .expect(0)
            .json();
        let live: Vec<_> = listed
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["status"] == "valid")
            .collect();
        if live.is_empty() {
            let (csr, fp) = make_csr(h.dir.path(), "west2");
            run(h.rv_pin().arg("sign").arg(&csr).args([
                "--cluster",
                "west",
                "--confirm",
                &fp[..16],
            ]))
            .expect(0);
            continue;
        }
        let serial = live[0]["serial"].as_str().unwrap().to_owned();
        let r = run(h.rv_pin().env("ROOTVAULT_FAULT", point).args([
            "revoke",
            "--serial",
            &serial,
            "--reason",
            "superseded",
            "--confirm",
            &serial[..16],
        ]));
        crashed(&r, point);
        assert_sound(&h, &out, point);
        let status = run(h.rv().args(["list", "--json"])).expect(0).json();
        let revoked = status
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["serial"] == serial.as_str() && c["status"] == "revoked");
        assert_eq!(
            revoked,
            point == "ledger.after_commit",
            "{point}: the revocation must be all or nothing"
        );
    }
    for point in [
        "crl.after_sign",
        "ledger.before_commit",
        "file.before_rename",
    ] {
        let crl = out.join("crl.pem");
        let r = run(h
            .rv_pin()
            .env("ROOTVAULT_FAULT", point)
            .args(["crl", "--force", "--out"])
            .arg(&crl));
        crashed(&r, point);
        assert_sound(&h, &out, point);
    }
    // CRL numbers still strictly increase after the crashes.
    let crl = out.join("crl-final.pem");
    run(h.rv_pin().args(["crl", "--out"]).arg(&crl)).expect(0);
    openssl(&[
        "crl",
        "-in",
        crl.to_str().unwrap(),
        "-CAfile",
        h.root_pem().to_str().unwrap(),
        "-noout",
    ])
    .expect(0);
    for point in [
        "export.after_write",
        "ledger.before_commit",
        "file.before_rename",
    ] {
        let bundle = out.join("east-bundle.pem.export");
        let r = run(h
            .rv_pin()
            .env("ROOTVAULT_FAULT", point)
            .args([
                "export",
                "--cluster",
                "east",
                "--format",
                "pem-bundle",
                "--force",
                "--out",
            ])
            .arg(&bundle));
        crashed(&r, point);
        assert_sound(&h, &out, point);
        run(h
            .rv_pin()
            .args([
                "export",
                "--cluster",
                "east",
                "--format",
                "pem-bundle",
                "--force",
                "--out",
            ])
            .arg(&bundle))
        .expect(0);
        assert_sound(&h, &out, point);
    }
}

#[test]
fn kill_9_while_the_token_has_signed_leaves_no_certificate_outside_the_ledger() {
    let h = Hsm::new("fault-kill");
    h.vault_with_root("ecdsa-p256").expect(0);
    let out = h.path("out");
    std::fs::create_dir_all(&out).unwrap();
    let (csr, fp) = make_csr(h.dir.path(), "east");
    for point in [
        "sign.after_token_sign",
        "ledger.before_commit",
        "file.before_rename",
    ] {
        let mut child = h
            .rv_pin()
            .env("ROOTVAULT_FAULT", format!("{point}:pause"))
            .arg("sign")
            .arg(&csr)
            .args([
                "--cluster",
                "east",
                "--confirm",
                &fp[..16],
                "--force",
                "--out",
            ])
            .arg(out.join("east.pem"))
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let reached = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l == format!("paused at {point}"));
        assert!(reached, "{point} was never reached");
        run(Command::new("kill").args(["-9", &child.id().to_string()])).expect(0);
        let status = child.wait().unwrap();
        assert!(!status.success());
        assert_sound(&h, &out, point);
        // The token lock and the database were released by the kernel: the next run works.
        run(h
            .rv_pin()
            .arg("sign")
            .arg(&csr)
            .args([
                "--cluster",
                "east",
                "--confirm",
                &fp[..16],
                "--force",
                "--out",
            ])
            .arg(out.join("east.pem")))
        .expect(0);
        assert_sound(&h, &out, point);
    }
}

#[test]
fn a_crash_in_a_batch_records_all_of_it_or_none_of_it() {
    let h = Hsm::new("fault-batch");
    h.vault_with_root("ecdsa-p256").expect(0);
    let (m, sha) = h.batch_manifest(&["a1", "a2", "a3"]);
    let out = h.path("out");
    // (fault point, certificates recorded after the crash, certificate files on disk)
    for (point, recorded, files) in [
        ("sign.after_token_sign", 0, 0),
        ("ledger.before_commit", 0, 0),
        ("ledger.after_commit", 3, 0),
        ("file.before_rename", 3, 0),
    ] {
        let before = run(h.rv().args(["list", "--json"])).expect(0).json();
        let before = before.as_array().unwrap().len();
        let r = run(h
            .rv_pin()
            .env("ROOTVAULT_FAULT", point)
            .arg("sign-batch")
            .arg(&m)
            .args(["--confirm", &sha[..16], "--out-dir"])
            .arg(&out));
        crashed(&r, point);
        assert_sound(&h, h.dir.path(), point);
        let listed = run(h.rv().args(["list", "--json"])).expect(0).json();
        assert_eq!(
            listed.as_array().unwrap().len() - before,
            recorded,
            "{point}: the batch is recorded whole or not at all"
        );
        let pems = files_under(&out)
            .into_iter()
            .filter(|f| f.extension().is_some_and(|e| e == "pem"))
            .count();
        assert_eq!(pems, files, "{point}: certificate files on disk");
        // The temporary files a crash leaves are hidden and never taken for output.
        for f in files_under(&out) {
            std::fs::remove_file(f).unwrap();
        }
    }
    // The next run signs the whole manifest again, without repair.
    run(h
        .rv_pin()
        .arg("sign-batch")
        .arg(&m)
        .args(["--confirm", &sha[..16], "--out-dir"])
        .arg(&out))
    .expect(0);
    assert_sound(&h, &out, "after the crashes");
    assert_eq!(files_under(&out).len(), 3);
}

#[test]
fn a_crash_while_generating_a_key_never_leaves_a_certificate_outside_the_ledger() {
    let h = Hsm::new("fault-gen");
    h.vault_with_root("ecdsa-p256").expect(0);
    let identity = h.path("age.key");
    let recipient = age_identity(&identity);
    let confirm = rootvault::keys::sha256_hex(format!("{recipient}\n").as_bytes());
    let out = h.path("out");
    std::fs::create_dir_all(&out).unwrap();
    let generate = |point: Option<&str>, target: &Path| {
        let mut c = h.rv_pin();
        if let Some(p) = point {
            c.env("ROOTVAULT_FAULT", p);
        }
        c.args([
            "sign",
            "--generate-key",
            "--key-type",
            "ecdsa-p256",
            "--cluster",
            "gen",
            "--format",
            "pem-bundle",
            "--age-recipient",
            &recipient,
            "--confirm",
            &confirm[..16],
            "--out",
        ])
        .arg(target);
        run(&mut c)
    };
    for point in [
        "sign.after_token_sign",
        "ledger.before_commit",
        "ledger.after_commit",
        "file.before_rename",
        "export.after_write",
    ] {
        let r = generate(Some(point), &out.join(format!("{point}.age")));
        crashed(&r, point);
        // Every certificate in every export on disk, decrypted, is one the ledger issued.
        let listed = run(h.rv().args(["list", "--json"])).expect(0).json();
        let issued: Vec<String> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["sha256"].as_str().unwrap().to_owned())
            .collect();
        for f in files_under(&out) {
            if f.to_string_lossy().ends_with(".receipt.json") {
                continue; // a receipt (plain JSON) holds no certificate
            }
            let plain = run(Command::new("age")
                .arg("-d")
                .arg("-i")
                .arg(&identity)
                .arg(&f));
            if plain.code != 0 {
                // A temporary file cut short by the crash holds no complete age file.
                assert!(
                    f.file_name().unwrap().to_string_lossy().starts_with('.'),
                    "{point}: {} does not decrypt: {}",
                    f.display(),
                    plain.stderr
                );
                continue;
            }
            for block in ::pem::parse_many(&plain.stdout).unwrap() {
                if block.tag() == "CERTIFICATE" {
                    let digest = rootvault::keys::sha256_hex(block.contents());
                    let is_root = run(h.rv().args(["root", "show", "--json"]))
                        .expect(0)
                        .json()["sha256"]
                        == digest.as_str();
                    assert!(
                        is_root || issued.contains(&digest),
                        "{point}: {} holds a certificate the ledger does not",
                        f.display()
                    );
                }
            }
        }
        assert_sound(&h, &out, point);
    }
    // The next run works without repair.
    generate(None, &out.join("final.age")).expect(0);
    assert_sound(&h, &out, "after the crashes");
}

#[test]
fn a_crash_during_backup_or_restore_leaves_no_partial_backup_and_no_half_restored_vault() {
    let h = Hsm::new("fault-backup");
    h.vault_with_root("ecdsa-p256").expect(0);
    let (csr, fp) = make_csr(h.dir.path(), "east");
    run(h
        .rv_pin()
        .arg("sign")
        .arg(&csr)
        .args(["--cluster", "east", "--confirm", &fp[..16]]))
    .expect(0);
    let identity = h.path("age.key");
    let recipient = age_identity(&identity);
    let vault_files =
        || ["vault.toml", "ledger.sqlite"].map(|f| std::fs::read(h.vault().join(f)).unwrap());
    let before = vault_files();
    let backup = h.path("vault.backup");
    let take_backup = |point: Option<&str>| {
        let mut c = h.rv_pin();
        if let Some(p) = point {
            c.env("ROOTVAULT_FAULT", p);
        }
        run(c
            .args(["backup", "--age-recipient", &recipient, "--out"])
            .arg(&backup))
    };
    for point in ["backup.after_snapshot", "file.before_rename"] {
        crashed(&take_backup(Some(point)), point);
        assert!(!backup.exists(), "{point}: a partial backup was left");
        assert!(vault_files() == before, "{point}: the vault changed");
        run(h.rv().args(["ledger", "verify"])).expect(0);
    }
    take_backup(None).expect(0);

    let restored = h.path("restored");
    let restore = |point: Option<&str>| {
        let mut c = h.rv();
        if let Some(p) = point {
            c.env("ROOTVAULT_FAULT", p);
        }
        run(c
            .arg("--vault")
            .arg(&restored)
            .args(["restore", "--from"])
            .arg(&backup)
            .arg("--identity")
            .arg(&identity))
    };
    for point in ["restore.after_unpack", "restore.before_rename"] {
        crashed(&restore(Some(point)), point);
        assert!(
            !restored.exists(),
            "{point}: a half-restored vault is in place"
        );
    }
    // The next restore works without repair, and holds the same ledger.
    restore(None).expect(0);
    let head = |dir: &Path| {
        run(h
            .rv()
            .arg("--vault")
            .arg(dir)
            .args(["ledger", "verify", "--json"]))
        .expect(0)
        .json()["head"]
            .clone()
    };
    assert_eq!(head(&restored), head(&h.vault()));
}

#[test]
fn a_token_directory_that_vanishes_mid_ceremony_leaves_no_certificate_outside_the_ledger() {
    let h = Hsm::new("fault-vanish");
    h.vault_with_root("ecdsa-p256").expect(0);
    let out = h.path("out");
    std::fs::create_dir_all(&out).unwrap();
    let (csr, fp) = make_csr(h.dir.path(), "east");
    for point in [
        "sign.after_lint",
        "sign.after_token_sign",
        "ledger.before_commit",
    ] {
        let before = run(h.rv().args(["list", "--json"])).expect(0).json();
        let mut sign = h.rv_pin();
        sign.arg("sign")
            .arg(&csr)
            .args([
                "--cluster",
                "east",
                "--confirm",
                &fp[..16],
                "--force",
                "--out",
            ])
            .arg(out.join("east.pem"));
        let r = with_pause(sign, point, || h.hide_token());
        h.restore_token();
        let after = run(h.rv().args(["list", "--json"])).expect(0).json();
        let added = after.as_array().unwrap().len() - before.as_array().unwrap().len();
        // SoftHSM may still sign from what it loaded; either way the outcome is whole.
        match r.code {
            0 => assert_eq!(added, 1, "{point}: signed but not recorded"),
            1 => {
                assert_eq!(added, 0, "{point}: failed but recorded:\n{}", r.stderr);
                assert!(
                    r.stderr.contains("nothing was recorded") && !r.stderr.contains("panicked"),
                    "{point}: the message should say nothing was recorded:\n{}",
                    r.stderr
                );
            }
            code => panic!("{point}: exit {code}:\n{}", r.stderr),
        }
        eprintln!(
            "{point}: exit {} ({added} recorded): {}",
            r.code,
            r.stderr.lines().last().unwrap_or("")
        );
        assert_sound(&h, &out, point);
    }
    // With the token back, signing works without repair.
    run(h
        .rv_pin()
        .arg("sign")
        .arg(&csr)
        .args(["--cluster", "east", "--confirm", &fp[..16]]))
    .expect(0);
}

#[test]
fn a_batch_whose_token_fails_midway_records_nothing_and_leaves_no_output_directory() {
    let h = Hsm::new("fault-batch-token");
    h.vault_with_root("ecdsa-p256").expect(0);
    let (m, sha) = h.batch_manifest(&["b1", "b2", "b3"]);
    let out = h.path("signed");
    let mut batch = h.rv_pin();
    batch
        .arg("sign-batch")
        .arg(&m)
        .args(["--confirm", &sha[..16], "--out-dir"])
        .arg(&out);
    // The first certificate is linted; then the token's objects disappear.
    let r = with_pause(batch, "sign.after_lint", || h.hide_token());
    h.restore_token();
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("nothing was recorded"), "{}", r.stderr);
    assert!(
        !out.exists(),
        "the output directory made for the batch was left"
    );
    let listed = run(h.rv().args(["list", "--json"])).expect(0).json();
    assert!(listed.as_array().unwrap().is_empty(), "{listed}");
    assert_sound(&h, h.dir.path(), "token failed midway");
}
