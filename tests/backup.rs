//! Issue 6, items 4 and 5: encrypted backups, verified restores and ceremony transcripts.
//! Backups are opened with the `age` and `tar` CLIs the way an auditor would; bad restores
//! are made by cutting, flipping and re-packing real backups, and each must leave no
//! directory behind.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `sh -c SCRIPT sh ARGS…`: the script sees ARGS as "$@".
fn sh(script: &str, args: &[&str]) -> Run {
    run(Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .args(args))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A P-256 key and CSR made by OpenSSL, as a cluster team makes them; returns the CSR and
/// the SHA-256 of its SubjectPublicKeyInfo.
fn make_csr(dir: &Path, name: &str) -> (PathBuf, String) {
    let csr = dir.join(format!("{name}.csr"));
    let key = dir.join(format!("{name}.key"));
    run(Command::new("openssl")
        .args([
            "req",
            "-new",
            "-nodes",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-sha256",
            "-subj",
            &format!("/O=Cluster Team/CN={name}"),
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&csr))
    .expect(0);
    let spki = sh(
        "openssl req -in \"$1\" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1",
        &[s(&csr)],
    )
    .expect(0)
    .stdout
    .trim()
    .to_owned();
    assert_eq!(spki.len(), 64);
    (csr, spki)
}

/// An age identity and an SSH key, with their public recipients.
struct Identities {
    age: PathBuf,
    age_pub: String,
    ssh: PathBuf,
    ssh_pub: String,
}

fn identities(dir: &Path, name: &str) -> Identities {
    let age = dir.join(format!("{name}.age-key"));
    run(Command::new("age-keygen").arg("-o").arg(&age)).expect(0);
    let age_pub = run(Command::new("age-keygen").arg("-y").arg(&age))
        .expect(0)
        .stdout
        .trim()
        .to_owned();
    let ssh = dir.join(format!("{name}_ed25519"));
    run(Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "backup@offline",
            "-f",
        ])
        .arg(&ssh))
    .expect(0);
    let ssh_pub = std::fs::read_to_string(dir.join(format!("{name}_ed25519.pub")))
        .unwrap()
        .trim()
        .to_owned();
    Identities {
        age,
        age_pub,
        ssh,
        ssh_pub,
    }
}

/// `age -d -i IDENTITY FILE`, the plaintext.
fn age_decrypt(identity: &Path, file: &Path) -> Vec<u8> {
    let out = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(identity)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "age could not decrypt {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// What a ceremony left behind.
struct Ceremony {
    h: Hsm,
    ids: Identities,
    /// The receipt beside an export made before the backup.
    receipt: PathBuf,
    /// The private key the vault generated for one cluster (decrypted from its export).
    generated_key: PathBuf,
    /// Every cluster that took part.
    clusters: Vec<&'static str>,
    /// The first event of the ceremony (after the vault and root were made).
    since: i64,
    /// The age recipient the generated key was exported to.
    north_recipient: String,
}

impl Hsm {
    fn events(&self) -> Vec<Value> {
        run(self.rv().args(["ledger", "show", "--json"]))
            .expect(0)
            .json()
            .as_array()
            .unwrap()
            .clone()
    }

    fn sign_csr(&self, cluster: &str) -> String {
        let (csr, spki) = make_csr(self.dir.path(), cluster);
        let out = self.path(&format!("{cluster}.pem"));
        run(self
            .rv_pin()
            .arg("sign")
            .arg(&csr)
            .args(["--cluster", cluster, "--confirm", &spki[..12], "--out"])
            .arg(&out))
        .expect(0);
        spki
    }
}

/// A vault with a root, then a ceremony: two clusters signed from CSRs, one with a key the
/// vault generated, a revocation, a CRL and an export with a receipt.
fn ceremony(label: &str) -> Ceremony {
    let h = Hsm::new(label);
    h.vault_with_root("ecdsa-p384").expect(0);
    let ids = identities(h.dir.path(), "offline");
    let since = h.events().len() as i64 + 1;

    h.sign_csr("east");
    h.sign_csr("west");
    let west = run(h.rv().args(["list", "--cluster", "west", "--json"]))
        .expect(0)
        .json()[0]["serial"]
        .as_str()
        .unwrap()
        .to_owned();
    run(h.rv_pin().args([
        "revoke",
        "--serial",
        &west,
        "--reason",
        "superseded",
        "--confirm",
        &west[..10],
    ]))
    .expect(0);
    run(h.rv_pin().args(["crl", "--out"]).arg(h.path("crl.pem"))).expect(0);

    // A key generated by the vault: it must exist only inside its encrypted export.
    let team = identities(h.dir.path(), "north-team");
    let confirm = {
        let r = sh(
            "printf '%s\\n' \"$1\" | sort | sha256sum | cut -d' ' -f1",
            &[&team.age_pub],
        )
        .expect(0);
        r.stdout.trim().to_owned()
    };
    let north = h.path("north.pem");
    run(h
        .rv_pin()
        .args([
            "sign",
            "--generate-key",
            "--key-type",
            "ecdsa-p256",
            "--cluster",
            "north",
            "--format",
            "pem-bundle",
            "--age-recipient",
            &team.age_pub,
            "--confirm",
            &confirm[..12],
            "--out",
        ])
        .arg(&north))
    .expect(0);
    let bundle = String::from_utf8(age_decrypt(&team.age, &north)).unwrap();
    let key_at = bundle
        .match_indices("-----BEGIN")
        .map(|(i, _)| i)
        .find(|&i| bundle[i..].lines().next().unwrap().contains("PRIVATE KEY"))
        .expect("the generated export holds the key");
    let generated_key = h.path("north.key.pem");
    std::fs::write(&generated_key, &bundle[key_at..]).unwrap();

    let export = h.path("east-bundle.pem");
    run(h
        .rv_pin()
        .args([
            "export",
            "--cluster",
            "east",
            "--format",
            "pem-bundle",
            "--out",
        ])
        .arg(&export))
    .expect(0);
    let receipt = h.path("east-bundle.pem.receipt.json");
    assert!(receipt.is_file(), "the export wrote its receipt");
    Ceremony {
        h,
        ids,
        receipt,
        generated_key,
        clusters: vec!["east", "west", "north"],
        since,
        north_recipient: team.age_pub,
    }
}

/// `backup --out OUT` to the given recipients.
fn backup(h: &Hsm, out: &Path, recipients: &[&str], extra: &[&str]) -> Run {
    let mut c = h.rv();
    c.arg("backup").arg("--out").arg(out).args(extra);
    for r in recipients {
        c.args(["--age-recipient", r]);
    }
    run(&mut c)
}

/// `restore --from FROM --identity ID` into `into`.
fn restore(h: &Hsm, from: &Path, identity: &Path, into: &Path) -> Run {
    run(h
        .rv()
        .arg("--vault")
        .arg(into)
        .args(["restore", "--from"])
        .arg(from)
        .arg("--identity")
        .arg(identity))
}

/// The names in a directory.
fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_backup_restores_to_the_same_vault_and_holds_no_plaintext_and_no_private_key() {
    let c = ceremony("backup-roundtrip");
    let h = &c.h;
    let out = h.path("vault-backup.age");

    let report = backup(h, &out, &[&c.ids.age_pub, &c.ids.ssh_pub], &["--json"])
        .expect(0)
        .json();
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(report["bytes"], bytes.len() as u64, "{report}");
    assert_eq!(
        report["sha256"],
        sh("sha256sum \"$1\" | cut -d' ' -f1", &[s(&out)])
            .expect(0)
            .stdout
            .trim(),
    );
    assert_eq!(report["manifest"]["events"], h.events().len() as u64);

    // Nothing readable in the file itself.
    for word in [
        &b"rootvault"[..],
        b"BEGIN",
        b"sqlite",
        b"SQLite",
        b"vault.toml",
    ] {
        assert!(
            !contains(&bytes, word),
            "the backup shows {:?} in the clear",
            String::from_utf8_lossy(word)
        );
    }
    assert!(bytes.starts_with(b"age-encryption.org/v1\n"));

    // An auditor looks inside with age and tar alone.
    let listed = sh(
        "age -d -i \"$1\" \"$2\" | tar tf -",
        &[s(&c.ids.age), s(&out)],
    )
    .expect(0);
    assert_eq!(
        listed.stdout.lines().collect::<Vec<_>>(),
        ["backup.json", "vault.toml", "ledger.sqlite"],
        "{}",
        listed.stderr
    );

    // No private key: none in PEM, and not the generated key in any form.
    let plain = age_decrypt(&c.ids.ssh, &out);
    assert!(
        !contains(&plain, b"PRIVATE KEY"),
        "a private key in the backup"
    );
    let der = sh(
        "openssl pkey -in \"$1\" -outform DER | base64 -w0",
        &[s(&c.generated_key)],
    )
    .expect(0)
    .stdout;
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(der.trim())
        .unwrap();
    assert!(
        !contains(&plain, &der),
        "the generated key's DER is in the backup"
    );
    let key_text = std::fs::read_to_string(&c.generated_key).unwrap();
    for line in key_text.lines().filter(|l| !l.starts_with("-----")) {
        assert!(
            !contains(&plain, line.as_bytes()),
            "the generated key's base64 is in the backup"
        );
    }
    // Nor can the token's keys be in it: they are not extractable, and the backup holds
    // only the two vault files and the manifest (checked above).

    // Never overwritten without --force; a bad recipient is refused; one is required.
    let before = std::fs::read(&out).unwrap();
    backup(h, &out, &[&c.ids.age_pub], &[]).expect(1);
    assert_eq!(std::fs::read(&out).unwrap(), before);
    backup(h, &h.path("other.age"), &["age1notakey"], &[]).expect(3);
    backup(h, &h.path("other.age"), &[], &[]).expect(2);
    assert!(!h.path("other.age").exists());
    backup(h, &out, &[&c.ids.age_pub], &["--force"]).expect(0);
    assert_ne!(std::fs::read(&out).unwrap(), before);
    let again = h.path("again.age");
    backup(h, &again, &[&c.ids.age_pub, &c.ids.ssh_pub], &[]).expect(0);

    // Restore with the age identity, and with the SSH key.
    let restored = h.path("restored");
    let r = restore(h, &again, &c.ids.age, &restored).expect(0);
    assert!(r.stderr.contains("restored and verified"), "{}", r.stderr);
    let via_ssh = h.path("restored-ssh");
    restore(h, &again, &c.ids.ssh, &via_ssh).expect(0);

    let list = |dir: &Path| {
        run(h.rv().arg("--vault").arg(dir).args(["list", "--json"]))
            .expect(0)
            .json()
    };
    let original = list(&h.vault());
    assert_eq!(original.as_array().unwrap().len(), 3, "{original}");
    assert_eq!(list(&restored), original);
    assert_eq!(list(&via_ssh), original);
    let events = |dir: &Path| {
        run(h
            .rv()
            .arg("--vault")
            .arg(dir)
            .args(["ledger", "show", "--json"]))
        .expect(0)
        .json()
    };
    assert_eq!(events(&restored), events(&h.vault()));

    for dir in [&restored, &via_ssh] {
        let v = run(h
            .rv()
            .arg("--vault")
            .arg(dir)
            .args(["ledger", "verify", "--json"]))
        .expect(0)
        .json();
        assert_eq!(v["ok"], true, "{v}");
        // The receipt a cluster got before the backup proves the restored ledger is the one.
        run(h
            .rv()
            .arg("--vault")
            .arg(dir)
            .args(["ledger", "verify", "--receipt"])
            .arg(&c.receipt))
        .expect(0);
        let files: BTreeSet<String> = names(dir)
            .into_iter()
            .filter(|n| !n.ends_with("-wal") && !n.ends_with("-shm"))
            .collect();
        assert_eq!(
            files,
            BTreeSet::from(["ledger.sqlite".into(), "vault.toml".into()])
        );
    }
    // No staging directory is left.
    assert!(
        names(h.dir.path()).iter().all(|n| !n.contains(".restore-")),
        "{:?}",
        names(h.dir.path())
    );

    // The restored vault works on the same token: the next ceremony action is accepted and
    // checkpointed by the audit key the ledger records.
    run(h
        .rv_pin()
        .arg("--vault")
        .arg(&restored)
        .args(["crl", "--out"])
        .arg(h.path("crl-after-restore.pem")))
    .expect(0);
    run(h
        .rv()
        .arg("--vault")
        .arg(&restored)
        .args(["ledger", "verify"]))
    .expect(0);
}

#[test]
fn bad_restores_fail_with_their_exit_codes_and_leave_no_directory() {
    let h = Hsm::new("backup-bad-restores");
    h.vault_with_root("ecdsa-p256").expect(0);
    h.sign_csr("east");
    let ids = identities(h.dir.path(), "offline");
    let good = h.path("good.age");
    backup(&h, &good, &[&ids.age_pub], &[]).expect(0);
    let bytes = std::fs::read(&good).unwrap();
    let target = h.path("restored");
    let base = names(h.dir.path());

    // Each bad restore: the documented exit code, and the directory as it was.
    let refused = |from: &Path, identity: &Path, code: i32, what: &str| {
        let before = names(h.dir.path());
        let r = restore(&h, from, identity, &target);
        assert_eq!(
            r.code, code,
            "{what}: expected exit {code}\nstdout:\n{}\nstderr:\n{}",
            r.stdout, r.stderr
        );
        assert!(!target.exists(), "{what}: the target was created");
        assert_eq!(
            names(h.dir.path()),
            before,
            "{what}: something was left behind"
        );
        r
    };

    // A wrong identity.
    let other = identities(h.dir.path(), "other");
    let r = refused(&good, &other.age, 3, "wrong age identity");
    assert!(r.stderr.contains("cannot decrypt"), "{}", r.stderr);
    refused(&good, &other.ssh, 3, "wrong SSH key");
    let junk = h.path("junk-identity");
    std::fs::write(&junk, "not a key\n").unwrap();
    refused(&good, &junk, 3, "an identity file that holds no key");
    refused(
        &h.path("missing.age"),
        &ids.age,
        3,
        "a backup that does not exist",
    );

    // Cut in half, or short by one byte.
    let cut = h.path("cut.age");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let r = refused(&cut, &ids.age, 3, "a backup cut in half");
    assert!(r.stderr.contains("cut short"), "{}", r.stderr);
    std::fs::write(&cut, &bytes[..bytes.len() - 1]).unwrap();
    refused(&cut, &ids.age, 3, "a backup one byte short");

    // One flipped byte: in the header, in the middle, at the end.
    let flipped = h.path("flipped.age");
    let header_end = bytes.windows(4).position(|w| w == b"\n---").unwrap();
    for at in [
        header_end / 2,
        header_end + 10,
        bytes.len() / 2,
        bytes.len() - 1,
    ] {
        let mut b = bytes.clone();
        b[at] ^= 0x01;
        std::fs::write(&flipped, &b).unwrap();
        refused(&flipped, &ids.age, 3, &format!("a byte flipped at {at}"));
    }

    // An existing target, empty or not, or a file: exit 1, untouched.
    std::fs::create_dir(&target).unwrap();
    let r = restore(&h, &good, &ids.age, &target);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("already exists"), "{}", r.stderr);
    assert!(names(&target).is_empty());
    std::fs::write(target.join("keep"), b"mine").unwrap();
    restore(&h, &good, &ids.age, &target).expect(1);
    assert_eq!(names(&target), BTreeSet::from(["keep".to_owned()]));
    std::fs::remove_dir_all(&target).unwrap();
    std::fs::write(&target, b"a file").unwrap();
    restore(&h, &good, &ids.age, &target).expect(1);
    assert_eq!(std::fs::read(&target).unwrap(), b"a file");
    std::fs::remove_file(&target).unwrap();

    // Re-packed archives, properly encrypted to the recipient (anyone with the public key
    // can do that): unpack the real backup first.
    let work = h.path("unpacked");
    std::fs::create_dir(&work).unwrap();
    std::fs::write(h.path("plain.tar"), age_decrypt(&ids.age, &good)).unwrap();
    run(Command::new("tar")
        .arg("xf")
        .arg(h.path("plain.tar"))
        .arg("-C")
        .arg(&work))
    .expect(0);
    let encrypt = |tar: &Path, out: &Path| {
        run(Command::new("age")
            .args(["-r", &ids.age_pub, "-o"])
            .arg(out)
            .arg(tar))
        .expect(0);
    };

    // Path traversal and unexpected entries.
    let evil_tar = h.path("evil.tar");
    let py = format!(
        r#"
import io, sys, tarfile
src, out = sys.argv[1], sys.argv[2]
with tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as t:
    for name in ["backup.json", "vault.toml", "ledger.sqlite"]:
        t.add(src + "/" + name, arcname=name)
    data = b"escaped\n"
    info = tarfile.TarInfo("{}")
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))
"#,
        "../escaped.txt"
    );
    for (member, what) in [
        ("../escaped.txt", "an entry that climbs out"),
        ("/tmp/rootvault-escaped.txt", "an absolute entry"),
        ("extra.txt", "an unexpected entry"),
    ] {
        let script = py.replace("../escaped.txt", member);
        run(Command::new("python3")
            .arg("-c")
            .arg(&script)
            .arg(&work)
            .arg(&evil_tar))
        .expect(0);
        let evil = h.path("evil.age");
        encrypt(&evil_tar, &evil);
        let r = refused(&evil, &ids.age, 3, what);
        assert!(
            r.stderr.contains("unexpected entry"),
            "{what}: {}",
            r.stderr
        );
        assert!(!h.dir.path().parent().unwrap().join("escaped.txt").exists());
        assert!(!Path::new("/tmp/rootvault-escaped.txt").exists());
        std::fs::remove_file(&evil).unwrap();
    }

    // A ledger edited inside the archive, with its manifest updated to match: the archive
    // is consistent and decrypts, but the ledger does not verify (exit 4).
    let ledger = work.join("ledger.sqlite");
    run(Command::new("sqlite3").arg(&ledger).arg(
        "DROP TRIGGER events_append_only_update; UPDATE events SET actor = 'mallory' WHERE seq = 2;",
    ))
    .expect(0);
    let manifest_path = work.join("backup.json");
    let original_manifest = std::fs::read(&manifest_path).unwrap();
    let mut manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    let edited = std::fs::read(&ledger).unwrap();
    for f in manifest["files"].as_array_mut().unwrap() {
        if f["name"] == "ledger.sqlite" {
            f["size"] = edited.len().into();
            f["sha256"] = sh("sha256sum \"$1\" | cut -d' ' -f1", &[s(&ledger)])
                .expect(0)
                .stdout
                .trim()
                .into();
        }
    }
    std::fs::write(
        &manifest_path,
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    let edited_tar = h.path("edited.tar");
    run(Command::new("tar")
        .arg("cf")
        .arg(&edited_tar)
        .arg("-C")
        .arg(&work)
        .args(["backup.json", "vault.toml", "ledger.sqlite"]))
    .expect(0);
    let edited_age = h.path("edited.age");
    encrypt(&edited_tar, &edited_age);
    let r = refused(&edited_age, &ids.age, 4, "an edited ledger");
    assert!(r.stderr.contains("does not verify"), "{}", r.stderr);

    // The same archive with the manifest left as it was: refused as altered (exit 3).
    std::fs::write(&manifest_path, &original_manifest).unwrap();
    run(Command::new("tar")
        .arg("cf")
        .arg(&edited_tar)
        .arg("-C")
        .arg(&work)
        .args(["backup.json", "vault.toml", "ledger.sqlite"]))
    .expect(0);
    std::fs::remove_file(&edited_age).unwrap();
    encrypt(&edited_tar, &edited_age);
    refused(
        &edited_age,
        &ids.age,
        3,
        "files that do not match the manifest",
    );

    // After all that, the good backup still restores.
    restore(&h, &good, &ids.age, &target).expect(0);
    run(h
        .rv()
        .arg("--vault")
        .arg(&target)
        .args(["ledger", "verify"]))
    .expect(0);
    let mut expected = base;
    expected.insert("restored".into());
    assert!(
        names(h.dir.path()).is_superset(&expected)
            && names(h.dir.path()).iter().all(|n| !n.contains(".restore-")),
        "{:?}",
        names(h.dir.path())
    );
}

#[test]
fn the_transcript_names_the_root_every_cluster_and_has_lines_to_sign() {
    let c = ceremony("backup-transcript");
    let h = &c.h;
    // A refusal after the last checkpoint: recorded without the token, so not yet covered.
    let junk = h.path("south.csr");
    std::fs::write(&junk, "this is not a CSR\n").unwrap();
    run(h
        .rv_pin()
        .arg("sign")
        .arg(&junk)
        .args(["--cluster", "south", "--confirm", "00000000"]))
    .expect(3);

    let out = h.path("transcript.txt");
    let since = c.since.to_string();
    run(h
        .rv()
        .args(["ledger", "transcript", "--since", &since, "--out"])
        .arg(&out))
    .expect(0);
    let text = std::fs::read_to_string(&out).unwrap();
    run(h
        .rv()
        .args(["ledger", "transcript", "--since", &since, "--out"])
        .arg(&out))
    .expect(1);

    let root = run(h.rv().args(["root", "show", "--json"]))
        .expect(0)
        .json();
    let root_sha = root["sha256"].as_str().unwrap();
    assert!(
        text.contains(&format!("root SHA-256    {root_sha}")),
        "{text}"
    );
    let audit_pem = root["audit_public_key_pem"].as_str().unwrap();
    let audit_sha = sh(
        "printf '%s' \"$1\" | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1",
        &[audit_pem],
    )
    .expect(0)
    .stdout
    .trim()
    .to_owned();
    assert!(
        text.contains(&format!("audit key       {audit_sha}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("serial {}", token_serial(h))),
        "{text}"
    );
    assert!(text.contains(&format!("label {}", h.label)), "{text}");

    for cluster in c.clusters.iter().chain(&["south"]) {
        assert!(
            text.contains(&format!("  cluster       {cluster}\n")),
            "the transcript does not name cluster {cluster}:\n{text}"
        );
    }
    // Every event since the ceremony began, with its hash; none before it.
    let events = h.events();
    for e in &events {
        let seq = e["seq"].as_i64().unwrap();
        let hash = e["hash"].as_str().unwrap();
        let shown = text.contains(&format!("#{seq}  {}:", e["kind"].as_str().unwrap()));
        assert_eq!(shown, seq >= c.since, "event {seq}:\n{text}");
        if seq == c.since - 1 {
            // The hash the ceremony's events chain from.
            assert!(
                text.contains(&format!("chained from    {hash}\n")),
                "{text}"
            );
        } else {
            assert_eq!(text.contains(hash), seq >= c.since, "hash of event {seq}");
        }
    }
    // The fingerprints the operator read out: CSR, SPKI and certificate.
    for e in events.iter().filter(|e| e["kind"] == "certificate_issued") {
        let p = &e["payload"];
        for v in [
            &p["certificate"]["sha256"],
            &p["certificate"]["spki_sha256"],
        ] {
            assert!(text.contains(v.as_str().unwrap()), "{v} missing");
        }
        if let Some(csr) = p["csr_sha256"].as_str() {
            assert!(text.contains(&format!("  CSR SHA-256   {csr}")));
        }
    }
    assert!(text.contains("  reason        superseded"), "{text}");
    assert!(text.contains("  CRL number    1"), "{text}");
    assert!(text.contains("  format        pem-bundle"), "{text}");
    assert!(
        text.contains(&format!("  recipient     {}\n", c.north_recipient)),
        "{text}"
    );
    assert!(text.contains("  operator      test-operator"), "{text}");

    // The closing checkpoint and the uncovered refusal.
    let last_cp = events.len() as i64 - 1;
    assert!(text.contains("CLOSING CHECKPOINT"), "{text}");
    assert!(
        text.contains(&format!("seq             {last_cp}\n")),
        "{text}"
    );
    assert!(text.contains("signature       "), "{text}");
    assert!(text.contains("-----BEGIN PUBLIC KEY-----"), "{text}");
    let last = events.len();
    assert!(
        text.contains(&format!("NOT COVERED: events #{last} to #{last}")),
        "{text}"
    );

    // Lines for the operator and the witness to sign.
    let tail = &text[text.find("SIGNATURES").expect("a signature section")..];
    for who in ["Operator", "Witness"] {
        let at = tail
            .find(&format!("\n{who}\n"))
            .unwrap_or_else(|| panic!("{who}:\n{tail}"));
        let block = &tail[at..];
        for line in [
            "Printed name  ___",
            "Signature     ___",
            "Date          ___",
        ] {
            assert!(block.contains(line), "{who} lacks {line}:\n{tail}");
        }
    }

    // Printable: fixed width, no control characters.
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line:?}");
        assert!(!line.chars().any(|ch| ch.is_control()), "{line:?}");
    }

    // After the next ceremony action, every event is covered.
    run(h.rv_pin().args(["crl", "--out"]).arg(h.path("crl2.pem"))).expect(0);
    let all = run(h.rv().args(["ledger", "transcript"])).expect(0).stdout;
    assert!(!all.contains("NOT COVERED"), "{all}");
    assert!(all.contains("Every event up to and including #"), "{all}");
    assert!(
        all.contains("vault_initialised"),
        "the whole ledger by default"
    );

    // A ledger that does not verify gets no transcript.
    h.sqlite("DROP TRIGGER events_append_only_update; UPDATE events SET actor = 'mallory' WHERE seq = 3;")
        .expect(0);
    run(h
        .rv()
        .args(["ledger", "transcript", "--out"])
        .arg(h.path("tampered.txt")))
    .expect(4);
    assert!(!h.path("tampered.txt").exists());
}

fn token_serial(h: &Hsm) -> String {
    let text = std::fs::read_to_string(h.vault().join("vault.toml")).unwrap();
    let config: toml::Value = toml::from_str(&text).unwrap();
    config["token"]["serial"].as_str().unwrap().to_owned()
}
