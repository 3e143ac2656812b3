use chrono::TimeZone;

use super::names::CLUSTER_NAME_RULE;
use super::*;

fn cluster(s: &str) -> ClusterName {
    s.parse().unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

/// A root that outlives anything the default policy signs.
fn far_root() -> DateTime<Utc> {
    now() + TimeDelta::days(3650)
}

fn eval(p: &Policy, key: KeyAlg, days: Option<u32>) -> Evaluation {
    p.evaluate(&cluster("prod-eu"), key, days, now(), far_root())
}

/// A policy with `prod-eu` constrained to the SPIFFE trust domain `prod.example`.
fn constrained() -> Policy {
    let mut p = Policy::default();
    p.clusters.insert(
        "prod-eu".into(),
        ClusterPolicy {
            permitted_dns: vec!["istio-system.svc".into(), "prod.example".into()],
            excluded_dns: vec!["admin.prod.example".into()],
            permitted_uri: vec!["prod.example".into()],
            excluded_uri: vec![".evil.prod.example".into()],
            max_days: Some(90),
            ..ClusterPolicy::default()
        },
    );
    p
}

#[derive(Debug, Deserialize, Serialize, PartialEq)]
struct VaultToml {
    #[serde(default)]
    policy: Policy,
}

#[test]
fn an_empty_organization_takes_the_roots_and_falls_back_without_one() {
    let root = Dn::parse("CN=Root,O=Example Ltd,C=GB").unwrap();
    assert_eq!(
        Policy::default().for_root(&root).organization,
        "Example Ltd"
    );
    let bare = Dn::parse("CN=Root").unwrap();
    assert_eq!(
        Policy::default().for_root(&bare).organization,
        FALLBACK_ORGANIZATION
    );
    let set = Policy {
        organization: "Mesh Ops".into(),
        ..Policy::default()
    };
    assert_eq!(set.for_root(&root).organization, "Mesh Ops");
}

#[test]
fn the_defaults_are_the_documented_values() {
    let p = Policy::default();
    assert_eq!(p.organization, "", "empty: the root's O= is used");
    assert_eq!(
        p.subject_template,
        ["O={org}", "CN=Intermediate CA", "L={cluster}"]
    );
    assert_eq!(p.san_dns, ["istiod.istio-system.svc"]);
    assert_eq!((p.rsa_min_bits, p.rsa_max_bits), (2048, 4096));
    assert!(p.allow_ecdsa_p256 && p.allow_ecdsa_p384 && p.digital_signature);
    assert_eq!((p.default_days, p.max_days), (365, 730));
    assert!(p.clusters.is_empty());
    assert_eq!(p.validate(), Ok(()));
}

#[test]
fn the_defaults_round_trip_through_toml() {
    for p in [Policy::default(), constrained()] {
        let text = toml::to_string(&p).unwrap();
        assert_eq!(toml::from_str::<Policy>(&text).unwrap(), p, "{text}");
        let wrapped = toml::to_string(&VaultToml { policy: p.clone() }).unwrap();
        assert_eq!(
            toml::from_str::<VaultToml>(&wrapped).unwrap().policy,
            p,
            "{wrapped}"
        );
    }
}

#[test]
fn a_missing_table_or_missing_keys_take_the_defaults() {
    assert_eq!(
        toml::from_str::<VaultToml>("").unwrap().policy,
        Policy::default()
    );
    let v: VaultToml = toml::from_str("[policy]\nmax_days = 400\n[policy.clusters.dev]\n").unwrap();
    assert_eq!(v.policy.max_days, 400);
    assert_eq!(v.policy.default_days, 365);
    assert_eq!(v.policy.clusters["dev"], ClusterPolicy::default());
}

#[test]
fn unknown_keys_are_refused() {
    let err = toml::from_str::<VaultToml>("[policy]\nrsa_min_bit = 2048\n").unwrap_err();
    assert!(err.to_string().contains("rsa_min_bit"), "{err}");
    let err =
        toml::from_str::<VaultToml>("[policy.clusters.prod]\npermitted_dns = []\nmax_day = 3\n")
            .unwrap_err();
    assert!(err.to_string().contains("max_day"), "{err}");
}

#[test]
fn the_example_in_the_policy_documentation_is_valid() {
    let doc = include_str!("../../docs/policy.md");
    let block = doc
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/policy.md has a toml block");
    let v: VaultToml = toml::from_str(block).unwrap();
    assert_eq!(v.policy.validate(), Ok(()));
    let prod = &v.policy.clusters["prod-eu"];
    assert_eq!(prod.permitted_uri, ["prod.example.com"]);
    let e = v
        .policy
        .evaluate(&cluster("prod-eu"), KeyAlg::EcP384, None, now(), far_root());
    assert!(e.acceptable, "{:?}", e.reasons);
}

#[test]
fn a_default_request_is_acceptable_with_istios_profile() {
    for key in [
        KeyAlg::EcP256,
        KeyAlg::EcP384,
        KeyAlg::Rsa { bits: 2048 },
        KeyAlg::Rsa { bits: 4096 },
    ] {
        let e = eval(&Policy::default(), key, None);
        assert!(
            e.acceptable && e.reasons.is_empty() && e.notes.is_empty(),
            "{key}: {e:?}"
        );
        let p = &e.profile;
        assert_eq!(
            p.subject.to_string(),
            "L=prod-eu, CN=Intermediate CA, O=rootvault"
        );
        assert_eq!(
            p.subject.attrs()[0],
            (Attr::Organization, "rootvault".into())
        );
        assert_eq!(p.days, 365);
        assert_eq!(p.not_before, now());
        assert_eq!(p.not_after, now() + TimeDelta::days(365));
        assert!(!p.not_after_capped_by_root);
        assert_eq!(p.path_len, 0);
        assert!(p.digital_signature);
        assert_eq!(p.san_dns, ["istiod.istio-system.svc"]);
        assert!(
            p.name_constraints.permitted_dns.is_empty()
                && p.name_constraints.permitted_uri.is_empty()
        );
    }
}

#[test]
fn rsa_1024_is_refused_below_the_minimum() {
    let e = eval(&Policy::default(), KeyAlg::Rsa { bits: 1024 }, None);
    assert!(!e.acceptable);
    assert_eq!(
        e.reasons,
        ["RSA-1024 is below the policy minimum of 2048 bits (policy.rsa_min_bits)"]
    );
}

#[test]
fn rsa_above_the_maximum_is_refused() {
    let e = eval(&Policy::default(), KeyAlg::Rsa { bits: 8192 }, None);
    assert_eq!(
        e.reasons,
        ["RSA-8192 is above the policy maximum of 4096 bits (policy.rsa_max_bits)"]
    );
    let p = Policy {
        rsa_min_bits: 3072,
        ..Policy::default()
    };
    assert!(!eval(&p, KeyAlg::Rsa { bits: 2048 }, None).acceptable);
    assert!(eval(&p, KeyAlg::Rsa { bits: 3072 }, None).acceptable);
}

#[test]
fn disallowed_curves_are_refused() {
    let p = Policy {
        allow_ecdsa_p256: false,
        ..Policy::default()
    };
    assert_eq!(
        eval(&p, KeyAlg::EcP256, None).reasons,
        ["ECDSA P-256 keys are not allowed by policy (policy.allow_ecdsa_p256 is false)"]
    );
    assert!(eval(&p, KeyAlg::EcP384, None).acceptable);
    let p = Policy {
        allow_ecdsa_p384: false,
        ..Policy::default()
    };
    assert_eq!(
        eval(&p, KeyAlg::EcP384, None).reasons,
        ["ECDSA P-384 keys are not allowed by policy (policy.allow_ecdsa_p384 is false)"]
    );
    assert!(eval(&p, KeyAlg::EcP256, None).acceptable);
}

#[test]
fn requested_days_within_the_maximum_are_used() {
    let e = eval(&Policy::default(), KeyAlg::EcP256, Some(730));
    assert!(e.acceptable);
    assert_eq!(e.profile.days, 730);
    assert_eq!(e.profile.not_after, now() + TimeDelta::days(730));
}

#[test]
fn requested_days_above_the_maximum_are_refused_not_clamped() {
    let e = eval(&Policy::default(), KeyAlg::EcP256, Some(731));
    assert!(!e.acceptable);
    assert_eq!(
        e.reasons,
        ["731 days were requested, more than the maximum of 730 days for cluster prod-eu (policy.max_days); ask for at most 730 days"]
    );
    assert_eq!(e.profile.days, 731);
}

#[test]
fn a_clusters_max_days_replaces_the_global_one_both_ways() {
    let p = constrained();
    let e = eval(&p, KeyAlg::EcP256, Some(91));
    assert_eq!(
        e.reasons,
        ["91 days were requested, more than the maximum of 90 days for cluster prod-eu (policy.clusters.prod-eu.max_days); ask for at most 90 days"]
    );
    // Another cluster still has the global limit.
    let other = p.evaluate(
        &cluster("dev"),
        KeyAlg::EcP256,
        Some(700),
        now(),
        far_root(),
    );
    assert!(other.acceptable);
    // A cluster may also be allowed more than the global limit.
    let mut p = Policy::default();
    p.clusters.insert(
        "prod-eu".into(),
        ClusterPolicy {
            max_days: Some(1000),
            ..Default::default()
        },
    );
    assert!(eval(&p, KeyAlg::EcP256, Some(900)).acceptable);
}

#[test]
fn the_default_validity_is_shortened_to_a_clusters_smaller_maximum_with_a_note() {
    let e = eval(&constrained(), KeyAlg::EcP256, None);
    assert!(e.acceptable, "{:?}", e.reasons);
    assert_eq!(e.profile.days, 90);
    assert_eq!(e.notes.len(), 1);
    assert!(
        e.notes[0].contains("shortened to 90 days"),
        "{}",
        e.notes[0]
    );
}

#[test]
fn zero_days_are_refused() {
    let e = eval(&Policy::default(), KeyAlg::EcP256, Some(0));
    assert_eq!(
        e.reasons,
        ["a validity of 0 days was requested; ask for at least 1 day"]
    );
}

#[test]
fn validity_is_capped_at_the_roots_not_after_and_says_so() {
    let root = now() + TimeDelta::days(100) + TimeDelta::hours(5);
    let e = Policy::default().evaluate(&cluster("prod-eu"), KeyAlg::EcP256, None, now(), root);
    assert!(e.acceptable, "{:?}", e.reasons);
    assert!(e.profile.not_after_capped_by_root);
    assert_eq!(e.profile.not_after, root);
    assert_eq!(e.profile.days, 100);
    assert_eq!(
        e.notes,
        ["the validity is shortened from 365 to 100 days so that it ends with the root certificate, at 2026-04-11T17:00:00Z"]
    );
    // A typed value is capped the same way: the root's end is not a policy limit.
    let e = Policy::default().evaluate(&cluster("prod-eu"), KeyAlg::EcP256, Some(500), now(), root);
    assert!(e.acceptable && e.profile.not_after_capped_by_root);
    // Exactly reaching the root's end is not capping.
    let root = now() + TimeDelta::days(365);
    let e = Policy::default().evaluate(&cluster("prod-eu"), KeyAlg::EcP256, None, now(), root);
    assert!(e.acceptable && !e.profile.not_after_capped_by_root && e.notes.is_empty());
}

#[test]
fn a_root_with_less_than_a_day_left_refuses_everything() {
    let root = now() + TimeDelta::hours(23);
    let e = Policy::default().evaluate(&cluster("prod-eu"), KeyAlg::EcP256, None, now(), root);
    assert!(!e.acceptable);
    assert_eq!(
        e.reasons,
        ["the root certificate expires at 2026-01-02T11:00:00Z, less than a day from now; create a new root before signing"]
    );
    assert_eq!(e.profile.not_after, root);
    assert_eq!(e.profile.days, 0);
    let expired = now() - TimeDelta::days(1);
    let e = Policy::default().evaluate(&cluster("prod-eu"), KeyAlg::EcP256, None, now(), expired);
    assert_eq!(
        e.reasons,
        ["the root certificate expired at 2025-12-31T12:00:00Z; create a new root before signing"]
    );
}

#[test]
fn every_reason_is_collected() {
    let e = eval(&Policy::default(), KeyAlg::Rsa { bits: 1024 }, Some(0));
    assert_eq!(e.reasons.len(), 2, "{:?}", e.reasons);
    assert!(!e.acceptable);
}

#[test]
fn sub_second_times_are_truncated_like_the_certificate() {
    let t = now() + TimeDelta::milliseconds(750);
    let e = Policy::default().evaluate(&cluster("a"), KeyAlg::EcP256, Some(1), t, far_root());
    assert_eq!(e.profile.not_before, now());
    assert_eq!(e.profile.not_after, now() + TimeDelta::days(1));
}

#[test]
fn name_constraints_come_from_the_clusters_own_settings_only() {
    let p = constrained();
    let e = eval(&p, KeyAlg::EcP256, None);
    assert_eq!(
        e.profile.name_constraints.permitted_dns,
        ["istio-system.svc", "prod.example"]
    );
    assert_eq!(
        e.profile.name_constraints.excluded_dns,
        ["admin.prod.example"]
    );
    assert_eq!(e.profile.name_constraints.permitted_uri, ["prod.example"]);
    assert_eq!(
        e.profile.name_constraints.excluded_uri,
        [".evil.prod.example"]
    );
    let other = p.evaluate(&cluster("dev"), KeyAlg::EcP256, None, now(), far_root());
    assert!(
        other.profile.name_constraints.permitted_dns.is_empty()
            && other.profile.name_constraints.permitted_uri.is_empty()
    );
    assert_eq!(
        other.profile.subject.to_string(),
        "L=dev, CN=Intermediate CA, O=rootvault"
    );
}

#[test]
fn a_custom_template_and_organization_make_the_subject() {
    let p = Policy {
        organization: "Example Ltd".into(),
        subject_template: vec![
            "C=GB".into(),
            "o={org}".into(),
            "OU=mesh {cluster}".into(),
            "CN=Intermediate CA".into(),
        ],
        ..Policy::default()
    };
    assert_eq!(p.validate(), Ok(()));
    let e = eval(&p, KeyAlg::EcP256, None);
    assert_eq!(
        e.profile.subject.to_string(),
        "CN=Intermediate CA, OU=mesh prod-eu, O=Example Ltd, C=GB"
    );
}

#[test]
fn an_invalid_policy_refuses_every_request() {
    let p = Policy {
        max_days: 10,
        ..Policy::default()
    };
    let e = eval(&p, KeyAlg::EcP256, Some(5));
    assert_eq!(
        e.reasons,
        ["the vault's policy is invalid: policy.max_days (10) is below policy.default_days (365); fix vault.toml"]
    );
}

#[test]
fn the_evaluation_serializes_with_a_subject_string_and_rfc3339_times() {
    let json = serde_json::to_value(eval(&constrained(), KeyAlg::EcP256, None)).unwrap();
    assert_eq!(json["acceptable"], true);
    assert_eq!(
        json["profile"]["subject"],
        "L=prod-eu, CN=Intermediate CA, O=rootvault"
    );
    assert_eq!(json["profile"]["not_before"], "2026-01-01T12:00:00Z");
    assert_eq!(json["profile"]["not_after"], "2026-04-01T12:00:00Z");
    assert_eq!(json["profile"]["path_len"], 0);
    assert_eq!(json["profile"]["permitted_uri"][0], "prod.example");
}

fn invalid(p: Policy) -> String {
    p.validate().unwrap_err()
}

#[test]
fn validation_names_the_field_and_the_problem() {
    let d = Policy::default;
    assert_eq!(
        invalid(Policy {
            max_days: 10,
            ..d()
        }),
        "policy.max_days (10) is below policy.default_days (365)"
    );
    assert_eq!(
        invalid(Policy {
            rsa_min_bits: 1024,
            ..d()
        }),
        "policy.rsa_min_bits (1024) is below 2048, the smallest RSA key Istio accepts for its CA"
    );
    assert_eq!(
        invalid(Policy {
            rsa_min_bits: 4096,
            rsa_max_bits: 3072,
            ..d()
        }),
        "policy.rsa_max_bits (3072) is below policy.rsa_min_bits (4096)"
    );
    assert!(invalid(Policy {
        rsa_max_bits: 16384,
        ..d()
    })
    .starts_with("policy.rsa_max_bits (16384) is above 8192"));
    assert!(invalid(Policy {
        default_days: 0,
        ..d()
    })
    .starts_with("policy.default_days is 0"));
}

#[test]
fn validation_checks_the_subject_template() {
    let with = |t: &[&str]| Policy {
        subject_template: t.iter().map(|s| s.to_string()).collect(),
        ..Policy::default()
    };
    assert!(invalid(with(&[])).starts_with("policy.subject_template is empty"));
    assert!(invalid(with(&["O={org}"])).starts_with("policy.subject_template has no CN= entry"));
    let e = invalid(with(&["CN=x", "L={region}"]));
    assert!(
        e.starts_with("policy.subject_template[1] (\"L={region}\") has an unknown placeholder"),
        "{e}"
    );
    assert!(invalid(with(&["CN=x {org"])).contains("stray brace"));
    let e = invalid(with(&["CN=x", "EMAIL=a@b"]));
    assert!(e.contains("unsupported attribute type \"EMAIL\""), "{e}");
    assert!(invalid(with(&["CN"])).contains("is not TYPE=value"));
    // CN= is at most 64 characters, and cluster names reach 63.
    let e = invalid(with(&["CN=Intermediate CA {cluster}"]));
    assert!(
        e.contains("63-character cluster name") && e.contains("64"),
        "{e}"
    );
    // An empty organization is valid: it means the root's O=.
    assert!(Policy::default().validate().is_ok());
}

#[test]
fn validation_checks_san_names_and_cluster_keys() {
    let e = invalid(Policy {
        san_dns: vec!["istiod .svc".into()],
        ..Policy::default()
    });
    assert!(
        e.starts_with("policy.san_dns[0] (\"istiod .svc\") contains ' '"),
        "{e}"
    );
    let mut p = Policy::default();
    p.clusters
        .insert("Prod_EU".into(), ClusterPolicy::default());
    assert!(invalid(p)
        .starts_with("policy.clusters.Prod_EU: cluster name \"Prod_EU\" has upper-case letters"));
    let mut p = Policy::default();
    p.clusters.insert(
        "prod".into(),
        ClusterPolicy {
            max_days: Some(0),
            ..Default::default()
        },
    );
    assert!(invalid(p).starts_with("policy.clusters.prod.max_days is 0"));
}

fn with_cluster(c: ClusterPolicy) -> Policy {
    let mut p = Policy::default();
    p.clusters.insert("prod-eu".into(), c);
    p
}

#[test]
fn a_spiffe_uri_as_a_uri_constraint_is_refused_with_the_host_to_write() {
    let e = invalid(with_cluster(ClusterPolicy {
        permitted_uri: vec!["spiffe://cluster.local".into()],
        ..Default::default()
    }));
    assert_eq!(
        e,
        "policy.clusters.prod-eu.permitted_uri[0] (\"spiffe://cluster.local\") is a URI, but a URI name constraint is a host name (RFC 5280 §4.2.1.10) that the host of every URI must match; for the SPIFFE trust domain cluster.local write \"cluster.local\""
    );
    let e = invalid(with_cluster(ClusterPolicy {
        excluded_uri: vec!["cluster.local/ns/x".into()],
        ..Default::default()
    }));
    assert!(e.contains("only a host name"), "{e}");
}

#[test]
fn uri_constraints_take_hosts_domains_and_spiffe_underscores() {
    let p = with_cluster(ClusterPolicy {
        permitted_uri: vec![
            "cluster.local".into(),
            ".example.com".into(),
            "my_domain.test".into(),
        ],
        ..Default::default()
    });
    assert_eq!(p.validate(), Ok(()));
    let e = invalid(with_cluster(ClusterPolicy {
        permitted_uri: vec!["10.0.0.1".into()],
        ..Default::default()
    }));
    assert!(e.contains("is an IP address"), "{e}");
}

#[test]
fn dns_constraints_are_plain_domain_names() {
    let bad = |c: &str| {
        invalid(with_cluster(ClusterPolicy {
            excluded_dns: vec![c.into()],
            ..Default::default()
        }))
    };
    assert!(bad(".example.com").contains("write \"example.com\""));
    assert!(bad("*.example.com").contains("wildcard"));
    assert!(bad("example.com.").contains("trailing dot"));
    assert!(bad("a..b").contains("empty label"));
    assert!(bad("-a.b").contains("starts or ends with '-'"));
    assert!(bad("under_score.com").contains("'_'"));
    assert!(bad(&format!("{}.com", "a".repeat(64))).contains("longer than 63"));
}

#[test]
fn dns_constraints_must_leave_istiods_own_name_allowed() {
    let e = invalid(with_cluster(ClusterPolicy {
        permitted_dns: vec!["prod.example".into()],
        ..Default::default()
    }));
    assert!(
        e.starts_with(
            "policy.clusters.prod-eu.permitted_dns does not cover istiod.istio-system.svc"
        ),
        "{e}"
    );
    let e = invalid(with_cluster(ClusterPolicy {
        excluded_dns: vec!["svc".into()],
        ..Default::default()
    }));
    assert!(
        e.starts_with(
            "policy.clusters.prod-eu.excluded_dns entry \"svc\" excludes istiod.istio-system.svc"
        ),
        "{e}"
    );
    // Suffix matching is by whole labels.
    assert!(!dns_within("istiod.istio-system.svc", "system.svc"));
    assert!(dns_within("istiod.istio-system.svc", "ISTIO-SYSTEM.svc"));
    let p = with_cluster(ClusterPolicy {
        permitted_dns: vec!["istiod.istio-system.svc".into()],
        ..Default::default()
    });
    assert_eq!(p.validate(), Ok(()));
}

#[test]
fn valid_cluster_names_are_accepted() {
    for s in ["prod-eu", "a", "0", "a-b-c", "x1", &"a".repeat(63)] {
        let n = cluster(s);
        assert_eq!(n.as_str(), s);
        assert_eq!(n.to_string(), s);
        assert_eq!(ClusterName::try_from(s.to_owned()), Ok(n.clone()));
        assert_eq!(ClusterName::try_from(s), Ok(n));
    }
}

#[test]
fn invalid_cluster_names_are_refused_with_the_reason() {
    let err = |s: &str| s.parse::<ClusterName>().unwrap_err();
    assert!(err("").starts_with("the cluster name is empty"));
    assert!(err("Prod").starts_with("cluster name \"Prod\" has upper-case letters (try \"prod\")"));
    // No suggestion that would be refused in turn.
    assert_eq!(
        err("Prod East!"),
        format!("cluster name \"Prod East!\" has upper-case letters; {CLUSTER_NAME_RULE}")
    );
    assert!(err(&"a".repeat(64)).contains("is 64 characters, more than 63"));
    assert!(err("-prod").contains("starts or ends with '-'"));
    assert!(err("prod-").contains("starts or ends with '-'"));
    assert!(err("prod.eu").contains("contains '.'"));
    assert!(err("prod_eu").contains("contains '_'"));
    assert!(err("prod eu").contains("contains ' '"));
    assert!(err("prodé").contains("contains 'é'"));
    for s in ["", "Prod", "-prod", "prod.eu"] {
        assert!(err(s).ends_with(CLUSTER_NAME_RULE), "{}", err(s));
    }
}

#[test]
fn cluster_names_deserialize_only_when_valid() {
    #[derive(Deserialize)]
    struct T {
        c: ClusterName,
    }
    assert_eq!(
        toml::from_str::<T>("c = \"prod-eu\"").unwrap().c,
        cluster("prod-eu")
    );
    assert!(toml::from_str::<T>("c = \"Prod\"").is_err());
    assert_eq!(
        serde_json::to_string(&cluster("prod-eu")).unwrap(),
        "\"prod-eu\""
    );
}

fn td(s: &str) -> TrustDomain {
    s.parse().unwrap()
}

/// The default policy of a vault made with trust domain `cluster.local`.
fn with_td() -> Policy {
    Policy {
        trust_domain: Some(td("cluster.local")),
        ..Policy::default()
    }
}

#[test]
fn trust_domains_are_spiffe_names_that_a_uri_constraint_can_carry() {
    for ok in [
        "cluster.local",
        "prod.example.com",
        "my_domain.test",
        "td-1",
        "a",
    ] {
        assert_eq!(td(ok).as_str(), ok);
    }
    let err = |s: &str| s.parse::<TrustDomain>().unwrap_err();
    assert_eq!(
        err("Cluster.Local"),
        "trust domain \"Cluster.Local\" has upper-case letters (try \"cluster.local\"); a SPIFFE trust domain is lower-case letters, digits, '.', '-' and '_', e.g. cluster.local"
    );
    assert!(
        err("spiffe://cluster.local/ns/a")
            .contains("is a URI, not the trust domain's name (write \"cluster.local\")"),
        "{}",
        err("spiffe://cluster.local/ns/a")
    );
    assert!(err("").starts_with("the trust domain is empty"));
    assert!(err("cluster.local:8443").contains("contains ':'"));
    assert!(err("a b").contains("contains ' '"));
    assert!(err("10.0.0.1").contains("is an IP address"));
    assert!(err("a..b").contains("empty label"));
    assert!(err("-a.b").contains("starts or ends with '-'"));
    assert!(err(&format!("{}.b", "a".repeat(64))).contains("longer than 63"));
    assert!(err(&"a.".repeat(128)).contains("more than 255"));
    // SPIFFE allows 255 characters, but a trust domain is also the host of a URI name
    // constraint, so 254 and 255 are refused by the tighter DNS rule, which says so.
    let label = "a".repeat(63);
    for n in [254, 255] {
        let name = format!("{label}.{label}.{label}.{}", "a".repeat(n - 3 * 64));
        assert_eq!(name.len(), n);
        assert!(
            err(&name).contains("longer than 253 characters; it becomes the host"),
            "{}",
            err(&name)
        );
    }
    // In vault.toml, a bad one makes the policy fail to load, naming it.
    let e = toml::from_str::<VaultToml>("[policy]\ntrust_domain = \"Mesh\"\n").unwrap_err();
    assert!(e.to_string().contains("upper-case"), "{e}");
}

#[test]
fn a_vault_with_a_trust_domain_constrains_every_intermediate_by_default() {
    let p = with_td();
    assert_eq!(p.validate(), Ok(()));
    let e = eval(&p, KeyAlg::EcP256, None);
    assert!(e.acceptable, "{:?}", e.reasons);
    assert_eq!(e.profile.name_constraints.permitted_uri, ["cluster.local"]);
    assert_eq!(
        e.profile.name_constraints.excluded_ip,
        [IpRange::ALL_V4, IpRange::ALL_V6]
    );
    assert_eq!(
        e.profile.name_constraints.permitted_email,
        [NO_EMAIL_PERMITTED]
    );
    assert_eq!(
        e.profile.name_constraints.excluded_email,
        [NO_EMAIL_EXCLUDED]
    );
    assert!(
        e.profile.name_constraints.permitted_dns.is_empty()
            && e.profile.name_constraints.excluded_dns.is_empty()
    );
    let json = serde_json::to_value(&e.profile).unwrap();
    assert_eq!(
        json["excluded_ip"],
        serde_json::json!(["0.0.0.0/0", "::/0"])
    );

    // A table that sets only max_days keeps every default.
    let mut p = with_td();
    p.clusters.insert(
        "prod-eu".into(),
        toml::from_str::<ClusterPolicy>("max_days = 90").unwrap(),
    );
    let e = eval(&p, KeyAlg::EcP256, None);
    assert_eq!(e.profile.name_constraints.permitted_uri, ["cluster.local"]);
    assert_eq!(e.profile.name_constraints.excluded_ip.len(), 2);
    assert_eq!(
        e.profile.name_constraints.permitted_email,
        [NO_EMAIL_PERMITTED]
    );
}

#[test]
fn a_cluster_lifts_each_default_only_by_naming_it() {
    let cluster_with = |text: &str| {
        let mut p = with_td();
        p.clusters
            .insert("prod-eu".into(), toml::from_str(text).unwrap());
        assert_eq!(p.validate(), Ok(()), "{text}");
        eval(&p, KeyAlg::EcP256, None).profile
    };
    let ip = cluster_with("allow_names = [\"ip\"]");
    assert!(ip.name_constraints.excluded_ip.is_empty());
    assert_eq!(ip.name_constraints.permitted_uri, ["cluster.local"]);
    assert_eq!(ip.name_constraints.permitted_email, [NO_EMAIL_PERMITTED]);
    let email = cluster_with("allow_names = [\"email\"]");
    assert!(
        email.name_constraints.permitted_email.is_empty()
            && email.name_constraints.excluded_email.is_empty()
    );
    assert_eq!(email.name_constraints.excluded_ip.len(), 2);
    let uri = cluster_with("allow_names = [\"any-uri\"]");
    assert!(uri.name_constraints.permitted_uri.is_empty());
    let all = cluster_with("allow_names = [\"any-uri\", \"ip\", \"email\"]");
    assert!(
        all.name_constraints.permitted_uri.is_empty()
            && all.name_constraints.excluded_ip.is_empty()
            && all.name_constraints.permitted_email.is_empty()
            && all.name_constraints.excluded_email.is_empty()
    );
    // Naming other hosts replaces the trust domain; the other defaults stay.
    let other = cluster_with("permitted_uri = [\"prod.example.com\"]");
    assert_eq!(other.name_constraints.permitted_uri, ["prod.example.com"]);
    assert_eq!(other.name_constraints.excluded_ip.len(), 2);
    // An unknown kind is refused when vault.toml is read.
    let e = toml::from_str::<ClusterPolicy>("allow_names = [\"dns\"]").unwrap_err();
    assert!(e.to_string().contains("any-uri"), "{e}");
    // "any URI" and a list of URI hosts contradict each other.
    let e = invalid(with_cluster(ClusterPolicy {
        permitted_uri: vec!["prod.example.com".into()],
        allow_names: vec![NameKind::AnyUri],
        ..Default::default()
    }));
    assert!(
        e.starts_with("policy.clusters.prod-eu.allow_names allows \"any-uri\" but policy.clusters.prod-eu.permitted_uri names permitted URI hosts"),
        "{e}"
    );
}

#[test]
fn a_vault_without_a_trust_domain_keeps_its_old_unconstrained_profile() {
    // A vault made before trust domains has no policy.trust_domain.
    let p = toml::from_str::<VaultToml>("[policy]\nmax_days = 730\n")
        .unwrap()
        .policy;
    assert_eq!(p.trust_domain, None);
    let e = eval(&p, KeyAlg::EcP256, None);
    assert!(
        e.profile.name_constraints.permitted_uri.is_empty()
            && e.profile.name_constraints.excluded_ip.is_empty()
            && e.profile.name_constraints.permitted_email.is_empty()
            && e.profile.name_constraints.excluded_email.is_empty()
    );
    // Setting one turns the defaults on; it round-trips through vault.toml.
    let text = toml::to_string(&VaultToml { policy: with_td() }).unwrap();
    assert!(text.contains("trust_domain = \"cluster.local\""), "{text}");
    assert_eq!(
        toml::from_str::<VaultToml>(&text).unwrap().policy,
        with_td()
    );
}

#[test]
fn every_limit_of_the_policy_admits_its_own_value() {
    // Equal bounds are a valid policy: one RSA size, the largest ring verifies, a validity
    // that is both the default and the maximum.
    for (min, max) in [(3072, 3072), (2048, RSA_CEILING_BITS)] {
        let p = Policy {
            rsa_min_bits: min,
            rsa_max_bits: max,
            ..Policy::default()
        };
        assert_eq!(p.validate(), Ok(()), "rsa {min}..{max}");
    }
    let p = Policy {
        default_days: 90,
        max_days: 90,
        ..Policy::default()
    };
    assert_eq!(p.validate(), Ok(()));

    // Exactly the maximum validity is signed as asked, with no reason and no note.
    let e = eval(&p, KeyAlg::EcP256, Some(90));
    assert!(e.acceptable && e.notes.is_empty(), "{e:?}");
    assert_eq!(e.profile.days, 90);
    // A default equal to the maximum is not "shortened".
    let e = eval(&p, KeyAlg::EcP256, None);
    assert!(e.acceptable && e.notes.is_empty(), "{e:?}");
    assert_eq!(e.profile.days, 90);

    // A root with exactly one day left still signs (for that day, capped to it).
    let e = Policy::default().evaluate(
        &cluster("prod-eu"),
        KeyAlg::EcP256,
        None,
        now(),
        now() + TimeDelta::days(1),
    );
    assert!(e.acceptable, "{:?}", e.reasons);
    assert_eq!(
        (e.profile.days, e.profile.not_after),
        (1, now() + TimeDelta::days(1))
    );
}

#[test]
fn dns_names_are_at_most_253_characters_in_labels_of_at_most_63() {
    let label = "a".repeat(63);
    let longest = format!("{label}.{label}.{label}.{}", "a".repeat(61));
    assert_eq!(longest.len(), 253);
    assert_eq!(names::check_dns_name(&longest), Ok(()));
    assert_eq!(
        names::check_dns_name(&format!("a{longest}")).unwrap_err(),
        "is longer than 253 characters"
    );
    assert_eq!(names::check_dns_name(&format!("{label}.example")), Ok(()));
    assert_eq!(
        names::check_dns_name(&format!("a{label}.example")).unwrap_err(),
        format!("has the label \"a{label}\", longer than 63 characters")
    );
}

#[test]
fn the_profile_becomes_the_drafts_extensions_and_the_ledgers_record_unchanged() {
    let e = with_td().evaluate(
        &cluster("prod-eu"),
        KeyAlg::EcP256,
        Some(30),
        now(),
        far_root(),
    );
    let p = &e.profile;
    let x = p.extensions();
    assert_eq!(x.path_len, Some(0));
    assert!(x.digital_signature);
    assert_eq!(x.san_dns, ["istiod.istio-system.svc"]);
    assert_eq!(x.name_constraints.as_ref(), Some(&p.name_constraints));
    assert_eq!(p.name_constraints.permitted_uri, ["cluster.local"]);

    let a = p.approved();
    assert_eq!((a.days, a.capped_by_root, a.path_len), (30, false, 0));
    assert_eq!(a.permitted_uri, ["cluster.local"]);
    assert_eq!(a.excluded_ip, ["0.0.0.0/0", "::/0"]);
    assert_eq!(a.permitted_email, [NO_EMAIL_PERMITTED]);
    assert_eq!(a.excluded_email, [NO_EMAIL_EXCLUDED]);

    // The JSON of `csr inspect` keeps the seven lists beside the other fields.
    let json = serde_json::to_value(p).unwrap();
    assert_eq!(json["permitted_uri"], serde_json::json!(["cluster.local"]));
    assert_eq!(
        json["excluded_ip"],
        serde_json::json!(["0.0.0.0/0", "::/0"])
    );
    assert!(json.get("name_constraints").is_none());
}
