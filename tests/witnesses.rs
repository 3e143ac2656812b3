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

/// The vault's private keys on the token, by label (pkcs11-tool, not rootvault).
fn token_keys(hsm: &Hsm) -> Vec<String> {
    let r = hsm.pkcs11_tool(&[
        "--login",
        "--pin",
        PIN,
        "--list-objects",
        "--type",
        "privkey",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut labels: Vec<String> = r
        .stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("label:"))
        .map(|l| l.trim().to_owned())
        .collect();
    labels.sort();
    labels
}

/// `root show --json`: each generation's number and status.
fn generations(hsm: &Hsm) -> Vec<(u64, String)> {
    run(hsm.rv().args(["root", "show", "--json"]))
        .expect(0)
        .json()["roots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["generation"].as_u64().unwrap(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `root show --json`: generation `g`'s `field`.
fn generation_field(hsm: &Hsm, g: u64, field: &str) -> String {
    run(hsm.rv().args(["root", "show", "--json"]))
        .expect(0)
        .json()["roots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["generation"] == g)
        .unwrap()[field]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `ledger witnesses --out DIR`; checks every recorded signature with `ssh-keygen -Y verify`
/// (and that none verifies under another name), returns the exported actions.
fn auditor_checks_every_signature(hsm: &Hsm, dir: &str) -> Vec<String> {
    let out = hsm.path(dir);
    let report = run(hsm
        .rv()
        .args(["ledger", "witnesses", "--json", "--out"])
        .arg(&out))
    .expect(0)
    .json();
    let mut actions = Vec::new();
    for e in report["events"].as_array().unwrap() {
        let dir = out.join(e["seq"].as_i64().unwrap().to_string());
        let statement = std::fs::read(dir.join("statement.txt")).unwrap();
        assert_eq!(
            rootvault::keys::sha256_hex(&statement),
            e["statement_sha256"].as_str().unwrap()
        );
        let witnesses = e["witnesses"].as_array().unwrap();
        assert_eq!(witnesses.len(), 2, "{e}");
        for w in witnesses {
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
        }
        actions.push(e["action"].as_str().unwrap().to_owned());
    }
    actions
}

fn ledger_verifies(hsm: &Hsm) {
    let r = run(hsm.rv().args(["ledger", "verify", "--json"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.json()["ok"], true, "{}", r.stdout);
}

#[test]
fn a_witnessed_root_rotation_retirement_and_key_destruction_and_ssh_keygen_verifies_them() {
    let (hsm, [alice, bob, carol]) = witnessed_vault("wit-rotate", 2);
    let sha_1 = generation_field(&hsm, 1, "sha256");
    let rotate = [
        "root",
        "rotate",
        "--subject",
        "CN=Root G2,O=Example Org,C=GB",
        "--key-type",
        "ecdsa-p384",
    ];
    let keys_before = token_keys(&hsm);
    assert_eq!(keys_before, ["rootvault-audit", "rootvault-root"]);
    let unchanged = |before: &(i64, String)| {
        assert_eq!(head(&hsm), *before, "nothing recorded");
        assert_eq!(token_keys(&hsm), keys_before, "no key generated");
        assert_eq!(generations(&hsm), [(1, "active".to_owned())]);
    };

    // Without signatures, or with too few: exit 6 before the PIN is used, no key on the token.
    let before = head(&hsm);
    let r = run(hsm.rv_pin().args(rotate).args(["--confirm", &sha_1[..16]])).expect(6);
    assert!(
        r.stderr.contains("root rotate needs 2 witness signature(s) in this vault (3 witnesses are registered), and none was given; nothing was rotated"),
        "{}",
        r.stderr
    );
    unchanged(&before);

    // The statement: the new root's subject, key type and days, and the active root by its
    // certificate's SHA-256; canonical, and writing it touches no key.
    let st = statement(&hsm, &rotate, "rotate.txt");
    let again = statement(&hsm, &rotate, "rotate-again.txt");
    assert_eq!(std::fs::read(&st).unwrap(), std::fs::read(&again).unwrap());
    let text = std::fs::read_to_string(&st).unwrap();
    assert!(
        text.contains(&format!(
            "ledger head: event {}, hash {}\naction: root rotate\nnew generation: 2 (becomes active)\nsubject: CN=Root G2, O=Example Org, C=GB\nkey type: ecdsa-p384\nvalidity: 3650 days\npathlen: none\ntoken key label: rootvault-root-g2\nactive root: generation 1 (becomes trusted): CN=Test Root CA, O=Example Org, C=GB\nactive root certificate SHA-256: {sha_1}\ncross-certificate: the new key certified by generation 1, until ",
            before.0, before.1
        )),
        "{text}"
    );
    unchanged(&before);
    let a = ssh_sign(&alice, &st, "rootvault-witness", "rotate-alice");
    let r = run(hsm
        .rv_pin()
        .args(rotate)
        .args(sig_args(&[&a]))
        .args(["--confirm", &sha_1[..16]]))
    .expect(6);
    assert!(
        r.stderr.contains(
            "root rotate needs 2 distinct registered witnesses, and 1 signed (alice); nothing was rotated"
        ),
        "{}",
        r.stderr
    );
    unchanged(&before);
    // A signature of another rotation (other days) does not count.
    let mut other = rotate.to_vec();
    other.extend(["--days", "365"]);
    let st_other = statement(&hsm, &other, "rotate-other.txt");
    let b_other = ssh_sign(&bob, &st_other, "rootvault-witness", "rotate-bob-other");
    let r = run(hsm
        .rv_pin()
        .args(rotate)
        .args(sig_args(&[&a, &b_other]))
        .args(["--confirm", &sha_1[..16]]))
    .expect(6);
    assert!(
        r.stderr.contains(&format!(
            "{}: it does not sign this statement",
            b_other.display()
        )),
        "{}",
        r.stderr
    );
    unchanged(&before);

    // Two witnesses: the rotation runs.
    let b = ssh_sign(&bob, &st, "rootvault-witness", "rotate-bob");
    run(hsm
        .rv_pin()
        .args(rotate)
        .args(sig_args(&[&a, &b]))
        .args(["--confirm", &sha_1[..16]]))
    .expect(0);
    assert_eq!(
        token_keys(&hsm),
        ["rootvault-audit", "rootvault-root", "rootvault-root-g2"]
    );
    assert_eq!(
        generations(&hsm),
        [(1, "trusted".to_owned()), (2, "active".to_owned())]
    );

    // Retiring generation 1: the generation and its certificate's SHA-256.
    let retire = ["root", "retire", "--generation", "1"];
    let before = head(&hsm);
    let r = run(hsm.rv_pin().args(retire).args(["--confirm", &sha_1[..16]])).expect(6);
    assert!(
        r.stderr.contains("root retire needs 2 witness signature(s) in this vault (3 witnesses are registered), and none was given; nothing was retired"),
        "{}",
        r.stderr
    );
    assert_eq!(head(&hsm), before);
    assert_eq!(generations(&hsm)[0].1, "trusted");
    let st = statement(&hsm, &retire, "retire.txt");
    let text = std::fs::read_to_string(&st).unwrap();
    assert!(
        text.contains(&format!(
            "action: root retire\ngeneration: 1 (leaves every trust bundle)\nsubject: CN=Test Root CA, O=Example Org, C=GB\ncertificate SHA-256: {sha_1}\n"
        )),
        "{text}"
    );
    let sigs = [
        ssh_sign(&bob, &st, "rootvault-witness", "retire-bob"),
        ssh_sign(&carol, &st, "rootvault-witness", "retire-carol"),
    ];
    run(hsm
        .rv_pin()
        .args(retire)
        .args(sig_args(&[&sigs[0], &sigs[1]]))
        .args(["--confirm", &sha_1[..16]]))
    .expect(0);
    assert_eq!(
        generations(&hsm),
        [(1, "retired".to_owned()), (2, "active".to_owned())]
    );

    // Destroying its key: without witnesses the key stays on the token.
    let spki_1 = generation_field(&hsm, 1, "spki_sha256");
    let destroy = ["root", "destroy-key", "--generation", "1"];
    let r = run(hsm
        .rv_pin()
        .args(destroy)
        .args(["--confirm", &spki_1[..16]]))
    .expect(6);
    assert!(
        r.stderr.contains("root destroy-key needs 2 witness signature(s) in this vault (3 witnesses are registered), and none was given; no key was destroyed"),
        "{}",
        r.stderr
    );
    assert!(token_keys(&hsm).contains(&"rootvault-root".to_owned()));
    let st = statement(&hsm, &destroy, "destroy.txt");
    let text = std::fs::read_to_string(&st).unwrap();
    assert!(
        text.contains(
            "action: root destroy-key\ngeneration: 1 (retired)\nsubject: CN=Test Root CA, O=Example Org, C=GB\nkey: label rootvault-root, id "
        ) && text.contains(&format!("key SPKI SHA-256: {spki_1}\n")),
        "{text}"
    );
    let sigs = [
        ssh_sign(&alice, &st, "rootvault-witness", "destroy-alice"),
        ssh_sign(&carol, &st, "rootvault-witness", "destroy-carol"),
    ];
    run(hsm
        .rv_pin()
        .args(destroy)
        .args(sig_args(&[&sigs[0], &sigs[1]]))
        .args(["--confirm", &spki_1[..16]]))
    .expect(0);
    assert_eq!(token_keys(&hsm), ["rootvault-audit", "rootvault-root-g2"]);

    // The auditor: every signature verifies with ssh-keygen; the ledger verifies (each step
    // follows its witnessed statement, each signature by a key registered then); the
    // transcript names who witnessed what.
    assert_eq!(
        auditor_checks_every_signature(&hsm, "witnessed"),
        ["root rotate", "root retire", "root destroy-key"]
    );
    ledger_verifies(&hsm);
    let export = hsm.path("ledger.jsonl");
    run(hsm.rv().args(["ledger", "export", "--out"]).arg(&export)).expect(0);
    let r = run(Command::new("python3")
        .arg(repo().join("docs/audit/verify_ledger.py"))
        .arg(&export))
    .expect(0);
    assert!(
        r.stdout
            .contains("3 witnessed event(s), statement digests match"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    run(hsm.rv_pin().args(["ledger", "verify", "--with-token"])).expect(0);
    let transcript = run(hsm.rv().args(["ledger", "transcript"]))
        .expect(0)
        .stdout;
    for needle in [
        "`root rotate` witnessed by alice, bob",
        "`root retire` witnessed by bob, carol",
        "`root destroy-key` witnessed by alice, carol",
    ] {
        assert!(transcript.contains(needle), "{needle} in:\n{transcript}");
    }
}

#[test]
fn a_witnessed_subordinate_makes_its_key_and_imports_its_certificate_only_with_the_witnesses() {
    let hsm = Hsm::new("wit-subordinate");
    hsm.init().expect(0);
    let alice = keygen(hsm.dir.path(), "alice", &["-t", "ed25519"]);
    let bob = keygen(hsm.dir.path(), "bob", &["-t", "ecdsa", "-b", "256"]);
    add(&hsm, "alice", &alice);
    add(&hsm, "bob", &bob);
    run(hsm.rv_pin().args(["witness", "require", "2"])).expect(0);
    let both = |st: &Path, tag: &str| {
        [
            ssh_sign(&alice, st, "rootvault-witness", &format!("{tag}-alice")),
            ssh_sign(&bob, st, "rootvault-witness", &format!("{tag}-bob")),
        ]
    };

    // root csr: refused without witnesses, with no key made and no request written.
    let csr = hsm.path("mesh.csr");
    let csr_args = [
        "root",
        "csr",
        "--subject",
        "CN=Mesh CA,O=Example Org,C=GB",
        "--key-type",
        "ecdsa-p256",
        "--out",
        csr.to_str().unwrap(),
    ];
    let before = head(&hsm);
    let r = run(hsm.rv_pin().args(csr_args)).expect(6);
    assert!(
        r.stderr.contains("root csr needs 2 witness signature(s) in this vault (2 witnesses are registered), and none was given; no key was generated"),
        "{}",
        r.stderr
    );
    assert_eq!(head(&hsm), before);
    assert_eq!(token_keys(&hsm), ["rootvault-audit"]);
    assert!(!csr.exists());
    let st = statement(&hsm, &csr_args, "csr.txt");
    assert!(!csr.exists(), "the statement wrote no request");
    let text = std::fs::read_to_string(&st).unwrap();
    assert!(
        text.contains("action: root csr\ngeneration: 1 (pending until its certificate is imported)\nsubject: CN=Mesh CA, O=Example Org, C=GB\nkey type: ecdsa-p256\ntoken key label: rootvault-root\n"),
        "{text}"
    );
    let [a, b] = both(&st, "csr");
    run(hsm.rv_pin().args(csr_args).args(sig_args(&[&a, &b]))).expect(0);
    assert_eq!(token_keys(&hsm), ["rootvault-audit", "rootvault-root"]);
    assert_eq!(generations(&hsm), [(1, "pending".to_owned())]);

    // An enterprise root (OpenSSL) issues the mesh CA with pathLen 1.
    let ent = hsm.path("enterprise");
    std::fs::create_dir_all(&ent).unwrap();
    run(Command::new("sh").arg("-c").arg(
        r#"set -e; cd "$1"
        printf '[mesh]\nbasicConstraints=critical,CA:TRUE,pathlen:1\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' > ext.cnf
        openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-384 -sha384 -days 30 -subj "/C=GB/O=Enterprise/CN=Enterprise Root" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -keyout root.key -out root.pem 2>/dev/null
        openssl x509 -req -in "$2" -CA root.pem -CAkey root.key -CAcreateserial -days 10 -sha256 -extfile ext.cnf -extensions mesh -out mesh.pem 2>/dev/null
        "#,
    ).args(["sh", ent.to_str().unwrap(), csr.to_str().unwrap()]))
    .expect(0);
    let der_sha = |pem: &Path| {
        run(Command::new("sh")
            .arg("-c")
            .arg("openssl x509 -in \"$1\" -outform DER | sha256sum | cut -d' ' -f1")
            .args(["sh", pem.to_str().unwrap()]))
        .expect(0)
        .stdout
        .trim()
        .to_owned()
    };
    let (mesh, anchor) = (ent.join("mesh.pem"), ent.join("root.pem"));
    let (mesh_sha, anchor_sha) = (der_sha(&mesh), der_sha(&anchor));
    let import = [
        "root",
        "import",
        "--cert",
        mesh.to_str().unwrap(),
        "--chain",
        anchor.to_str().unwrap(),
    ];
    let before = head(&hsm);
    let r = run(hsm
        .rv_pin()
        .args(import)
        .args(["--confirm", &mesh_sha[..16]]))
    .expect(6);
    assert!(
        r.stderr.contains("root import needs 2 witness signature(s) in this vault (2 witnesses are registered), and none was given; nothing was imported"),
        "{}",
        r.stderr
    );
    assert_eq!(head(&hsm), before);
    assert_eq!(generations(&hsm), [(1, "pending".to_owned())]);
    let st = statement(&hsm, &import, "import.txt");
    let text = std::fs::read_to_string(&st).unwrap();
    assert!(
        text.contains(&format!(
            "action: root import\ngeneration: 1 (pending, becomes active)\ncertificate SHA-256: {mesh_sha}\nsubject: CN=Mesh CA, O=Example Org, C=GB\nissuer: C=GB, O=Enterprise, CN=Enterprise Root\npathlen: 1\n"
        )) && text.contains(&format!(
            "anchor: C=GB, O=Enterprise, CN=Enterprise Root\nanchor SHA-256: {anchor_sha}\n"
        )),
        "{text}"
    );
    let [a, b] = both(&st, "import");
    run(hsm
        .rv_pin()
        .args(import)
        .args(sig_args(&[&a, &b]))
        .args(["--confirm", &mesh_sha[..16]]))
    .expect(0);
    assert_eq!(generations(&hsm), [(1, "active".to_owned())]);

    assert_eq!(
        auditor_checks_every_signature(&hsm, "witnessed"),
        ["root csr", "root import"]
    );
    ledger_verifies(&hsm);
}

#[test]
fn a_new_pkcs11_module_is_approved_only_with_the_witnesses() {
    let (hsm, [alice, _, carol]) = witnessed_vault("wit-module", 2);
    // A module update: SoftHSM2 with a byte appended (it loads the same).
    let shim = hsm.path("shim.so");
    let mut bytes = std::fs::read(module()).unwrap();
    bytes.push(0);
    std::fs::write(&shim, &bytes).unwrap();
    let sha = rootvault::keys::sha256_hex(&bytes);
    let config = hsm.vault().join("vault.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let edited: String = text
        .lines()
        .map(|l| {
            if l.starts_with("module = ") {
                format!("module = {:?}\n", shim.to_str().unwrap())
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&config, edited).unwrap();

    let approve = ["token", "approve-module"];
    let before = head(&hsm);
    let r = run(hsm.rv_pin().args(approve).args(["--confirm", &sha[..16]])).expect(6);
    assert!(
        r.stderr.contains("token approve-module needs 2 witness signature(s) in this vault (3 witnesses are registered), and none was given; nothing was approved"),
        "{}",
        r.stderr
    );
    assert_eq!(head(&hsm), before);
    // Still unapproved: nothing is done with it.
    run(hsm.rv_pin().args(["crl"])).expect(1);
    let st = statement(&hsm, &approve, "module.txt");
    let text = std::fs::read_to_string(&st).unwrap();
    assert!(
        text.contains(&format!(
            "action: token approve-module\nmodule: {}\nmodule SHA-256: {sha}\napproved so far: ",
            shim.display()
        )),
        "{text}"
    );
    let sigs = [
        ssh_sign(&alice, &st, "rootvault-witness", "module-alice"),
        ssh_sign(&carol, &st, "rootvault-witness", "module-carol"),
    ];
    run(hsm
        .rv_pin()
        .args(approve)
        .args(sig_args(&[&sigs[0], &sigs[1]]))
        .args(["--confirm", &sha[..16]]))
    .expect(0);
    run(hsm.rv_pin().args(["crl"])).expect(0);
    assert_eq!(
        auditor_checks_every_signature(&hsm, "witnessed"),
        ["token approve-module"]
    );
    ledger_verifies(&hsm);
}

/// A backup of `hsm`'s vault, and the identity that decrypts it.
fn backup(hsm: &Hsm, name: &str) -> (PathBuf, PathBuf) {
    let id = hsm.path(&format!("{name}.key"));
    let recipient = age_identity(&id);
    let out = hsm.path(&format!("{name}.age"));
    run(hsm
        .rv_pin()
        .args(["backup", "--age-recipient", &recipient, "--out"])
        .arg(&out))
    .expect(0);
    (out, id)
}

/// The disk dies; `backup` is restored; returns the lost head's hash the token attested.
fn lose_the_tail(hsm: &Hsm, backup: &(PathBuf, PathBuf)) -> String {
    std::fs::remove_dir_all(hsm.vault()).unwrap();
    run(hsm
        .rv()
        .args(["restore", "--from"])
        .arg(&backup.0)
        .arg("--identity")
        .arg(&backup.1))
    .expect(0);
    let r = run(hsm.rv_pin().args(["crl"])).expect(4);
    r.stderr
        .split("(hash ")
        .nth(1)
        .and_then(|t| t.get(..64))
        .unwrap_or_else(|| panic!("{}", r.stderr))
        .to_owned()
}

#[test]
fn a_ledger_restored_from_before_witness_require_is_recovered_only_with_the_witnesses_and_keeps_m()
{
    let hsm = Hsm::new("wit-recover");
    hsm.vault_with_root("ecdsa-p256").expect(0);
    let alice = keygen(hsm.dir.path(), "alice", &["-t", "ed25519"]);
    let bob = keygen(hsm.dir.path(), "bob", &["-t", "ecdsa", "-b", "256"]);
    add(&hsm, "alice", &alice);
    add(&hsm, "bob", &bob);
    // The last backup was made while no witness was required.
    let old = backup(&hsm, "old");
    run(hsm.rv_pin().args(["witness", "require", "2"])).expect(0);
    let lost_head = lose_the_tail(&hsm, &old);
    assert_eq!(
        run(hsm.rv().args(["witness", "list", "--json"]))
            .expect(0)
            .json()["required"],
        0,
        "the restored ledger says none"
    );

    // Recovering would bring back a vault that requires no witnesses: it needs the two the
    // token requires.
    let confirm = ["--confirm", &lost_head[..16]];
    let before = head(&hsm);
    let r = run(hsm.rv_pin().args(["ledger", "recover"]).args(confirm)).expect(6);
    assert!(
        r.stderr.contains("ledger recover needs 2 witness signature(s) in this vault (2 witnesses are registered), and none was given; nothing was recorded"),
        "{}",
        r.stderr
    );
    assert_eq!(head(&hsm), before);
    // The statement names what only the token knows: writing it needs the PIN.
    let path = hsm.path("recover.txt");
    run(hsm
        .rv()
        .args(["ledger", "recover", "--statement-out"])
        .arg(&path))
    .expect(5);
    run(hsm
        .rv_pin()
        .args(["ledger", "recover", "--statement-out"])
        .arg(&path))
    .expect(0);
    let st = path;
    let text = std::fs::read_to_string(&st).unwrap();
    assert!(
        text.contains(&format!(
            "ledger head: event {}, hash {}\naction: ledger recover\nevents lost: {}..{}\nlost head hash: {lost_head}\nrevocations lost: 0 (they must be made again",
            before.0,
            before.1,
            before.0 + 1,
            before.0 + 1
        )) && text.contains(
            "witnesses required: 2 (as the token attested; the ledger that survived says 0)\n"
        ),
        "{text}"
    );
    let a = ssh_sign(&alice, &st, "rootvault-witness", "recover-alice");
    let r = run(hsm
        .rv_pin()
        .args(["ledger", "recover"])
        .args(sig_args(&[&a]))
        .args(confirm))
    .expect(6);
    assert!(
        r.stderr.contains(
            "ledger recover needs 2 distinct registered witnesses, and 1 signed (alice); nothing was recorded"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(head(&hsm), before);
    let b = ssh_sign(&bob, &st, "rootvault-witness", "recover-bob");
    run(hsm
        .rv_pin()
        .args(["ledger", "recover"])
        .args(sig_args(&[&a, &b]))
        .args(confirm))
    .expect(0);

    // M = 2 again, in the ledger and on the token: a signing needs the witnesses.
    assert_eq!(
        run(hsm.rv().args(["witness", "list", "--json"]))
            .expect(0)
            .json()["required"],
        2
    );
    let csr = make_cluster_csr(hsm.dir.path(), "prod", P256);
    let r = run(hsm
        .rv_pin()
        .args(["sign", csr.csr.to_str().unwrap(), "--cluster", "prod"])
        .args(["--confirm", &csr.spki_sha256[..16]]))
    .expect(6);
    assert!(
        r.stderr.contains("sign needs 2 witness signature(s)"),
        "{}",
        r.stderr
    );
    assert_eq!(
        auditor_checks_every_signature(&hsm, "witnessed"),
        ["ledger recover"]
    );
    ledger_verifies(&hsm);
    run(hsm.rv_pin().args(["ledger", "verify", "--with-token"])).expect(0);
}

#[test]
fn a_recovery_that_lost_the_witnesses_the_token_requires_is_refused() {
    let hsm = Hsm::new("wit-recover-lost");
    hsm.vault_with_root("ecdsa-p256").expect(0);
    let alice = keygen(hsm.dir.path(), "alice", &["-t", "ed25519"]);
    add(&hsm, "alice", &alice);
    let old = backup(&hsm, "old");
    // Bob is registered, and M raised to 2, only in the events about to be lost.
    let bob = keygen(hsm.dir.path(), "bob", &["-t", "ed25519"]);
    add(&hsm, "bob", &bob);
    run(hsm.rv_pin().args(["witness", "require", "2"])).expect(0);
    let lost_head = lose_the_tail(&hsm, &old);
    let before = head(&hsm);
    let r = run(hsm
        .rv_pin()
        .args(["ledger", "recover", "--confirm", &lost_head[..16]]))
    .expect(3);
    assert!(
        r.stderr.contains("the token requires 2 witnesses for every trust-changing action, but the ledger that survived registers only 1 (the lost events registered the others, and their keys went with them); nothing was recorded"),
        "{}",
        r.stderr
    );
    assert_eq!(head(&hsm), before);
}

#[test]
fn a_witnessed_signing_states_its_issuing_root_and_an_allowed_key_reuse() {
    let (hsm, [alice, _, _]) = witnessed_vault("wit-reuse", 1);
    let sha_1 = generation_field(&hsm, 1, "sha256");
    let csr = make_cluster_csr(hsm.dir.path(), "east", P256);
    let witnessed_sign = |cluster: &str, extra: &[&str], tag: &str| {
        let mut args = vec!["sign", csr.csr.to_str().unwrap(), "--cluster", cluster];
        args.extend_from_slice(extra);
        let st = statement(&hsm, &args, &format!("{tag}.txt"));
        let sig = ssh_sign(&alice, &st, "rootvault-witness", tag);
        run(hsm
            .rv_pin()
            .args(&args)
            .args(sig_args(&[&sig]))
            .args(["--confirm", &csr.spki_sha256[..16]]))
        .expect(0);
        std::fs::read_to_string(st).unwrap()
    };
    let text = witnessed_sign("east", &[], "east");
    assert!(
        text.contains(&format!(
            "issuing root: generation 1, certificate SHA-256 {sha_1}\n"
        )),
        "{text}"
    );
    // The same key for another cluster: refused at the statement (exit 3) unless reuse is
    // allowed, and then the statement says so.
    let r = run(hsm
        .rv()
        .args(["sign", csr.csr.to_str().unwrap(), "--cluster", "west"])
        .arg("--statement-out")
        .arg(hsm.path("west-refused.txt")))
    .expect(3);
    assert!(
        r.stderr.contains("sign it anyway with --allow-key-reuse"),
        "{}",
        r.stderr
    );
    let east_serial = run(hsm.rv().args(["list", "--cluster", "east", "--json"]))
        .expect(0)
        .json()[0]["serial"]
        .as_str()
        .unwrap()
        .to_owned();
    let text = witnessed_sign("west", &["--allow-key-reuse"], "west");
    assert!(
        text.contains(&format!(
            "same key: KEY REUSE (allowed by --allow-key-reuse): this key also has valid certificate {east_serial} for cluster east\n"
        )),
        "{text}"
    );
    assert_eq!(certificates(&hsm), 2);
    ledger_verifies(&hsm);
}
