//! Issue 15: the whole ceremony on every PKCS#11 implementation `hsm-test/make-token.sh
//! --list` names (SoftHSM2, kryoptic, TPM 2.0 through tpm2-pkcs11 on swtpm), for every key
//! type. Each test is named `IMPLEMENTATION_KEYTYPE`, makes its own token of that
//! implementation and runs the real binary against it. A key type a module cannot hold is
//! not skipped: its test proves that `token check` reports it (exit 3) and that `root create`
//! refuses it before anything is made.

mod common;

use std::path::Path;

use common::{
    make_cluster_csr, openssl, run, snapshot, verify_strict, write_private, Hsm, Run, P256,
};
use serde_json::Value;

/// What each implementation cannot do, as found by `token check` (docs/hsm.md).
const UNSUPPORTED: &[(&str, &str, &str)] = &[(
    "tpm2",
    "rsa-4096",
    "CKM_RSA_PKCS_KEY_PAIR_GEN for 4096-bit keys (the module makes 1024 to 3072 bits)",
)];

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

impl Hsm {
    fn token_check(&self, extra: &[&str]) -> Run {
        run(self
            .rv_pin()
            .args(["token", "check", "--module"])
            .arg(self.module())
            .args(["--token", &self.label])
            .args(extra))
    }

    fn serial_of(&self, cluster: &str) -> String {
        let list = run(self.rv().args(["list", "--json", "--cluster", cluster]))
            .expect(0)
            .json();
        list[0]["serial"].as_str().unwrap().to_owned()
    }
}

/// Every object on the token as pkcs11-tool lists it after login (kryoptic lists them in no
/// fixed order, so sorted by line).
fn sorted_objects(h: &Hsm) -> Vec<String> {
    let out = h
        .pkcs11_tool(&["--login", "--pin", common::PIN, "--list-objects"])
        .expect(0)
        .stdout;
    let mut lines: Vec<_> = out.lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

fn token(implementation: &str, key_type: &str) -> Hsm {
    let h = Hsm::with_impl(implementation, &format!("{implementation}-{key_type}"));
    eprintln!(
        "module: {implementation} ({}), key type {key_type}",
        h.module().display()
    );
    h
}

/// init, root create, sign, sign-batch, revoke, crl, export, ledger verify and a wrong PIN,
/// each judged by OpenSSL or the ledger, on a fresh token of `implementation`.
fn ceremony(implementation: &str, key_type: &str) {
    if let Some((_, _, lacks)) = UNSUPPORTED
        .iter()
        .find(|(i, k, _)| *i == implementation && *k == key_type)
    {
        return refused(implementation, key_type, lacks);
    }
    let h = token(implementation, key_type);

    let check = h.token_check(&["--json", "--key-type", key_type]).expect(0);
    let j = check.json();
    assert_eq!(j["ok"], true, "{}", check.stdout);
    assert_eq!(j["hosting"], "full");
    assert_eq!(j["key_types"][key_type]["ok"], true);
    assert_eq!(j["key_types"][key_type]["missing"], serde_json::json!([]));
    assert_eq!(j["data_objects"]["ok"], true);

    h.init().expect(0);
    run(h.rv_pin().args([
        "root",
        "create",
        "--subject",
        "CN=Test Root CA,O=Example Org,C=GB",
        "--key-type",
        key_type,
    ]))
    .expect(0);
    let root = h.root_pem();
    let shown = run(h.rv().args(["root", "show", "--json"]))
        .expect(0)
        .json();
    assert_eq!(shown["key_type"], key_type, "{shown}");

    // sign
    let csr = make_cluster_csr(h.dir.path(), "prod-eu", P256);
    let cert = h.path("prod-eu.pem");
    run(h
        .rv_pin()
        .arg("sign")
        .arg(&csr.csr)
        .args(["--cluster", "prod-eu", "--confirm", &csr.spki_sha256[..16]])
        .arg("--out")
        .arg(&cert))
    .expect(0);
    verify_strict(&root, &cert).expect(0);

    // sign-batch
    let (manifest, sha) = h.batch_manifest(&["batch-a", "batch-b"]);
    let out_dir = h.path("batch");
    run(h
        .rv_pin()
        .arg("sign-batch")
        .arg(&manifest)
        .args(["--confirm", &sha[..16], "--out-dir"])
        .arg(&out_dir))
    .expect(0);
    for c in ["batch-a", "batch-b"] {
        verify_strict(&root, &out_dir.join(format!("{c}.pem"))).expect(0);
    }

    // revoke, then a CRL naming the serial, signed by the root
    let serial = h.serial_of("batch-a");
    run(h.rv_pin().args([
        "revoke",
        "--serial",
        &serial,
        "--reason",
        "keyCompromise",
        "--confirm",
        &serial,
    ]))
    .expect(0);
    let crl = h.path("crl.pem");
    run(h.rv_pin().args(["crl", "--out"]).arg(&crl)).expect(0);
    let crl_text = openssl(&[
        "crl",
        "-in",
        s(&crl),
        "-CAfile",
        s(&root),
        "-noout",
        "-text",
    ]);
    let crl_text = crl_text.expect(0);
    assert!(crl_text.stderr.contains("verify OK"), "{}", crl_text.stderr);
    assert!(
        crl_text.stdout.contains(&serial.to_uppercase()),
        "{serial} not in\n{}",
        crl_text.stdout
    );

    // export in the form istiod loads
    let istio = h.path("istio");
    run(h
        .rv_pin()
        .args([
            "export",
            "--cluster",
            "prod-eu",
            "--format",
            "istio",
            "--out",
        ])
        .arg(&istio))
    .expect(0);
    openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        s(&istio.join("root-cert.pem")),
        s(&istio.join("ca-cert.pem")),
    ])
    .expect(0);

    let v = run(h.rv().args(["ledger", "verify", "--json"]))
        .expect(0)
        .json();
    assert_eq!(v["ok"], true, "{v}");

    // Every module reports a wrong PIN as a wrong PIN (exit 5), and nothing is signed. Last,
    // because a TPM counts failed authorisations towards its lockout.
    let before = snapshot(&h.vault());
    let bad = h.path("bad-pin");
    write_private(&bad, "Wrong-PIN-4711\n");
    let csr2 = make_cluster_csr(h.dir.path(), "prod-us", P256);
    let r = run(h
        .rv()
        .arg("--pin-file")
        .arg(&bad)
        .arg("sign")
        .arg(&csr2.csr)
        .args(["--cluster", "prod-us", "--confirm", &csr2.spki_sha256[..16]])
        .arg("--out")
        .arg(h.path("prod-us.pem")))
    .expect(5);
    assert!(
        r.stderr
            .contains("rootvault: error: login failed: the token rejected the PIN"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("Wrong-PIN-4711") && !r.stdout.contains("Wrong-PIN-4711"));
    assert_eq!(snapshot(&h.vault()), before);
    assert!(!h.path("prod-us.pem").exists());
}

/// A key type the module lacks: reported by `token check` with exit 3, and refused by `root
/// create` with exit 3 before anything is generated or recorded.
fn refused(implementation: &str, key_type: &str, lacks: &str) {
    let h = token(implementation, key_type);

    let check = h.token_check(&["--json", "--key-type", key_type]).expect(3);
    let j = check.json();
    assert_eq!(j["ok"], false, "{}", check.stdout);
    assert_eq!(j["hosting"], "full");
    assert_eq!(j["wanted_key_type"], key_type);
    assert_eq!(j["key_types"][key_type]["ok"], false);
    assert_eq!(
        j["key_types"][key_type]["missing"],
        serde_json::json!(["generate"])
    );
    assert_eq!(
        j["key_types"][key_type]["details"],
        serde_json::json!([format!("generate: {lacks} not offered")])
    );
    assert!(
        !j["root_key_types"]
            .as_array()
            .unwrap()
            .contains(&Value::from(key_type)),
        "{j}"
    );
    assert_eq!(
        check.stderr.lines().last().unwrap(),
        format!(
            "this token can host a vault, but not with a {key_type} root: missing {key_type} keys, the root key type asked for (generate)"
        )
    );
    // Text: the same, readable.
    let text = h.token_check(&["--key-type", key_type]).expect(3);
    assert!(
        text.stdout
            .contains(&format!("{key_type:<13} MISSING generate\n")),
        "{}",
        text.stdout
    );

    // The ceremony itself refuses it up front, leaving vault and token as they were.
    h.init().expect(0);
    let objects = || sorted_objects(&h);
    let (vault_before, objects_before) = (snapshot(&h.vault()), objects());
    let r = run(h.rv_pin().args([
        "root",
        "create",
        "--subject",
        "CN=Test Root CA,O=Example Org,C=GB",
        "--key-type",
        key_type,
    ]))
    .expect(3);
    assert_eq!(
        r.stderr.trim_end(),
        format!(
            "rootvault: error: the token cannot hold {key_type} keys: {lacks} to generate; choose a key type it supports (`rootvault token check` lists them)"
        )
    );
    assert_eq!(snapshot(&h.vault()), vault_before);
    assert_eq!(objects(), objects_before);
    run(h.rv().args(["ledger", "verify"])).expect(0);
}

macro_rules! ceremonies {
    ($($name:ident: $implementation:literal, $key_type:literal;)*) => {$(
        #[test]
        fn $name() {
            ceremony($implementation, $key_type);
        }
    )*};
}

ceremonies! {
    softhsm2_ecdsa_p384: "softhsm2", "ecdsa-p384";
    softhsm2_ecdsa_p256: "softhsm2", "ecdsa-p256";
    softhsm2_rsa_3072: "softhsm2", "rsa-3072";
    softhsm2_rsa_4096: "softhsm2", "rsa-4096";
    kryoptic_ecdsa_p384: "kryoptic", "ecdsa-p384";
    kryoptic_ecdsa_p256: "kryoptic", "ecdsa-p256";
    kryoptic_rsa_3072: "kryoptic", "rsa-3072";
    kryoptic_rsa_4096: "kryoptic", "rsa-4096";
    tpm2_ecdsa_p384: "tpm2", "ecdsa-p384";
    tpm2_ecdsa_p256: "tpm2", "ecdsa-p256";
    tpm2_rsa_3072: "tpm2", "rsa-3072";
    tpm2_rsa_4096: "tpm2", "rsa-4096";
}

#[test]
fn every_listed_implementation_and_key_type_has_a_test_here() {
    // A new implementation in make-token.sh, or a new key type, must get its tests above.
    assert_eq!(
        common::implementations(),
        ["softhsm2", "kryoptic", "tpm2"],
        "make-token.sh --list changed: add its tests to tests/hsm_impls.rs"
    );
    let key_types: Vec<_> = rootvault::keys::KeyType::ALL
        .iter()
        .map(|k| k.name())
        .collect();
    assert_eq!(
        key_types,
        ["ecdsa-p384", "ecdsa-p256", "rsa-3072", "rsa-4096"]
    );
}

#[test]
fn token_check_works_without_a_vault_and_removes_what_it_made() {
    for implementation in common::implementations() {
        let h = token(&implementation, "check");
        let objects = || sorted_objects(&h);
        let before = objects();
        let r = h.token_check(&["--json"]).expect(0);
        let j = r.json();
        assert_eq!(j["ok"], true, "{implementation}: {}", r.stdout);
        for key in ["ok", "key_types", "data_objects"] {
            assert!(j.get(key).is_some(), "{implementation}: no {key} in {j}");
        }
        assert_eq!(objects(), before, "{implementation} left objects behind");
        assert!(!h.vault().exists(), "token check made a vault");
        assert!(!r.stdout.contains(common::PIN) && !r.stderr.contains(common::PIN));
    }
}

/// The support matrix committed in docs/hsm/ is what `token check --json` finds today.
#[test]
fn the_support_matrix_in_the_docs_is_what_token_check_finds() {
    let summary = |j: &Value| -> Value {
        let mut key_types = serde_json::Map::new();
        for (k, v) in j["key_types"].as_object().unwrap() {
            key_types.insert(
                k.clone(),
                serde_json::json!({ "ok": v["ok"], "missing": v["missing"], "mechanism": v["mechanism"] }),
            );
        }
        serde_json::json!({
            "ok": j["ok"],
            "hosting": j["hosting"],
            "key_types": key_types,
            "data_objects": j["data_objects"]["ok"],
        })
    };
    for implementation in common::implementations() {
        let committed = common::repo().join(format!("docs/hsm/{implementation}.json"));
        let committed: Value = serde_json::from_str(
            &std::fs::read_to_string(&committed)
                .unwrap_or_else(|e| panic!("{}: {e}", committed.display())),
        )
        .unwrap();
        let h = token(&implementation, "matrix");
        let now = h.token_check(&["--json"]).expect(0).json();
        assert_eq!(
            summary(&now),
            summary(&committed),
            "{implementation}: docs/hsm/{implementation}.json is stale; run hsm-test/support-matrix.sh"
        );
    }
}

/// A process that dies in the middle of a ceremony (here: right after the token signed) leaves
/// the token usable by the next one, on every module. On a TPM this is the resource
/// manager's work: without it every dead process leaks transient objects until the TPM
/// refuses to load any (0x902).
#[cfg(feature = "fault-injection")]
#[test]
fn crashes_after_the_token_signed_leave_every_module_usable() {
    for implementation in common::implementations() {
        let h = token(&implementation, "crash");
        h.vault_with_root("ecdsa-p256").expect(0);
        for i in 0..4 {
            let csr = make_cluster_csr(h.dir.path(), &format!("crash-{i}"), P256);
            let r = run(h
                .rv_pin()
                .env("ROOTVAULT_FAULT", "sign.after_token_sign")
                .arg("sign")
                .arg(&csr.csr)
                .args([
                    "--cluster",
                    &format!("crash-{i}"),
                    "--confirm",
                    &csr.spki_sha256[..16],
                ])
                .arg("--out")
                .arg(h.path(&format!("crash-{i}.pem"))));
            assert_ne!(r.code, 0, "{implementation}: the fault did not fire");
            assert!(
                r.stderr
                    .contains("fault injected: aborting at sign.after_token_sign"),
                "{implementation}: {}",
                r.stderr
            );
        }
        let list = run(h.rv().args(["list", "--json"])).expect(0).json();
        assert_eq!(list, serde_json::json!([]), "{implementation}");
        let csr = make_cluster_csr(h.dir.path(), "after", P256);
        run(h
            .rv_pin()
            .arg("sign")
            .arg(&csr.csr)
            .args(["--cluster", "after", "--confirm", &csr.spki_sha256[..16]])
            .arg("--out")
            .arg(h.path("after.pem")))
        .expect(0);
        verify_strict(&h.root_pem(), &h.path("after.pem")).expect(0);
        run(h.rv().args(["ledger", "verify"])).expect(0);
    }
}

/// The TPM (swtpm and its resource manager) stops between lint and signature: the command
/// fails saying the token failed, and nothing is recorded or written.
#[cfg(feature = "fault-injection")]
#[test]
fn a_tpm_that_stops_mid_ceremony_is_reported_and_nothing_is_recorded() {
    let h = token("tpm2", "vanish");
    h.vault_with_root("ecdsa-p256").expect(0);
    let before = snapshot(&h.vault());
    let csr = make_cluster_csr(h.dir.path(), "lost", P256);
    let mut cmd = h.rv_pin();
    cmd.arg("sign")
        .arg(&csr.csr)
        .args(["--cluster", "lost", "--confirm", &csr.spki_sha256[..16]])
        .arg("--out")
        .arg(h.path("lost.pem"));
    let r = common::with_pause(cmd, "sign.after_lint", || {
        run(
            std::process::Command::new(common::repo().join("hsm-test/make-token.sh"))
                .arg("--stop")
                .arg(h.path("hsm")),
        )
        .expect(0);
    });
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("the token could not sign"),
        "{}",
        r.stderr
    );
    assert_eq!(snapshot(&h.vault()), before);
    assert!(!h.path("lost.pem").exists());
    run(h.rv().args(["ledger", "verify"])).expect(0);
}

#[test]
fn token_check_reports_a_wrong_pin_a_missing_pin_and_a_wrong_module_plainly() {
    let h = Hsm::new("check-errors");
    let before = sorted_objects(&h);

    let bad = h.path("bad-pin");
    write_private(&bad, "Wrong-PIN-4711\n");
    let r = run(h
        .rv()
        .arg("--pin-file")
        .arg(&bad)
        .args(["token", "check", "--module"])
        .arg(h.module())
        .args(["--token", "check-errors"]))
    .expect(5);
    assert_eq!(
        r.stderr.trim_end(),
        "rootvault: error: login failed: the token rejected the PIN; the token reports that few attempts are left"
    );
    assert!(!r.stderr.contains("Wrong-PIN-4711"));

    let r = run(h
        .rv()
        .args(["token", "check", "--module"])
        .arg(h.module())
        .args(["--token", "check-errors"]))
    .expect(5);
    assert_eq!(
        r.stderr.trim_end(),
        "rootvault: error: no PIN available: no terminal to ask on; give --pin-file FILE or set ROOTVAULT_PIN"
    );

    let r = run(h.rv_pin().args([
        "token",
        "check",
        "--module",
        "/nonexistent/libpkcs11.so",
        "--token",
        "check-errors",
    ]))
    .expect(1);
    assert!(
        r.stderr.starts_with(
            "rootvault: error: cannot load the PKCS#11 module /nonexistent/libpkcs11.so: no such file; check the --module path"
        ),
        "{}",
        r.stderr
    );

    let r = h.token_check(&["--key-type", "rsa-2048"]).expect(2);
    assert!(
        r.stderr.contains("unknown key type \"rsa-2048\""),
        "{}",
        r.stderr
    );

    assert_eq!(sorted_objects(&h), before);
}
