//! Root generations on real SoftHSM2 tokens, judged by tools we did not write: a full rotation
//! through every phase of docs/rotation.md (OpenSSL's verifier, a real mutual-TLS handshake,
//! pkilint), a subordinate vault under an enterprise root made with OpenSSL, and the token's
//! state protecting generations from an edited ledger.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{make_cluster_csr, openssl, pkilint_clean, run, Hsm, Run, P256};
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn sh(script: &str, args: &[&str]) -> Run {
    run(Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .args(args))
}

fn rv(h: &Hsm, args: &[&str]) -> Run {
    run(h.rv_pin().args(args))
}

fn ledger_ok(h: &Hsm) {
    let r = run(h.rv().args(["ledger", "verify", "--json"]));
    assert_eq!(r.code, 0, "ledger verify: {}{}", r.stdout, r.stderr);
    assert_eq!(r.json()["ok"], true);
}

fn events(h: &Hsm) -> usize {
    run(h.rv().args(["ledger", "show", "--json"]))
        .expect(0)
        .json()
        .as_array()
        .unwrap()
        .len()
}

fn roots(h: &Hsm) -> Vec<Value> {
    run(h.rv().args(["root", "show", "--json"]))
        .expect(0)
        .json()["roots"]
        .as_array()
        .unwrap()
        .clone()
}

fn status(h: &Hsm) -> Vec<(u64, String)> {
    roots(h)
        .iter()
        .map(|r| {
            (
                r["generation"].as_u64().unwrap(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn root_sha(h: &Hsm, generation: u64) -> String {
    roots(h)
        .iter()
        .find(|r| r["generation"] == generation)
        .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `root cert ARGS --out FILE`, returning FILE.
fn root_cert(h: &Hsm, args: &[&str], name: &str) -> PathBuf {
    let out = h.path(name);
    let mut all = vec!["root", "cert"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--force", "--out", s(&out)]);
    rv(h, &all).expect(0);
    out
}

fn pem_blocks(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.split_inclusive("-----END CERTIFICATE-----\n")
        .map(str::to_owned)
        .filter(|b| b.contains("BEGIN"))
        .collect()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// Signs `cluster`'s new P-256 CSR; returns (serial, certificate path, key path).
fn sign(h: &Hsm, cluster: &str, tag: &str) -> (String, PathBuf, PathBuf) {
    let dir = h.path(tag);
    std::fs::create_dir_all(&dir).unwrap();
    let req = make_cluster_csr(&dir, cluster, P256);
    let out = dir.join(format!("{cluster}.pem"));
    let r = rv(
        h,
        &[
            "sign",
            s(&req.csr),
            "--cluster",
            cluster,
            "--confirm",
            &req.spki_sha256[..16],
            "--out",
            s(&out),
            "--json",
        ],
    )
    .expect(0);
    (
        r.json()["serial"].as_str().unwrap().to_owned(),
        out,
        req.key,
    )
}

/// `export --format istio` of `cluster` into `name`, with the cluster's key copied beside.
fn export(h: &Hsm, cluster: &str, name: &str, key: &Path) -> PathBuf {
    let out = h.path(name);
    rv(
        h,
        &[
            "export",
            "--cluster",
            cluster,
            "--format",
            "istio",
            "--out",
            s(&out),
        ],
    )
    .expect(0);
    std::fs::copy(key, out.join("ca-key.pem")).unwrap();
    out
}

/// A workload certificate issued from an exported intermediate with OpenSSL, as istiod would.
fn leaf(dir: &Path, name: &str, ca: &Path, ca_key: &Path, san: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let crt = dir.join(format!("{name}.pem"));
    openssl(&[
        "req",
        "-new",
        "-nodes",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-subj",
        &format!("/CN={name}"),
        "-keyout",
        s(&key),
        "-out",
        s(&csr),
    ])
    .expect(0);
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(&ext, format!("subjectAltName={san}\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n")).unwrap();
    openssl(&[
        "x509",
        "-req",
        "-days",
        "2",
        "-in",
        s(&csr),
        "-CA",
        s(ca),
        "-CAkey",
        s(ca_key),
        "-CAcreateserial",
        "-extfile",
        s(&ext),
        "-out",
        s(&crt),
    ])
    .expect(0);
    (crt, key)
}

/// One side of a handshake: its leaf, key, the chain it sends, the bundle it trusts.
struct Side<'a> {
    cert: &'a Path,
    key: &'a Path,
    chain: &'a Path,
    trust: &'a Path,
}

/// A mutual-TLS handshake with OpenSSL's s_server and s_client, each side verifying the other
/// against its own trust bundle (`-verify_return_error`). Returns whether it completed, and
/// what both said.
fn mutual_tls(server: &Side, client: &Side) -> (bool, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut srv = Command::new("openssl")
        .args([
            "s_server",
            "-accept",
            &format!("127.0.0.1:{port}"),
            "-naccept",
            "1",
            "-Verify",
            "4",
            "-verify_return_error",
            "-x509_strict",
            "-cert",
            s(server.cert),
            "-key",
            s(server.key),
            "-cert_chain",
            s(server.chain),
            "-CAfile",
            s(server.trust),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server_stdout = std::io::BufReader::new(srv.stdout.take().unwrap());
    let mut log = String::new();
    loop {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut server_stdout, &mut line).unwrap();
        log += &line;
        if n == 0 || line.starts_with("ACCEPT") {
            break;
        }
    }
    let c = sh(
        &format!("echo Q | openssl s_client -connect 127.0.0.1:{port} -servername localhost -verify_return_error -x509_strict -verify_hostname localhost -CAfile \"$1\" -cert \"$2\" -key \"$3\" -cert_chain \"$4\""),
        &[s(client.trust), s(client.cert), s(client.key), s(client.chain)],
    );
    drop(srv.stdin.take());
    std::io::Read::read_to_string(&mut server_stdout, &mut log).unwrap();
    let out = srv.wait_with_output().unwrap();
    log += &String::from_utf8_lossy(&out.stderr);
    let said = format!("client: {}{}\nserver: {log}", c.stdout, c.stderr);
    let ok = c.code == 0
        && c.stdout.contains("Verify return code: 0 (ok)")
        && !log.contains("verify error")
        && (log.contains("CN=client") || log.contains("CN = client"));
    (ok, said)
}

/// The vault's root keys on the token, by label.
fn token_keys(h: &Hsm) -> Vec<String> {
    let r = h.pkcs11_tool(&[
        "--login",
        "--pin",
        common::PIN,
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

#[test]
fn a_full_rotation_keeps_both_workloads_talking_through_every_phase_and_ends_with_the_new_root_alone(
) {
    let h = Hsm::new("rotation");
    h.vault_with_root("ecdsa-p256").expect(0);
    let dir = h.dir.path().to_owned();

    // Phase 1: east's intermediate under root A; root-cert.pem = A.
    let (east_a, _, east_key) = sign(&h, "east", "east-a");
    let phase1 = export(&h, "east", "east-phase1", &east_key);
    let root_a = root_cert(&h, &["--generation", "1"], "root-a.pem");
    assert_eq!(read(&phase1.join("root-cert.pem")), read(&root_a));
    assert_eq!(
        read(&phase1.join("cert-chain.pem")),
        read(&phase1.join("ca-cert.pem")) + &read(&root_a)
    );
    ledger_ok(&h);

    // A confirmation of fewer than 16 digits, or of another value, rotates nothing.
    let sha_a = root_sha(&h, 1);
    let before = events(&h);
    let keys_before = token_keys(&h);
    for wrong in [&sha_a[..8], "00000000000000000000"] {
        let r = rv(
            &h,
            &[
                "root",
                "rotate",
                "--subject",
                "CN=Root B,O=Example Org,C=GB",
                "--confirm",
                wrong,
            ],
        );
        assert_eq!(r.code, 6, "{}", r.stderr);
        assert!(r.stderr.contains("nothing was rotated"), "{}", r.stderr);
    }
    assert_eq!(events(&h), before);
    assert_eq!(
        token_keys(&h),
        keys_before,
        "no key is made before the confirmation"
    );

    // Rotate to a P-384 root B, cross-certified by A.
    let r = rv(
        &h,
        &[
            "root",
            "rotate",
            "--subject",
            "CN=Root B,O=Example Org,C=GB",
            "--key-type",
            "ecdsa-p384",
            "--confirm",
            &sha_a[..16],
            "--json",
        ],
    )
    .expect(0);
    let rotated = r.json();
    assert_eq!(rotated["root"]["generation"], 2);
    assert_eq!(rotated["previous"], 1);
    assert_eq!(status(&h), [(1, "trusted".into()), (2, "active".into())]);
    for root in roots(&h) {
        for key in [
            "generation",
            "status",
            "subject",
            "serial",
            "sha256",
            "not_after",
            "key_type",
            "self_signed",
        ] {
            assert!(
                root.get(key).is_some(),
                "root show --json lacks {key}: {root}"
            );
        }
        assert_eq!(root["self_signed"], true);
    }
    assert_eq!(roots(&h)[1]["key_type"], "ecdsa-p384");
    ledger_ok(&h);
    assert_eq!(
        token_keys(&h),
        ["rootvault-audit", "rootvault-root", "rootvault-root-g2"]
    );
    // The new key is locked in the token like the first: sensitive, never extractable.
    let attrs = h.pkcs11_tool(&[
        "--login",
        "--pin",
        common::PIN,
        "--list-objects",
        "--type",
        "privkey",
        "--label",
        "rootvault-root-g2",
    ]);
    assert!(
        attrs.stdout.contains("sensitive") && attrs.stdout.contains("never extractable"),
        "{}",
        attrs.stdout
    );

    let root_b = root_cert(&h, &["--generation", "2"], "root-b.pem");
    let cross = root_cert(&h, &["--cross", "--generation", "2"], "cross-b.pem");
    // Generation 1 was made by init, so it has none: a plain refusal, not a forgery.
    let r = rv(&h, &["root", "cert", "--cross", "--generation", "1"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("root generation 1 has no cross-certificate"),
        "{}",
        r.stderr
    );
    assert_eq!(
        openssl(&["x509", "-in", s(&cross), "-noout", "-subject", "-issuer"]).expect(0).stdout,
        "subject=C = GB, O = Example Org, CN = Root B\nissuer=C = GB, O = Example Org, CN = Test Root CA\n"
    );
    // The cross-certificate certifies B's key and lies within A's validity.
    assert_eq!(
        openssl(&["x509", "-in", s(&cross), "-noout", "-pubkey"])
            .expect(0)
            .stdout,
        openssl(&["x509", "-in", s(&root_b), "-noout", "-pubkey"])
            .expect(0)
            .stdout
    );
    let end = |p: &Path| {
        openssl(&["x509", "-in", s(p), "-noout", "-checkend", "0"]).expect(0);
        let e = openssl(&["x509", "-in", s(p), "-noout", "-enddate"])
            .expect(0)
            .stdout;
        chrono::NaiveDateTime::parse_from_str(
            e.trim().trim_start_matches("notAfter="),
            "%b %e %H:%M:%S %Y GMT",
        )
        .unwrap()
    };
    assert!(end(&cross) <= end(&root_a));
    pkilint_clean("lint_pkix_cert", &[], &root_b);
    pkilint_clean("lint_cabf_serverauth_cert", &["-t", "ROOT-CA"], &root_b);
    pkilint_clean("lint_pkix_cert", &[], &cross);
    // The trust bundle of the middle phase: B, then A.
    let bundle = root_cert(&h, &["--bundle"], "bundle-2.pem");
    assert_eq!(pem_blocks(&bundle), [read(&root_b), read(&root_a)]);

    // East's phase-1 export is stale for the new phase until it is exported again.
    let freshness = |h: &Hsm| {
        run(h.rv().args(["root", "show", "--json"]))
            .expect(0)
            .json()["exports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["cluster"].as_str().unwrap().to_owned(),
                    e["stale"].as_bool().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(freshness(&h), [("east".to_owned(), true)]);
    assert!(run(h.rv().args(["root", "show"]))
        .expect(0)
        .stdout
        .contains("STALE export of cluster east"));

    // Phase 2: east re-exported: the same intermediate, root-cert.pem = B + A.
    let phase2 = export(&h, "east", "east-phase2", &east_key);
    assert_eq!(freshness(&h), [("east".to_owned(), false)]);
    assert_eq!(
        read(&phase2.join("ca-cert.pem")),
        read(&phase1.join("ca-cert.pem"))
    );
    assert_eq!(
        read(&phase2.join("root-cert.pem")),
        read(&root_b) + &read(&root_a)
    );
    assert_eq!(
        read(&phase2.join("cert-chain.pem")),
        read(&phase1.join("cert-chain.pem"))
    );

    // Phase 3: west's intermediate is issued by B; its export chains to B.
    let (west_b, _, west_key) = sign(&h, "west", "west-b");
    let west = export(&h, "west", "west-phase3", &west_key);
    assert_eq!(
        read(&west.join("root-cert.pem")),
        read(&root_b) + &read(&root_a)
    );
    assert_eq!(
        read(&west.join("cert-chain.pem")),
        read(&west.join("ca-cert.pem")) + &read(&root_b)
    );
    let listed = run(h.rv().args(["list", "--json"])).expect(0).json();
    let generation_of = |serial: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["serial"] == serial)
            .unwrap()["generation"]
            .clone()
    };
    assert_eq!(generation_of(&east_a), 1);
    assert_eq!(generation_of(&west_b), 2);
    for export in [&phase2, &west] {
        openssl(&[
            "verify",
            "-x509_strict",
            "-CAfile",
            s(&export.join("root-cert.pem")),
            "-untrusted",
            s(&export.join("cert-chain.pem")),
            s(&export.join("ca-cert.pem")),
        ])
        .expect(0);
    }

    // Workloads: one under east's intermediate (A), one under west's (B).
    let server = leaf(
        &dir,
        "server",
        &phase2.join("ca-cert.pem"),
        &east_key,
        "DNS:localhost,URI:spiffe://cluster.local/ns/a/sa/server",
    );
    let client = leaf(
        &dir,
        "client",
        &west.join("ca-cert.pem"),
        &west_key,
        "URI:spiffe://cluster.local/ns/b/sa/client",
    );

    // A client that trusts only A verifies a leaf under B through the cross-certificate.
    let untrusted = h.path("west-and-cross.pem");
    std::fs::write(&untrusted, read(&west.join("ca-cert.pem")) + &read(&cross)).unwrap();
    openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        s(&root_a),
        "-untrusted",
        s(&untrusted),
        s(&client.0),
    ])
    .expect(0);
    let r = openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        s(&root_a),
        "-untrusted",
        s(&west.join("cert-chain.pem")),
        s(&client.0),
    ]);
    assert_ne!(
        r.code, 0,
        "without the cross-certificate, A alone does not reach B: {}",
        r.stdout
    );

    // Mutual TLS between them, each trusting its own exported root-cert.pem.
    let east_side = Side {
        cert: &server.0,
        key: &server.1,
        chain: &phase2.join("cert-chain.pem"),
        trust: &phase2.join("root-cert.pem"),
    };
    let west_side = Side {
        cert: &client.0,
        key: &client.1,
        chain: &west.join("cert-chain.pem"),
        trust: &west.join("root-cert.pem"),
    };
    let (ok, said) = mutual_tls(&east_side, &west_side);
    assert!(ok, "the middle phase must keep both talking:\n{said}");
    // ... and it fails while east still holds the single-root bundle of phase 1.
    let stale = Side {
        trust: &phase1.join("root-cert.pem"),
        ..east_side
    };
    let (ok, said) = mutual_tls(&stale, &west_side);
    assert!(
        !ok,
        "east with only root A must refuse west's chain to B:\n{said}"
    );
    assert!(
        said.contains("unable to get local issuer certificate") || said.contains("verify error"),
        "{said}"
    );

    // Retirement is refused while east still holds a valid intermediate under A.
    let before = events(&h);
    let r = rv(
        &h,
        &[
            "root",
            "retire",
            "--generation",
            "1",
            "--confirm",
            &sha_a[..16],
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("still has valid intermediates")
            && r.stderr.contains(&format!("east (serial {east_a})")),
        "{}",
        r.stderr
    );
    // The active generation cannot be retired either.
    let r = rv(
        &h,
        &[
            "root",
            "retire",
            "--generation",
            "2",
            "--confirm",
            &root_sha(&h, 2)[..16],
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("rotate to a new root first"),
        "{}",
        r.stderr
    );
    assert_eq!(events(&h), before);

    // East re-keys under B and revokes its intermediate under A.
    let (east_b, _, east_key_b) = sign(&h, "east", "east-b");
    rv(
        &h,
        &[
            "revoke",
            "--serial",
            &east_a,
            "--reason",
            "superseded",
            "--confirm",
            &east_a,
        ],
    )
    .expect(0);
    ledger_ok(&h);

    // CRLs per generation: A's lists east's old intermediate, B's nothing; numbered apart.
    let crl = |generation: &str, name: &str| -> (Value, PathBuf) {
        let out = h.path(name);
        let r = rv(
            &h,
            &[
                "crl",
                "--generation",
                generation,
                "--out",
                s(&out),
                "--json",
            ],
        )
        .expect(0);
        (r.json(), out)
    };
    let (a1, a1_pem) = crl("1", "crl-a1.pem");
    let (b1, b1_pem) = crl("2", "crl-b1.pem");
    assert_eq!(
        (
            a1["generation"].clone(),
            a1["number"].clone(),
            a1["entries"].clone()
        ),
        (1.into(), 1.into(), 1.into())
    );
    assert_eq!(
        (
            b1["generation"].clone(),
            b1["number"].clone(),
            b1["entries"].clone()
        ),
        (2.into(), 1.into(), 0.into())
    );
    openssl(&["crl", "-in", s(&a1_pem), "-noout", "-CAfile", s(&root_a)]).expect(0);
    openssl(&["crl", "-in", s(&b1_pem), "-noout", "-CAfile", s(&root_b)]).expect(0);
    assert!(openssl(&["crl", "-in", s(&a1_pem), "-noout", "-text"])
        .expect(0)
        .stdout
        .to_lowercase()
        .contains(&east_a[..8]));

    // Retire A: confirmed by 16 digits of its certificate's SHA-256.
    let r = rv(
        &h,
        &[
            "root",
            "retire",
            "--generation",
            "1",
            "--confirm",
            &sha_a[..15],
        ],
    );
    assert_eq!(r.code, 6, "{}", r.stderr);
    rv(
        &h,
        &[
            "root",
            "retire",
            "--generation",
            "1",
            "--confirm",
            &sha_a[..16],
        ],
    )
    .expect(0);
    assert_eq!(status(&h), [(1, "retired".into()), (2, "active".into())]);
    ledger_ok(&h);

    // Phase 4: every export holds B alone; east's chain runs to B.
    assert!(
        freshness(&h).iter().all(|(_, stale)| *stale),
        "{:?}",
        freshness(&h)
    );
    let phase4 = export(&h, "east", "east-phase4", &east_key_b);
    assert_eq!(read(&phase4.join("root-cert.pem")), read(&root_b));
    assert_eq!(
        read(&phase4.join("cert-chain.pem")),
        read(&phase4.join("ca-cert.pem")) + &read(&root_b)
    );
    assert_eq!(
        pem_blocks(&root_cert(&h, &["--bundle"], "bundle-4.pem")),
        [read(&root_b)]
    );
    let listed = run(h.rv().args(["list", "--json"])).expect(0).json();
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["serial"] == east_b.as_str() && c["generation"] == 2));

    // A retired generation still signs its own CRLs, numbered on from its last.
    let (a2, _) = crl("1", "crl-a2.pem");
    assert_eq!(
        (a2["number"].clone(), a2["entries"].clone()),
        (2.into(), 1.into())
    );

    // Destroying its key is a separate, confirmed, recorded step; then it signs nothing.
    let spki_a = roots(&h)[0]["spki_sha256"].as_str().unwrap().to_owned();
    let r = rv(
        &h,
        &[
            "root",
            "destroy-key",
            "--generation",
            "1",
            "--confirm",
            &sha_a[..16],
        ],
    );
    assert_eq!(
        r.code, 6,
        "the certificate's SHA-256 is not the key's: {}",
        r.stderr
    );
    rv(
        &h,
        &[
            "root",
            "destroy-key",
            "--generation",
            "1",
            "--confirm",
            &spki_a[..16],
        ],
    )
    .expect(0);
    assert_eq!(token_keys(&h), ["rootvault-audit", "rootvault-root-g2"]);
    let r = rv(&h, &["crl", "--generation", "1"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("was destroyed"), "{}", r.stderr);
    assert_eq!(roots(&h)[0]["key_destroyed"], true);
    ledger_ok(&h);

    // The transcript names every generation and step.
    let t = h.path("transcript.txt");
    run(h.rv().args(["ledger", "transcript", "--out", s(&t)])).expect(0);
    let text = read(&t);
    for needle in [
        "root rotated: generation 2",
        "root generation 1 retired",
        "key of root generation 1 destroyed",
        "CRL number 2 signed by root generation 1",
        "generation      1 retired, key destroyed",
        "generation      2 active",
    ] {
        assert!(
            text.contains(needle),
            "transcript lacks {needle:?}:\n{text}"
        );
    }
}

#[test]
fn a_failed_rotation_leaves_no_key_on_the_token_and_records_nothing() {
    let h = Hsm::new("rotate-fail");
    h.vault_with_root("ecdsa-p256").expect(0);
    let sha = root_sha(&h, 1);
    let keys = token_keys(&h);
    let before = events(&h);
    // Another process changes the generations while the new root is being signed: the
    // rotation stops, and the key it made goes with it.
    let mut cmd = h.rv_pin();
    cmd.args([
        "root",
        "rotate",
        "--subject",
        "CN=Root B,O=Example Org,C=GB",
        "--confirm",
        &sha[..16],
    ]);
    let r = common::with_pause(cmd, "rotate.after_sign", || {
        h.sqlite("INSERT INTO token_keys (label, id_hex, purpose, key_type, event_seq, generation) VALUES ('x', '00', 'root', 'ecdsa-p256', 9999, 2); INSERT INTO root_status VALUES ('2@9999', 2, 'pending', 0, 9999);").expect(0);
    });
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("changed the root generations meanwhile"),
        "{}",
        r.stderr
    );
    assert_eq!(token_keys(&h), keys, "the new key was destroyed");
    assert_eq!(events(&h), before);

    // A subordinate's generation cannot rotate by self-signing, and a CSR output that exists
    // stops `root csr` before any key is made.
    let h = Hsm::new("csr-fail");
    h.init().expect(0);
    std::fs::write(h.path("taken.csr"), "x").unwrap();
    let r = rv(
        &h,
        &[
            "root",
            "csr",
            "--subject",
            "CN=Mesh CA,O=Example Org,C=GB",
            "--out",
            s(&h.path("taken.csr")),
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(token_keys(&h), ["rootvault-audit"]);
}

/// An enterprise PKI made with OpenSSL: a root, and an issuing CA under it.
struct Enterprise {
    dir: PathBuf,
}

impl Enterprise {
    fn new(dir: &Path) -> Enterprise {
        let dir = dir.join("enterprise");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("ext.cnf"),
            "[root]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n\
             [issuing]\nbasicConstraints=critical,CA:TRUE,pathlen:2\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n\
             [mesh]\nbasicConstraints=critical,CA:TRUE,pathlen:1\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n\
             [mesh0]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
        )
        .unwrap();
        sh(
            r#"set -e; cd "$1"
            openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-384 -sha384 -days 30 -subj "/C=GB/O=Enterprise/CN=Enterprise Root" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -keyout root.key -out root.pem 2>/dev/null
            openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj "/C=GB/O=Enterprise/CN=Enterprise Issuing CA" -keyout issuing.key -out issuing.csr 2>/dev/null
            openssl x509 -req -in issuing.csr -CA root.pem -CAkey root.key -CAcreateserial -days 20 -sha384 -extfile ext.cnf -extensions issuing -out issuing.pem 2>/dev/null
            openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 30 -subj "/C=GB/O=Elsewhere/CN=Unrelated Root" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -keyout other.key -out other.pem 2>/dev/null
            cat issuing.pem root.pem > chain.pem
            "#,
            &[s(&dir)],
        )
        .expect(0);
        Enterprise { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The issuing CA signs `csr` with extension section `section` into `name`.
    fn issue(&self, csr: &Path, section: &str, name: &str) -> PathBuf {
        let out = self.path(name);
        openssl(&[
            "x509",
            "-req",
            "-in",
            s(csr),
            "-CA",
            s(&self.path("issuing.pem")),
            "-CAkey",
            s(&self.path("issuing.key")),
            "-CAcreateserial",
            "-days",
            "10",
            "-sha256",
            "-extfile",
            s(&self.path("ext.cnf")),
            "-extensions",
            section,
            "-out",
            s(&out),
        ])
        .expect(0);
        out
    }

    /// The issuing CA signs `csr` with validity in the past (openssl ca, which takes dates).
    fn issue_expired(&self, csr: &Path, name: &str) -> PathBuf {
        let out = self.path(name);
        sh(
            r#"set -e; cd "$1"
            mkdir -p ca; : > ca/index.txt; echo 1000 > ca/serial
            cat > ca.cnf <<EOF
[ca]
default_ca = d
[d]
database = ca/index.txt
serial = ca/serial
new_certs_dir = ca
default_md = sha256
policy = p
copy_extensions = none
[p]
commonName = supplied
[mesh]
basicConstraints=critical,CA:TRUE,pathlen:1
keyUsage=critical,keyCertSign,cRLSign
EOF
            openssl ca -batch -config ca.cnf -cert issuing.pem -keyfile issuing.key -in "$2" -out "$3" -startdate 20200101000000Z -enddate 20210101000000Z -extensions mesh -notext 2>/dev/null
            "#,
            &[s(&self.dir), s(csr), s(&out)],
        )
        .expect(0);
        out
    }
}

#[test]
fn a_subordinate_vault_imports_only_a_certificate_that_passes_every_check_and_its_exports_verify_to_the_enterprise_root(
) {
    let h = Hsm::new("subordinate");
    h.init().expect(0);
    let ent = Enterprise::new(h.dir.path());
    let csr = h.path("mesh.csr");
    let r = rv(
        &h,
        &[
            "root",
            "csr",
            "--subject",
            "CN=Mesh CA,O=Example Org,C=GB",
            "--key-type",
            "ecdsa-p256",
            "--out",
            s(&csr),
            "--json",
        ],
    )
    .expect(0);
    let made = r.json();
    assert_eq!(made["generation"], 1);
    // The request is signed on the token, for the key on the token.
    openssl(&["req", "-in", s(&csr), "-noout", "-verify"]).expect(0);
    let spki = sh("openssl req -in \"$1\" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1", &[s(&csr)]).expect(0).stdout;
    assert_eq!(spki.trim(), made["spki_sha256"].as_str().unwrap());
    assert_eq!(status(&h), [(1, "pending".into())]);
    let r = rv(
        &h,
        &[
            "root",
            "csr",
            "--subject",
            "CN=Another,C=GB",
            "--out",
            s(&h.path("again.csr")),
        ],
    );
    assert_eq!(r.code, 3, "one pending generation at a time: {}", r.stderr);
    ledger_ok(&h);

    // Each bad import is refused with exit 3, naming the check, and changes nothing.
    let other_csr = make_cluster_csr(h.dir.path(), "stranger", P256).csr;
    let bad = [
        (
            ent.issue(&csr, "mesh0", "pathlen0.pem"),
            Some(ent.path("chain.pem")),
            "pathLen",
        ),
        (
            ent.issue(&other_csr, "mesh", "other-key.pem"),
            Some(ent.path("chain.pem")),
            "key match",
        ),
        (
            ent.issue(&csr, "mesh", "good.pem"),
            Some(ent.path("other.pem")),
            "chain",
        ),
        (ent.issue(&csr, "mesh", "good.pem"), None, "chain"),
        (
            ent.issue_expired(&csr, "expired.pem"),
            Some(ent.path("chain.pem")),
            "validity",
        ),
    ];
    let before = events(&h);
    let keys = token_keys(&h);
    for (cert, chain, check) in &bad {
        let sha = sh(
            "openssl x509 -in \"$1\" -outform DER | sha256sum | cut -c1-16",
            &[s(cert)],
        )
        .expect(0)
        .stdout;
        let mut args = vec!["root", "import", "--cert", s(cert), "--confirm", sha.trim()];
        if let Some(c) = chain {
            args.extend(["--chain", s(c)]);
        }
        let r = rv(&h, &args);
        assert_eq!(r.code, 3, "{check}: {}", r.stderr);
        assert!(
            r.stderr
                .contains(&format!("nothing was imported: {check}:")),
            "{check}: {}",
            r.stderr
        );
    }
    assert_eq!(events(&h), before);
    assert_eq!(token_keys(&h), keys);
    assert_eq!(status(&h), [(1, "pending".into())]);

    // The good one, confirmed by 16 digits of its SHA-256.
    let good = ent.path("good.pem");
    let sha = sh(
        "openssl x509 -in \"$1\" -outform DER | sha256sum | cut -d' ' -f1",
        &[s(&good)],
    )
    .expect(0)
    .stdout
    .trim()
    .to_owned();
    let r = rv(
        &h,
        &[
            "root",
            "import",
            "--cert",
            s(&good),
            "--chain",
            s(&ent.path("chain.pem")),
            "--confirm",
            &sha[..12],
        ],
    );
    assert_eq!(r.code, 6, "{}", r.stderr);
    rv(
        &h,
        &[
            "root",
            "import",
            "--cert",
            s(&good),
            "--chain",
            s(&ent.path("chain.pem")),
            "--confirm",
            &sha[..16],
        ],
    )
    .expect(0);
    let g = &roots(&h)[0];
    assert_eq!(
        (
            g["status"].as_str(),
            g["self_signed"].as_bool(),
            g["sha256"].as_str()
        ),
        (Some("active"), Some(false), Some(sha.as_str()))
    );
    ledger_ok(&h);

    // A cluster under it: root-cert.pem is the enterprise root, cert-chain.pem runs to it.
    let (_, _, key) = sign(&h, "east", "east");
    let out = export(&h, "east", "east-export", &key);
    assert_eq!(
        read(&out.join("root-cert.pem")),
        read(&ent.path("root.pem"))
    );
    assert_eq!(
        read(&out.join("cert-chain.pem")),
        read(&out.join("ca-cert.pem"))
            + &read(&good)
            + &read(&ent.path("issuing.pem"))
            + &read(&ent.path("root.pem"))
    );
    openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        s(&ent.path("root.pem")),
        "-untrusted",
        s(&out.join("cert-chain.pem")),
        s(&out.join("ca-cert.pem")),
    ])
    .expect(0);
    let workload = leaf(
        h.dir.path(),
        "workload",
        &out.join("ca-cert.pem"),
        &key,
        "URI:spiffe://cluster.local/ns/a/sa/w",
    );
    openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        s(&out.join("root-cert.pem")),
        "-untrusted",
        s(&out.join("cert-chain.pem")),
        s(&workload.0),
    ])
    .expect(0);
    assert_eq!(
        pem_blocks(&root_cert(&h, &["--bundle"], "bundle.pem")),
        [read(&ent.path("root.pem"))]
    );

    // A subordinate rotates through the enterprise, not by self-signing.
    let r = rv(
        &h,
        &[
            "root",
            "rotate",
            "--subject",
            "CN=Mesh CA 2,C=GB",
            "--confirm",
            &sha[..16],
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("root csr"), "{}", r.stderr);
    let csr2 = h.path("mesh2.csr");
    rv(
        &h,
        &[
            "root",
            "csr",
            "--subject",
            "CN=Mesh CA 2,O=Example Org,C=GB",
            "--out",
            s(&csr2),
        ],
    )
    .expect(0);
    let second = ent.issue(&csr2, "mesh", "second.pem");
    let sha2 = sh(
        "openssl x509 -in \"$1\" -outform DER | sha256sum | cut -c1-16",
        &[s(&second)],
    )
    .expect(0)
    .stdout;
    rv(
        &h,
        &[
            "root",
            "import",
            "--cert",
            s(&second),
            "--chain",
            s(&ent.path("chain.pem")),
            "--confirm",
            sha2.trim(),
        ],
    )
    .expect(0);
    assert_eq!(status(&h), [(1, "trusted".into()), (2, "active".into())]);
    // Both generations share one anchor: the bundle holds it once.
    assert_eq!(
        pem_blocks(&root_cert(&h, &["--bundle"], "bundle2.pem")),
        [read(&ent.path("root.pem"))]
    );
    ledger_ok(&h);
    let t = h.path("t.txt");
    run(h.rv().args(["ledger", "transcript", "--out", s(&t)])).expect(0);
    let words = read(&t).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("root certificate of generation 2 imported from the enterprise CA"),
        "{words}"
    );

    // The anchor of generation 2's chain swapped for another self-signed CA, its row made
    // consistent (DER and SHA-256 agree): the token's chain digest refuses it.
    let stranger = h.path("stranger-anchor.pem");
    openssl(&[
        "req",
        "-x509",
        "-nodes",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-subj",
        "/CN=Enterprise Root",
        "-keyout",
        s(&h.path("stranger-anchor.key")),
        "-out",
        s(&stranger),
    ])
    .expect(0);
    let swap = sh(
        "der=$(openssl x509 -in \"$1\" -outform DER | xxd -p | tr -d '\\n')
         sha=$(openssl x509 -in \"$1\" -outform DER | sha256sum | cut -d' ' -f1)
         printf \"DROP TRIGGER IF EXISTS root_links_append_only_update;
           UPDATE root_links SET der = X'%s', sha256 = '%s' WHERE generation = 2 AND role = 'chain'
             AND position = (SELECT max(position) FROM root_links WHERE generation = 2 AND role = 'chain');\" \"$der\" \"$sha\"",
        &[s(&stranger)],
    )
    .expect(0)
    .stdout;
    h.sqlite(&swap).expect(0);
    let r = rv(&h, &["root", "cert", "--bundle"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "the chain of root generation 2 in the ledger is not the one the token attested"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn the_token_state_refuses_a_ledger_whose_generations_were_edited() {
    let h = Hsm::new("gen-attacks");
    h.vault_with_root("ecdsa-p256").expect(0);
    let (east, _, _) = sign(&h, "east", "east");
    sign(&h, "west", "west");
    let sha = root_sha(&h, 1);
    rv(
        &h,
        &[
            "root",
            "rotate",
            "--subject",
            "CN=Root B,O=Example Org,C=GB",
            "--confirm",
            &sha[..16],
        ],
    )
    .expect(0);
    rv(
        &h,
        &[
            "revoke",
            "--serial",
            &east,
            "--reason",
            "superseded",
            "--confirm",
            &east,
        ],
    )
    .expect(0);
    let export = |name: &str| {
        rv(
            &h,
            &[
                "export",
                "--cluster",
                "west",
                "--format",
                "istio",
                "--out",
                s(&h.path(name)),
            ],
        )
    };
    export("before").expect(0);

    // Generation 2's certificate swapped for another self-signed one in the ledger's table.
    let stranger = h.path("stranger.pem");
    openssl(&[
        "req",
        "-x509",
        "-new",
        "-nodes",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-384",
        "-subj",
        "/CN=Root B",
        "-keyout",
        s(&h.path("stranger.key")),
        "-out",
        s(&stranger),
    ])
    .expect(0);
    let der_hex = sh(
        "openssl x509 -in \"$1\" -outform DER | xxd -p | tr -d '\\n'",
        &[s(&stranger)],
    )
    .expect(0)
    .stdout;
    let der_sha = sh(
        "openssl x509 -in \"$1\" -outform DER | sha256sum | cut -d' ' -f1",
        &[s(&stranger)],
    )
    .expect(0)
    .stdout;
    let original = h.sqlite("SELECT hex(der) || '|' || sha256 FROM certificates WHERE role = 'root' AND generation = 2").expect(0).stdout;
    let (orig_der, orig_sha) = original.trim().split_once('|').unwrap();
    let set = |der: &str, sha: &str| {
        h.sqlite(&format!("DROP TRIGGER IF EXISTS certificates_append_only_update; UPDATE certificates SET der = X'{der}', sha256 = '{sha}' WHERE role = 'root' AND generation = 2;")).expect(0);
    };
    set(der_hex.trim(), der_sha.trim());
    let r = export("swapped");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("generation 2") && r.stderr.contains("not the one the token attested"),
        "{}",
        r.stderr
    );
    assert!(!h.path("swapped").exists());
    let r = rv(&h, &["root", "cert", "--bundle"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    set(orig_der, orig_sha);
    export("restored").expect(0);

    // Generation 1 made "active" again by a status row: nothing is issued under it.
    h.sqlite("INSERT INTO root_status VALUES ('2@9998', 2, 'trusted', 0, 9998); INSERT INTO root_status VALUES ('1@9999', 1, 'active', 0, 9999);").expect(0);
    let req = make_cluster_csr(h.dir.path(), "north", P256);
    let r = rv(
        &h,
        &[
            "sign",
            s(&req.csr),
            "--cluster",
            "north",
            "--confirm",
            &req.spki_sha256[..16],
        ],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("attested it trusted"), "{}", r.stderr);
    h.sqlite("DROP TRIGGER IF EXISTS root_status_append_only_delete; DELETE FROM root_status WHERE event_seq >= 9998;").expect(0);

    // The cross-certificate swapped: refused where it is printed.
    h.sqlite(&format!("DROP TRIGGER IF EXISTS root_links_append_only_update; UPDATE root_links SET der = X'{}' WHERE role = 'cross';", der_hex.trim())).expect(0);
    let r = rv(&h, &["root", "cert", "--cross", "--generation", "2"]);
    assert_eq!(r.code, 4, "{}", r.stderr);

    // A revoked certificate moved to generation 2 cannot leave generation 1's CRL.
    h.sqlite(&format!(
        "UPDATE certificates SET generation = 2 WHERE serial = '{east}';"
    ))
    .expect(0);
    let r = rv(&h, &["crl", "--generation", "1"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains(&east), "{}", r.stderr);
    // ... and `ledger verify` names what differs from the events.
    let r = run(h.rv().args(["ledger", "verify"]));
    assert_eq!(r.code, 4, "{}", r.stderr);

    // A chain put under generation 1, a self-signed root that was imported with none.
    h.sqlite(&format!(
        "INSERT INTO root_links (id, generation, role, position, serial, subject, sha256, der, event_seq)
           VALUES ('1/chain/0', 1, 'chain', 0, '01', 'CN=Root B', '{}', X'{}', 1);",
        der_sha.trim(),
        der_hex.trim()
    ))
    .expect(0);
    let r = rv(&h, &["root", "cert", "--bundle"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("the chain of root generation 1 in the ledger was added without the token"),
        "{}",
        r.stderr
    );
}
