//! Exports judged by the openssl, age and PyYAML of this machine.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::render::render_file;
use super::*;
use crate::recipients::RecipientError;

/// Runs a shell command in `dir`, panicking with its output if it fails; returns stdout.
fn sh(dir: &Path, script: &str) -> String {
    let out = Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{script}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A root, an intermediate signed by it, and keys, made with the openssl CLI.
struct Pki {
    dir: tempfile::TempDir,
    root: String,
    intermediate: String,
    /// The intermediate's key (PKCS#8, as for a vault-generated key).
    key: String,
    /// Another EC P-256 key (PKCS#8) that does not match the intermediate.
    other_key: String,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        sh(
            dir.path(),
            r#"set -e
                cat > ext.cnf <<'EOF'
[int]
basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always
EOF
                openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes \
                    -keyout root.key -out root.pem -subj "/O=Test/CN=Test Root" -days 30 \
                    -addext "basicConstraints=critical,CA:TRUE" \
                    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
                openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out int.key
                openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key
                openssl req -new -key int.key -subj "/O=Istio/CN=Intermediate CA/L=c1" -out int.csr
                openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -days 10 \
                    -extfile ext.cnf -extensions int -out int.pem 2>/dev/null
                "#,
        );
        let read = |n: &str| fs::read_to_string(dir.path().join(n)).unwrap();
        Pki {
            root: read("root.pem"),
            intermediate: read("int.pem"),
            key: read("int.key"),
            other_key: read("other.key"),
            dir,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn material(&self, with_key: bool) -> Material<'_> {
        Material {
            cluster: "c1",
            intermediate_pem: &self.intermediate,
            chain_pem: &self.root,
            trust_pem: None,
            key_pem: with_key.then_some(self.key.as_str()),
        }
    }

    /// An age identity in `name`, and its recipient.
    fn age_identity(&self, name: &str) -> String {
        sh(
            self.path(),
            &format!("age-keygen -o {name} 2>/dev/null && age-keygen -y {name}"),
        )
        .trim()
        .to_owned()
    }

    /// An SSH ed25519 key in `name`, and its public key line.
    fn ssh_identity(&self, name: &str) -> String {
        sh(
            self.path(),
            &format!("ssh-keygen -q -t ed25519 -N '' -C 'team@c1' -f {name} && cat {name}.pub"),
        )
        .trim()
        .to_owned()
    }

    fn decrypt(&self, identity: &str, file: &Path) -> Vec<u8> {
        let out = Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(self.path().join(identity))
            .arg(file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// The Secret at `path`, parsed by PyYAML, as JSON.
fn yaml(path: &Path) -> serde_json::Value {
    let out = Command::new("python3")
        .arg("-c")
        .arg("import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn data(secret: &serde_json::Value, key: &str) -> String {
    let v = secret["data"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no data.{key}"));
    String::from_utf8(STANDARD.decode(v).unwrap()).unwrap()
}

fn data_keys(secret: &serde_json::Value) -> Vec<String> {
    let mut keys: Vec<String> = secret["data"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

fn assert_secret_head(secret: &serde_json::Value, kind: &str) {
    assert_eq!(secret["apiVersion"], "v1");
    assert_eq!(secret["kind"], "Secret");
    assert_eq!(secret["metadata"]["name"], "cacerts");
    assert_eq!(secret["metadata"]["namespace"], "istio-system");
    assert_eq!(secret["type"], kind);
    assert_eq!(secret["metadata"].as_object().unwrap().len(), 2);
}

fn recipients(list: &[&str]) -> Recipients {
    Recipients::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
}

#[test]
fn format_names_round_trip_and_unknown_names_are_refused() {
    for f in Format::ALL {
        assert_eq!(f.to_string().parse::<Format>().unwrap(), f);
    }
    let names: Vec<String> = Format::ALL.iter().map(|f| f.to_string()).collect();
    assert_eq!(names, ["istio", "istio-secret", "tls-secret", "pem-bundle"]);
    let e = "istio_secret".parse::<Format>().unwrap_err();
    assert!(e.to_string().contains("istio-secret"), "{e}");
}

#[test]
fn istio_directory_holds_the_three_pems_and_a_readme_and_verifies_with_openssl() {
    let pki = Pki::new();
    let out = pki.path().join("cacerts");
    let w = export(Format::Istio, &pki.material(false), None, &out, false).unwrap();
    assert_eq!(
        names(&out),
        [
            "README.txt",
            "ca-cert.pem",
            "cert-chain.pem",
            "root-cert.pem"
        ]
    );
    let read = |n: &str| fs::read_to_string(out.join(n)).unwrap();
    assert_eq!(read("ca-cert.pem"), pki.intermediate);
    assert_eq!(read("root-cert.pem"), pki.root);
    assert_eq!(
        read("cert-chain.pem"),
        format!("{}{}", pki.intermediate, pki.root)
    );
    let verified = sh(
        &out,
        "openssl verify -x509_strict -CAfile root-cert.pem -untrusted cert-chain.pem ca-cert.pem",
    );
    assert_eq!(verified.trim(), "ca-cert.pem: OK");
    let readme = read("README.txt");
    assert!(
        readme.contains(&format!("\n  {KUBECTL_CREATE_CACERTS}\n")),
        "{readme}"
    );
    assert!(readme.contains(
            "kubectl create secret generic cacerts -n istio-system --from-file=ca-cert.pem --from-file=ca-key.pem --from-file=root-cert.pem --from-file=cert-chain.pem"
        ));
    assert!(readme.contains("never left the\ncluster"), "{readme}");
    assert!(readme.contains("cluster c1"));
    assert!(!readme.contains("age"), "{readme}");
    assert!(!w.encrypted);
    // Nothing but the output next to it: no staging directory.
    assert!(names(pki.path()).iter().all(|n| !n.starts_with('.')));
}

#[test]
fn a_directory_digest_is_the_sha256_of_the_sorted_sha256sum_manifest() {
    let pki = Pki::new();
    let out = pki.path().join("cacerts");
    let w = export(Format::Istio, &pki.material(false), None, &out, false).unwrap();
    let names: Vec<&str> = w.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "README.txt",
            "ca-cert.pem",
            "cert-chain.pem",
            "root-cert.pem"
        ]
    );
    for f in &w.files {
        let bytes = fs::read(out.join(&f.name)).unwrap();
        assert_eq!(f.bytes, bytes.len());
        assert_eq!(f.sha256, hex::encode(Sha256::digest(&bytes)));
    }
    let by_shell = sh(&out, "LC_ALL=C sha256sum -- * | sha256sum");
    assert_eq!(by_shell.split_whitespace().next().unwrap(), w.sha256);

    let file = pki.path().join("bundle.pem");
    let w = export(Format::PemBundle, &pki.material(false), None, &file, false).unwrap();
    let by_shell = sh(pki.path(), "sha256sum bundle.pem");
    assert_eq!(by_shell.split_whitespace().next().unwrap(), w.sha256);
    assert_eq!(w.files.len(), 1);
    assert_eq!(w.files[0].name, "bundle.pem");
    assert_eq!(w.files[0].sha256, w.sha256);
}

#[test]
fn istio_secret_parses_as_yaml_and_its_data_decodes_to_the_input_pems() {
    let pki = Pki::new();
    let out = pki.path().join("cacerts.yaml");
    export(Format::IstioSecret, &pki.material(false), None, &out, false).unwrap();
    let text = fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("# "), "{text}");
    assert!(text.contains("ca-key.pem is missing"), "{text}");
    let secret = yaml(&out);
    assert_secret_head(&secret, "Opaque");
    assert_eq!(
        data_keys(&secret),
        ["ca-cert.pem", "cert-chain.pem", "root-cert.pem"]
    );
    assert_eq!(data(&secret, "ca-cert.pem"), pki.intermediate);
    assert_eq!(data(&secret, "root-cert.pem"), pki.root);
    assert_eq!(
        data(&secret, "cert-chain.pem"),
        format!("{}{}", pki.intermediate, pki.root)
    );

    // The command in the comment adds the cluster's key and gives a complete Secret.
    sh(pki.path(), "cp int.key ca-key.pem");
    let command = text
        .lines()
        .find_map(|l| l.strip_prefix("#   "))
        .expect("a command in the comment");
    let completed = sh(
        pki.path(),
        &command.replace("| kubectl apply -f -", "> completed.yaml"),
    );
    assert!(completed.is_empty());
    let secret = yaml(&pki.path().join("completed.yaml"));
    assert_eq!(
        data_keys(&secret),
        [
            "ca-cert.pem",
            "ca-key.pem",
            "cert-chain.pem",
            "root-cert.pem"
        ]
    );
    assert_eq!(data(&secret, "ca-key.pem"), pki.key);
}

#[test]
fn tls_secret_parses_as_yaml_with_an_empty_key_that_its_comment_fills_in() {
    let pki = Pki::new();
    let out = pki.path().join("cacerts.yaml");
    export(Format::TlsSecret, &pki.material(false), None, &out, false).unwrap();
    let text = fs::read_to_string(&out).unwrap();
    assert!(text.contains("tls.key is empty"), "{text}");
    let secret = yaml(&out);
    assert_secret_head(&secret, "kubernetes.io/tls");
    assert_eq!(data_keys(&secret), ["ca.crt", "tls.crt", "tls.key"]);
    assert_eq!(
        data(&secret, "tls.crt"),
        format!("{}{}", pki.intermediate, pki.root)
    );
    assert_eq!(data(&secret, "ca.crt"), pki.root);
    assert_eq!(secret["data"]["tls.key"], "");

    sh(pki.path(), "cp int.key ca-key.pem");
    let command = text.lines().find_map(|l| l.strip_prefix("#   ")).unwrap();
    sh(
        pki.path(),
        &command.replace("| kubectl apply -f -", "> completed.yaml"),
    );
    let secret = yaml(&pki.path().join("completed.yaml"));
    assert_eq!(data(&secret, "tls.key"), pki.key);
    assert_eq!(
        data(&secret, "tls.crt"),
        format!("{}{}", pki.intermediate, pki.root)
    );
}

#[test]
fn pem_bundle_is_the_intermediate_then_the_root() {
    let pki = Pki::new();
    let out = pki.path().join("bundle.pem");
    export(Format::PemBundle, &pki.material(false), None, &out, false).unwrap();
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        format!("{}{}", pki.intermediate, pki.root)
    );
    let verified = sh(
        pki.path(),
        "openssl verify -x509_strict -CAfile root.pem -untrusted bundle.pem int.pem",
    );
    assert_eq!(verified.trim(), "int.pem: OK");
}

#[test]
fn every_encrypted_export_decrypts_with_the_age_cli_to_the_plaintext_export() {
    let pki = Pki::new();
    let age_recipient = pki.age_identity("key.txt");
    let r = recipients(&[&age_recipient]);
    for format in Format::ALL {
        let plain = pki.path().join(format!("plain-{format}"));
        let sealed = pki.path().join(format!("sealed-{format}"));
        export(format, &pki.material(false), None, &plain, false).unwrap();
        let w = export(format, &pki.material(false), Some(&r), &sealed, false).unwrap();
        assert!(w.encrypted);
        if format.is_directory() {
            assert_eq!(
                names(&sealed),
                [
                    "README.txt",
                    "ca-cert.pem.age",
                    "cert-chain.pem.age",
                    "root-cert.pem.age"
                ]
            );
            for name in ["ca-cert.pem", "cert-chain.pem", "root-cert.pem"] {
                let file = sealed.join(format!("{name}.age"));
                let bytes = fs::read(&file).unwrap();
                assert!(bytes.starts_with(b"age-encryption.org/v1\n"));
                assert!(!String::from_utf8_lossy(&bytes).contains("-----BEGIN"));
                assert_eq!(
                    pki.decrypt("key.txt", &file),
                    fs::read(plain.join(name)).unwrap()
                );
            }
            let readme = fs::read_to_string(sealed.join("README.txt")).unwrap();
            assert!(readme.contains(AGE_DECRYPT_ALL), "{readme}");
            assert!(readme.contains(&age_recipient), "{readme}");
            // The README's loop decrypts every file in place.
            sh(&sealed, &AGE_DECRYPT_ALL.replace("KEY", "../key.txt"));
            for name in ["ca-cert.pem", "cert-chain.pem", "root-cert.pem"] {
                assert_eq!(
                    fs::read(sealed.join(name)).unwrap(),
                    fs::read(plain.join(name)).unwrap()
                );
            }
        } else {
            let bytes = fs::read(&sealed).unwrap();
            assert!(!String::from_utf8_lossy(&bytes).contains("-----BEGIN"));
            assert!(!String::from_utf8_lossy(&bytes).contains("apiVersion"));
            assert_eq!(pki.decrypt("key.txt", &sealed), fs::read(&plain).unwrap());
        }
    }
}

#[test]
fn an_ssh_ed25519_recipient_decrypts_with_age_and_the_ssh_private_key() {
    let pki = Pki::new();
    let ssh = pki.ssh_identity("id_ed25519");
    let age_recipient = pki.age_identity("key.txt");
    let r = recipients(&[&ssh, &age_recipient]);
    assert_eq!(r.describe(), [ssh.clone(), age_recipient]);
    let out = pki.path().join("bundle.pem.age");
    export(
        Format::PemBundle,
        &pki.material(true),
        Some(&r),
        &out,
        false,
    )
    .unwrap();
    let expected = format!("{}{}{}", pki.intermediate, pki.root, pki.key);
    assert_eq!(pki.decrypt("id_ed25519", &out), expected.as_bytes());
    assert_eq!(pki.decrypt("key.txt", &out), expected.as_bytes());
}

#[test]
fn a_vault_generated_key_is_exported_encrypted_and_matches_the_intermediate() {
    let pki = Pki::new();
    let r = recipients(&[&pki.age_identity("key.txt")]);
    let m = pki.material(true);

    let out = pki.path().join("cacerts");
    export(Format::Istio, &m, Some(&r), &out, false).unwrap();
    assert_eq!(
        names(&out),
        [
            "README.txt",
            "ca-cert.pem.age",
            "ca-key.pem.age",
            "cert-chain.pem.age",
            "root-cert.pem.age"
        ]
    );
    let key = fs::read(out.join("ca-key.pem.age")).unwrap();
    assert!(!String::from_utf8_lossy(&key).contains("PRIVATE KEY"));
    let readme = fs::read_to_string(out.join("README.txt")).unwrap();
    assert!(readme.contains("generated by the vault"), "{readme}");
    sh(&out, &AGE_DECRYPT_ALL.replace("KEY", "../key.txt"));
    assert_eq!(fs::read_to_string(out.join("ca-key.pem")).unwrap(), pki.key);
    let same = sh(
            &out,
            "cmp <(openssl pkey -in ca-key.pem -pubout) <(openssl x509 -in ca-cert.pem -pubkey -noout) && echo same",
        );
    assert_eq!(same.trim(), "same");
    sh(
        &out,
        "openssl verify -x509_strict -CAfile root-cert.pem -untrusted cert-chain.pem ca-cert.pem",
    );

    for (format, key_entry) in [
        (Format::IstioSecret, "ca-key.pem"),
        (Format::TlsSecret, "tls.key"),
    ] {
        let sealed = pki.path().join(format!("{format}.age"));
        export(format, &m, Some(&r), &sealed, false).unwrap();
        let plain = pki.path().join(format!("{format}.yaml"));
        fs::write(&plain, pki.decrypt("key.txt", &sealed)).unwrap();
        // What was encrypted is exactly what would be rendered.
        let checked = Checked::new(&m).unwrap();
        assert_eq!(
            fs::read(&plain).unwrap(),
            render_file(format, &checked).to_vec()
        );
        let secret = yaml(&plain);
        assert_eq!(data(&secret, key_entry), pki.key);
    }
    let secret = yaml(&pki.path().join("istio-secret.yaml"));
    assert_eq!(
        data_keys(&secret),
        [
            "ca-cert.pem",
            "ca-key.pem",
            "cert-chain.pem",
            "root-cert.pem"
        ]
    );
    assert_eq!(
        data(&secret, "cert-chain.pem"),
        format!("{}{}", pki.intermediate, pki.root)
    );
}

#[test]
fn a_key_without_recipients_is_refused_and_nothing_is_written() {
    let pki = Pki::new();
    let before = names(pki.path());
    for format in Format::ALL {
        let out = pki.path().join(format!("out-{format}"));
        let e = export(format, &pki.material(true), None, &out, false).unwrap_err();
        assert!(matches!(e, ExportError::KeyNeedsRecipients), "{e}");
        assert!(e.is_input_rejection());
        assert!(e.to_string().contains("--age-recipient"), "{e}");
    }
    assert_eq!(names(pki.path()), before);
}

#[test]
fn bad_recipients_are_refused_by_position_without_echoing_secrets() {
    let pki = Pki::new();
    let good = pki.age_identity("key.txt");
    let secret = sh(pki.path(), "grep AGE-SECRET-KEY key.txt")
        .trim()
        .to_owned();
    let parse = |list: &[&str]| {
        Recipients::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap_err()
    };
    let cases: [(&[&str], usize, &str); 7] = [
            (&[&good, "garbage"], 2, "neither an age public key"),
            (&[&good[..good.len() - 5]], 1, "checksum"),
            (&[&good, &good, &secret], 3, "age secret key"),
            (&["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGarbage"], 1, "SSH public key"),
            (&["age1yubikey1qwt50d05nh5vutpdzmlg5wn80xq5negm4uj9ghv0snvdd3yysf5yw3rhl3t"], 1, "plugin"),
            (&["  "], 1, "empty"),
            (
                &["ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg="],
                1,
                "ssh-ed25519 or ssh-rsa",
            ),
        ];
    for (list, position, why) in cases {
        let e = parse(list);
        match &e {
            RecipientError::BadRecipient {
                position: p,
                prefix,
                reason,
            } => {
                assert_eq!(*p, position, "{e}");
                assert!(reason.contains(why), "{e}");
                assert!(prefix.chars().count() <= 25);
            }
            other => panic!("{other}"),
        }
        assert!(e.is_input_rejection());
        assert!(!e.to_string().contains(&secret[16..]), "{e}");
    }
    let e = Recipients::parse(&[]).unwrap_err();
    assert!(matches!(e, RecipientError::NoRecipients) && e.is_input_rejection());
    // Parsing happens before export is called, so nothing was written.
    assert!(!names(pki.path())
        .iter()
        .any(|n| n.starts_with("out") || n.starts_with('.')));
}

#[test]
fn an_existing_output_is_refused_untouched_and_force_replaces_it() {
    let pki = Pki::new();
    for format in Format::ALL {
        let out = pki.path().join(format!("out-{format}"));
        if format.is_directory() {
            fs::create_dir(&out).unwrap();
            fs::write(out.join("old.txt"), "old").unwrap();
        } else {
            fs::write(&out, "old").unwrap();
        }
        let e = export(format, &pki.material(false), None, &out, false).unwrap_err();
        assert!(
            matches!(e, ExportError::Fs(FsError::OutputExists(_))),
            "{e}"
        );
        assert!(!e.is_input_rejection());
        assert!(e.to_string().contains("--force"), "{e}");
        if format.is_directory() {
            assert_eq!(names(&out), ["old.txt"]);
        } else {
            assert_eq!(fs::read_to_string(&out).unwrap(), "old");
        }

        let w = export(format, &pki.material(false), None, &out, true).unwrap();
        if format.is_directory() {
            assert_eq!(
                names(&out),
                [
                    "README.txt",
                    "ca-cert.pem",
                    "cert-chain.pem",
                    "root-cert.pem"
                ]
            );
        } else {
            assert_eq!(
                w.sha256,
                hex::encode(Sha256::digest(fs::read(&out).unwrap()))
            );
        }
    }
    // No staging or old directories are left next to the outputs.
    assert!(
        names(pki.path()).iter().all(|n| !n.starts_with('.')),
        "{:?}",
        names(pki.path())
    );
}

#[test]
fn a_file_is_never_replaced_by_a_directory_or_the_reverse() {
    let pki = Pki::new();
    let dir = pki.path().join("a-dir");
    fs::create_dir(&dir).unwrap();
    let e = export(Format::PemBundle, &pki.material(false), None, &dir, true).unwrap_err();
    assert!(
        matches!(e, ExportError::Fs(FsError::OutputKind { .. })),
        "{e}"
    );
    let file = pki.path().join("a-file");
    fs::write(&file, "x").unwrap();
    let e = export(Format::Istio, &pki.material(false), None, &file, true).unwrap_err();
    assert!(
        matches!(e, ExportError::Fs(FsError::OutputKind { .. })),
        "{e}"
    );
    assert_eq!(fs::read_to_string(&file).unwrap(), "x");
    assert!(names(&dir).is_empty());
    let e = export(
        Format::PemBundle,
        &pki.material(false),
        None,
        Path::new("/"),
        true,
    )
    .unwrap_err();
    assert!(
        matches!(e, ExportError::Fs(FsError::BadOutputPath(_))),
        "{e}"
    );
}

#[test]
fn a_failure_while_writing_leaves_no_staging_behind_and_keeps_the_old_output() {
    let pki = Pki::new();
    let r = recipients(&[&pki.age_identity("key.txt")]);
    let before = names(pki.path());
    let out = pki.path().join("cacerts");
    let file = pki.path().join("cacerts.yaml");
    // A new output: failing on the third file or at the rename leaves nothing.
    for fail in [("file.write", 2), ("file.before_rename", 0)] {
        crate::fault::fail_at(fail.0, fail.1);
        let e = export(Format::Istio, &pki.material(true), Some(&r), &out, false).unwrap_err();
        assert!(
            matches!(e, ExportError::Fs(FsError::Io { .. })) && !e.is_input_rejection(),
            "{e}"
        );
        assert_eq!(names(pki.path()), before, "{fail:?}");
        crate::fault::fail_at(fail.0, 0);
        let e = export(Format::TlsSecret, &pki.material(false), None, &file, false).unwrap_err();
        assert!(matches!(e, ExportError::Fs(FsError::Io { .. })), "{e}");
        assert_eq!(names(pki.path()), before, "{fail:?}");
    }
    // Replacing with force: the old output stays as it was.
    export(Format::Istio, &pki.material(false), None, &out, false).unwrap();
    export(Format::TlsSecret, &pki.material(false), None, &file, false).unwrap();
    let old_dir: Vec<Vec<u8>> = names(&out)
        .iter()
        .map(|n| fs::read(out.join(n)).unwrap())
        .collect();
    let old_file = fs::read(&file).unwrap();
    let after = names(pki.path());
    for fail in [("file.write", 1), ("file.before_rename", 0)] {
        crate::fault::fail_at(fail.0, fail.1);
        export(Format::Istio, &pki.material(true), Some(&r), &out, true).unwrap_err();
        crate::fault::fail_at(fail.0, 0);
        export(
            Format::TlsSecret,
            &pki.material(true),
            Some(&r),
            &file,
            true,
        )
        .unwrap_err();
        assert_eq!(names(pki.path()), after, "{fail:?}");
        let now: Vec<Vec<u8>> = names(&out)
            .iter()
            .map(|n| fs::read(out.join(n)).unwrap())
            .collect();
        assert_eq!(now, old_dir);
        assert_eq!(fs::read(&file).unwrap(), old_file);
    }
    crate::fault::clear();
}

#[test]
fn inputs_that_are_not_one_certificate_or_a_matching_pkcs8_key_are_refused() {
    let pki = Pki::new();
    let csr = fs::read_to_string(pki.path().join("int.csr")).unwrap();
    let sec1 = sh(pki.path(), "openssl ec -in int.key 2>/dev/null");
    let two = format!("{}{}", pki.intermediate, pki.root);
    let base = pki.material(false);
    let cases: Vec<(Material, &str, &str)> = vec![
        (
            Material {
                intermediate_pem: &two,
                ..base
            },
            "intermediate",
            "2 PEM blocks",
        ),
        (
            Material {
                intermediate_pem: &csr,
                ..base
            },
            "intermediate",
            "CERTIFICATE REQUEST",
        ),
        (
            Material {
                intermediate_pem: "",
                ..base
            },
            "intermediate",
            "no PEM block",
        ),
        (
            Material {
                chain_pem: &pki.key,
                ..base
            },
            "root",
            "PRIVATE KEY block",
        ),
        (
            Material {
                intermediate_pem: &pki.root,
                ..base
            },
            "intermediate",
            "root certificate itself",
        ),
        (
            Material {
                intermediate_pem: &pki.root,
                chain_pem: &pki.intermediate,
                ..base
            },
            "intermediate",
            "not issued by the root",
        ),
        (
            Material {
                key_pem: Some(&pki.other_key),
                ..base
            },
            "key",
            "does not belong",
        ),
        (
            Material {
                key_pem: Some(&sec1),
                ..base
            },
            "key",
            "PKCS#8",
        ),
        (
            Material {
                key_pem: Some(&pki.intermediate),
                ..base
            },
            "key",
            "PRIVATE KEY",
        ),
        (
            Material {
                cluster: "Bad Name",
                ..base
            },
            "cluster name",
            "DNS labels",
        ),
    ];
    let r = recipients(&[&pki.age_identity("key.txt")]);
    let before = names(pki.path());
    for (m, what, why) in cases {
        let e = export(
            Format::PemBundle,
            &m,
            Some(&r),
            &pki.path().join("out"),
            false,
        )
        .unwrap_err();
        match &e {
            ExportError::BadInput(MaterialError { what: w, reason }) => {
                assert!(w.contains(what), "{e}");
                assert!(reason.contains(why), "{e}");
            }
            other => panic!("{other}"),
        }
        assert!(e.is_input_rejection());
    }
    assert_eq!(names(pki.path()), before);
    // Text around a block and CRLF line endings are accepted; the output is canonical.
    let noisy = format!(
        "subject=O=Istio\r\n{}",
        pki.intermediate.replace('\n', "\r\n")
    );
    let out = pki.path().join("canonical.pem");
    export(
        Format::PemBundle,
        &Material {
            intermediate_pem: &noisy,
            ..base
        },
        None,
        &out,
        false,
    )
    .unwrap();
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        format!("{}{}", pki.intermediate, pki.root)
    );
}

#[test]
fn an_rsa_key_is_checked_against_the_intermediate_by_modulus_and_exponent() {
    let pki = Pki::new();
    sh(
        pki.path(),
        r#"set -e
            openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key 2>/dev/null
            openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa-other.key 2>/dev/null
            openssl req -new -key rsa.key -subj "/O=Istio/CN=Intermediate CA/L=c1" -out rsa.csr
            openssl x509 -req -in rsa.csr -CA root.pem -CAkey root.key -days 10 \
                -extfile ext.cnf -extensions int -out rsa.pem 2>/dev/null
            "#,
    );
    let read = |n: &str| fs::read_to_string(pki.path().join(n)).unwrap();
    let (cert, key, other) = (read("rsa.pem"), read("rsa.key"), read("rsa-other.key"));
    let r = recipients(&[&pki.age_identity("key.txt")]);
    let m = Material {
        intermediate_pem: &cert,
        key_pem: Some(&key),
        ..pki.material(false)
    };
    let out = pki.path().join("rsa-bundle.age");
    export(Format::PemBundle, &m, Some(&r), &out, false).unwrap();
    let expected = format!("{cert}{}{key}", pki.root);
    assert_eq!(pki.decrypt("key.txt", &out), expected.as_bytes());
    for wrong in [other.as_str(), pki.key.as_str()] {
        let m = Material {
            key_pem: Some(wrong),
            ..m
        };
        let e = export(
            Format::PemBundle,
            &m,
            Some(&r),
            &pki.path().join("x"),
            false,
        )
        .unwrap_err();
        assert!(e.to_string().contains("does not belong"), "{e}");
    }
}

#[test]
fn material_debug_never_shows_the_key() {
    let pki = Pki::new();
    let shown = format!("{:?}", pki.material(true));
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    assert!(shown.contains("elided"));
}
