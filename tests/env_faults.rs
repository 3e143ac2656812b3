//! Issue 7 item 2: faults in the environment. Each gives a clear message and the documented
//! exit code, and loses nothing.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;

fn csr(h: &Hsm) -> (std::path::PathBuf, String) {
    let c = make_cluster_csr(h.dir.path(), "east", P256);
    (c.csr, c.spki_sha256)
}

#[test]
fn a_database_held_by_another_writer_makes_sign_wait_then_fail_with_exit_1() {
    let h = Hsm::new("busy");
    h.vault_with_root("ecdsa-p256").expect(0);
    let (csr, fp) = csr(&h);
    // Another process takes the write lock and keeps it.
    let mut holder = Command::new("sqlite3")
        .arg(h.vault().join("ledger.sqlite"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = holder.stdin.take().unwrap();
    writeln!(
        stdin,
        "BEGIN IMMEDIATE; INSERT INTO crls SELECT 1,1,1,'a','b',0,'s',x'00' WHERE 0;"
    )
    .unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let before = run(h.rv().args(["list", "--json"])).expect(0).json();
    let started = std::time::Instant::now();
    let r =
        run(h
            .rv_pin()
            .arg("sign")
            .arg(&csr)
            .args(["--cluster", "east", "--confirm", &fp[..16]]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("locked by another process"),
        "{}",
        r.stderr
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(10),
        "it should wait before giving up"
    );
    drop(stdin);
    holder.wait().unwrap();
    assert_eq!(
        run(h.rv().args(["list", "--json"])).expect(0).json(),
        before
    );
    run(h.rv().args(["ledger", "verify"])).expect(0);
    // Once the other writer is gone, signing works.
    run(h
        .rv_pin()
        .arg("sign")
        .arg(&csr)
        .args(["--cluster", "east", "--confirm", &fp[..16]]))
    .expect(0);
}

#[test]
fn a_vanished_token_directory_is_reported_and_changes_nothing() {
    let h = Hsm::new("vanished");
    h.vault_with_root("ecdsa-p256").expect(0);
    let (csr, fp) = csr(&h);
    let before = snapshot(&h.vault());
    h.hide_token();
    let r =
        run(h
            .rv_pin()
            .arg("sign")
            .arg(&csr)
            .args(["--cluster", "east", "--confirm", &fp[..16]]))
        .expect(1);
    assert!(
        r.stderr.contains("no token labelled \"vanished\""),
        "{}",
        r.stderr
    );
    assert_eq!(snapshot(&h.vault()), before);
    h.restore_token();
    run(h
        .rv_pin()
        .arg("sign")
        .arg(&csr)
        .args(["--cluster", "east", "--confirm", &fp[..16]]))
    .expect(0);
    run(h.rv().args(["ledger", "verify"])).expect(0);
}

#[test]
fn a_token_without_the_vaults_root_key_refuses_to_sign() {
    let h = Hsm::new("keyless");
    h.vault_with_root("ecdsa-p256").expect(0);
    let (csr, fp) = csr(&h);
    h.pkcs11_tool(&[
        "--login",
        "--pin",
        PIN,
        "--delete-object",
        "--type",
        "privkey",
        "--label",
        "rootvault-root",
    ])
    .expect(0);
    let before = snapshot(&h.vault());
    let r =
        run(h
            .rv_pin()
            .arg("sign")
            .arg(&csr)
            .args(["--cluster", "east", "--confirm", &fp[..16]]))
        .expect(1);
    assert!(
        r.stderr.contains("has no key labelled \"rootvault-root\""),
        "{}",
        r.stderr
    );
    assert_eq!(snapshot(&h.vault()), before);
    run(h.rv().args(["ledger", "verify"])).expect(0);
}

#[test]
fn a_missing_module_is_reported_with_what_to_do() {
    let h = Hsm::new("no-module");
    h.vault_with_root("ecdsa-p256").expect(0);
    let cfg = h.vault().join("vault.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let module = module().display().to_string();
    let real = std::fs::canonicalize(&module)
        .unwrap()
        .display()
        .to_string();
    std::fs::write(&cfg, text.replace(&real, "/gone/libsofthsm2.so")).unwrap();
    let before = snapshot(&h.vault());
    let r = run(h.rv_pin().args(["crl"])).expect(1);
    assert!(
        r.stderr
            .contains("cannot load the PKCS#11 module /gone/libsofthsm2.so"),
        "{}",
        r.stderr
    );
    assert_eq!(snapshot(&h.vault()), before);
}
