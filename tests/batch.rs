//! Issue 7 item 4: `sign-batch` — every line checked before anything is signed, one
//! confirmation of the manifest's SHA-256, one ledger event per certificate.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn make_csr(dir: &Path, name: &str, keyargs: &[&str]) -> (PathBuf, String) {
    let c = make_cluster_csr(dir, name, keyargs);
    (c.csr, c.spki_sha256)
}

fn events(h: &Hsm) -> usize {
    run(h.rv().args(["ledger", "show", "--json"]))
        .expect(0)
        .json()
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn a_batch_signs_every_cluster_after_one_confirmation_each_its_own_event() {
    let h = Hsm::new("batch-ok");
    h.vault_with_root("ecdsa-p384").expect(0);
    let mut manifest = String::from("# cluster  spki-sha256  csr\n\n");
    for c in ["prod-eu", "prod-us", "staging"] {
        let (csr, fp) = make_csr(h.dir.path(), c, P256);
        manifest += &format!(
            "{c}  {fp}  {}\n",
            csr.file_name().unwrap().to_string_lossy()
        );
    }
    let m = h.path("manifest.txt");
    std::fs::write(&m, &manifest).unwrap();
    let sha = run(Command::new("sha256sum").arg(&m)).expect(0).stdout[..64].to_owned();
    let before = events(&h);
    let r = run(h
        .rv_pin()
        .arg("sign-batch")
        .arg(&m)
        .args(["--confirm", &sha[..16], "--out-dir"])
        .arg(h.path("out")))
    .expect(0);
    assert!(
        r.stderr.contains(&sha),
        "the operator sees the manifest's SHA-256: {}",
        r.stderr
    );
    let root = h.root_pem();
    for c in ["prod-eu", "prod-us", "staging"] {
        let pem = h.path("out").join(format!("{c}.pem"));
        verify_strict(&root, &pem).expect(0);
    }
    let shown = run(h.rv().args(["ledger", "show", "--json"]))
        .expect(0)
        .json();
    let issued: Vec<_> = shown.as_array().unwrap()[before..]
        .iter()
        .filter(|e| e["kind"] == "certificate_issued")
        .collect();
    assert_eq!(issued.len(), 3, "one event per certificate");
    run(h.rv().args(["ledger", "verify"])).expect(0);
}

#[test]
fn one_bad_line_stops_the_whole_batch_before_anything_is_signed() {
    let h = Hsm::new("batch-bad");
    h.vault_with_root("ecdsa-p256").expect(0);
    let (good, good_fp) = make_csr(h.dir.path(), "good", P256);
    let (other, _) = make_csr(h.dir.path(), "other", P256);
    let (weak, weak_fp) = make_csr(h.dir.path(), "weak", &["-newkey", "rsa:1024"]);
    let cases = [
        (
            "wrong fingerprint",
            format!(
                "a  {good_fp}  {}\nb  {good_fp}  {}\n",
                good.display(),
                other.display()
            ),
            "not the",
        ),
        (
            "refused key",
            format!(
                "a  {good_fp}  {}\nb  {weak_fp}  {}\n",
                good.display(),
                weak.display()
            ),
            "1024",
        ),
        (
            "missing file",
            format!(
                "a  {good_fp}  {}\nb  {good_fp}  /nonexistent.csr\n",
                good.display()
            ),
            "cannot read",
        ),
        (
            "repeated cluster",
            format!(
                "a  {good_fp}  {}\na  {good_fp}  {}\n",
                good.display(),
                good.display()
            ),
            "already appears",
        ),
        (
            "bad cluster name",
            format!("Bad_Name  {good_fp}  {}\n", good.display()),
            "cluster names",
        ),
        (
            "short fingerprint",
            format!("a  {}  {}\n", &good_fp[..16], good.display()),
            "64 hex",
        ),
        ("empty", "# nothing\n".to_owned(), "no request"),
    ];
    for (name, manifest, needle) in cases {
        let m = h.path("manifest.txt");
        std::fs::write(&m, &manifest).unwrap();
        let sha = rootvault::keys::sha256_hex(manifest.as_bytes());
        let out = h.path(&format!("out-{}", name.replace(' ', "-")));
        let r = run(h
            .rv_pin()
            .arg("sign-batch")
            .arg(&m)
            .args(["--confirm", &sha[..16], "--out-dir"])
            .arg(&out))
        .expect(3);
        assert!(r.stderr.contains(needle), "{name}: {}", r.stderr);
        assert!(
            r.stderr.contains("nothing was signed"),
            "{name}: {}",
            r.stderr
        );
        assert!(!out.exists(), "{name}: output written");
        let listed = run(h.rv().args(["list", "--json"])).expect(0).json();
        assert_eq!(
            listed.as_array().unwrap().len(),
            0,
            "{name}: something was signed"
        );
    }
    run(h.rv().args(["ledger", "verify"])).expect(0);
}

#[test]
fn a_wrong_manifest_confirmation_signs_nothing() {
    let h = Hsm::new("batch-confirm");
    h.vault_with_root("ecdsa-p256").expect(0);
    let (csr, fp) = make_csr(h.dir.path(), "a", P256);
    let m = h.path("manifest.txt");
    std::fs::write(&m, format!("a  {fp}  {}\n", csr.display())).unwrap();
    let before = snapshot(&h.vault());
    run(h
        .rv_pin()
        .arg("sign-batch")
        .arg(&m)
        .args(["--confirm", "0000000000000000", "--out-dir"])
        .arg(h.path("out")))
    .expect(6);
    run(h
        .rv_pin()
        .arg("sign-batch")
        .arg(&m)
        .args(["--out-dir"])
        .arg(h.path("out")))
    .expect(6);
    assert_eq!(snapshot(&h.vault()), before);
}
