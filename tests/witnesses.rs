//! Dual control (issue 14): witnesses registered with SSH keys made by `ssh-keygen`, statements
//! signed with `ssh-keygen -Y sign`, on real SoftHSM2 tokens; every refusal is exit 6 with
//! nothing changed; the auditor re-checks every recorded signature with `ssh-keygen -Y
//! verify`; the requirement survives an edited `vault.toml` and an edited ledger.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;

/// `ssh-keygen -t …` for witness `name`: the private key's path (`.pub` beside it).
fn keygen(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let key = dir.join(format!("{name}.key"));
    run(Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-C", name])
        .args(args)
        .arg("-f")
        .arg(&key))
    .expect(0);
    key
}

fn pub_of(key: &Path) -> PathBuf {
    PathBuf::from(format!("{}.pub", key.display()))
}

/// The fingerprint as `ssh-keygen -l -E sha256` prints it, without `SHA256:`.
fn fingerprint(key: &Path) -> String {
    let out = run(Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(pub_of(key)))
    .expect(0);
    let f = out.stdout.split_whitespace().nth(1).unwrap();
    f.strip_prefix("SHA256:").unwrap().to_owned()
}

/// `ssh-keygen -Y sign -f KEY -n NAMESPACE` over `statement` (the witness's own copy), to
/// `DIR/WITNESS-TAG.sig`.
fn ssh_sign(key: &Path, statement: &Path, namespace: &str, tag: &str) -> PathBuf {
    let own = statement.with_file_name(format!("{tag}.statement"));
    std::fs::copy(statement, &own).unwrap();
    run(Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", namespace, "-f"])
        .arg(key)
        .arg(&own))
    .expect(0);
    let sig = statement.with_file_name(format!("{tag}.sig"));
    std::fs::rename(format!("{}.sig", own.display()), &sig).unwrap();
    sig
}

/// Registers `name` with `key` (no witnesses needed yet).
fn add(hsm: &Hsm, name: &str, key: &Path) {
    run(hsm
        .rv_pin()
        .args(["witness", "add", name, "--ssh-key"])
        .arg(pub_of(key))
        .args(["--confirm", &fingerprint(key)[..16]]))
    .expect(0);
}

/// The ledger's event count and head hash.
fn head(hsm: &Hsm) -> (i64, String) {
    let out = hsm
        .sqlite("SELECT seq || ' ' || hash FROM events ORDER BY seq DESC LIMIT 1")
        .expect(0)
        .stdout;
    let (seq, hash) = out.trim().split_once(' ').unwrap();
    (seq.parse().unwrap(), hash.to_owned())
}

fn certificates(hsm: &Hsm) -> usize {
    run(hsm.rv().args(["list", "--json"]))
        .expect(0)
        .json()
        .as_array()
        .unwrap()
        .len()
}

/// `ACTION… --statement-out FILE`, then the path.
fn statement(hsm: &Hsm, args: &[&str], name: &str) -> PathBuf {
    let path = hsm.path(name);
    run(hsm.rv().args(args).arg("--statement-out").arg(&path)).expect(0);
    path
}

/// `--witness-sig SIG` for each signature.
fn sig_args(sigs: &[&PathBuf]) -> Vec<std::ffi::OsString> {
    sigs.iter()
        .flat_map(|s| ["--witness-sig".into(), s.as_os_str().to_owned()])
        .collect()
}

/// A vault with a root, and witnesses alice (ed25519), bob (ECDSA P-256) and carol
/// (RSA-3072), their keys made by ssh-keygen; M = `required`.
fn witnessed_vault(label: &str, required: u32) -> (Hsm, [PathBuf; 3]) {
    let hsm = Hsm::new(label);
    hsm.vault_with_root("ecdsa-p256").expect(0);
    let keys = [
        keygen(hsm.dir.path(), "alice", &["-t", "ed25519"]),
        keygen(hsm.dir.path(), "bob", &["-t", "ecdsa", "-b", "256"]),
        keygen(hsm.dir.path(), "carol", &["-t", "rsa", "-b", "3072"]),
    ];
    for (name, key) in ["alice", "bob", "carol"].iter().zip(&keys) {
        add(&hsm, name, key);
    }
    run(hsm
        .rv_pin()
        .args(["witness", "require", &required.to_string()]))
    .expect(0);
    (hsm, keys)
}

#[test]
fn witnesses_are_listed_with_the_fingerprints_ssh_keygen_prints() {
    let (hsm, keys) = witnessed_vault("wit-list", 2);
    let v = run(hsm.rv().args(["witness", "list", "--json"]))
        .expect(0)
        .json();
    assert_eq!(v["required"], 2);
    let list = v["witnesses"].as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
    for (w, key) in list.iter().zip(&keys) {
        assert_eq!(
            w["fingerprint"].as_str().unwrap(),
            format!("SHA256:{}", fingerprint(key))
        );
        assert!(w["added_seq"].as_i64().unwrap() > 0);
    }

    // Removing a witness, a generated key, and lowering M each need two witnesses now.
    let [alice, bob, _] = &keys;
    let both = |st: &Path, tag: &str| {
        [
            ssh_sign(alice, st, "rootvault-witness", &format!("{tag}-alice")),
            ssh_sign(bob, st, "rootvault-witness", &format!("{tag}-bob")),
        ]
    };
    let remove = ["witness", "remove", "carol"];
    let r = run(hsm.rv_pin().args(remove)).expect(6);
    assert!(
        r.stderr
            .contains("witness remove needs 2 witness signature(s)"),
        "{}",
        r.stderr
    );
    let st = statement(&hsm, &remove, "remove.txt");
    let [a, b] = both(&st, "remove");
    run(hsm.rv_pin().args(remove).args(sig_args(&[&a, &b]))).expect(0);
    let v = run(hsm.rv().args(["witness", "list", "--json"]))
        .expect(0)
        .json();
    assert_eq!(v["witnesses"].as_array().unwrap().len(), 2);

    let recipient = age_identity(&hsm.path("cluster.age"));
    let generate = [
        "sign",
        "--generate-key",
        "--key-type",
        "ecdsa-p256",
        "--cluster",
        "gen",
        "--age-recipient",
        &recipient,
        "--out",
        "gen.yaml",
    ];
    let st = statement(&hsm, &generate, "generate.txt");
    let text = std::fs::read_to_string(&st).unwrap();
    assert!(
        text.contains(&format!(
            "action: sign --generate-key\ncluster: gen\nkey type: ecdsa-p256 (generated in memory by the vault)\nage recipient: {recipient}\n"
        )),
        "{text}"
    );
    assert!(!hsm.path("gen.yaml").exists(), "the statement wrote no key");
    let fpr = rootvault::ceremony::recipients_fingerprint(std::slice::from_ref(&recipient));
    let [a, b] = both(&st, "generate");
    run(hsm
        .rv_pin()
        .args(generate)
        .args(sig_args(&[&a, &b]))
        .args(["--confirm", &fpr[..16]]))
    .expect(0);
    assert_eq!(certificates(&hsm), 1);

    let lower = ["witness", "require", "0"];
    let st = statement(&hsm, &lower, "lower.txt");
    assert!(std::fs::read_to_string(&st)
        .unwrap()
        .contains("witnesses required now: 2\nwitnesses required after: 0\n"));
    let [a, b] = both(&st, "lower");
    run(hsm.rv_pin().args(lower).args(sig_args(&[&a, &b]))).expect(0);
    // M = 0: actions run without witnesses again.
    run(hsm.rv_pin().args(["witness", "require", "1"])).expect(0);
    run(hsm.rv().args(["ledger", "verify"])).expect(0);
}

#[test]
fn witness_keys_and_requirements_the_vault_cannot_use_are_refused() {
    let hsm = Hsm::new("wit-keys");
    hsm.vault_with_root("ecdsa-p256").expect(0);
    let short = keygen(hsm.dir.path(), "short", &["-t", "rsa", "-b", "2048"]);
    let r = run(hsm
        .rv_pin()
        .args(["witness", "add", "short", "--ssh-key"])
        .arg(pub_of(&short))
        .args(["--confirm", &fingerprint(&short)[..16]]))
    .expect(3);
    assert!(
        r.stderr
            .contains("the RSA key has 2048 bits; a witness key needs at least 3072"),
        "{}",
        r.stderr
    );
    let p521 = keygen(hsm.dir.path(), "p521", &["-t", "ecdsa", "-b", "521"]);
    let r = run(hsm
        .rv_pin()
        .args(["witness", "add", "p521", "--ssh-key"])
        .arg(pub_of(&p521)))
    .expect(3);
    assert!(
        r.stderr
            .contains("ecdsa-sha2-nistp521 keys cannot be witness keys"),
        "{}",
        r.stderr
    );
    let alice = keygen(hsm.dir.path(), "alice", &["-t", "ed25519"]);
    // A fingerprint prefix shorter than 16 characters, or not the key's, is exit 6.
    for (typed, why) in [
        (&fingerprint(&alice)[..15], "at least 16"),
        ("AAAAAAAAAAAAAAAAAAAA", "does not match"),
    ] {
        let r = run(hsm
            .rv_pin()
            .args(["witness", "add", "alice", "--ssh-key"])
            .arg(pub_of(&alice))
            .args(["--confirm", typed]))
        .expect(6);
        assert!(r.stderr.contains(why), "{}", r.stderr);
    }
    let r = run(hsm.rv_pin().args(["witness", "require", "1"])).expect(3);
    assert!(
        r.stderr.contains(
            "cannot require 1 witnesses while 0 are registered: every trust-changing action would be impossible"
        ),
        "{}",
        r.stderr
    );
    add(&hsm, "alice", &alice);
    let r = run(hsm
        .rv_pin()
        .args(["witness", "add", "again", "--ssh-key"])
        .arg(pub_of(&alice))
        .args(["--confirm", &fingerprint(&alice)[..16]]))
    .expect(3);
    assert!(
        r.stderr.contains("is registered already, as witness alice"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_witnessed_ceremony_signs_revokes_and_creates_the_root_and_ssh_keygen_verifies_every_signature()
{
    let hsm = Hsm::new("wit-flow");
    hsm.init().expect(0);
    let keys = [
        keygen(hsm.dir.path(), "alice", &["-t", "ed25519"]),
        keygen(hsm.dir.path(), "bob", &["-t", "ecdsa", "-b", "384"]),
        keygen(hsm.dir.path(), "carol", &["-t", "rsa", "-b", "3072"]),
    ];
    let [alice, bob, carol] = &keys;
    add(&hsm, "alice", alice);
    add(&hsm, "bob", bob);
    run(hsm.rv_pin().args(["witness", "require", "2"])).expect(0);

    // Changing the registry now needs two witnesses too.
    let args = ["witness", "add", "carol", "--ssh-key"];
    let carol_pub = pub_of(carol);
    let mut add_carol: Vec<&str> = args.to_vec();
    add_carol.push(carol_pub.to_str().unwrap());
    let before = head(&hsm);
    let r = run(hsm
        .rv_pin()
        .args(&add_carol)
        .args(["--confirm", &fingerprint(carol)]))
    .expect(6);
    assert!(
        r.stderr.contains("witness add needs 2 witness signature(s) in this vault (2 witnesses are registered), and none was given; no witness was added"),
        "{}",
        r.stderr
    );
    assert_eq!(head(&hsm), before);
    let st = statement(&hsm, &add_carol, "add-carol.txt");
    let text = std::fs::read_to_string(&st).unwrap();
    assert!(text.contains("action: witness add\nwitness: carol\nkey type: ssh-rsa\n"));
    let sigs = [
        ssh_sign(alice, &st, "rootvault-witness", "add-alice"),
        ssh_sign(bob, &st, "rootvault-witness", "add-bob"),
    ];
    run(hsm
        .rv_pin()
        .args(&add_carol)
        .args(sig_args(&[&sigs[0], &sigs[1]]))
        .args(["--confirm", &fingerprint(carol)]))
    .expect(0);

    // Root creation: the statement names the vault, the head, the subject and key type; the
    // same inputs at the same head give the same bytes.
    let root_args = [
        "root",
        "create",
        "--subject",
        "CN=Witnessed Root,O=Example,C=GB",
        "--key-type",
        "ecdsa-p384",
    ];
    let before = head(&hsm);
    let r = run(hsm.rv_pin().args(root_args)).expect(6);
    assert!(r
        .stderr
        .contains("root create needs 2 witness signature(s)"));
    assert_eq!(head(&hsm), before);
    let st = statement(&hsm, &root_args, "root.txt");
    let again = statement(&hsm, &root_args, "root-again.txt");
    assert_eq!(std::fs::read(&st).unwrap(), std::fs::read(&again).unwrap());
    let text = std::fs::read_to_string(&st).unwrap();
    let serial = run(hsm.rv().args(["token", "--json"])).expect(0).json()["serial"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        text.starts_with(&format!(
            "rootvault witness statement\nformat: 1\nvault token serial: {serial}\nvault audit key SHA-256: "
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "ledger head: event {}, hash {}\naction: root create\nsubject: CN=Witnessed Root, O=Example, C=GB\nkey type: ecdsa-p384\nvalidity: 3650 days\npathlen: none\n",
            before.0, before.1
        )),
        "{text}"
    );
    assert!(
        hsm.pkcs11_tool(&["--list-objects"])
            .stdout
            .matches("rootvault-root")
            .count()
            == 0,
        "--statement-out touched no key"
    );
    let sigs = [
        ssh_sign(carol, &st, "rootvault-witness", "root-carol"),
        ssh_sign(alice, &st, "rootvault-witness", "root-alice"),
    ];
    run(hsm
        .rv_pin()
        .args(root_args)
        .args(sig_args(&[&sigs[0], &sigs[1]])))
    .expect(0);

    // A witnessed signing.
    let csr = make_cluster_csr(hsm.dir.path(), "prod-eu", P256);
    let sign_args = [
        "sign",
        csr.csr.to_str().unwrap(),
        "--cluster",
        "prod-eu",
        "--out",
        "prod-eu.pem",
    ];
    let st = statement(&hsm, &sign_args, "sign.txt");
    let text = std::fs::read_to_string(&st).unwrap();
    for line in [
        "action: sign\n".to_owned(),
        "cluster: prod-eu\n".to_owned(),
        "key type: ecdsa-p256\n".to_owned(),
        format!("SPKI SHA-256: {}\n", csr.spki_sha256),
        "pathlen: 0\n".to_owned(),
        "subject alt names: istiod.istio-system.svc\n".to_owned(),
    ] {
        assert!(text.contains(&line), "{line} in:\n{text}");
    }
    let sigs = [
        ssh_sign(bob, &st, "rootvault-witness", "sign-bob"),
        ssh_sign(carol, &st, "rootvault-witness", "sign-carol"),
    ];
    run(hsm
        .rv_pin()
        .args(sign_args)
        .args(sig_args(&[&sigs[0], &sigs[1]]))
        .args(["--confirm", &csr.spki_sha256[..16]]))
    .expect(0);
    assert_eq!(certificates(&hsm), 1);
    let root = hsm.root_pem();
    verify_strict(&root, &hsm.path("prod-eu.pem")).expect(0);

    // One statement for a whole batch.
    let (manifest, sha) = hsm.batch_manifest(&["batch-a", "batch-b"]);
    let batch_args = [
        "sign-batch",
        manifest.to_str().unwrap(),
        "--out-dir",
        "batch-out",
    ];
    let st = statement(&hsm, &batch_args, "batch.txt");
    let text = std::fs::read_to_string(&st).unwrap();
    assert!(text.contains(&format!("manifest SHA-256: {sha}\nrequests: 2\n")));
    assert!(
        text.contains("request 1 cluster: batch-a\n")
            && text.contains("request 2 cluster: batch-b\n")
    );
    let sigs = [
        ssh_sign(alice, &st, "rootvault-witness", "batch-alice"),
        ssh_sign(bob, &st, "rootvault-witness", "batch-bob"),
    ];
    run(hsm
        .rv_pin()
        .args(batch_args)
        .args(sig_args(&[&sigs[0], &sigs[1]]))
        .args(["--confirm", &sha[..16]]))
    .expect(0);
    assert_eq!(certificates(&hsm), 3);

    // A witnessed revocation.
    let serial = run(hsm.rv().args(["list", "--cluster", "prod-eu", "--json"]))
        .expect(0)
        .json()[0]["serial"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoke_args = ["revoke", "--serial", &serial, "--reason", "keyCompromise"];
    let st = statement(&hsm, &revoke_args, "revoke.txt");
    let text = std::fs::read_to_string(&st).unwrap();
    assert!(
        text.contains(&format!(
            "action: revoke\nreason: keyCompromise\ncertificates: 1\nrevoke: serial {serial}, cluster prod-eu,"
        )),
        "{text}"
    );
    let sigs = [
        ssh_sign(alice, &st, "rootvault-witness", "revoke-alice"),
        ssh_sign(carol, &st, "rootvault-witness", "revoke-carol"),
    ];
    run(hsm
        .rv_pin()
        .args(revoke_args)
        .args(sig_args(&[&sigs[0], &sigs[1]]))
        .args(["--confirm", &serial[..16]]))
    .expect(0);
    let listed = run(hsm.rv().args(["list", "--cluster", "prod-eu", "--json"]))
        .expect(0)
        .json();
    assert_eq!(listed[0]["status"], "revoked");
    // CRLs need no witnesses.
    run(hsm.rv_pin().args(["crl", "--out", "crl.pem"])).expect(0);

    // The ledger holds the statements and signatures; the transcript names the witnesses.
    run(hsm.rv().args(["ledger", "verify"])).expect(0);
    let transcript = run(hsm.rv().args(["ledger", "transcript"]))
        .expect(0)
        .stdout;
    assert!(
        transcript.contains("`sign` witnessed by bob, carol"),
        "{transcript}"
    );
    assert!(transcript.contains("`revoke` witnessed by alice, carol"));

    // The auditor's copy: ssh-keygen -Y verify accepts every recorded signature, and no
    // signature verifies for another witness's name.
    let out = hsm.path("witnessed");
    let report = run(hsm
        .rv()
        .args(["ledger", "witnesses", "--json", "--out"])
        .arg(&out))
    .expect(0)
    .json();
    let events = report["events"].as_array().unwrap();
    assert_eq!(
        events
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["witness add", "root create", "sign", "sign-batch", "revoke"]
    );
    let mut checked = 0;
    for e in events {
        let dir = out.join(e["seq"].as_i64().unwrap().to_string());
        let statement = std::fs::read(dir.join("statement.txt")).unwrap();
        assert_eq!(
            rootvault::keys::sha256_hex(&statement),
            e["statement_sha256"].as_str().unwrap()
        );
        for w in e["witnesses"].as_array().unwrap() {
            let w = w.as_str().unwrap();
            for (principal, ok) in [(w, true), ("nobody", false)] {
                let status = Command::new("ssh-keygen")
                    .args(["-Y", "verify", "-f"])
                    .arg(out.join("allowed_signers"))
                    .args(["-I", principal, "-n", "rootvault-witness", "-s"])
                    .arg(dir.join(format!("{w}.sig")))
                    .stdin(std::fs::File::open(dir.join("statement.txt")).unwrap())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .unwrap();
                assert_eq!(status.success(), ok, "{principal} for {}", dir.display());
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 10);

    // The auditor's script checks each statement's digest and prints the ssh-keygen command.
    let export = hsm.path("ledger.jsonl");
    run(hsm.rv().args(["ledger", "export", "--out"]).arg(&export)).expect(0);
    let r = run(Command::new("python3")
        .arg(repo().join("docs/audit/verify_ledger.py"))
        .arg(&export))
    .expect(0);
    assert!(
        r.stdout
            .contains("5 witnessed event(s), statement digests match")
            && r.stdout.contains(
                "ssh-keygen -Y verify -f DIR/allowed_signers -I alice -n rootvault-witness -s DIR/"
            ),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
}

#[test]
fn every_refused_witnessing_is_exit_6_and_changes_nothing() {
    let (hsm, [alice, bob, _carol]) = witnessed_vault("wit-refuse", 2);
    let dave = keygen(hsm.dir.path(), "dave", &["-t", "ed25519"]);
    let csr = make_cluster_csr(hsm.dir.path(), "prod", P256);
    let sign_args = ["sign", csr.csr.to_str().unwrap(), "--cluster", "prod"];
    let st = statement(&hsm, &sign_args, "sign.txt");
    let a = ssh_sign(&alice, &st, "rootvault-witness", "alice");
    let b = ssh_sign(&bob, &st, "rootvault-witness", "bob");
    let a_other_ns = ssh_sign(&alice, &st, "file", "alice-file");
    let d = ssh_sign(&dave, &st, "rootvault-witness", "dave");
    let a_copy = hsm.path("alice-copy.sig");
    std::fs::copy(&a, &a_copy).unwrap();
    // A statement for other inputs: another validity.
    let mut other: Vec<&str> = sign_args.to_vec();
    other.extend(["--days", "30"]);
    let st_other = statement(&hsm, &other, "other.txt");
    let b_other = ssh_sign(&bob, &st_other, "rootvault-witness", "bob-other");

    let confirm = ["--confirm", &csr.spki_sha256[..16]];
    let refused = |sigs: &[&PathBuf], expect: &str| {
        let before = head(&hsm);
        let r = run(hsm
            .rv_pin()
            .args(sign_args)
            .args(sig_args(sigs))
            .args(confirm))
        .expect(6);
        assert!(
            r.stderr.contains(expect),
            "expected {expect:?} in:\n{}",
            r.stderr
        );
        assert_eq!(head(&hsm), before, "nothing recorded");
        assert_eq!(certificates(&hsm), 0, "nothing issued");
        r
    };
    refused(
        &[],
        "sign needs 2 witness signature(s) in this vault (3 witnesses are registered), and none was given; nothing was signed",
    );
    refused(
        &[&a],
        "sign needs 2 distinct registered witnesses, and 1 signed (alice); nothing was signed",
    );
    refused(
        &[&a, &a_copy],
        &format!(
            "{}: witness alice signed already (in {}); each witness counts once",
            a_copy.display(),
            a.display()
        ),
    );
    refused(
        &[&a_other_ns, &b],
        &format!(
            "{}: it was made for the namespace \"file\", not \"rootvault-witness\"",
            a_other_ns.display()
        ),
    );
    refused(
        &[&a, &d],
        &format!(
            "{}: it was made by the key SHA256:{}, which is not a registered witness's",
            d.display(),
            fingerprint(&dave)
        ),
    );
    refused(
        &[&a, &b_other],
        &format!(
            "{}: it does not sign this statement (it was made for another action, other inputs",
            b_other.display()
        ),
    );

    // Replay after the ledger moved: a CRL (which needs no witnesses) moves the head.
    let (seq_then, hash_then) = head(&hsm);
    run(hsm.rv_pin().args(["crl"])).expect(0);
    let (seq_now, _) = head(&hsm);
    refused(
        &[&a, &b],
        &format!(
            "{}: it signs this action's statement for ledger event {seq_then} (hash {hash_then}), but the ledger has moved on to event {seq_now}: write the statement again",
            a.display()
        ),
    );

    // Made again for the current head, the same two witnesses suffice.
    let st = statement(&hsm, &sign_args, "sign-now.txt");
    let a = ssh_sign(&alice, &st, "rootvault-witness", "alice-now");
    let b = ssh_sign(&bob, &st, "rootvault-witness", "bob-now");
    run(hsm
        .rv_pin()
        .args(sign_args)
        .args(sig_args(&[&a, &b]))
        .args(confirm))
    .expect(0);
    assert_eq!(certificates(&hsm), 1);
}

#[test]
fn the_requirement_survives_an_edited_vault_toml_and_an_edited_ledger() {
    let (hsm, [alice, _, _]) = witnessed_vault("wit-edit", 2);
    let csr = make_cluster_csr(hsm.dir.path(), "prod", P256);
    let sign = |extra: &[&PathBuf]| {
        run(hsm
            .rv_pin()
            .args(["sign", csr.csr.to_str().unwrap(), "--cluster", "prod"])
            .args(sig_args(extra))
            .args(["--confirm", &csr.spki_sha256[..16]]))
    };

    // vault.toml holds no requirement: an edit that still parses changes nothing, and one
    // that tries to set it is refused as an unknown field.
    let toml = hsm.vault().join("vault.toml");
    let original = std::fs::read_to_string(&toml).unwrap();
    assert!(!original.contains("witness"), "{original}");
    std::fs::write(&toml, format!("# witnesses: none required\n{original}")).unwrap();
    sign(&[]).expect(6);
    std::fs::write(&toml, format!("{original}\n[witnesses]\nrequired = 0\n")).unwrap();
    let r = sign(&[]).expect(1);
    assert!(
        r.stderr.contains("is not a valid vault configuration"),
        "{}",
        r.stderr
    );
    std::fs::write(&toml, &original).unwrap();

    // The ledger edited to say M = 1 (its stored hash left as it was, so that only a full
    // verification would notice): the gate believes the ledger before the PIN is read, but
    // the token attested M = 2, so nothing is signed.
    let before = head(&hsm);
    hsm.sqlite(
        "DROP TRIGGER events_append_only_update; UPDATE events SET payload = '{\"required\":1}' WHERE kind = 'witnesses_required';",
    )
    .expect(0);
    let st = statement(
        &hsm,
        &["sign", csr.csr.to_str().unwrap(), "--cluster", "prod"],
        "sign.txt",
    );
    assert_eq!(
        run(hsm.rv().args(["witness", "list", "--json"]))
            .expect(0)
            .json()["required"],
        1
    );
    let a = ssh_sign(&alice, &st, "rootvault-witness", "alice");
    let r = sign(&[&a]).expect(4);
    assert!(
        r.stderr
            .contains("the witness registry and requirement the ledger holds (M = 1, 3 witnesses")
            && r.stderr.contains("are not what the token attested (M = 2"),
        "{}",
        r.stderr
    );
    assert_eq!(head(&hsm).0, before.0, "nothing recorded");
    assert_eq!(certificates(&hsm), 0, "nothing issued");
}
