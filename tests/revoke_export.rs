//! Issue 4: revocation, CRLs, exports and vault-generated keys. CSRs are made by `openssl req`
//! the way a cluster team would; CRLs are judged by `openssl crl`, `openssl verify -crl_check`
//! and pkilint; exports by `openssl verify`, real TLS handshakes, PyYAML, `sha256sum` and the
//! `age` CLI. Every refusal is checked to change nothing.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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

/// A CSR made by OpenSSL, with the key that stays with the "cluster".
struct Request {
    csr: PathBuf,
    key: PathBuf,
    spki_sha256: String,
}

/// A P-256 key and CSR, as a cluster's platform team makes them.
fn make_csr(dir: &Path, name: &str) -> Request {
    let c = make_cluster_csr(dir, name, P256);
    Request {
        csr: c.csr,
        key: c.key,
        spki_sha256: c.spki_sha256,
    }
}

impl Hsm {
    /// Signs `req` for `cluster` into `out`; returns the serial (lowercase hex, per OpenSSL).
    fn sign(&self, req: &Request, cluster: &str, out: &Path) -> String {
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
        .expect(0);
        serial_of(out)
    }

    fn revoke(&self, args: &[&str]) -> Run {
        run(self.rv_pin().arg("revoke").args(args))
    }

    fn export(&self, cluster: &str, format: &str, out: &Path, recipients: &[&str]) -> Run {
        let mut c = self.rv_pin();
        c.args(["export", "--cluster", cluster, "--format", format, "--out"])
            .arg(out);
        for r in recipients {
            c.args(["--age-recipient", r]);
        }
        run(&mut c)
    }

    fn events(&self) -> Vec<Value> {
        run(self.rv().args(["ledger", "show", "--json"]))
            .expect(0)
            .json()
            .as_array()
            .unwrap()
            .clone()
    }

    fn list(&self) -> Vec<Value> {
        run(self.rv().args(["list", "--json"]))
            .expect(0)
            .json()
            .as_array()
            .unwrap()
            .clone()
    }

    /// The `list --json` entry of `serial`.
    fn listed(&self, serial: &str) -> Value {
        self.list()
            .into_iter()
            .find(|c| c["serial"] == serial)
            .unwrap_or_else(|| panic!("serial {serial} is not listed"))
    }

    #[track_caller]
    fn ledger_ok(&self) {
        run(self.rv().args(["ledger", "verify"])).expect(0);
    }

    /// Everything a refusal must leave alone: the vault's files, the events, the listing.
    fn state(&self) -> State {
        let files = snapshot(&self.vault());
        State {
            files,
            events: self.events().len(),
            list: self.list(),
        }
    }

    #[track_caller]
    fn assert_unchanged(&self, before: &State, what: &str) {
        assert!(
            snapshot(&self.vault()) == before.files,
            "{what}: the vault's files changed"
        );
        assert_eq!(
            self.events().len(),
            before.events,
            "{what}: events were added"
        );
        assert_eq!(self.list(), before.list, "{what}: the listing changed");
        self.ledger_ok();
    }
}

#[derive(Debug)]
struct State {
    files: Vec<(PathBuf, Vec<u8>)>,
    events: usize,
    list: Vec<Value>,
}

/// The serial of a PEM certificate, as OpenSSL reads it, in lowercase hex.
fn serial_of(pem: &Path) -> String {
    let r = openssl(&["x509", "-in", s(pem), "-noout", "-serial"]).expect(0);
    r.stdout
        .trim()
        .strip_prefix("serial=")
        .unwrap()
        .to_lowercase()
}

/// The certificate as OpenSSL re-encodes it: the reference for "exactly this PEM".
fn canonical_pem(pem: &Path) -> String {
    openssl(&["x509", "-in", s(pem)]).expect(0).stdout
}

fn x509_text(pem: &Path) -> String {
    openssl(&["x509", "-in", s(pem), "-noout", "-text"])
        .expect(0)
        .stdout
}

fn crl_text(crl: &Path) -> String {
    openssl(&["crl", "-in", s(crl), "-noout", "-text"])
        .expect(0)
        .stdout
}

fn ski(text: &str) -> String {
    let at = text
        .find("X509v3 Subject Key Identifier: \n")
        .expect("an SKI");
    text[at..].lines().nth(1).unwrap().trim().to_owned()
}

/// `sha256sum FILE`.
fn sha256sum(p: &Path) -> String {
    let r = run(Command::new("sha256sum").arg(p)).expect(0);
    r.stdout.split_whitespace().next().unwrap().to_owned()
}

/// The digest of a directory export, as the module documentation tells an auditor to
/// recompute it.
fn dir_digest(dir: &Path) -> String {
    sh(
        "cd \"$1\" && LC_ALL=C sha256sum -- * | sha256sum | cut -d' ' -f1",
        &[s(dir)],
    )
    .expect(0)
    .stdout
    .trim()
    .to_owned()
}

/// The SHA-256 of lines, one per line, sorted, as `printf '%s\n' … | sort | sha256sum` prints it.
fn sorted_lines_sha256(lines: &[&str]) -> String {
    sh(
        "printf '%s\\n' \"$@\" | sort | sha256sum | cut -d' ' -f1",
        lines,
    )
    .expect(0)
    .stdout
    .trim()
    .to_owned()
}

/// Seconds since the epoch of a date as OpenSSL or RFC 3339 prints it, per GNU `date`.
fn epoch(date: &str) -> i64 {
    run(Command::new("date").args(["-u", "-d", date, "+%s"]))
        .expect(0)
        .stdout
        .trim()
        .parse()
        .unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// (thisUpdate, nextUpdate) of a CRL, in seconds since the epoch.
fn crl_dates(crl: &Path) -> (i64, i64) {
    let r = openssl(&["crl", "-in", s(crl), "-noout", "-lastupdate", "-nextupdate"]).expect(0);
    let field = |name: &str| {
        let line = r
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {}", r.stdout));
        epoch(line)
    };
    (field("lastUpdate="), field("nextUpdate="))
}

fn crl_number(crl: &Path) -> u64 {
    let r = openssl(&["crl", "-in", s(crl), "-noout", "-crlnumber"]).expect(0);
    let hex = r.stdout.trim().strip_prefix("crlNumber=").unwrap();
    u64::from_str_radix(hex.trim_start_matches("0x"), 16).unwrap()
}

/// The types of the fields of tbsCertList, per `openssl asn1parse`.
fn tbs_fields(crl: &Path) -> Vec<String> {
    let r = openssl(&["asn1parse", "-in", s(crl)]).expect(0);
    let mut out = Vec::new();
    let mut depth1 = 0;
    for line in r.stdout.lines() {
        if line.contains(":d=1 ") {
            depth1 += 1;
            if depth1 == 2 {
                break;
            }
        }
        if line.contains(":d=2 ") {
            let rest = line
                .split_once("prim:")
                .or_else(|| line.split_once("cons:"))
                .unwrap()
                .1;
            out.push(rest.split(':').next().unwrap().trim().to_owned());
        }
    }
    out
}

/// `openssl verify -crl_check`: the intermediate judged against the root and the CRL.
fn crl_check(root: &Path, crl: &Path, cert: &Path) -> Run {
    openssl(&[
        "verify",
        "-crl_check",
        "-CRLfile",
        s(crl),
        "-CAfile",
        s(root),
        s(cert),
    ])
}

/// The checks every CRL must pass, by OpenSSL and pkilint.
#[track_caller]
fn check_crl(crl: &Path, root: &Path, number: u64, sig_alg: &str) {
    let v = openssl(&["crl", "-in", s(crl), "-CAfile", s(root), "-noout"]);
    assert!(
        v.code == 0 && format!("{}{}", v.stdout, v.stderr).contains("verify OK"),
        "CRL {number} does not verify against the root (exit {}):\n{}{}",
        v.code,
        v.stdout,
        v.stderr
    );
    let t = crl_text(crl);
    assert!(t.contains("Version 2 (0x1)"), "{t}");
    assert_eq!(crl_number(crl), number, "{t}");
    assert!(
        t.contains(&format!("X509v3 CRL Number: \n                {number}\n")),
        "{t}"
    );
    let root_ski = ski(&x509_text(root));
    assert!(
        t.contains(&format!(
            "X509v3 Authority Key Identifier: \n                {root_ski}\n"
        )),
        "the CRL's AKI is not the root's SKI {root_ski}:\n{t}"
    );
    assert!(
        t.contains("X509v3 Issuing Distribution Point: critical\n"),
        "{t}"
    );
    assert!(t.contains("Only CA Certificates"), "{t}");
    assert!(!t.contains("Only User Certificates"), "{t}");
    assert!(
        t.contains(&format!("Signature Algorithm: {sig_alg}")),
        "{t}"
    );
    let issuer = openssl(&["crl", "-in", s(crl), "-noout", "-issuer"])
        .expect(0)
        .stdout;
    let subject = openssl(&["x509", "-in", s(root), "-noout", "-subject"])
        .expect(0)
        .stdout;
    assert_eq!(
        issuer.trim().strip_prefix("issuer="),
        subject.trim().strip_prefix("subject=")
    );
    pkilint_clean("lint_crl", &["-t", "ARL", "-p", "PKIX"], crl);
}

/// The text of one revoked entry of `openssl crl -text`.
fn crl_entry<'a>(text: &'a str, serial: &str) -> &'a str {
    let needle = format!("Serial Number: {}\n", serial.to_uppercase());
    let at = text
        .find(&needle)
        .unwrap_or_else(|| panic!("serial {serial} is not in the CRL:\n{text}"));
    let rest = &text[at + needle.len()..];
    let end = rest
        .find("Serial Number:")
        .or_else(|| rest.find("Signature Algorithm"))
        .unwrap_or(rest.len());
    &rest[..end]
}

fn crls_from_a_root_of(key_type: &str, sig_alg: &str) {
    let h = Hsm::new(&format!("crl-{key_type}"));
    h.vault_with_root(key_type).expect(0);
    let root = h.root_pem();
    // Each cluster its own key: one key for two clusters needs --allow-key-reuse.
    let req = |cluster| make_csr(h.dir.path(), cluster);
    let (east, west, north) = (h.path("east.pem"), h.path("west.pem"), h.path("north.pem"));
    let east_serial = h.sign(&req("east"), "east", &east);
    let west_serial = h.sign(&req("west"), "west", &west);
    let north_serial = h.sign(&req("north"), "north", &north);

    // CRL 1: nothing revoked yet.
    let crl1 = h.path("crl1.pem");
    let before = now();
    run(h.rv_pin().args(["crl", "--out"]).arg(&crl1)).expect(0);
    check_crl(&crl1, &root, 1, sig_alg);
    let t1 = crl_text(&crl1);
    assert!(t1.contains("No Revoked Certificates."), "{t1}");
    // revokedCertificates is absent (RFC 5280 §5.1.2.6), not an empty SEQUENCE.
    assert_eq!(
        tbs_fields(&crl1),
        [
            "INTEGER",
            "SEQUENCE",
            "SEQUENCE",
            "UTCTIME",
            "UTCTIME",
            "cont [ 0 ]"
        ]
    );
    let (this1, next1) = crl_dates(&crl1);
    assert!(
        (this1 - before).abs() <= 120,
        "thisUpdate is not now: {this1} vs {before}"
    );
    assert_eq!(next1 - this1, 180 * 86_400, "the default is 180 days");
    for cert in [&east, &west, &north] {
        crl_check(&root, &crl1, cert).expect(0);
    }

    // Two revocations, then CRL 2 for 30 days.
    h.revoke(&[
        "--serial",
        &east_serial,
        "--reason",
        "keyCompromise",
        "--confirm",
        &east_serial[..16],
    ])
    .expect(0);
    h.revoke(&[
        "--serial",
        &west_serial,
        "--reason",
        "superseded",
        "--confirm",
        &west_serial[..16],
    ])
    .expect(0);
    let crl2 = h.path("crl2.pem");
    run(h.rv_pin().args(["crl", "--days", "30", "--out"]).arg(&crl2)).expect(0);
    check_crl(&crl2, &root, 2, sig_alg);
    let t2 = crl_text(&crl2);
    assert_eq!(
        tbs_fields(&crl2),
        [
            "INTEGER",
            "SEQUENCE",
            "SEQUENCE",
            "UTCTIME",
            "UTCTIME",
            "SEQUENCE",
            "cont [ 0 ]"
        ]
    );
    for (serial, reason) in [
        (&east_serial, "Key Compromise"),
        (&west_serial, "Superseded"),
    ] {
        let entry = crl_entry(&t2, serial);
        assert!(
            entry.contains(&format!(
                "X509v3 CRL Reason Code: \n                {reason}\n"
            )),
            "{serial}: {entry}"
        );
        let listed = h.listed(serial);
        let date = entry
            .lines()
            .find_map(|l| l.trim().strip_prefix("Revocation Date: "))
            .unwrap();
        assert_eq!(
            epoch(date),
            epoch(listed["revoked_at"].as_str().unwrap()),
            "{serial}: the CRL's revocation date is not the ledger's"
        );
    }
    assert!(
        !t2.contains(&north_serial.to_uppercase()),
        "an unrevoked serial is listed:\n{t2}"
    );
    let (this2, next2) = crl_dates(&crl2);
    assert_eq!(next2 - this2, 30 * 86_400, "--days 30 was not honoured");

    for cert in [&east, &west] {
        let v = crl_check(&root, &crl2, cert);
        assert_ne!(v.code, 0, "a revoked intermediate verified:\n{}", v.stdout);
        assert!(
            format!("{}{}", v.stdout, v.stderr).contains("certificate revoked"),
            "{}{}",
            v.stdout,
            v.stderr
        );
    }
    let v = crl_check(&root, &crl2, &north).expect(0);
    assert!(v.stdout.contains(": OK"), "{}", v.stdout);

    // Out-of-range validity is a usage error and issues nothing.
    let before = h.state();
    for days in ["366", "0"] {
        let out = h.path(&format!("crl-{days}.pem"));
        run(h.rv_pin().args(["crl", "--days", days, "--out"]).arg(&out)).expect(2);
        assert!(!out.exists(), "--days {days} wrote a CRL");
    }
    h.assert_unchanged(&before, "crl --days out of range");

    // CRL 3, printed on stdout; numbers strictly increase.
    let r = run(h.rv_pin().arg("crl")).expect(0);
    let crl3 = h.path("crl3.pem");
    std::fs::write(&crl3, &r.stdout).unwrap();
    check_crl(&crl3, &root, 3, sig_alg);
    let (this3, next3) = crl_dates(&crl3);
    assert_eq!(next3 - this3, 180 * 86_400);
    assert!(this3 >= this2);
    let t3 = crl_text(&crl3);
    crl_entry(&t3, &east_serial);
    crl_entry(&t3, &west_serial);

    // The ledger holds each CRL as issued.
    let crls: Vec<Value> = h
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "crl_issued")
        .collect();
    assert_eq!(crls.len(), 3);
    for (i, (e, file)) in crls.iter().zip([&crl1, &crl2, &crl3]).enumerate() {
        assert_eq!(e["payload"]["number"], i as u64 + 1);
        let der_sha = sh(
            "openssl crl -in \"$1\" -outform DER | sha256sum | cut -d' ' -f1",
            &[s(file)],
        )
        .expect(0)
        .stdout;
        assert_eq!(e["payload"]["sha256"], der_sha.trim());
    }
    h.ledger_ok();
}

#[test]
fn crls_from_an_ecdsa_p384_root_verify_list_revocations_and_make_openssl_refuse_revoked_intermediates(
) {
    crls_from_a_root_of("ecdsa-p384", "ecdsa-with-SHA384");
}

#[test]
fn crls_from_an_rsa_3072_root_verify_list_revocations_and_make_openssl_refuse_revoked_intermediates(
) {
    crls_from_a_root_of("rsa-3072", "sha256WithRSAEncryption");
}

/// A serial as a person might read it out: upper case, colon-separated.
fn colon_upper(hex: &str) -> String {
    hex.to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":")
}

#[test]
fn revoking_by_serial_accepts_an_upper_case_colon_separated_confirmation_and_lists_it_revoked() {
    let h = Hsm::new("revoke-serial");
    h.vault_with_root("ecdsa-p256").expect(0);
    let req = make_csr(h.dir.path(), "team");
    let a = h.sign(&req, "east", &h.path("a.pem"));
    let b = h.sign(&req, "east", &h.path("b.pem"));
    assert_eq!(h.listed(&a)["status"], "valid");
    let events_before = h.events().len();

    let before = now();
    let r = h
        .revoke(&[
            "--serial",
            &colon_upper(&a),
            "--reason",
            "keyCompromise",
            "--confirm",
            &colon_upper(&a[..16]),
            "--json",
        ])
        .expect(0);
    let reported = r.json();
    assert_eq!(reported.as_array().unwrap().len(), 1, "{reported}");
    assert_eq!(reported[0]["serial"], a.as_str());

    let listed = h.listed(&a);
    assert_eq!(listed["status"], "revoked", "{listed}");
    let at = epoch(listed["revoked_at"].as_str().expect("revoked_at"));
    assert!(
        (at - before).abs() <= 120,
        "revoked_at is not now: {listed}"
    );
    let other = h.listed(&b);
    assert_eq!(other["status"], "valid", "{other}");
    assert!(other["revoked_at"].is_null(), "{other}");

    let events = h.events();
    assert_eq!(events.len(), events_before + 1);
    let e = events.last().unwrap();
    assert_eq!(e["kind"], "certificate_revoked");
    assert_eq!(e["payload"]["serial"], a.as_str());
    assert_eq!(e["payload"]["cluster"], "east");
    assert_eq!(e["payload"]["reason"], "keyCompromise");
    assert_eq!(e["payload"]["revoked_at"], listed["revoked_at"]);
    h.ledger_ok();
}

#[test]
fn revoking_a_cluster_revokes_each_of_its_valid_certificates_once_their_serial_set_is_confirmed() {
    let h = Hsm::new("revoke-cluster");
    h.vault_with_root("ecdsa-p256").expect(0);
    let req = make_csr(h.dir.path(), "team");
    let east: Vec<String> = (0..3)
        .map(|i| h.sign(&req, "east", &h.path(&format!("east{i}.pem"))))
        .collect();
    let west = h.sign(&make_csr(h.dir.path(), "west"), "west", &h.path("west.pem"));
    h.revoke(&[
        "--serial",
        &east[0],
        "--reason",
        "superseded",
        "--confirm",
        &east[0][..16],
    ])
    .expect(0);

    // The digest over all three (one already revoked) is not what is being confirmed.
    let all = sorted_lines_sha256(&[&east[0], &east[1], &east[2]]);
    let before = h.state();
    let r = h
        .revoke(&[
            "--cluster",
            "east",
            "--reason",
            "cessationOfOperation",
            "--confirm",
            &all[..16],
        ])
        .expect(6);
    h.assert_unchanged(&before, "revoke --cluster with the wrong serial set");
    let live = sorted_lines_sha256(&[&east[2], &east[1]]);
    assert!(
        r.stderr.contains(&live),
        "the prompt should show the serial-set digest {live}:\n{}",
        r.stderr
    );

    let r = h
        .revoke(&[
            "--cluster",
            "east",
            "--reason",
            "cessationOfOperation",
            "--confirm",
            &live[..16],
            "--json",
        ])
        .expect(0);
    let revoked: BTreeSet<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["serial"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        revoked,
        BTreeSet::from([east[1].clone(), east[2].clone()]),
        "exactly the cluster's valid certificates are revoked"
    );
    for serial in &east {
        assert_eq!(h.listed(serial)["status"], "revoked");
    }
    assert_eq!(h.listed(&west)["status"], "valid");
    let events = h.events();
    assert_eq!(events.len(), before.events + 2);
    let reasons: Vec<(String, String)> = events
        .iter()
        .filter(|e| e["kind"] == "certificate_revoked")
        .map(|e| {
            (
                e["payload"]["serial"].as_str().unwrap().to_owned(),
                e["payload"]["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(reasons.len(), 3);
    assert_eq!(reasons[0], (east[0].clone(), "superseded".to_owned()));
    assert!(reasons[1..]
        .iter()
        .all(|(_, r)| r == "cessationOfOperation"));
    h.ledger_ok();
}

#[test]
fn refused_revocations_exit_with_their_documented_codes_and_change_nothing() {
    let h = Hsm::new("revoke-refusals");
    h.vault_with_root("ecdsa-p256").expect(0);
    let root_serial = serial_of(&h.root_pem());
    let east = h.sign(&make_csr(h.dir.path(), "east"), "east", &h.path("east.pem"));
    let west = h.sign(&make_csr(h.dir.path(), "west"), "west", &h.path("west.pem"));
    h.revoke(&[
        "--serial",
        &west,
        "--reason",
        "keyCompromise",
        "--confirm",
        &west[..16],
    ])
    .expect(0);
    let unknown = "4242424242424242424242424242424242";
    // The serial's first hex digit is 4 to 7 (positive, 16 octets), so this never matches.
    let wrong = "0000000000000000";

    let cases: [(&str, Vec<&str>, i32, &str); 8] = [
        (
            "unknown serial",
            vec!["--serial", unknown, "--confirm", &unknown[..16]],
            3,
            "no certificate with serial",
        ),
        (
            "already revoked",
            vec!["--serial", &west, "--confirm", &west[..16]],
            3,
            "already revoked",
        ),
        (
            "the root's own serial",
            vec!["--serial", &root_serial, "--confirm", &root_serial[..16]],
            3,
            "root",
        ),
        (
            "unknown cluster",
            vec!["--cluster", "nowhere", "--confirm", &east[..16]],
            3,
            "nowhere",
        ),
        (
            "a cluster with everything revoked",
            vec!["--cluster", "west", "--confirm", &west[..16]],
            3,
            "already revoked",
        ),
        (
            "a wrong confirmation",
            vec!["--serial", &east, "--confirm", wrong],
            6,
            "does not match",
        ),
        (
            "no terminal and no --confirm",
            vec!["--serial", &east],
            6,
            "no terminal",
        ),
        (
            "no terminal and no --confirm for a cluster",
            vec!["--cluster", "east"],
            6,
            "no terminal",
        ),
    ];
    for (what, args, code, needle) in cases {
        let before = h.state();
        let mut full = args.clone();
        full.extend(["--reason", "keyCompromise"]);
        let r = h.revoke(&full);
        assert_eq!(r.code, code, "{what}: {}", r.stderr);
        assert!(
            r.stderr.contains(needle),
            "{what}: the message should mention {needle:?}: {}",
            r.stderr
        );
        h.assert_unchanged(&before, what);
    }
    // An unknown reason is a usage error.
    let before = h.state();
    for reason in ["becauseISaidSo", ""] {
        let r = h.revoke(&[
            "--serial",
            &east,
            "--reason",
            reason,
            "--confirm",
            &east[..16],
        ]);
        assert_eq!(r.code, 2, "reason {reason:?}: {}", r.stderr);
    }
    h.assert_unchanged(&before, "an unknown reason");
    assert_eq!(h.listed(&east)["status"], "valid");
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

/// A TLS handshake, both sides authenticated, with `chain` sent after each leaf and `root`
/// as the only trust anchor.
fn mutual_tls(root: &Path, chain: &Path, server: (&Path, &Path), client: (&Path, &Path)) {
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
            "3",
            "-verify_return_error",
        ])
        .args([
            "-cert",
            s(server.0),
            "-key",
            s(server.1),
            "-cert_chain",
            s(chain),
            "-CAfile",
            s(root),
        ])
        // s_server stops at end of input: keep its stdin open until the handshake is done.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for ACCEPT (a probe connection would use up its single accept).
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
    let c = sh(
        &format!("echo Q | openssl s_client -connect 127.0.0.1:{port} -servername localhost -verify_return_error -verify_hostname localhost -CAfile \"$1\" -cert \"$2\" -key \"$3\" -cert_chain \"$4\""),
        &[s(root), s(client.0), s(client.1), s(chain)],
    );
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

/// A vault with an ecdsa-p384 root and cluster prod-eu's intermediate, signed from a CSR.
struct Exporting {
    h: Hsm,
    req: Request,
    serial: String,
    /// The intermediate and the root as OpenSSL encodes them.
    intermediate: String,
    root: String,
}

fn exporting(label: &str) -> Exporting {
    let h = Hsm::new(label);
    h.vault_with_root("ecdsa-p384").expect(0);
    let req = make_csr(h.dir.path(), "prod-eu");
    let cert = h.path("prod-eu.pem");
    let serial = h.sign(&req, "prod-eu", &cert);
    let root = canonical_pem(&h.root_pem());
    Exporting {
        intermediate: canonical_pem(&cert),
        root,
        serial,
        req,
        h,
    }
}

/// File names in a directory, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Checks that exactly one event was added since `before` events, a `bundle_exported` for
/// this export, and returns its payload.
#[track_caller]
fn exported_event(
    h: &Hsm,
    before: usize,
    cluster: &str,
    format: &str,
    sha256: &str,
    recipients: &[&str],
) -> Value {
    let events = h.events();
    assert_eq!(events.len(), before + 1, "an export adds exactly one event");
    let e = events.last().unwrap();
    assert_eq!(e["kind"], "bundle_exported", "{e}");
    let p = e["payload"].clone();
    assert_eq!(p["cluster"], cluster, "{p}");
    assert_eq!(p["format"], format, "{p}");
    assert_eq!(
        p["sha256"], sha256,
        "the recorded digest is not what sha256sum computes: {p}"
    );
    let listed: Vec<&str> = p["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(listed, recipients, "{p}");
    p
}

/// A YAML file as PyYAML reads it: every document, with `decoded` holding each `data` entry
/// base64-decoded.
fn yaml_documents(path: &Path) -> Vec<Value> {
    let r = run(Command::new("python3")
        .arg("-c")
        .arg(
            r#"
import base64, json, sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1], "rb")))
for d in docs:
    d["decoded"] = {k: base64.b64decode(v, validate=True).decode("ascii")
                    for k, v in (d.get("data") or {}).items()}
print(json.dumps(docs))
"#,
        )
        .arg(path))
    .expect(0);
    serde_json::from_str::<Value>(&r.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// The one Secret in a YAML file, checked for name, namespace and type; returns its decoded
/// data.
#[track_caller]
fn secret(path: &Path, kind: &str) -> serde_json::Map<String, Value> {
    let docs = yaml_documents(path);
    assert_eq!(docs.len(), 1, "one document: {docs:?}");
    let d = &docs[0];
    assert_eq!(d["apiVersion"], "v1", "{d}");
    assert_eq!(d["kind"], "Secret", "{d}");
    assert_eq!(d["metadata"]["name"], "cacerts", "{d}");
    assert_eq!(d["metadata"]["namespace"], "istio-system", "{d}");
    assert_eq!(d["type"], kind, "{d}");
    d["decoded"].as_object().unwrap().clone()
}

fn keys(m: &serde_json::Map<String, Value>) -> Vec<&str> {
    m.keys().map(String::as_str).collect()
}

#[test]
fn an_istio_export_verifies_strictly_and_leaves_issued_under_it_complete_mutual_tls() {
    let x = exporting("export-istio");
    let h = &x.h;
    let out = h.path("cacerts");
    let before = h.events().len();
    h.export("prod-eu", "istio", &out, &[]).expect(0);
    assert_eq!(
        names(&out),
        [
            "README.txt",
            "ca-cert.pem",
            "cert-chain.pem",
            "ledger-receipt.json",
            "root-cert.pem"
        ]
    );
    check_receipt(h, &out.join("ledger-receipt.json"));
    let read = |n: &str| std::fs::read_to_string(out.join(n)).unwrap();
    assert_eq!(read("ca-cert.pem"), x.intermediate);
    assert_eq!(read("root-cert.pem"), x.root);
    assert_eq!(
        read("cert-chain.pem"),
        format!("{}{}", x.intermediate, x.root),
        "cert-chain.pem is the intermediate then the root"
    );
    let p = exported_event(h, before, "prod-eu", "istio", &dir_digest(&out), &[]);
    assert_eq!(p["serial"], x.serial.as_str());
    assert_eq!(p["contains_generated_key"], false);

    let (ca_cert, chain, root) = (
        out.join("ca-cert.pem"),
        out.join("cert-chain.pem"),
        out.join("root-cert.pem"),
    );
    openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        s(&root),
        "-untrusted",
        s(&chain),
        s(&ca_cert),
    ])
    .expect(0);

    // The README gives the exact kubectl command, with the cluster's own ca-key.pem.
    let readme = read("README.txt");
    let line = readme
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("kubectl create secret generic cacerts -n istio-system "))
        .unwrap_or_else(|| panic!("no kubectl command in the README:\n{readme}"));
    let from: BTreeSet<&str> = line
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("--from-file="))
        .collect();
    assert_eq!(
        from,
        BTreeSet::from([
            "ca-cert.pem",
            "ca-key.pem",
            "cert-chain.pem",
            "root-cert.pem"
        ]),
        "{line}"
    );
    assert_eq!(
        line.split_whitespace()
            .filter(|w| !w.starts_with("--from-file="))
            .collect::<Vec<_>>(),
        [
            "kubectl",
            "create",
            "secret",
            "generic",
            "cacerts",
            "-n",
            "istio-system"
        ],
        "{line}"
    );

    // With the cluster's key beside them, leaves issued from ca-cert.pem talk mutual TLS.
    let ca_key = out.join("ca-key.pem");
    std::fs::copy(&x.req.key, &ca_key).unwrap();
    assert_eq!(
        openssl(&["pkey", "-in", s(&ca_key), "-pubout"])
            .expect(0)
            .stdout,
        openssl(&["x509", "-in", s(&ca_cert), "-pubkey", "-noout"])
            .expect(0)
            .stdout
    );
    let dir = h.dir.path();
    let server = leaf(
        dir,
        "server",
        &ca_cert,
        &ca_key,
        "DNS:localhost,URI:spiffe://cluster.local/ns/a/sa/server",
    );
    let client = leaf(
        dir,
        "client",
        &ca_cert,
        &ca_key,
        "URI:spiffe://cluster.local/ns/b/sa/client",
    );
    mutual_tls(
        &root,
        &chain,
        (&server.0, &server.1),
        (&client.0, &client.1),
    );
    h.ledger_ok();
}

#[test]
fn secrets_parse_as_kubernetes_yaml_and_they_and_the_pem_bundle_hold_exactly_the_chain() {
    let x = exporting("export-yaml");
    let h = &x.h;
    let chain = format!("{}{}", x.intermediate, x.root);

    let istio = h.path("cacerts.yaml");
    let before = h.events().len();
    h.export("prod-eu", "istio-secret", &istio, &[]).expect(0);
    exported_event(
        h,
        before,
        "prod-eu",
        "istio-secret",
        &sha256sum(&istio),
        &[],
    );
    let data = secret(&istio, "Opaque");
    assert_eq!(
        keys(&data),
        ["ca-cert.pem", "cert-chain.pem", "root-cert.pem"]
    );
    // A one-file export carries its ledger receipt beside it.
    check_receipt(h, &h.path("cacerts.yaml.receipt.json"));
    assert_eq!(data["ca-cert.pem"], x.intermediate.as_str());
    assert_eq!(data["cert-chain.pem"], chain.as_str());
    assert_eq!(data["root-cert.pem"], x.root.as_str());

    let tls = h.path("cacerts-tls.yaml");
    let before = h.events().len();
    h.export("prod-eu", "tls-secret", &tls, &[]).expect(0);
    exported_event(h, before, "prod-eu", "tls-secret", &sha256sum(&tls), &[]);
    let data = secret(&tls, "kubernetes.io/tls");
    assert_eq!(keys(&data), ["ca.crt", "tls.crt", "tls.key"]);
    assert_eq!(
        data["tls.crt"],
        chain.as_str(),
        "tls.crt is the intermediate then the root"
    );
    assert_eq!(data["ca.crt"], x.root.as_str());
    assert_eq!(
        data["tls.key"], "",
        "the cluster's key never left the cluster"
    );

    let bundle = h.path("bundle.pem");
    let before = h.events().len();
    h.export("prod-eu", "pem-bundle", &bundle, &[]).expect(0);
    exported_event(h, before, "prod-eu", "pem-bundle", &sha256sum(&bundle), &[]);
    assert_eq!(std::fs::read_to_string(&bundle).unwrap(), chain);
    h.ledger_ok();
}

/// An age identity and an SSH identity, and their public keys as recipients.
struct Identities {
    age: PathBuf,
    age_pub: String,
    ssh: PathBuf,
    ssh_pub: String,
}

fn identities(dir: &Path) -> Identities {
    let age = dir.join("team.age-key");
    run(Command::new("age-keygen").arg("-o").arg(&age)).expect(0);
    let age_pub = run(Command::new("age-keygen").arg("-y").arg(&age))
        .expect(0)
        .stdout
        .trim()
        .to_owned();
    let ssh = dir.join("team_ed25519");
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "team@prod-eu", "-f"])
        .arg(&ssh))
    .expect(0);
    let ssh_pub = std::fs::read_to_string(dir.join("team_ed25519.pub"))
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

/// `age -d -i IDENTITY -o OUT FILE`, returning the plaintext.
fn age_decrypt(identity: &Path, file: &Path, out: &Path) -> Vec<u8> {
    let _ = std::fs::remove_file(out);
    let r = run(Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(identity)
        .arg("-o")
        .arg(out)
        .arg(file));
    assert_eq!(
        r.code,
        0,
        "age could not decrypt {} with {}: {}",
        file.display(),
        identity.display(),
        r.stderr
    );
    std::fs::read(out).unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// An encrypted export shows no PEM in the clear; the only exception is the public audit key
/// inside the ledger receipt.
#[track_caller]
fn assert_no_pem_but_the_audit_key(name: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let begins = text.matches("-----BEGIN").count();
    if name.ends_with("receipt.json") {
        assert_eq!(
            begins,
            text.matches("-----BEGIN PUBLIC KEY-----").count(),
            "{name}: PEM other than the audit public key in the clear:\n{text}"
        );
    } else {
        assert_eq!(begins, 0, "{name}: PEM in the clear");
    }
}

/// A ledger receipt in an export: `ledger verify --receipt` accepts it, and OpenSSL verifies
/// its signature with the audit public key it carries.
#[track_caller]
fn check_receipt(h: &Hsm, receipt: &Path) {
    run(h.rv().args(["ledger", "verify", "--receipt"]).arg(receipt)).expect(0);
    let dir = h.path("receipt-check");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    run(Command::new("python3")
        .arg("-c")
        .arg(
            r#"
import base64, json, sys
r = json.load(open(sys.argv[1]))
d = sys.argv[2]
open(d + "/message.txt", "w").write(r["message"])
open(d + "/sig.der", "wb").write(base64.b64decode(r["signature"]))
open(d + "/audit.pem", "w").write(r["audit_public_key_pem"])
"#,
        )
        .arg(receipt)
        .arg(&dir))
    .expect(0);
    let v = openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        s(&dir.join("audit.pem")),
        "-signature",
        s(&dir.join("sig.der")),
        s(&dir.join("message.txt")),
    ])
    .expect(0);
    assert!(v.stdout.contains("Verified OK"), "{}", v.stdout);
}

#[test]
fn age_encrypted_exports_decrypt_with_either_identity_to_the_bytes_of_the_plain_export() {
    let x = exporting("export-age");
    let h = &x.h;
    let ids = identities(h.dir.path());
    let recipients = [ids.age_pub.as_str(), ids.ssh_pub.as_str()];
    let dec = h.path("decrypted");

    for format in ["istio-secret", "tls-secret", "pem-bundle"] {
        let plain = h.path(&format!("plain-{format}"));
        h.export("prod-eu", format, &plain, &[]).expect(0);
        let enc = h.path(&format!("enc-{format}.age"));
        let before = h.events().len();
        h.export("prod-eu", format, &enc, &recipients).expect(0);
        exported_event(h, before, "prod-eu", format, &sha256sum(&enc), &recipients);
        let bytes = std::fs::read(&enc).unwrap();
        assert!(bytes.starts_with(b"age-encryption.org/v1\n"), "{format}");
        assert!(
            !contains(&bytes, b"-----BEGIN"),
            "{format}: PEM in the clear"
        );
        for id in [&ids.age, &ids.ssh] {
            assert_eq!(
                age_decrypt(id, &enc, &dec),
                std::fs::read(&plain).unwrap(),
                "{format}: decrypted with {}",
                id.display()
            );
        }
    }

    // istio: each file encrypted on its own; the README stays readable and lists recipients.
    let plain = h.path("plain-istio");
    h.export("prod-eu", "istio", &plain, &[]).expect(0);
    let enc = h.path("enc-istio");
    let before = h.events().len();
    h.export("prod-eu", "istio", &enc, &recipients).expect(0);
    exported_event(
        h,
        before,
        "prod-eu",
        "istio",
        &dir_digest(&enc),
        &recipients,
    );
    assert_eq!(
        names(&enc),
        [
            "README.txt",
            "ca-cert.pem.age",
            "cert-chain.pem.age",
            "ledger-receipt.json",
            "root-cert.pem.age"
        ]
    );
    check_receipt(h, &enc.join("ledger-receipt.json"));
    for name in names(&enc) {
        let bytes = std::fs::read(enc.join(&name)).unwrap();
        assert_no_pem_but_the_audit_key(&name, &bytes);
    }
    for name in ["ca-cert.pem", "cert-chain.pem", "root-cert.pem"] {
        for id in [&ids.age, &ids.ssh] {
            assert_eq!(
                age_decrypt(id, &enc.join(format!("{name}.age")), &dec),
                std::fs::read(plain.join(name)).unwrap(),
                "{name} decrypted with {}",
                id.display()
            );
        }
    }
    let readme = std::fs::read_to_string(enc.join("README.txt")).unwrap();
    for r in recipients {
        assert!(readme.contains(r), "the README should name {r}:\n{readme}");
    }
    // The README's own decryption loop works with the SSH identity in place of KEY.
    let lp = readme
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("for f in *.age"))
        .unwrap_or_else(|| panic!("no decryption command in the README:\n{readme}"));
    let work = h.path("readme-run");
    std::fs::create_dir(&work).unwrap();
    for name in names(&enc) {
        std::fs::copy(enc.join(&name), work.join(&name)).unwrap();
    }
    let lp = lp.replace(" KEY ", &format!(" '{}' ", s(&ids.ssh)));
    sh(&format!("cd \"$1\" && {lp}"), &[s(&work)]).expect(0);
    for name in ["ca-cert.pem", "cert-chain.pem", "root-cert.pem"] {
        assert_eq!(
            std::fs::read(work.join(name)).unwrap(),
            std::fs::read(plain.join(name)).unwrap(),
            "{name}"
        );
    }
    h.ledger_ok();
}

/// (what, cluster, format, output, recipients, expected exit code)
type ExportCase<'a> = (&'a str, &'a str, &'a str, PathBuf, Vec<&'a str>, i32);

#[test]
fn refused_exports_exit_with_their_documented_codes_write_nothing_and_add_no_event() {
    let x = exporting("export-refusals");
    let h = &x.h;
    let gone = h.sign(&make_csr(h.dir.path(), "gone"), "gone", &h.path("gone.pem"));
    h.revoke(&[
        "--serial",
        &gone,
        "--reason",
        "cessationOfOperation",
        "--confirm",
        &gone[..16],
    ])
    .expect(0);
    let ids = identities(h.dir.path());
    let secret_key = std::fs::read_to_string(&ids.age)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .to_owned();

    let taken_file = h.path("taken.yaml");
    std::fs::write(&taken_file, "keep me").unwrap();
    let taken_dir = h.path("taken-dir");
    std::fs::create_dir(&taken_dir).unwrap();
    std::fs::write(taken_dir.join("old.txt"), "keep me too").unwrap();

    let cases: Vec<ExportCase> = vec![
        (
            "unknown cluster",
            "nowhere",
            "istio",
            h.path("o1"),
            vec![],
            3,
        ),
        (
            "a cluster whose only certificate is revoked",
            "gone",
            "istio-secret",
            h.path("o2.yaml"),
            vec![],
            3,
        ),
        (
            "a revoked cluster, encrypted",
            "gone",
            "istio",
            h.path("o3"),
            vec![&ids.age_pub],
            3,
        ),
        (
            "a recipient that is not a key",
            "prod-eu",
            "pem-bundle",
            h.path("o4.pem"),
            vec![&ids.age_pub, "age1notakey"],
            3,
        ),
        (
            "a truncated recipient",
            "prod-eu",
            "istio",
            h.path("o5"),
            vec![&ids.age_pub[..ids.age_pub.len() - 4]],
            3,
        ),
        (
            "a secret key as recipient",
            "prod-eu",
            "tls-secret",
            h.path("o6.yaml"),
            vec![&secret_key],
            3,
        ),
        (
            "an existing file",
            "prod-eu",
            "istio-secret",
            taken_file.clone(),
            vec![],
            1,
        ),
        (
            "an existing file, encrypted",
            "prod-eu",
            "pem-bundle",
            taken_file.clone(),
            vec![&ids.age_pub],
            1,
        ),
        (
            "an existing directory",
            "prod-eu",
            "istio",
            taken_dir.clone(),
            vec![],
            1,
        ),
    ];
    for (what, cluster, format, out, recipients, code) in cases {
        let before = h.state();
        let around = names(h.dir.path());
        let r = h.export(cluster, format, &out, &recipients);
        assert_eq!(r.code, code, "{what}: {}", r.stderr);
        assert!(
            !r.stderr.contains(&secret_key[16..]),
            "{what}: the secret key was echoed"
        );
        assert_eq!(
            names(h.dir.path()),
            around,
            "{what}: something was written next to the output"
        );
        if code != 1 {
            assert!(!out.exists(), "{what}: an output was written");
        }
        h.assert_unchanged(&before, what);
    }
    assert_eq!(std::fs::read_to_string(&taken_file).unwrap(), "keep me");
    assert_eq!(names(&taken_dir), ["old.txt"]);
    assert_eq!(
        std::fs::read_to_string(taken_dir.join("old.txt")).unwrap(),
        "keep me too"
    );

    // An unknown format is a usage error.
    let before = h.state();
    h.export("prod-eu", "helm-chart", &h.path("o7"), &[])
        .expect(2);
    h.assert_unchanged(&before, "an unknown format");
}

/// Everything under `dirs` that mentions a private key, per `grep -r`.
#[track_caller]
fn assert_no_private_key_text(dirs: &[&Path]) {
    let r = run(Command::new("grep")
        .args(["-r", "-a", "-l", "PRIVATE KEY"])
        .args(dirs));
    assert_eq!(
        r.code, 1,
        "a private key in the clear (grep exit {}):\n{}{}",
        r.code, r.stdout, r.stderr
    );
}

/// Checks that neither the DER of `key_pem` nor any line of its base64 is in any file under
/// `dir`.
#[track_caller]
fn assert_key_absent(dir: &Path, key_pem: &Path) {
    let der = run(Command::new("sh").arg("-c").arg(format!(
        "openssl pkey -in '{}' -outform DER | base64 -w0",
        s(key_pem)
    )))
    .expect(0)
    .stdout;
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(der.trim())
        .unwrap();
    let text = std::fs::read_to_string(key_pem).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("-----")).collect();
    for (path, bytes) in snapshot(dir) {
        assert!(
            !contains(&bytes, &der),
            "{} holds the generated key's DER",
            path.display()
        );
        for l in &lines {
            assert!(
                !contains(&bytes, l.as_bytes()),
                "{} holds the generated key's base64",
                path.display()
            );
        }
    }
}

/// The checks on the two events `sign --generate-key` adds.
#[track_caller]
fn generated_events(
    h: &Hsm,
    before: usize,
    cluster: &str,
    format: &str,
    sha256: &str,
    recipients: &[&str],
) {
    let events = h.events();
    assert_eq!(events.len(), before + 2, "an issue and an export");
    let issued = &events[before];
    assert_eq!(issued["kind"], "certificate_issued", "{issued}");
    assert_eq!(issued["payload"]["cluster"], cluster);
    assert_eq!(issued["payload"]["key_source"], "generated", "{issued}");
    assert!(issued["payload"]["csr_sha256"].is_null(), "{issued}");
    let serial = issued["payload"]["certificate"]["serial"].clone();
    let h_before = before + 1;
    // exported_event checks the last event only.
    let p = exported_event(h, h_before, cluster, format, sha256, recipients);
    assert_eq!(p["contains_generated_key"], true, "{p}");
    assert_eq!(p["serial"], serial, "{p}");
}

#[test]
fn a_vault_generated_p256_key_exists_only_age_encrypted_in_an_istio_directory_and_matches_its_certificate(
) {
    let h = Hsm::new("generate-p256");
    h.vault_with_root("ecdsa-p384").expect(0);
    let ids = identities(h.dir.path());
    let recipients = [ids.age_pub.as_str(), ids.ssh_pub.as_str()];
    let confirm = sorted_lines_sha256(&recipients);
    let out = h.path("gen-east");
    let before = h.events().len();
    let mut c = h.rv_pin();
    c.args([
        "sign",
        "--generate-key",
        "--key-type",
        "ecdsa-p256",
        "--cluster",
        "gen-east",
        "--format",
        "istio",
        "--confirm",
        &confirm[..16],
        "--out",
    ])
    .arg(&out);
    for r in recipients {
        c.args(["--age-recipient", r]);
    }
    let r = run(&mut c).expect(0);
    assert!(!format!("{}{}", r.stdout, r.stderr).contains("PRIVATE KEY"));
    assert!(
        r.stderr.contains(&confirm),
        "the prompt should show the recipients' digest"
    );
    assert_eq!(
        names(&out),
        [
            "README.txt",
            "ca-cert.pem.age",
            "ca-key.pem.age",
            "cert-chain.pem.age",
            "ledger-receipt.json",
            "root-cert.pem.age"
        ]
    );
    check_receipt(&h, &out.join("ledger-receipt.json"));
    for name in names(&out) {
        let bytes = std::fs::read(out.join(&name)).unwrap();
        assert_no_pem_but_the_audit_key(&name, &bytes);
    }
    generated_events(
        &h,
        before,
        "gen-east",
        "istio",
        &dir_digest(&out),
        &recipients,
    );
    assert_no_private_key_text(&[&h.vault(), &out]);

    let dec = h.path("decrypted");
    std::fs::create_dir(&dec).unwrap();
    for name in [
        "ca-cert.pem",
        "ca-key.pem",
        "cert-chain.pem",
        "root-cert.pem",
    ] {
        let by_age = age_decrypt(&ids.age, &out.join(format!("{name}.age")), &dec.join(name));
        let by_ssh = age_decrypt(
            &ids.ssh,
            &out.join(format!("{name}.age")),
            &h.path("by-ssh"),
        );
        assert_eq!(by_age, by_ssh, "{name}");
    }
    let file = |n: &str| dec.join(n);
    let key_pub = openssl(&["pkey", "-in", s(&file("ca-key.pem")), "-pubout"])
        .expect(0)
        .stdout;
    let cert_pub = openssl(&["x509", "-in", s(&file("ca-cert.pem")), "-pubkey", "-noout"])
        .expect(0)
        .stdout;
    assert_eq!(key_pub, cert_pub, "the key does not match ca-cert.pem");
    let t = x509_text(&file("ca-cert.pem"));
    assert!(t.contains("Public-Key: (256 bit)"), "{t}");
    assert!(t.contains("NIST CURVE: P-256"), "{t}");
    assert!(t.contains("CA:TRUE, pathlen:0"), "{t}");
    openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        s(&file("root-cert.pem")),
        "-untrusted",
        s(&file("cert-chain.pem")),
        s(&file("ca-cert.pem")),
    ])
    .expect(0);
    assert_eq!(
        std::fs::read_to_string(file("root-cert.pem")).unwrap(),
        canonical_pem(&h.root_pem())
    );
    // The certificate is the one the vault lists, and a leaf issued with the key verifies.
    let der_sha = sh(
        "openssl x509 -in \"$1\" -outform DER | sha256sum | cut -d' ' -f1",
        &[s(&file("ca-cert.pem"))],
    )
    .expect(0)
    .stdout;
    let listed = h.listed(&serial_of(&file("ca-cert.pem")));
    assert_eq!(listed["sha256"], der_sha.trim());
    assert_eq!(listed["cluster"], "gen-east");
    let (leaf_crt, _) = leaf(
        h.dir.path(),
        "workload",
        &file("ca-cert.pem"),
        &file("ca-key.pem"),
        "URI:spiffe://cluster.local/ns/a/sa/w",
    );
    openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        s(&file("root-cert.pem")),
        "-untrusted",
        s(&file("cert-chain.pem")),
        s(&leaf_crt),
    ])
    .expect(0);
    // The vault kept no copy of the key, in any form.
    assert_key_absent(&h.vault(), &file("ca-key.pem"));
    h.ledger_ok();
}

#[test]
fn a_vault_generated_rsa_2048_key_exists_only_inside_an_age_encrypted_istio_secret() {
    let h = Hsm::new("generate-rsa");
    h.vault_with_root("ecdsa-p256").expect(0);
    let ids = identities(h.dir.path());
    let recipients = [ids.age_pub.as_str()];
    let confirm = sorted_lines_sha256(&recipients);
    let out = h.path("gen-west.yaml.age");
    let before = h.events().len();
    let r = run(h
        .rv_pin()
        .args([
            "sign",
            "--generate-key",
            "--key-type",
            "rsa-2048",
            "--cluster",
            "gen-west",
            "--format",
            "istio-secret",
            "--age-recipient",
            &ids.age_pub,
            "--confirm",
            &confirm[..16],
            "--out",
        ])
        .arg(&out))
    .expect(0);
    assert!(!format!("{}{}", r.stdout, r.stderr).contains("PRIVATE KEY"));
    generated_events(
        &h,
        before,
        "gen-west",
        "istio-secret",
        &sha256sum(&out),
        &recipients,
    );
    let bytes = std::fs::read(&out).unwrap();
    assert!(!contains(&bytes, b"-----BEGIN"));
    assert_no_private_key_text(&[&h.vault(), &out]);

    let yaml = h.path("gen-west.yaml");
    age_decrypt(&ids.age, &out, &yaml);
    let data = secret(&yaml, "Opaque");
    assert_eq!(
        keys(&data),
        [
            "ca-cert.pem",
            "ca-key.pem",
            "cert-chain.pem",
            "root-cert.pem"
        ]
    );
    let dec = h.path("decoded");
    std::fs::create_dir(&dec).unwrap();
    for (name, value) in &data {
        std::fs::write(dec.join(name), value.as_str().unwrap()).unwrap();
    }
    let file = |n: &str| dec.join(n);
    assert_eq!(
        data["cert-chain.pem"].as_str().unwrap(),
        format!(
            "{}{}",
            canonical_pem(&file("ca-cert.pem")),
            canonical_pem(&h.root_pem())
        )
    );
    let key_pub = openssl(&["pkey", "-in", s(&file("ca-key.pem")), "-pubout"])
        .expect(0)
        .stdout;
    let cert_pub = openssl(&["x509", "-in", s(&file("ca-cert.pem")), "-pubkey", "-noout"])
        .expect(0)
        .stdout;
    assert_eq!(key_pub, cert_pub, "the key does not match ca-cert.pem");
    assert!(x509_text(&file("ca-cert.pem")).contains("Public-Key: (2048 bit)"));
    openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        s(&file("root-cert.pem")),
        "-untrusted",
        s(&file("cert-chain.pem")),
        s(&file("ca-cert.pem")),
    ])
    .expect(0);
    assert_key_absent(&h.vault(), &file("ca-key.pem"));
    h.ledger_ok();
}

/// (what, output, recipients, --confirm, expected exit code)
type GenerateCase<'a> = (&'a str, PathBuf, Vec<&'a str>, Option<&'a str>, i32);

#[test]
fn generating_a_key_without_a_good_recipient_or_confirmation_writes_and_records_nothing() {
    let h = Hsm::new("generate-refusals");
    h.vault_with_root("ecdsa-p256").expect(0);
    let ids = identities(h.dir.path());
    let confirm = sorted_lines_sha256(&[&ids.age_pub]);
    let taken = h.path("taken");
    std::fs::write(&taken, "keep me").unwrap();
    let base = |out: &Path, recipients: &[&str], confirm: Option<&str>| -> Run {
        let mut c = h.rv_pin();
        c.args([
            "sign",
            "--generate-key",
            "--key-type",
            "ecdsa-p256",
            "--cluster",
            "gen-east",
            "--format",
            "istio",
            "--out",
        ])
        .arg(out);
        for r in recipients {
            c.args(["--age-recipient", r]);
        }
        if let Some(hex) = confirm {
            c.args(["--confirm", hex]);
        }
        run(&mut c)
    };
    let cases: Vec<GenerateCase> = vec![
        (
            "no recipient",
            h.path("g1"),
            vec![],
            Some(&confirm[..16]),
            2,
        ),
        (
            "a bad recipient",
            h.path("g2"),
            vec!["age1notakey"],
            Some(&confirm[..16]),
            3,
        ),
        (
            "a good and a bad recipient",
            h.path("g3"),
            vec![&ids.age_pub, "ssh-ed25519 AAAAnotbase64"],
            Some(&confirm[..16]),
            3,
        ),
        (
            "a wrong confirmation",
            h.path("g4"),
            vec![&ids.age_pub],
            Some("0000000000000000"),
            6,
        ),
        (
            "no terminal and no confirmation",
            h.path("g5"),
            vec![&ids.age_pub],
            None,
            6,
        ),
        (
            "an existing output",
            taken.clone(),
            vec![&ids.age_pub],
            Some(&confirm[..16]),
            1,
        ),
    ];
    for (what, out, recipients, confirm, code) in cases {
        let before = h.state();
        let around = names(h.dir.path());
        let r = base(&out, &recipients, confirm);
        assert_eq!(r.code, code, "{what}: {}", r.stderr);
        assert!(!format!("{}{}", r.stdout, r.stderr).contains("PRIVATE KEY"));
        assert_eq!(names(h.dir.path()), around, "{what}: something was written");
        h.assert_unchanged(&before, what);
    }
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "keep me");
    assert!(h.list().is_empty());
}
