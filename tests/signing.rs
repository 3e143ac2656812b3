//! Issue 3: intermediates for clusters. CSRs are made by `openssl req` the way a cluster team
//! would; every certificate is judged by `openssl verify -x509_strict`, pkilint, and real
//! TLS handshakes between leaves that OpenSSL issues from the intermediates.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::*;

/// A CSR made by OpenSSL, with its private key (which stays with the "cluster").
struct Request {
    csr: PathBuf,
    key: PathBuf,
    spki_sha256: String,
}

const CSR_KINDS: [(&str, &[&str]); 5] = [
    (
        "p256",
        &[
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-sha256",
        ],
    ),
    (
        "p384-sha256",
        &[
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
            "-sha256",
        ],
    ),
    (
        "p384-sha384",
        &[
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
            "-sha384",
        ],
    ),
    ("rsa2048", &["-newkey", "rsa:2048", "-sha256"]),
    ("rsa4096", &["-newkey", "rsa:4096", "-sha256"]),
];

/// One set of CSRs for the whole test binary (RSA-4096 key generation is slow).
fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("csr-fixtures-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, args) in CSR_KINDS {
            make_csr(&dir, name, args, &[]);
        }
        make_csr(
            &dir,
            "greedy",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            &[
                "-addext",
                "basicConstraints=critical,CA:TRUE,pathlen:5",
                "-addext",
                "extendedKeyUsage=codeSigning",
                "-addext",
                "keyUsage=critical,digitalSignature,keyCertSign,cRLSign,keyEncipherment",
            ],
        );
        dir
    })
}

fn make_csr(dir: &Path, name: &str, keyargs: &[&str], extra: &[&str]) -> Request {
    let csr = dir.join(format!("{name}.csr"));
    let key = dir.join(format!("{name}.key"));
    let r = run(Command::new("openssl")
        .args([
            "req",
            "-new",
            "-nodes",
            "-subj",
            "/O=Cluster Team/CN=requested-by-cluster",
        ])
        .args(keyargs)
        .args(extra)
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&csr));
    assert_eq!(r.code, 0, "{}", r.stderr);
    request(dir, name)
}

fn request(dir: &Path, name: &str) -> Request {
    let csr = dir.join(format!("{name}.csr"));
    // The fingerprint exactly as shared/cli.md tells the cluster team to compute it.
    let sh = format!(
        "openssl req -in '{}' -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1",
        csr.display()
    );
    let r = run(Command::new("sh").arg("-c").arg(sh)).expect(0);
    Request {
        key: dir.join(format!("{name}.key")),
        csr,
        spki_sha256: r.stdout.trim().to_owned(),
    }
}

impl Hsm {
    fn sign(&self, req: &Request, cluster: &str, out: &Path) -> Run {
        run(self
            .rv_pin()
            .arg("sign")
            .arg(&req.csr)
            .args([
                "--cluster",
                cluster,
                "--confirm",
                &req.spki_sha256[..16],
                "--out",
            ])
            .arg(out))
    }

    fn ledger_ok(&self) {
        run(self.rv().args(["ledger", "verify"])).expect(0);
    }

    fn intermediates(&self) -> usize {
        run(self.rv().args(["list", "--json"]))
            .expect(0)
            .json()
            .as_array()
            .unwrap()
            .len()
    }
}

fn text(pem: &Path) -> String {
    openssl(&["x509", "-in", pem.to_str().unwrap(), "-noout", "-text"])
        .expect(0)
        .stdout
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn every_root_type_signs_every_cluster_key_type_and_openssl_verifies_strictly() {
    let fx = fixtures();
    for root_type in ["ecdsa-p384", "ecdsa-p256", "rsa-3072", "rsa-4096"] {
        let h = Hsm::new(&format!("sign-{root_type}"));
        h.vault_with_root(root_type).expect(0);
        let root = h.root_pem();
        let root_sig = if root_type == "ecdsa-p384" {
            "ecdsa-with-SHA384"
        } else if root_type == "ecdsa-p256" {
            "ecdsa-with-SHA256"
        } else {
            "sha256WithRSAEncryption"
        };
        for (kind, _) in CSR_KINDS {
            let req = request(fx, kind);
            let out = h.path(&format!("{kind}.pem"));
            let r = h.sign(&req, "prod-eu", &out);
            assert_eq!(r.code, 0, "{root_type} × {kind}: {}", r.stderr);
            let v = openssl(&["verify", "-x509_strict", "-CAfile", s(&root), s(&out)]);
            assert_eq!(v.code, 0, "{root_type} × {kind}: {}{}", v.stdout, v.stderr);

            let t = text(&out);
            assert!(
                t.contains(
                    "X509v3 Basic Constraints: critical\n                CA:TRUE, pathlen:0\n"
                ),
                "{root_type} × {kind}: {t}"
            );
            assert!(t.contains("X509v3 Key Usage: critical\n                Digital Signature, Certificate Sign, CRL Sign\n"), "{t}");
            assert!(t.contains("DNS:istiod.istio-system.svc"), "{t}");
            assert!(!t.contains("Extended Key Usage"), "{t}");
            assert!(
                t.contains(&format!("Signature Algorithm: {root_sig}")),
                "{root_type} × {kind}: {t}"
            );
            assert!(
                t.contains("Subject: O = Example Org, CN = Intermediate CA, L = prod-eu"),
                "{t}"
            );
            assert!(
                !t.contains("requested-by-cluster"),
                "the CSR's subject was copied: {t}"
            );
            // The subject key is the CSR's own (P-384 stays P-384 when the CSR was signed with SHA-256).
            let key_bits = if kind.starts_with("p384") {
                "384 bit"
            } else if kind == "p256" {
                "256 bit"
            } else if kind == "rsa2048" {
                "2048 bit"
            } else {
                "4096 bit"
            };
            assert!(
                t.contains(&format!("Public-Key: ({key_bits})")),
                "{root_type} × {kind}: {t}"
            );
            let csr_pub = openssl(&["req", "-in", s(&req.csr), "-pubkey", "-noout"])
                .expect(0)
                .stdout;
            let cert_pub = openssl(&["x509", "-in", s(&out), "-pubkey", "-noout"])
                .expect(0)
                .stdout;
            assert_eq!(csr_pub, cert_pub, "{root_type} × {kind}");
            // AKI of the intermediate is the root's SKI.
            let root_ski = ski(&text(&root));
            assert!(
                t.contains(&format!(
                    "X509v3 Authority Key Identifier: \n                {root_ski}"
                )),
                "{t}"
            );
            pkilint_clean("lint_pkix_cert", &[], &out);
        }
        let listed = run(h.rv().args(["list", "--json"])).expect(0).json();
        assert_eq!(listed.as_array().unwrap().len(), CSR_KINDS.len());
        let first = &listed[0];
        for key in [
            "serial",
            "cluster",
            "subject",
            "not_before",
            "not_after",
            "status",
            "sha256",
            "key_type",
        ] {
            assert!(!first[key].is_null(), "list --json lacks {key}: {first}");
        }
        assert_eq!(first["status"], "valid");
        assert_eq!(first["cluster"], "prod-eu");
        let serials: std::collections::HashSet<_> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["serial"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(serials.len(), CSR_KINDS.len(), "serials repeat");
        h.ledger_ok();
    }
}

/// The PEM with a character that is not base64 in its first data line.
fn bad_base64(pem: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(pem.to_vec()).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[1].replace_range(1..2, "!");
    (lines.join("\n") + "\n").into_bytes()
}

fn ski(text: &str) -> String {
    let at = text
        .find("X509v3 Subject Key Identifier: \n")
        .expect("an SKI");
    text[at..].lines().nth(1).unwrap().trim().to_owned()
}

/// Issues a leaf from an intermediate with OpenSSL, the way istiod would for a workload.
fn leaf(dir: &Path, name: &str, ca: &Path, ca_key: &Path, san: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let crt = dir.join(format!("{name}.pem"));
    run(Command::new("openssl")
        .args([
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
        ])
        .arg(&key)
        .arg("-out")
        .arg(&csr))
    .expect(0);
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(&ext, format!("subjectAltName={san}\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n")).unwrap();
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-in"])
        .arg(&csr)
        .arg("-CA")
        .arg(ca)
        .arg("-CAkey")
        .arg(ca_key)
        .arg("-CAcreateserial")
        .arg("-extfile")
        .arg(&ext)
        .arg("-out")
        .arg(&crt))
    .expect(0);
    (crt, key)
}

#[test]
fn leaves_issued_under_two_clusters_intermediates_complete_mutual_tls() {
    let fx = fixtures();
    let h = Hsm::new("mtls");
    h.vault_with_root("ecdsa-p384").expect(0);
    let root = h.root_pem();
    let (east, west) = (request(fx, "p256"), request(fx, "p384-sha256"));
    let (east_ca, west_ca) = (h.path("east-ca.pem"), h.path("west-ca.pem"));
    h.sign(&east, "east", &east_ca).expect(0);
    h.sign(&west, "west", &west_ca).expect(0);
    let (server, server_key) = leaf(
        h.dir.path(),
        "server",
        &east_ca,
        &east.key,
        "DNS:localhost,URI:spiffe://cluster.local/ns/a/sa/server",
    );
    let (client, client_key) = leaf(
        h.dir.path(),
        "client",
        &west_ca,
        &west.key,
        "URI:spiffe://cluster.local/ns/b/sa/client",
    );
    for (crt, ca) in [(&server, &east_ca), (&client, &west_ca)] {
        openssl(&[
            "verify",
            "-x509_strict",
            "-CAfile",
            s(&root),
            "-untrusted",
            s(ca),
            s(crt),
        ])
        .expect(0);
    }

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
            "2",
            "-verify_return_error",
        ])
        .args([
            "-cert",
            s(&server),
            "-key",
            s(&server_key),
            "-cert_chain",
            s(&east_ca),
            "-CAfile",
            s(&root),
        ])
        // s_server stops at end of input: keep its stdin open until the handshake is done.
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // s_server prints ACCEPT once it listens; read up to there (a probe connection would use
    // up its single accept).
    let mut server_stdout = std::io::BufReader::new(srv.stdout.take().unwrap());
    let mut server_log = String::new();
    loop {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut server_stdout, &mut line).unwrap();
        server_log += &line;
        if n == 0 || line.starts_with("ACCEPT") {
            break;
        }
    }
    let c = run(Command::new("sh").arg("-c").arg(format!(
        "echo Q | openssl s_client -connect 127.0.0.1:{port} -servername localhost -verify_return_error -verify_hostname localhost -CAfile '{}' -cert '{}' -key '{}' -cert_chain '{}'",
        s(&root), s(&client), s(&client_key), s(&west_ca)
    )));
    drop(srv.stdin.take());
    std::io::Read::read_to_string(&mut server_stdout, &mut server_log).unwrap();
    let server_out = srv.wait_with_output().unwrap();
    server_log += &String::from_utf8_lossy(&server_out.stderr);
    assert_eq!(
        c.code, 0,
        "client: {}{}\nserver: {server_log}",
        c.stdout, c.stderr
    );
    assert!(
        c.stdout.contains("Verify return code: 0 (ok)"),
        "{}",
        c.stdout
    );
    assert!(!server_log.contains("verify error"), "{server_log}");
    assert!(
        server_log.contains("CN=client") || server_log.contains("CN = client"),
        "the server did not see the client certificate: {server_log}"
    );
}

#[test]
fn name_constraints_from_policy_admit_leaves_inside_and_refuse_leaves_outside() {
    let fx = fixtures();
    let h = Hsm::new("constraints");
    h.vault_with_root("ecdsa-p256").expect(0);
    let cfg = h.vault().join("vault.toml");
    let mut text_cfg = std::fs::read_to_string(&cfg).unwrap();
    text_cfg += "\n[policy.clusters.prod-eu]\npermitted_dns = [\"prod-eu.example.com\", \"istiod.istio-system.svc\"]\npermitted_uri = [\"prod-eu.example.com\"]\n";
    std::fs::write(&cfg, text_cfg).unwrap();
    let root = h.root_pem();
    let req = request(fx, "p256");
    let ca = h.path("prod-eu-ca.pem");
    h.sign(&req, "prod-eu", &ca).expect(0);
    let t = text(&ca);
    assert!(t.contains("X509v3 Name Constraints: critical"), "{t}");
    assert!(t.contains("DNS:prod-eu.example.com"), "{t}");
    assert!(t.contains("URI:prod-eu.example.com"), "{t}");
    pkilint_clean("lint_pkix_cert", &[], &ca);

    let (inside, _) = leaf(
        h.dir.path(),
        "inside",
        &ca,
        &req.key,
        "DNS:api.prod-eu.example.com,URI:spiffe://prod-eu.example.com/ns/a/sa/b",
    );
    openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        s(&root),
        "-untrusted",
        s(&ca),
        s(&inside),
    ])
    .expect(0);
    let (outside, _) = leaf(
        h.dir.path(),
        "outside",
        &ca,
        &req.key,
        "DNS:api.evil.example.org",
    );
    let v = openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        s(&root),
        "-untrusted",
        s(&ca),
        s(&outside),
    ]);
    assert_ne!(v.code, 0, "a leaf outside the name constraints verified");
    assert!(
        v.stderr.contains("permitted subtree violation")
            || v.stdout.contains("permitted subtree violation"),
        "{}{}",
        v.stdout,
        v.stderr
    );
    let (outside_uri, _) = leaf(
        h.dir.path(),
        "outside-uri",
        &ca,
        &req.key,
        "DNS:x.prod-eu.example.com,URI:spiffe://other.domain/ns/a/sa/b",
    );
    let v = openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        s(&root),
        "-untrusted",
        s(&ca),
        s(&outside_uri),
    ]);
    assert_ne!(
        v.code, 0,
        "a leaf with a SPIFFE ID outside the trust domain verified"
    );
    // Another cluster has no table of its own: it gets the defaults, the vault's trust domain.
    let other = h.path("other.pem");
    h.sign(&request(fx, "p384-sha256"), "prod-us", &other)
        .expect(0);
    let t = text(&other);
    assert!(t.contains("X509v3 Name Constraints: critical"), "{t}");
    assert!(
        t.contains("Permitted:\n                  URI:cluster.local\n                  email:no-email.invalid\n"),
        "{t}"
    );
}

#[test]
fn requested_ca_pathlen_eku_and_key_usage_are_never_copied() {
    let fx = fixtures();
    let h = Hsm::new("greedy");
    h.vault_with_root("ecdsa-p256").expect(0);
    let req = request(fx, "greedy");
    let inspect = run(h.rv().arg("csr").arg("inspect").arg(&req.csr).args([
        "--cluster",
        "prod-eu",
        "--json",
    ]))
    .expect(0)
    .json();
    let asked = inspect["requested_extensions"].to_string();
    assert!(
        asked.contains("pathlen:5") && asked.contains("codeSigning"),
        "{asked}"
    );
    let out = h.path("greedy.pem");
    h.sign(&req, "prod-eu", &out).expect(0);
    let t = text(&out);
    assert!(t.contains("CA:TRUE, pathlen:0"), "{t}");
    assert!(!t.contains("pathlen:5"));
    assert!(
        !t.contains("Code Signing") && !t.contains("Extended Key Usage"),
        "{t}"
    );
    assert!(!t.contains("Key Encipherment"), "{t}");
}

#[test]
fn csr_inspect_reports_the_fingerprint_profile_and_verdict() {
    let fx = fixtures();
    let h = Hsm::new("inspect");
    h.vault_with_root("ecdsa-p384").expect(0);
    let req = request(fx, "p384-sha256");
    let j =
        run(h
            .rv()
            .arg("csr")
            .arg("inspect")
            .arg(&req.csr)
            .args(["--cluster", "edge-1", "--json"]))
        .expect(0)
        .json();
    assert_eq!(j["acceptable"], true, "{j}");
    assert_eq!(j["reasons"].as_array().unwrap().len(), 0);
    assert_eq!(j["key_type"], "ecdsa-p384");
    assert_eq!(j["spki_sha256"], req.spki_sha256.as_str());
    assert_eq!(j["subject"], "O=Cluster Team, CN=requested-by-cluster");
    assert_eq!(j["profile"]["path_len"], 0);
    assert_eq!(j["profile"]["days"], 365);
    // Inspection changes nothing.
    assert_eq!(
        run(h.rv().args(["ledger", "show", "--json"]))
            .expect(0)
            .json()
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // Asking for more than policy allows is refused with the reason.
    let j = run(h.rv().arg("csr").arg("inspect").arg(&req.csr).args([
        "--cluster",
        "edge-1",
        "--days",
        "5000",
        "--json",
    ]))
    .expect(3)
    .json();
    assert_eq!(j["acceptable"], false);
    assert!(j["reasons"].to_string().contains("max_days"), "{j}");
}

/// Bad inputs: each refused with exit 3 and a message naming the problem; none adds a
/// certificate; the ledger stays intact (rejections are recorded as events).
#[test]
fn bad_input_and_refused_keys_exit_3_and_sign_nothing() {
    let fx = fixtures();
    let h = Hsm::new("bad-input");
    h.vault_with_root("ecdsa-p256").expect(0);
    let dir = h.dir.path();
    let good = std::fs::read(request(fx, "p256").csr).unwrap();
    openssl(&[
        "req",
        "-in",
        s(&request(fx, "p256").csr),
        "-outform",
        "DER",
        "-out",
        s(&dir.join("good.der")),
    ])
    .expect(0);
    let der = std::fs::read(dir.join("good.der")).unwrap();
    let mut flipped = der.clone();
    let n = flipped.len();
    flipped[n - 5] ^= 0x55;
    let cert = std::fs::read(h.root_pem()).unwrap();
    let mut huge = good.clone();
    huge.extend(std::iter::repeat_n(b' ', 65 * 1024));

    let mut cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "garbage",
            b"hello, I am not a CSR\n".to_vec(),
            "not a certificate signing request",
        ),
        ("truncated", der[..der.len() / 2].to_vec(), "malformed"),
        (
            "two",
            [good.clone(), good.clone()].concat(),
            "2 certificate signing requests",
        ),
        ("cert", cert, "CERTIFICATE"),
        ("badb64", bad_base64(&good), "cannot be decoded"),
        ("huge", huge, "64 KiB"),
        ("badsig", flipped, "signature"),
        ("empty", Vec::new(), "empty"),
    ];
    for (kind, args) in [
        (
            "p521",
            vec!["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-521"],
        ),
        ("ed25519", vec!["-newkey", "ed25519"]),
        ("rsa1024", vec!["-newkey", "rsa:1024"]),
    ] {
        let r = make_csr(dir, kind, &args, &[]);
        cases.push((kind, std::fs::read(r.csr).unwrap(), ""));
    }
    let sha1 = make_csr(dir, "sha1", &["-newkey", "rsa:2048", "-sha1"], &[]);
    cases.push((
        "sha1",
        std::fs::read(sha1.csr).unwrap(),
        "sha1WithRSAEncryption, a broken hash",
    ));

    for (name, bytes, needle) in &cases {
        let path = dir.join(format!("bad-{name}.csr"));
        std::fs::write(&path, bytes).unwrap();
        let out = dir.join(format!("bad-{name}.pem"));
        let r = run(h
            .rv_pin()
            .arg("sign")
            .arg(&path)
            .args([
                "--cluster",
                "prod-eu",
                "--confirm",
                "0000000000000000",
                "--out",
            ])
            .arg(&out));
        assert_eq!(r.code, 3, "{name}: {}", r.stderr);
        assert!(
            r.stderr.contains(needle),
            "{name}: message should mention {needle:?}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("nothing was signed"),
            "{name}: {}",
            r.stderr
        );
        assert!(!out.exists(), "{name}: an output was written");
        let i = run(h
            .rv()
            .arg("csr")
            .arg("inspect")
            .arg(&path)
            .args(["--cluster", "prod-eu"]));
        assert_eq!(i.code, 3, "{name}: inspect: {}", i.stdout);
    }
    let msgs: Vec<String> = cases
        .iter()
        .filter(|(n, _, _)| ["p521", "ed25519", "rsa1024"].contains(n))
        .map(|(n, _, _)| {
            run(h
                .rv()
                .arg("csr")
                .arg("inspect")
                .arg(dir.join(format!("bad-{n}.csr")))
                .args(["--cluster", "x"]))
            .stdout
        })
        .collect();
    assert!(msgs[0].contains("P-521"), "{}", msgs[0]);
    assert!(msgs[1].contains("Ed25519"), "{}", msgs[1]);
    assert!(msgs[2].contains("1024"), "{}", msgs[2]);

    assert_eq!(h.intermediates(), 0);
    h.ledger_ok();
    let events = run(h.rv().args(["ledger", "show", "--json"]))
        .expect(0)
        .json();
    let rejected: Vec<_> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "signing_rejected")
        .collect();
    assert_eq!(rejected.len(), cases.len(), "every refusal is recorded");
    assert!(
        rejected[0]["payload"]["input_sha256"]
            .as_str()
            .unwrap()
            .len()
            == 64
    );

    // A bad cluster name is a usage error.
    run(h
        .rv_pin()
        .arg("sign")
        .arg(dir.join("bad-p521.csr"))
        .args(["--cluster", "Prod_EU"]))
    .expect(2);
}

#[test]
fn a_wrong_confirmation_or_no_terminal_exits_6_and_signs_nothing() {
    let fx = fixtures();
    let h = Hsm::new("confirm");
    h.vault_with_root("ecdsa-p256").expect(0);
    let req = request(fx, "p256");
    let before = snapshot(&h.vault());
    let wrong = if req.spki_sha256.starts_with('0') {
        "1111111111111111"
    } else {
        "0000000000000000"
    };
    let out = h.path("x.pem");
    let r = run(h
        .rv_pin()
        .arg("sign")
        .arg(&req.csr)
        .args(["--cluster", "prod-eu", "--confirm", wrong, "--out"])
        .arg(&out))
    .expect(6);
    assert!(r.stderr.contains("does not match"), "{}", r.stderr);
    // Too short a prefix: 8 digits (32 bits) can be matched by grinding keys, and so can 15;
    // 16 (64 bits) is the least.
    for short in [&req.spki_sha256[..8], &req.spki_sha256[..15]] {
        let r = run(h.rv_pin().arg("sign").arg(&req.csr).args([
            "--cluster",
            "prod-eu",
            "--confirm",
            short,
        ]))
        .expect(6);
        assert!(
            r.stderr.contains(
                "the confirmation must be at least 16 hex digits of the SPKI SHA-256 fingerprint; nothing was signed"
            ),
            "{}",
            r.stderr
        );
    }
    // No terminal and no --confirm.
    let r = run(h
        .rv_pin()
        .arg("sign")
        .arg(&req.csr)
        .args(["--cluster", "prod-eu"]))
    .expect(6);
    assert!(r.stderr.contains("no terminal"), "{}", r.stderr);
    // The summary was shown before refusing, with the fingerprint to compare.
    assert!(r.stderr.contains(&req.spki_sha256), "{}", r.stderr);
    assert!(!out.exists());
    assert_eq!(
        snapshot(&h.vault()),
        before,
        "a declined signing changed the vault"
    );
    // The full fingerprint with colons and upper case confirms.
    let colons: String = req
        .spki_sha256
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":");
    run(h
        .rv_pin()
        .arg("sign")
        .arg(&req.csr)
        .args(["--cluster", "prod-eu", "--confirm", &colons, "--out"])
        .arg(&out))
    .expect(0);
    h.ledger_ok();
}

#[test]
fn an_existing_output_is_refused_before_anything_is_signed() {
    let fx = fixtures();
    let h = Hsm::new("out-exists");
    h.vault_with_root("ecdsa-p256").expect(0);
    let out = h.path("taken.pem");
    std::fs::write(&out, "keep me").unwrap();
    h.sign(&request(fx, "p256"), "prod-eu", &out).expect(1);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
    assert_eq!(h.intermediates(), 0);
}

#[test]
fn the_issued_event_records_cluster_serial_certificate_csr_hash_fingerprint_profile_and_operator() {
    let fx = fixtures();
    let h = Hsm::new("event");
    h.vault_with_root("ecdsa-p256").expect(0);
    let req = request(fx, "p384-sha384");
    let out = h.path("c.pem");
    let r = run(h
        .rv_pin()
        .args(["--operator", "alice"])
        .arg("sign")
        .arg(&req.csr)
        .args([
            "--cluster",
            "prod-eu",
            "--confirm",
            &req.spki_sha256[..16],
            "--out",
        ])
        .arg(&out)
        .arg("--json"))
    .expect(0);
    let issued = r.json();
    let events = run(h.rv().args(["ledger", "show", "--json"]))
        .expect(0)
        .json();
    let e = events.as_array().unwrap().last().unwrap().clone();
    assert_eq!(e["kind"], "certificate_issued");
    assert_eq!(e["actor"], "alice");
    let p = &e["payload"];
    assert_eq!(p["cluster"], "prod-eu");
    assert_eq!(p["certificate"]["serial"], issued["serial"]);
    assert_eq!(p["certificate"]["spki_sha256"], req.spki_sha256.as_str());
    let der_path = h.path("csr.der");
    openssl(&[
        "req",
        "-in",
        s(&req.csr),
        "-outform",
        "DER",
        "-out",
        s(&der_path),
    ])
    .expect(0);
    let csr_sha = run(Command::new("sha256sum").arg(&der_path))
        .expect(0)
        .stdout;
    assert_eq!(p["csr_sha256"], csr_sha.split_whitespace().next().unwrap());
    assert_eq!(p["profile"]["path_len"], 0);
    assert_eq!(p["profile"]["days"], 365);
    let pem = std::fs::read_to_string(&out).unwrap();
    let der = ::pem::parse(&pem).unwrap().into_contents();
    use base64::Engine as _;
    assert_eq!(
        p["certificate"]["der_base64"],
        base64::engine::general_purpose::STANDARD.encode(&der)
    );
    assert_eq!(issued["pem"], pem.as_str());
}

#[test]
fn four_concurrent_sign_processes_get_four_serials_and_a_linear_ledger() {
    let h = Hsm::new("concurrent");
    h.vault_with_root("ecdsa-p256").expect(0);
    // Each cluster its own key (one key for two clusters needs --allow-key-reuse).
    let reqs: Vec<_> = (0..4)
        .map(|i| make_cluster_csr(h.dir.path(), &format!("c{i}"), P256))
        .collect();
    let children: Vec<_> = reqs
        .iter()
        .enumerate()
        .map(|(i, req)| {
            h.rv_pin()
                .arg("sign")
                .arg(&req.csr)
                .args([
                    "--cluster",
                    &format!("c{i}"),
                    "--confirm",
                    &req.spki_sha256[..16],
                    "--out",
                ])
                .arg(h.path(&format!("c{i}.pem")))
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let listed = run(h.rv().args(["list", "--json"])).expect(0).json();
    let serials: std::collections::HashSet<_> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["serial"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(serials.len(), 4);
    let v = run(h.rv().args(["ledger", "verify", "--json"]))
        .expect(0)
        .json();
    assert_eq!(
        v["events"], 7,
        "init, audit key, root and four certificates: {v}"
    );
    let root = h.root_pem();
    for i in 0..4 {
        openssl(&[
            "verify",
            "-x509_strict",
            "-CAfile",
            s(&root),
            s(&h.path(&format!("c{i}.pem"))),
        ])
        .expect(0);
    }
}
