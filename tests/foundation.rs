//! Issue 2: a vault on a SoftHSM token, the root ceremony, the ledger. Every test has its own
//! token; certificates are judged by OpenSSL, key objects by OpenSC's pkcs11-tool.

mod common;

use common::*;
use sha2::{Digest, Sha256};

fn root_text(h: &Hsm) -> String {
    let pem = h.root_pem();
    openssl(&["x509", "-in", pem.to_str().unwrap(), "-noout", "-text"])
        .expect(0)
        .stdout
}

#[test]
fn root_for_every_key_type_passes_strict_verification_with_the_profile_extensions() {
    for (key_type, sig, key_text) in [
        ("ecdsa-p384", "ecdsa-with-SHA384", "384 bit"),
        ("ecdsa-p256", "ecdsa-with-SHA256", "256 bit"),
        ("rsa-3072", "sha256WithRSAEncryption", "3072 bit"),
        ("rsa-4096", "sha256WithRSAEncryption", "4096 bit"),
    ] {
        let h = Hsm::new(&format!("root-{key_type}"));
        h.vault_with_root(key_type).expect(0);
        let pem = h.root_pem();
        let pem = pem.to_str().unwrap();
        let v = openssl(&[
            "verify",
            "-x509_strict",
            "-check_ss_sig",
            "-CAfile",
            pem,
            pem,
        ]);
        assert_eq!(v.code, 0, "{key_type}: {}{}", v.stdout, v.stderr);
        assert!(v.stdout.contains(": OK"));
        let pem_path = std::path::Path::new(pem);
        pkilint_clean("lint_pkix_cert", &[], pem_path);
        pkilint_clean("lint_cabf_serverauth_cert", &["-t", "ROOT-CA"], pem_path);

        let text = root_text(&h);
        assert!(text.contains("Version: 3 (0x2)"), "{key_type}");
        assert!(
            text.contains(&format!("Signature Algorithm: {sig}")),
            "{key_type}: {text}"
        );
        assert!(text.contains(key_text), "{key_type}: {text}");
        assert!(
            text.contains("X509v3 Basic Constraints: critical\n                CA:TRUE\n"),
            "{key_type}: no pathlen by default\n{text}"
        );
        assert!(
            text.contains(
                "X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign\n"
            ),
            "{key_type}: {text}"
        );
        assert!(!text.contains("Extended Key Usage"));
        assert!(text.contains("Subject: C = GB, O = Example Org, CN = Test Root CA"));

        // SKI is RFC 7093 method 1 over the subjectPublicKey bits; AKI repeats it.
        let der = pem_to_der(&std::fs::read_to_string(pem).unwrap());
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let expected = hex_colon(&Sha256::digest(&cert.public_key().subject_public_key.data)[..20]);
        assert!(
            text.contains(&format!(
                "X509v3 Subject Key Identifier: \n                {expected}"
            )),
            "{key_type}: SKI {expected}\n{text}"
        );
        assert!(
            text.contains(&format!(
                "X509v3 Authority Key Identifier: \n                {expected}"
            )),
            "{key_type}: AKI\n{text}"
        );

        // Serial: positive, 16 octets, as root show reports it.
        let show = run(h.rv().args(["root", "show", "--json"]))
            .expect(0)
            .json();
        let serial = show["serial"].as_str().unwrap();
        assert_eq!(serial.len(), 32);
        assert_eq!(hex::encode(cert.raw_serial()), serial);
        assert_eq!(show["key_type"], key_type);
        assert_eq!(show["sha256"], hex::encode(Sha256::digest(&der)));
        assert_eq!(show["status"], "valid");
        assert!(show["cluster"].is_null());
    }
}

#[test]
fn root_country_is_a_printable_string_and_validity_follows_days_and_path_len() {
    let h = Hsm::new("root-profile");
    h.init().expect(0);
    run(h.rv_pin().args([
        "root",
        "create",
        "--subject",
        "/C=DE/O=Beispiel/CN=Root",
        "--days",
        "30",
        "--path-len",
        "1",
        "--key-type",
        "ecdsa-p256",
    ]))
    .expect(0);
    let pem = h.root_pem();
    let asn1 = openssl(&["asn1parse", "-in", pem.to_str().unwrap()])
        .expect(0)
        .stdout;
    assert!(asn1.contains("PRINTABLESTRING   :DE"), "{asn1}");
    assert!(asn1.contains("UTF8STRING        :Beispiel"), "{asn1}");
    let text = root_text(&h);
    assert!(text.contains("CA:TRUE, pathlen:1"), "{text}");
    let show = run(h.rv().args(["root", "show", "--json"]))
        .expect(0)
        .json();
    let nb = chrono::DateTime::parse_from_rfc3339(show["not_before"].as_str().unwrap()).unwrap();
    let na = chrono::DateTime::parse_from_rfc3339(show["not_after"].as_str().unwrap()).unwrap();
    assert_eq!((na - nb).num_days(), 30);
}

#[test]
fn the_root_private_key_is_sensitive_and_never_extractable_on_the_token() {
    let h = Hsm::new("root-attrs");
    h.vault_with_root("ecdsa-p384").expect(0);
    let objects = h
        .pkcs11_tool(&[
            "--login",
            "--pin",
            PIN,
            "--list-objects",
            "--type",
            "privkey",
        ])
        .expect(0)
        .stdout;
    assert!(objects.contains("label:      rootvault-root"), "{objects}");
    let access: Vec<&str> = objects
        .lines()
        .find_map(|l| l.trim().strip_prefix("Access:"))
        .expect("an Access: line")
        .split(',')
        .map(str::trim)
        .collect();
    for flag in ["sensitive", "always sensitive", "never extractable"] {
        assert!(access.contains(&flag), "{flag} missing: {objects}");
    }
    assert!(!access.contains(&"extractable"), "{objects}");
    let usage = objects
        .lines()
        .find_map(|l| l.trim().strip_prefix("Usage:"))
        .expect("a Usage: line");
    assert_eq!(
        usage.trim(),
        "sign",
        "the root key may only sign: {objects}"
    );
}

#[test]
fn init_twice_is_refused_and_changes_nothing() {
    let h = Hsm::new("init-twice");
    h.vault_with_root("ecdsa-p256").expect(0);
    let before = snapshot(&h.vault());
    let r = h.init().expect(1);
    assert!(r.stderr.contains("a vault already exists"), "{}", r.stderr);
    assert_eq!(snapshot(&h.vault()), before);
}

#[test]
fn init_refuses_a_non_empty_directory_and_accepts_an_empty_one() {
    let h = Hsm::new("init-dirs");
    std::fs::create_dir_all(h.vault()).unwrap();
    std::fs::write(h.vault().join("notes.txt"), "mine").unwrap();
    let r = h.init().expect(1);
    assert!(r.stderr.contains("not empty"), "{}", r.stderr);
    assert_eq!(files_under(&h.vault()).len(), 1);
    std::fs::remove_file(h.vault().join("notes.txt")).unwrap();
    h.init().expect(0);
    run(h.rv().args(["ledger", "verify"])).expect(0);
}

#[test]
fn a_second_root_create_is_refused_and_leaves_one_key_on_the_token() {
    let h = Hsm::new("second-root");
    h.vault_with_root("ecdsa-p256").expect(0);
    let before = snapshot(&h.vault());
    let r = run(h.rv_pin().args([
        "root",
        "create",
        "--subject",
        "CN=Another",
        "--key-label",
        "other",
    ]))
    .expect(3);
    assert!(r.stderr.contains("already has a root"), "{}", r.stderr);
    assert_eq!(snapshot(&h.vault()), before);
    let objects = h
        .pkcs11_tool(&[
            "--login",
            "--pin",
            PIN,
            "--list-objects",
            "--type",
            "privkey",
        ])
        .expect(0)
        .stdout;
    assert_eq!(
        objects.matches("label:      rootvault-root").count(),
        1,
        "{objects}"
    );
    assert!(!objects.contains("label:      other"), "{objects}");
}

#[test]
fn an_existing_key_label_is_refused_before_anything_is_generated() {
    let h = Hsm::new("label-taken");
    h.init().expect(0);
    // Something else already uses the label on this token.
    h.pkcs11_tool(&[
        "--login",
        "--pin",
        PIN,
        "--keypairgen",
        "--key-type",
        "EC:prime256v1",
        "--label",
        "rootvault-root",
    ])
    .expect(0);
    let before = snapshot(&h.vault());
    let r = run(h.rv_pin().args(["root", "create", "--subject", "CN=Root"])).expect(1);
    assert!(
        r.stderr
            .contains("already holds an object labelled \"rootvault-root\""),
        "{}",
        r.stderr
    );
    assert_eq!(snapshot(&h.vault()), before);
    let objects = h
        .pkcs11_tool(&[
            "--login",
            "--pin",
            PIN,
            "--list-objects",
            "--type",
            "privkey",
        ])
        .expect(0)
        .stdout;
    assert_eq!(
        objects.matches("label:      rootvault-root").count(),
        1,
        "only the other object: {objects}"
    );
}

#[test]
fn a_wrong_pin_exits_5_and_changes_nothing() {
    let h = Hsm::new("wrong-pin");
    h.init().expect(0);
    let before = snapshot(&h.vault());
    write_private(&h.path("bad-pin"), "not-the-pin\n");
    let r = run(h.rv().arg("--pin-file").arg(h.path("bad-pin")).args([
        "root",
        "create",
        "--subject",
        "CN=Root",
    ]))
    .expect(5);
    assert!(
        r.stderr.contains("the token rejected the PIN"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("not-the-pin"));
    assert_eq!(snapshot(&h.vault()), before);
    let objects = h
        .pkcs11_tool(&[
            "--login",
            "--pin",
            PIN,
            "--list-objects",
            "--type",
            "privkey",
        ])
        .expect(0)
        .stdout;
    assert!(!objects.contains("rootvault-root"), "{objects}");
    // The PIN is not locked by one wrong attempt, and the right PIN still works.
    let t = run(h.rv().args(["token", "--json"])).expect(0).json();
    assert_eq!(t["pin"]["locked"], false, "{t}");
    run(h.rv_pin().args([
        "root",
        "create",
        "--subject",
        "CN=Root",
        "--key-type",
        "ecdsa-p256",
    ]))
    .expect(0);
}

#[test]
fn no_pin_and_no_terminal_exits_5() {
    let h = Hsm::new("no-pin");
    h.init().expect(0);
    let r = run(h.rv().args(["root", "create", "--subject", "CN=Root"])).expect(5);
    assert!(
        r.stderr.contains("--pin-file") && r.stderr.contains("ROOTVAULT_PIN"),
        "{}",
        r.stderr
    );
    run(h.rv().args(["root", "show"])).expect(3);
}

#[test]
fn the_pin_from_the_environment_works() {
    let h = Hsm::new("env-pin");
    h.init().expect(0);
    run(h.rv().env("ROOTVAULT_PIN", PIN).args([
        "root",
        "create",
        "--subject",
        "CN=Root",
        "--key-type",
        "ecdsa-p256",
    ]))
    .expect(0);
}

#[test]
fn a_bad_module_path_exits_1_and_creates_nothing() {
    let h = Hsm::new("bad-module");
    let r = run(h.rv().args([
        "init",
        "--module",
        "/nonexistent/libpkcs11.so",
        "--token",
        &h.label,
    ]))
    .expect(1);
    assert!(
        r.stderr
            .contains("cannot load the PKCS#11 module /nonexistent/libpkcs11.so"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--module"));
    assert!(!h.vault().exists());
    // A file that is not a PKCS#11 module.
    std::fs::write(h.path("fake.so"), "not a library").unwrap();
    run(h
        .rv()
        .args(["init", "--module"])
        .arg(h.path("fake.so"))
        .args(["--token", &h.label]))
    .expect(1);
    assert!(!h.vault().exists());
    assert!(std::fs::read_dir(h.dir.path()).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with(".rootvault")));
}

#[test]
fn an_unknown_token_exits_1_listing_the_labels_that_exist() {
    let h = Hsm::new("the-real-one");
    let r = run(h
        .rv()
        .args(["init", "--module"])
        .arg(module())
        .args(["--token", "no-such-token"]))
    .expect(1);
    assert!(
        r.stderr.contains("no token labelled \"no-such-token\""),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("\"the-real-one\""), "{}", r.stderr);
    assert!(!h.vault().exists());
}

#[test]
fn a_token_can_be_named_by_an_rfc7512_uri() {
    let h = Hsm::new("uri token");
    let r = run(h.rv_pin().args(["init", "--module"]).arg(module()).args([
        "--token",
        "pkcs11:token=uri%20token",
        "--json",
    ]))
    .expect(0);
    let serial = r.json()["token_serial"].as_str().unwrap().to_owned();
    run(h.rv_pin().args([
        "root",
        "create",
        "--subject",
        "CN=Root",
        "--key-type",
        "ecdsa-p256",
    ]))
    .expect(0);
    // A URI that names the right label but the wrong serial finds nothing.
    let h2 = Hsm::new("uri token");
    let r = run(h2.rv().args(["init", "--module"]).arg(module()).args([
        "--token",
        &format!("pkcs11:token=uri%20token;serial={serial}x"),
    ]))
    .expect(1);
    assert!(r.stderr.contains("no token matching"), "{}", r.stderr);
}

#[test]
fn a_vault_refuses_a_token_with_another_serial() {
    let h = Hsm::new("bound");
    h.init().expect(0);
    // Re-initialise a token with the same label in the same SoftHSM directory: new serial.
    std::fs::remove_dir_all(h.path("hsm/tokens")).unwrap();
    let out = std::process::Command::new(repo().join("hsm-test/make-token.sh"))
        .arg(h.path("hsm"))
        .args(["bound", SO_PIN, PIN])
        .output()
        .unwrap();
    assert!(out.status.success());
    let r = run(h.rv_pin().args(["root", "create", "--subject", "CN=Root"])).expect(1);
    assert!(
        r.stderr.contains("this vault is bound to serial"),
        "{}",
        r.stderr
    );
}

#[test]
fn ledger_verify_passes_on_a_fresh_vault_with_the_stable_json_keys() {
    let h = Hsm::new("verify-ok");
    h.vault_with_root("ecdsa-p256").expect(0);
    let v = run(h.rv().args(["ledger", "verify", "--json"]))
        .expect(0)
        .json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["events"], 3);
    assert_eq!(
        v["checkpoints"], 2,
        "init and root create each sign a checkpoint: {v}"
    );
    assert!(v["first_bad_seq"].is_null());
    assert_eq!(v["problems"].as_array().unwrap().len(), 0);
    assert_eq!(v["head"].as_str().unwrap().len(), 64);
    let events = run(h.rv().args(["ledger", "show", "--json"]))
        .expect(0)
        .json();
    let kinds: Vec<_> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        ["vault_initialised", "audit_key_created", "root_created"]
    );
    assert_eq!(events[2]["actor"], "test-operator");
    assert_eq!(events[2]["hash"], v["head"]);
}

fn tampered(h: &Hsm, sql: &str) -> serde_json::Value {
    let drops = h
        .sqlite("SELECT 'DROP TRIGGER ' || name || ';' FROM sqlite_master WHERE type = 'trigger'")
        .expect(0)
        .stdout;
    h.sqlite(&format!("{drops} {sql}")).expect(0);
    let r = run(h.rv().args(["ledger", "verify", "--json"])).expect(4);
    r.json()
}

/// A vault whose ledger holds `vault_initialised` (seq 1), `audit_key_created` (2) and
/// `root_created` (3), with checkpoints at 2 and 3.
fn two_event_vault(label: &str) -> Hsm {
    let h = Hsm::new(label);
    h.vault_with_root("ecdsa-p256").expect(0);
    h
}

#[test]
fn the_triggers_refuse_update_and_delete_of_events() {
    let h = two_event_vault("triggers");
    let r = h.sqlite("UPDATE events SET actor = 'mallory' WHERE seq = 1;");
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("append-only"), "{}", r.stderr);
    let r = h.sqlite("DELETE FROM events WHERE seq = 2;");
    assert!(r.stderr.contains("append-only"), "{}", r.stderr);
    run(h.rv().args(["ledger", "verify"])).expect(0);
}

#[test]
fn ledger_verify_names_an_edited_payload() {
    let h = two_event_vault("edit-payload");
    let v = tampered(
        &h,
        "UPDATE events SET payload = replace(payload, 'SoftHSM', 'HardHSM') WHERE seq = 1;",
    );
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_bad_seq"], 1, "{v}");
    assert!(
        v["problems"][0].as_str().unwrap().contains("event 1"),
        "{v}"
    );
}

#[test]
fn ledger_verify_names_a_deleted_event() {
    let h = two_event_vault("delete-event");
    let v = tampered(&h, "DELETE FROM events WHERE seq = 1;");
    assert_eq!(v["first_bad_seq"], 1, "{v}");
    assert!(
        v["problems"].to_string().contains("event 1 is missing"),
        "{v}"
    );
}

#[test]
fn ledger_verify_names_two_swapped_events() {
    let h = two_event_vault("swap-events");
    let v = tampered(
        &h,
        "UPDATE events SET seq = -1 WHERE seq = 1; UPDATE events SET seq = 1 WHERE seq = 2; UPDATE events SET seq = 2 WHERE seq = -1;",
    );
    assert_eq!(v["first_bad_seq"], 1, "{v}");
}

#[test]
fn ledger_verify_catches_a_derived_row_that_disagrees_with_its_event() {
    let h = two_event_vault("derived-row");
    let v = tampered(
        &h,
        "UPDATE certificates SET not_after = '2099-01-01T00:00:00Z';",
    );
    assert_eq!(v["first_bad_seq"], 3, "{v}");
    assert!(
        v["problems"].to_string().contains("differs from the event"),
        "{v}"
    );
    let h = two_event_vault("extra-row");
    let v = tampered(&h, "INSERT INTO certificates SELECT 'ff', 'intermediate', 'x', subject, not_before, not_after, key_type, spki_sha256, 'ff', der, 2, 1 FROM certificates;");
    assert!(
        v["problems"]
            .to_string()
            .contains("table certificates has 2 rows but the events imply 1"),
        "{v}"
    );
}

#[test]
fn an_exported_ledger_rehashes_with_an_independent_implementation() {
    let h = two_event_vault("export");
    let out = h.path("ledger.jsonl");
    run(h.rv().args(["ledger", "export", "--out"]).arg(&out)).expect(0);
    // docs/ledger.md's encoding, reimplemented in Python's standard library.
    let script = r#"
import hashlib, json, sys
prev = "0" * 64
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(line)
    if "seq" not in e:
        continue  # checkpoint and audit-key lines
    fields = ["rootvault-ledger-v1", str(e["seq"]), e["time"], e["kind"], e["actor"], e["payload"], e["prev_hash"]]
    enc = b"".join(str(len(f.encode())).encode() + b":" + f.encode() + b"," for f in fields)
    assert e["prev_hash"] == prev, ("prev", e["seq"])
    assert hashlib.sha256(enc).hexdigest() == e["hash"], ("hash", e["seq"])
    prev = e["hash"]; n += 1
print(n, prev)
"#;
    let r = run(std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&out))
    .expect(0);
    let head = run(h.rv().args(["ledger", "verify", "--json"]))
        .expect(0)
        .json()["head"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(r.stdout.trim(), format!("3 {head}"));
    // The export is never overwritten without --force.
    run(h.rv().args(["ledger", "export", "--out"]).arg(&out)).expect(1);
}

#[test]
fn a_ledger_from_a_newer_rootvault_is_refused() {
    let h = Hsm::new("newer-schema");
    h.init().expect(0);
    h.sqlite("PRAGMA user_version = 99;").expect(0);
    let r = run(h.rv().args(["ledger", "verify"])).expect(1);
    assert!(
        r.stderr
            .contains("schema version 99, newer than this rootvault understands"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_config_edited_into_nonsense_is_refused_with_its_path() {
    let h = Hsm::new("bad-config");
    h.init().expect(0);
    std::fs::write(h.vault().join("vault.toml"), "format = 1\n[token\n").unwrap();
    let r = run(h.rv().args(["root", "show"])).expect(1);
    assert!(
        r.stderr
            .contains("vault.toml is not a valid vault configuration"),
        "{}",
        r.stderr
    );
    let r = run(h
        .rv()
        .arg("--vault")
        .arg(h.path("elsewhere"))
        .args(["root", "show"]))
    .expect(1);
    assert!(r.stderr.contains("no vault at"), "{}", r.stderr);
}

#[test]
fn usage_errors_exit_2() {
    let h = Hsm::new("usage");
    run(h.rv().args(["root", "create"])).expect(2);
    run(h.rv().args(["root", "create", "--subject", "O=No CN"])).expect(2);
    run(h.rv().args([
        "root",
        "create",
        "--subject",
        "CN=x",
        "--key-type",
        "ed25519",
    ]))
    .expect(2);
    run(h
        .rv()
        .args(["init", "--module", "x", "--token", "y", "--pin", PIN]))
    .expect(2);
}

#[test]
fn the_pin_appears_in_no_output_file_or_ledger_row() {
    let h = Hsm::new("pin-leak");
    let mut outputs = String::new();
    let mut go = |r: Run| {
        outputs += &r.stdout;
        outputs += &r.stderr;
    };
    go(h.init());
    go(run(h
        .rv()
        .env("ROOTVAULT_PIN", "Pin-7431-zebra-wrong")
        .args(["root", "create", "--subject", "CN=Root"])));
    go(run(h.rv_pin().args([
        "root",
        "create",
        "--subject",
        "CN=Root",
        "--key-type",
        "ecdsa-p256",
    ])));
    go(run(h.rv_pin().args([
        "root",
        "create",
        "--subject",
        "CN=Root",
    ])));
    go(run(h.rv_pin().args(["root", "show", "--json"])));
    go(run(h.rv_pin().args(["token", "--json"])));
    go(run(h.rv_pin().args(["ledger", "show", "--json"])));
    go(run(h.rv_pin().args([
        "ledger",
        "export",
        "--out",
        "export.jsonl",
    ])));
    go(run(h.rv_pin().args(["ledger", "verify", "--json"])));
    assert!(
        !outputs.contains("7431"),
        "the PIN leaked into output:\n{outputs}"
    );
    let mut files = files_under(&h.vault());
    files.push(h.path("export.jsonl"));
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(4).any(|w| w == b"7431"),
            "the PIN leaked into {}",
            f.display()
        );
    }
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    ::pem::parse(pem).unwrap().into_contents()
}

fn hex_colon(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}
