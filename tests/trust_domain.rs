//! Issue 12, attack 8: constrained by default. A vault records the mesh's SPIFFE trust domain
//! at `init`, and every intermediate is name-constrained to it (URIs in it only, no IP or
//! email address) unless its cluster's policy lifts a constraint by name. Judged by
//! `openssl verify -x509_strict` on leaves issued under the intermediate, and by pkilint.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A leaf issued by OpenSSL under `ca` (key `ca_key`), as istiod issues workload certificates.
fn leaf(dir: &Path, name: &str, ca: &Path, ca_key: &Path, san: &str) -> PathBuf {
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let crt = dir.join(format!("{name}.pem"));
    run(Command::new("openssl")
        .args(["req", "-new", "-nodes"])
        .args(P256)
        .args(["-subj", &format!("/O=workload/CN={name}"), "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&csr))
    .expect(0);
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(
        &ext,
        format!("subjectAltName=critical,{san}\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\nauthorityKeyIdentifier=keyid\n"),
    )
    .unwrap();
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
    crt
}

/// `openssl verify -x509_strict` of `cert` under `ca` and `root`: Ok, or OpenSSL's complaint.
fn verify(root: &Path, ca: &Path, cert: &Path) -> Result<(), String> {
    let v = openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        s(root),
        "-untrusted",
        s(ca),
        s(cert),
    ]);
    match v.code {
        0 => Ok(()),
        _ => Err(format!("{}{}", v.stdout, v.stderr)),
    }
}

/// A vault with a P-384 root on a fresh token, made with `init` and `extra` init arguments.
fn vault(label: &str, extra: &[&str]) -> Hsm {
    let h = Hsm::new(label);
    run(h
        .rv_pin()
        .args(["init", "--module"])
        .arg(module())
        .args(["--token", label])
        .args(extra))
    .expect(0);
    run(h.rv_pin().args([
        "root",
        "create",
        "--subject",
        "CN=Mesh Root CA,O=Example Org,C=GB",
    ]))
    .expect(0);
    h
}

/// Signs `csr` for `cluster` into `DIR/CLUSTER-ca.pem`.
fn sign(h: &Hsm, csr: &ClusterCsr, cluster: &str) -> PathBuf {
    let out = h.path(&format!("{cluster}-ca.pem"));
    run(h.rv_pin().arg("sign").arg(&csr.csr).args([
        "--cluster",
        cluster,
        "--confirm",
        &csr.spki_sha256[..16],
        "--out",
        s(&out),
    ]))
    .expect(0);
    out
}

fn appends_to(h: &Hsm, table: &str) {
    let cfg = h.vault().join("vault.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text += table;
    std::fs::write(&cfg, text).unwrap();
}

#[test]
fn init_records_the_default_trust_domain_and_token_and_root_show_report_it() {
    let h = vault("td-default", &[]);
    let config = std::fs::read_to_string(h.vault().join("vault.toml")).unwrap();
    assert!(
        config.contains("[policy]\ntrust_domain = \"cluster.local\"\n"),
        "{config}"
    );
    let events = run(h.rv().args(["ledger", "show", "--json"]))
        .expect(0)
        .json();
    let init = &events[0];
    assert_eq!(init["kind"], "vault_initialised");
    assert_eq!(init["payload"]["trust_domain"], "cluster.local");

    let token = run(h.rv().args(["token", "--json"])).expect(0).json();
    assert_eq!(token["trust_domain"], "cluster.local");
    let root = run(h.rv().args(["root", "show", "--json"]))
        .expect(0)
        .json();
    assert_eq!(root["trust_domain"], "cluster.local");
    let line = "trust domain: cluster.local (intermediates: URIs in it only, no IP or email addresses, unless a cluster's policy allows them)\n";
    for args in [&["token"][..], &["root", "show"]] {
        let out = run(h.rv().args(args)).expect(0).stdout;
        assert!(out.contains(line), "{args:?}:\n{out}");
    }
}

#[test]
fn a_trust_domain_that_is_not_a_spiffe_name_is_refused_before_anything_is_made() {
    let h = Hsm::new("td-bad");
    for (bad, why) in [
        (
            "Cluster.Local",
            "has upper-case letters (try \"cluster.local\")",
        ),
        (
            "spiffe://cluster.local",
            "is a URI, not the trust domain's name (write \"cluster.local\")",
        ),
        ("10.0.0.1", "is an IP address"),
        ("mesh:8443", "contains ':'"),
    ] {
        let r = run(h.rv_pin().args(["init", "--module"]).arg(module()).args([
            "--token",
            "td-bad",
            "--trust-domain",
            bad,
        ]))
        .expect(2);
        assert!(r.stderr.contains(why), "{bad}: {}", r.stderr);
        assert!(!h.vault().exists());
    }
    let objects = h
        .pkcs11_tool(&["--login", "--pin", PIN, "--list-objects"])
        .expect(0)
        .stdout;
    assert!(!objects.contains("rootvault"), "{objects}");
}

#[test]
fn an_intermediate_admits_only_its_trust_domain_and_no_ip_or_email_under_openssl_and_pkilint() {
    let h = vault("td-openssl", &[]);
    let root = h.root_pem();
    let csr = make_cluster_csr(h.dir.path(), "east", P256);

    // What would be signed is shown before signing.
    let inspect = run(h
        .rv()
        .args(["csr", "inspect", "--json", "--cluster", "east"])
        .arg(&csr.csr))
    .expect(0)
    .json();
    let p = &inspect["profile"];
    assert_eq!(p["permitted_uri"], serde_json::json!(["cluster.local"]));
    assert_eq!(p["excluded_ip"], serde_json::json!(["0.0.0.0/0", "::/0"]));
    assert_eq!(
        p["permitted_email"],
        serde_json::json!(["no-email.invalid"])
    );
    assert_eq!(p["excluded_email"], serde_json::json!(["."]));
    let summary = "URI permitted cluster.local, excluded none; DNS permitted none, excluded none; IP excluded 0.0.0.0/0, ::/0; email none (critical)";
    let text = run(h
        .rv()
        .args(["csr", "inspect", "--cluster", "east"])
        .arg(&csr.csr))
    .expect(0)
    .stdout;
    assert!(
        text.contains(&format!("  name constraints     {summary}\n")),
        "{text}"
    );

    let ca = sign(&h, &csr, "east");
    pkilint_clean("lint_pkix_cert", &[], &ca);
    // The operator saw the same constraints, and the ledger records them as approved.
    let events = run(h.rv().args(["ledger", "show", "--json"]))
        .expect(0)
        .json();
    let approved = &events.as_array().unwrap().last().unwrap()["payload"]["profile"];
    assert_eq!(
        approved["permitted_uri"],
        serde_json::json!(["cluster.local"])
    );
    assert_eq!(
        approved["excluded_ip"],
        serde_json::json!(["0.0.0.0/0", "::/0"])
    );
    assert_eq!(
        approved["permitted_email"],
        serde_json::json!(["no-email.invalid"])
    );
    assert_eq!(approved["excluded_email"], serde_json::json!(["."]));

    let dir = h.dir.path();
    // Inside: a workload of the trust domain, and istiod's own serving certificate.
    for (name, san) in [
        ("workload", "URI:spiffe://cluster.local/ns/default/sa/app"),
        (
            "istiod",
            "DNS:istiod.istio-system.svc,DNS:istiod.istio-system.svc.cluster.local",
        ),
    ] {
        let cert = leaf(dir, name, &ca, &csr.key, san);
        verify(&root, &ca, &cert).unwrap_or_else(|e| panic!("{name} ({san}) refused: {e}"));
    }
    // Outside: another trust domain, a host below this one, an IP address, an email address.
    for (name, san, violation) in [
        (
            "other-td",
            "URI:spiffe://evil.example/ns/default/sa/app",
            "permitted subtree violation",
        ),
        (
            "sub-td",
            "URI:spiffe://x.cluster.local/ns/default/sa/app",
            "permitted subtree violation",
        ),
        (
            "ipv4",
            "URI:spiffe://cluster.local/ns/a/sa/b,IP:10.1.2.3",
            "excluded subtree violation",
        ),
        (
            "ipv6",
            "URI:spiffe://cluster.local/ns/a/sa/b,IP:fd00::1",
            "excluded subtree violation",
        ),
        (
            "email",
            "URI:spiffe://cluster.local/ns/a/sa/b,email:ops@example.com",
            "permitted subtree violation",
        ),
    ] {
        let cert = leaf(dir, name, &ca, &csr.key, san);
        match verify(&root, &ca, &cert) {
            Ok(()) => panic!("{name} ({san}) verified under the constrained intermediate"),
            Err(e) => assert!(e.contains(violation), "{name}: {e}"),
        }
    }
}

#[test]
fn a_cluster_table_keeps_the_defaults_unless_it_lifts_them_by_name() {
    let h = vault("td-lift", &["--trust-domain", "mesh.example.com"]);
    appends_to(
        &h,
        "\n[policy.clusters.short]\nmax_days = 30\n\n[policy.clusters.edge]\nallow_names = [\"ip\"]\n\n[policy.clusters.legacy]\nallow_names = [\"any-uri\", \"ip\", \"email\"]\n",
    );
    let root = h.root_pem();
    let dir = h.dir.path();

    // Only max_days: every default stays, with the vault's own trust domain.
    let short = make_cluster_csr(dir, "short", P256);
    let short_ca = sign(&h, &short, "short");
    pkilint_clean("lint_pkix_cert", &[], &short_ca);
    let ok = leaf(
        dir,
        "short-ok",
        &short_ca,
        &short.key,
        "URI:spiffe://mesh.example.com/ns/a/sa/b",
    );
    verify(&root, &short_ca, &ok).unwrap();
    for (name, san) in [
        ("short-cl", "URI:spiffe://cluster.local/ns/a/sa/b"),
        (
            "short-ip",
            "URI:spiffe://mesh.example.com/ns/a/sa/b,IP:10.0.0.1",
        ),
    ] {
        let cert = leaf(dir, name, &short_ca, &short.key, san);
        assert!(verify(&root, &short_ca, &cert).is_err(), "{name}");
    }

    // "ip" lifts the IP exclusion only.
    let edge = make_cluster_csr(dir, "edge", P256);
    let edge_ca = sign(&h, &edge, "edge");
    pkilint_clean("lint_pkix_cert", &[], &edge_ca);
    let ip = leaf(
        dir,
        "edge-ip",
        &edge_ca,
        &edge.key,
        "URI:spiffe://mesh.example.com/ns/a/sa/b,IP:10.0.0.1",
    );
    verify(&root, &edge_ca, &ip).unwrap();
    let email = leaf(
        dir,
        "edge-email",
        &edge_ca,
        &edge.key,
        "URI:spiffe://mesh.example.com/ns/a/sa/b,email:a@example.com",
    );
    assert!(verify(&root, &edge_ca, &email).is_err());

    // All three lifted: no name constraints at all, as before trust domains.
    let legacy = make_cluster_csr(dir, "legacy", P256);
    let legacy_ca = sign(&h, &legacy, "legacy");
    let text = openssl(&["x509", "-in", s(&legacy_ca), "-noout", "-text"])
        .expect(0)
        .stdout;
    assert!(!text.contains("Name Constraints"), "{text}");
    let any = leaf(
        dir,
        "legacy-any",
        &legacy_ca,
        &legacy.key,
        "URI:spiffe://elsewhere/ns/a/sa/b,IP:10.0.0.1,email:a@example.com",
    );
    verify(&root, &legacy_ca, &any).unwrap();
}

#[test]
fn a_vault_made_before_trust_domains_keeps_signing_unconstrained_until_one_is_set() {
    let h = vault("td-legacy", &[]);
    // What an older vault.toml looks like: no trust_domain.
    let cfg = h.vault().join("vault.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, text.replace("trust_domain = \"cluster.local\"\n", "")).unwrap();
    let token = run(h.rv().args(["token", "--json"])).expect(0).json();
    assert_eq!(token["trust_domain"], serde_json::Value::Null);
    let out = run(h.rv().args(["root", "show"])).expect(0).stdout;
    assert!(
        out.contains("trust domain: none: this vault predates trust domains, so intermediates are not name-constrained by default; set policy.trust_domain in vault.toml (docs/policy.md)\n"),
        "{out}"
    );
    let csr = make_cluster_csr(h.dir.path(), "old", P256);
    let ca = sign(&h, &csr, "old");
    let text = openssl(&["x509", "-in", s(&ca), "-noout", "-text"])
        .expect(0)
        .stdout;
    assert!(!text.contains("Name Constraints"), "{text}");

    // The operator sets one: the next intermediate is constrained.
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace("[policy]\n", "[policy]\ntrust_domain = \"cluster.local\"\n"),
    )
    .unwrap();
    let csr = make_cluster_csr(h.dir.path(), "new", P256);
    let ca = sign(&h, &csr, "new");
    let text = openssl(&["x509", "-in", s(&ca), "-noout", "-text"])
        .expect(0)
        .stdout;
    assert!(text.contains("URI:cluster.local"), "{text}");
    run(h.rv().args(["ledger", "verify"])).expect(0);
}
