//! What may be signed for which cluster: the `[policy]` table of `vault.toml`.
//!
//! A [`Policy`] is checked once when the configuration is loaded ([`Policy::validate`]) and
//! consulted for every request ([`Policy::evaluate`]). Evaluation sees only the cluster's
//! name, the request's key type and the validity the operator typed: the certificate's
//! subject, names and constraints all come from the policy, and nothing from the request but
//! its public key is ever used. `docs/policy.md` states every rule and its default.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::{Deserialize, Serialize, Serializer};

use crate::keys::KeyAlg;
use crate::x509::{Attr, Dn, IpRange};

/// The smallest RSA modulus `policy.rsa_min_bits` may allow: Istio refuses smaller CA keys.
/// `{org}` when neither the policy nor the root's subject names an organization.
pub const FALLBACK_ORGANIZATION: &str = "rootvault";

/// The smallest RSA modulus a policy may allow.
pub const RSA_FLOOR_BITS: u32 = 2048;

/// The largest RSA modulus `policy.rsa_max_bits` may allow: ring (and so rustls) verifies
/// RSA signatures only up to this size.
pub const RSA_CEILING_BITS: u32 = 8192;

/// The placeholders `policy.subject_template` may use.
pub const SUBJECT_PLACEHOLDERS: [&str; 2] = ["{org}", "{cluster}"];

const ATTRS: [Attr; 6] = [
    Attr::Country,
    Attr::State,
    Attr::Locality,
    Attr::Organization,
    Attr::OrganizationalUnit,
    Attr::CommonName,
];

/// Which requests may be signed, and what the intermediate certificates contain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// The SPIFFE trust domain of the mesh (`init --trust-domain`, default `cluster.local`).
    /// When set, every intermediate is name-constrained by default (see [`ClusterPolicy`]):
    /// URIs to this trust domain, no IP address, no email address. Absent in a vault made
    /// before trust domains: then nothing is constrained by default, as before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_domain: Option<TrustDomain>,
    /// The organisation of issued subjects, substituted for `{org}` (default `rootvault`).
    pub organization: String,
    /// The subject of every intermediate, most significant attribute first, one `TYPE=value`
    /// per entry (types C, ST, L, O, OU, CN); `{org}` and `{cluster}` are substituted.
    /// Default `["O={org}", "CN=Intermediate CA", "L={cluster}"]`, the shape of Istio's own.
    pub subject_template: Vec<String>,
    /// DNS names of the intermediate's subjectAltName (default `istiod.istio-system.svc`).
    pub san_dns: Vec<String>,
    /// Smallest RSA modulus accepted, in bits (default 2048, never below 2048).
    pub rsa_min_bits: u32,
    /// Largest RSA modulus accepted, in bits (default 4096, never above 8192).
    pub rsa_max_bits: u32,
    /// Whether ECDSA P-256 subject keys are accepted (default true).
    pub allow_ecdsa_p256: bool,
    /// Whether ECDSA P-384 subject keys are accepted (default true).
    pub allow_ecdsa_p384: bool,
    /// Validity in days when the operator gives none (default 365).
    pub default_days: u32,
    /// Longest validity in days the operator may ask for (default 730).
    pub max_days: u32,
    /// Whether keyUsage carries digitalSignature besides keyCertSign and cRLSign (default
    /// true, as on Istio's own intermediates).
    pub digital_signature: bool,
    /// Per-cluster settings, keyed by cluster name; a cluster not listed gets the global
    /// rules and the default name constraints.
    pub clusters: BTreeMap<String, ClusterPolicy>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            trust_domain: None,
            organization: String::new(),
            subject_template: vec![
                "O={org}".into(),
                "CN=Intermediate CA".into(),
                "L={cluster}".into(),
            ],
            san_dns: vec!["istiod.istio-system.svc".into()],
            rsa_min_bits: 2048,
            rsa_max_bits: 4096,
            allow_ecdsa_p256: true,
            allow_ecdsa_p384: true,
            default_days: 365,
            max_days: 730,
            digital_signature: true,
            clusters: BTreeMap::new(),
        }
    }
}

/// Settings for one cluster: name constraints and its own validity limit.
///
/// In a vault with a trust domain, every intermediate carries the default name constraints
/// unless its cluster's table lifts them, each by name, in [`ClusterPolicy::allow_names`]:
/// URIs only in the trust domain (a non-empty `permitted_uri` replaces it), no IP address
/// (0.0.0.0/0 and ::/0 excluded), no email address. A table that only sets `max_days`, say,
/// keeps them all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterPolicy {
    /// DNS name constraints the intermediate permits (RFC 5280 §4.2.1.10): `example.com`
    /// covers `example.com` and every name below it.
    pub permitted_dns: Vec<String>,
    /// DNS name constraints the intermediate excludes.
    pub excluded_dns: Vec<String>,
    /// URI name constraints the intermediate permits. These are host names, not URIs: for
    /// the SPIFFE trust domain `cluster.local` the constraint is `cluster.local`; a leading
    /// dot (`.example.com`) means any host below the domain but not the domain itself.
    /// Non-empty, it replaces the vault's trust domain as the permitted URI subtree.
    pub permitted_uri: Vec<String>,
    /// URI name constraints the intermediate excludes (host names, as above).
    pub excluded_uri: Vec<String>,
    /// The default name constraints this cluster's intermediate goes without, each named:
    /// `any-uri` (no trust-domain URI subtree), `ip` (IP addresses allowed), `email` (email
    /// addresses allowed). Empty (the default) keeps them all.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow_names: Vec<NameKind>,
    /// Longest validity in days for this cluster; replaces `policy.max_days` when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_days: Option<u32>,
}

/// A kind of name a default name constraint forbids, which a cluster may allow explicitly
/// (`policy.clusters.NAME.allow_names`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum NameKind {
    /// URIs outside the trust domain: no permitted URI subtree by default.
    #[serde(rename = "any-uri")]
    AnyUri,
    /// IP addresses: no excluded 0.0.0.0/0 and ::/0.
    #[serde(rename = "ip")]
    Ip,
    /// Email addresses: no email name constraints.
    #[serde(rename = "email")]
    Email,
}

/// The rfc822Name base that, permitted alone, leaves no mailbox an intermediate could name:
/// `.invalid` is reserved never to exist (RFC 6761 §6.4). OpenSSL reads no excluded
/// rfc822Name as "every address", so forbidding email for it takes a permitted subtree that
/// nothing real is in.
pub const NO_EMAIL_PERMITTED: &str = "no-email.invalid";

/// The rfc822Name base excluded to forbid every email address: `.`, every domain, as Go's
/// crypto/x509 (istiod) and NSS read it. (An empty base, which they read the same way, is
/// refused by pkilint as bad syntax.)
pub const NO_EMAIL_EXCLUDED: &str = ".";

/// A SPIFFE trust domain (SPIFFE-ID §2.1): lower-case letters, digits, `.`, `-` and `_`, at
/// most 255 characters; here also a host name that a URI name constraint can carry (labels
/// of 1 to 63 characters, not starting or ending with `-`, not an IP address). Istio's
/// default is `cluster.local`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrustDomain(String);

/// The trust domain `init` records when none is given: Istio's default.
pub const DEFAULT_TRUST_DOMAIN: &str = "cluster.local";

impl TrustDomain {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn check(s: &str) -> Result<(), String> {
        const RULE: &str = "a SPIFFE trust domain is lower-case letters, digits, '.', '-' and '_', e.g. cluster.local";
        if let Some((scheme, rest)) = s.split_once("://") {
            let host = rest.split(['/', ':', '?', '#']).next().unwrap_or("");
            let hint = if scheme.eq_ignore_ascii_case("spiffe") {
                format!(" (write {host:?})")
            } else {
                String::new()
            };
            return Err(format!(
                "trust domain {s:?} is a URI, not the trust domain's name{hint}; {RULE}"
            ));
        }
        if s.is_empty() {
            return Err(format!("the trust domain is empty; {RULE}"));
        }
        if s.len() > 255 {
            return Err(format!(
                "trust domain {s:?} is {} characters, more than 255; {RULE}",
                s.len()
            ));
        }
        if s.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(format!(
                "trust domain {s:?} has upper-case letters (try {:?}); {RULE}",
                s.to_ascii_lowercase()
            ));
        }
        if let Some(c) = s.chars().find(|c| {
            !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
        }) {
            return Err(format!("trust domain {s:?} contains {c:?}; {RULE}"));
        }
        check_host(s, true).map_err(|e| {
            format!("trust domain {s:?} {e}; it becomes the host of a URI name constraint (RFC 5280 §4.2.1.10)")
        })
    }
}

impl FromStr for TrustDomain {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TrustDomain::check(s)?;
        Ok(TrustDomain(s.to_owned()))
    }
}

impl TryFrom<String> for TrustDomain {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        TrustDomain::check(&s)?;
        Ok(TrustDomain(s))
    }
}

impl From<TrustDomain> for String {
    fn from(td: TrustDomain) -> String {
        td.0
    }
}

impl fmt::Display for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A cluster's name: one DNS label of lower-case letters, digits and `-`, 1 to 63
/// characters, not starting or ending with `-`. It appears in the intermediate's subject
/// (`L=`), in file names and in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClusterName(String);

const CLUSTER_NAME_RULE: &str =
    "cluster names are DNS labels: a-z, 0-9 and '-', 1 to 63 characters, not starting or ending with '-'";

impl ClusterName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn check(s: &str) -> Result<(), String> {
        if s.is_empty() {
            return Err(format!("the cluster name is empty; {CLUSTER_NAME_RULE}"));
        }
        let len = s.chars().count();
        if len > 63 {
            return Err(format!(
                "cluster name {s:?} is {len} characters, more than 63; {CLUSTER_NAME_RULE}"
            ));
        }
        if s.chars().any(|c| c.is_ascii_uppercase()) {
            // Suggest the lower-case name only when it is itself a valid name.
            let lower = s.to_ascii_lowercase();
            let hint = if ClusterName::check(&lower).is_ok() {
                format!(" (try {lower:?})")
            } else {
                String::new()
            };
            return Err(format!(
                "cluster name {s:?} has upper-case letters{hint}; {CLUSTER_NAME_RULE}"
            ));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(format!(
                "cluster name {s:?} contains {c:?}; {CLUSTER_NAME_RULE}"
            ));
        }
        if s.starts_with('-') || s.ends_with('-') {
            return Err(format!(
                "cluster name {s:?} starts or ends with '-'; {CLUSTER_NAME_RULE}"
            ));
        }
        Ok(())
    }
}

impl FromStr for ClusterName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ClusterName::check(s)?;
        Ok(ClusterName(s.to_owned()))
    }
}

impl TryFrom<String> for ClusterName {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        ClusterName::check(&s)?;
        Ok(ClusterName(s))
    }
}

impl TryFrom<&str> for ClusterName {
    type Error = String;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ClusterName> for String {
    fn from(name: ClusterName) -> String {
        name.0
    }
}

impl AsRef<str> for ClusterName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClusterName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The verdict on one request, and the certificate that would be signed for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    /// Whether the request may be signed: true exactly when `reasons` is empty.
    pub acceptable: bool,
    /// Every reason for refusal, one sentence each, naming the rule (the config key).
    pub reasons: Vec<String>,
    /// Things the operator should know that are not refusals, e.g. that the validity was
    /// shortened to end with the root's.
    pub notes: Vec<String>,
    /// What would be signed; filled in even when the request is refused.
    pub profile: IntermediateProfile,
}

/// Everything policy decides about an intermediate certificate. The serial, the subject key
/// and the issuer are added when it is built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntermediateProfile {
    /// The subject, from `policy.subject_template` (serialized in RFC 4514 order).
    #[serde(serialize_with = "ser_display")]
    pub subject: Dn,
    /// Start of validity: the evaluation time, truncated to whole seconds.
    #[serde(serialize_with = "ser_rfc3339")]
    pub not_before: DateTime<Utc>,
    /// End of validity: `not_before` plus the validity, but never after the root's notAfter.
    #[serde(serialize_with = "ser_rfc3339")]
    pub not_after: DateTime<Utc>,
    /// The validity in whole days (rounded down when capped by the root).
    pub days: u32,
    /// Whether `not_after` was moved back to the root's notAfter.
    pub not_after_capped_by_root: bool,
    /// basicConstraints pathLenConstraint: always 0, an intermediate issues only leaves.
    pub path_len: u8,
    /// Whether keyUsage carries digitalSignature (keyCertSign and cRLSign always).
    pub digital_signature: bool,
    /// DNS names of the subjectAltName.
    pub san_dns: Vec<String>,
    /// Permitted DNS name constraints.
    pub permitted_dns: Vec<String>,
    /// Excluded DNS name constraints.
    pub excluded_dns: Vec<String>,
    /// Permitted URI name constraints (host names).
    pub permitted_uri: Vec<String>,
    /// Excluded URI name constraints (host names).
    pub excluded_uri: Vec<String>,
    /// Permitted email (rfc822Name) name constraints.
    pub permitted_email: Vec<String>,
    /// Excluded email (rfc822Name) name constraints.
    pub excluded_email: Vec<String>,
    /// Excluded IP address ranges (CIDR, serialized as `0.0.0.0/0`).
    #[serde(serialize_with = "ser_display_all")]
    pub excluded_ip: Vec<IpRange>,
}

fn ser_display_all<S: Serializer, T: fmt::Display>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(ToString::to_string))
}

fn ser_display<S: Serializer, T: fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn ser_rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

impl Policy {
    /// Checks that the policy makes sense, naming the offending field in the error.
    pub fn validate(&self) -> Result<(), String> {
        if self.rsa_min_bits < RSA_FLOOR_BITS {
            return Err(format!(
                "policy.rsa_min_bits ({}) is below {RSA_FLOOR_BITS}, the smallest RSA key Istio accepts for its CA",
                self.rsa_min_bits
            ));
        }
        if self.rsa_max_bits < self.rsa_min_bits {
            return Err(format!(
                "policy.rsa_max_bits ({}) is below policy.rsa_min_bits ({})",
                self.rsa_max_bits, self.rsa_min_bits
            ));
        }
        if self.rsa_max_bits > RSA_CEILING_BITS {
            return Err(format!(
                "policy.rsa_max_bits ({}) is above {RSA_CEILING_BITS}, the largest RSA key ring and rustls verify",
                self.rsa_max_bits
            ));
        }
        if self.default_days == 0 {
            return Err(
                "policy.default_days is 0; a certificate must be valid for at least 1 day".into(),
            );
        }
        if self.max_days < self.default_days {
            return Err(format!(
                "policy.max_days ({}) is below policy.default_days ({})",
                self.max_days, self.default_days
            ));
        }
        self.check_template()?;
        for (i, name) in self.san_dns.iter().enumerate() {
            check_dns_name(name).map_err(|e| format!("policy.san_dns[{i}] ({name:?}) {e}"))?;
        }
        for (name, cluster) in &self.clusters {
            ClusterName::check(name).map_err(|e| format!("policy.clusters.{name}: {e}"))?;
            self.check_cluster(name, cluster)?;
        }
        Ok(())
    }

    fn check_template(&self) -> Result<(), String> {
        if self.subject_template.is_empty() {
            return Err("policy.subject_template is empty; it needs at least a CN= entry".into());
        }
        let entries = self
            .subject_template
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                parse_template_entry(entry)
                    .map_err(|e| format!("policy.subject_template[{i}] ({entry:?}) {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !entries.iter().any(|(a, _)| *a == Attr::CommonName) {
            return Err(
                "policy.subject_template has no CN= entry; the subject needs a common name".into(),
            );
        }
        // The longest cluster name gives the longest values.
        let longest = "c".repeat(63);
        self.render_subject(&longest).map_err(|e| {
            format!("policy.subject_template does not make a valid name for a 63-character cluster name: {e}")
        })?;
        Ok(())
    }

    fn check_cluster(&self, name: &str, cluster: &ClusterPolicy) -> Result<(), String> {
        let field = |f: &str| format!("policy.clusters.{name}.{f}");
        if cluster.max_days == Some(0) {
            return Err(format!(
                "{} is 0; a certificate must be valid for at least 1 day",
                field("max_days")
            ));
        }
        for (list, key) in [
            (&cluster.permitted_dns, "permitted_dns"),
            (&cluster.excluded_dns, "excluded_dns"),
        ] {
            for (i, c) in list.iter().enumerate() {
                check_dns_constraint(c).map_err(|e| format!("{}[{i}] ({c:?}) {e}", field(key)))?;
            }
        }
        for (list, key) in [
            (&cluster.permitted_uri, "permitted_uri"),
            (&cluster.excluded_uri, "excluded_uri"),
        ] {
            for (i, c) in list.iter().enumerate() {
                check_uri_constraint(c).map_err(|e| format!("{}[{i}] ({c:?}) {e}", field(key)))?;
            }
        }
        if cluster.allow_names.contains(&NameKind::AnyUri) && !cluster.permitted_uri.is_empty() {
            return Err(format!(
                "{} allows \"any-uri\" but {} names permitted URI hosts; drop one (permitted_uri alone replaces the trust domain)",
                field("allow_names"),
                field("permitted_uri")
            ));
        }
        // istiod's own serving certificate is issued by the intermediate for the SAN names,
        // so the intermediate's DNS constraints must allow them.
        for san in &self.san_dns {
            if !cluster.permitted_dns.is_empty()
                && !cluster.permitted_dns.iter().any(|c| dns_within(san, c))
            {
                return Err(format!(
                    "{} does not cover {san} from policy.san_dns; istiod's own serving certificate for that name is issued by this intermediate and would be rejected: add {san:?} or a domain above it",
                    field("permitted_dns")
                ));
            }
            if let Some(c) = cluster.excluded_dns.iter().find(|c| dns_within(san, c)) {
                return Err(format!(
                    "{} entry {c:?} excludes {san} from policy.san_dns; istiod's own serving certificate for that name is issued by this intermediate and would be rejected",
                    field("excluded_dns")
                ));
            }
        }
        Ok(())
    }

    /// This policy with an empty `organization` filled in from the root's subject (its O=),
    /// or with [`FALLBACK_ORGANIZATION`] when the root has no O=.
    pub fn for_root(&self, root_subject: &Dn) -> Policy {
        let mut p = self.clone();
        if p.organization.is_empty() {
            p.organization = root_subject
                .attrs()
                .iter()
                .find(|(a, _)| *a == Attr::Organization)
                .map_or_else(|| FALLBACK_ORGANIZATION.to_owned(), |(_, o)| o.clone());
        }
        p
    }

    /// The subject for `cluster`, from the template.
    fn render_subject(&self, cluster: &str) -> Result<Dn, String> {
        let org = if self.organization.is_empty() {
            FALLBACK_ORGANIZATION
        } else {
            &self.organization
        };
        let mut attrs = Vec::with_capacity(self.subject_template.len());
        for entry in &self.subject_template {
            let (attr, value) = parse_template_entry(entry)?;
            let value = value.replace("{org}", org).replace("{cluster}", cluster);
            attrs.push((attr, value));
        }
        Dn::from_attrs(attrs)
    }

    /// Judges a request for `cluster` with a subject key of type `key`, for
    /// `requested_days` (what the operator typed, if anything), at time `now`, under a root
    /// that expires at `root_not_after`. Every reason for refusal is collected, and the
    /// profile is filled in either way.
    pub fn evaluate(
        &self,
        cluster: &ClusterName,
        key: KeyAlg,
        requested_days: Option<u32>,
        now: DateTime<Utc>,
        root_not_after: DateTime<Utc>,
    ) -> Evaluation {
        let mut reasons = Vec::new();
        let mut notes = Vec::new();
        let valid_policy = match self.validate() {
            Ok(()) => true,
            Err(e) => {
                reasons.push(format!(
                    "the vault's policy is invalid: {e}; fix vault.toml"
                ));
                false
            }
        };
        let no_overrides = ClusterPolicy::default();
        let settings = self.clusters.get(cluster.as_str()).unwrap_or(&no_overrides);
        let constraints = self.default_constraints(settings);

        match key {
            KeyAlg::Rsa { bits } if bits < self.rsa_min_bits => reasons.push(format!(
                "RSA-{bits} is below the policy minimum of {} bits (policy.rsa_min_bits)",
                self.rsa_min_bits
            )),
            KeyAlg::Rsa { bits } if bits > self.rsa_max_bits => reasons.push(format!(
                "RSA-{bits} is above the policy maximum of {} bits (policy.rsa_max_bits)",
                self.rsa_max_bits
            )),
            KeyAlg::EcP256 if !self.allow_ecdsa_p256 => reasons.push(
                "ECDSA P-256 keys are not allowed by policy (policy.allow_ecdsa_p256 is false)"
                    .into(),
            ),
            KeyAlg::EcP384 if !self.allow_ecdsa_p384 => reasons.push(
                "ECDSA P-384 keys are not allowed by policy (policy.allow_ecdsa_p384 is false)"
                    .into(),
            ),
            _ => {}
        }

        let (max_days, max_field) = match settings.max_days {
            Some(d) => (d, format!("policy.clusters.{cluster}.max_days")),
            None => (self.max_days, "policy.max_days".to_owned()),
        };
        let mut days = match requested_days {
            Some(0) => {
                reasons.push("a validity of 0 days was requested; ask for at least 1 day".into());
                0
            }
            Some(d) if d > max_days => {
                reasons.push(format!(
                    "{d} days were requested, more than the maximum of {max_days} days for cluster {cluster} ({max_field}); ask for at most {max_days} days"
                ));
                d
            }
            Some(d) => d,
            None if self.default_days > max_days => {
                notes.push(format!(
                    "the default validity of {} days (policy.default_days) is shortened to {max_days} days, the maximum for cluster {cluster} ({max_field})",
                    self.default_days
                ));
                max_days
            }
            None => self.default_days,
        };

        let not_before =
            DateTime::from_timestamp(now.timestamp(), 0).expect("a whole-second time is in range");
        let mut not_after = not_before
            .checked_add_signed(TimeDelta::days(i64::from(days)))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let left = root_not_after - not_before;
        if left < TimeDelta::days(1) {
            reasons.push(if left <= TimeDelta::zero() {
                format!(
                    "the root certificate expired at {}; create a new root before signing",
                    rfc3339(root_not_after)
                )
            } else {
                format!(
                    "the root certificate expires at {}, less than a day from now; create a new root before signing",
                    rfc3339(root_not_after)
                )
            });
        }
        let mut capped = false;
        if not_after > root_not_after {
            capped = true;
            not_after = root_not_after;
            let whole_days = u32::try_from(left.num_days().max(0)).unwrap_or(u32::MAX);
            if left >= TimeDelta::days(1) {
                notes.push(format!(
                    "the validity is shortened from {days} to {whole_days} days so that it ends with the root certificate, at {}",
                    rfc3339(root_not_after)
                ));
            }
            days = whole_days;
        }

        let subject = match self.render_subject(cluster.as_str()) {
            Ok(dn) => dn,
            Err(e) => {
                if valid_policy {
                    reasons.push(format!(
                        "policy.subject_template does not make a valid name for cluster {cluster}: {e}"
                    ));
                }
                Dn::from_attrs(Vec::new()).expect("an empty name has no invalid values")
            }
        };

        Evaluation {
            acceptable: reasons.is_empty(),
            reasons,
            notes,
            profile: IntermediateProfile {
                subject,
                not_before,
                not_after,
                days,
                not_after_capped_by_root: capped,
                path_len: 0,
                digital_signature: self.digital_signature,
                san_dns: self.san_dns.clone(),
                permitted_dns: settings.permitted_dns.clone(),
                excluded_dns: settings.excluded_dns.clone(),
                permitted_uri: constraints.permitted_uri,
                excluded_uri: settings.excluded_uri.clone(),
                permitted_email: constraints.permitted_email,
                excluded_email: constraints.excluded_email,
                excluded_ip: constraints.excluded_ip,
            },
        }
    }

    /// The URI, email and IP constraints of `cluster`'s intermediate: its own, and the
    /// defaults of a vault with a trust domain unless the cluster allows each by name.
    fn default_constraints(&self, settings: &ClusterPolicy) -> DefaultConstraints {
        let lifted = |k| settings.allow_names.contains(&k);
        let mut c = DefaultConstraints {
            permitted_uri: settings.permitted_uri.clone(),
            ..DefaultConstraints::default()
        };
        let Some(td) = &self.trust_domain else {
            return c;
        };
        if c.permitted_uri.is_empty() && !lifted(NameKind::AnyUri) {
            c.permitted_uri = vec![td.to_string()];
        }
        if !lifted(NameKind::Ip) {
            c.excluded_ip = vec![IpRange::ALL_V4, IpRange::ALL_V6];
        }
        if !lifted(NameKind::Email) {
            c.permitted_email = vec![NO_EMAIL_PERMITTED.to_owned()];
            c.excluded_email = vec![NO_EMAIL_EXCLUDED.to_owned()];
        }
        c
    }
}

/// What [`Policy::default_constraints`] decides.
#[derive(Default)]
struct DefaultConstraints {
    permitted_uri: Vec<String>,
    permitted_email: Vec<String>,
    excluded_email: Vec<String>,
    excluded_ip: Vec<IpRange>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Splits `TYPE=value` and checks the type and the placeholders of the value.
fn parse_template_entry(entry: &str) -> Result<(Attr, &str), String> {
    let (key, value) = entry
        .split_once('=')
        .ok_or("is not TYPE=value, e.g. \"CN=Intermediate CA\"")?;
    let (key, value) = (key.trim(), value.trim());
    let attr = ATTRS
        .into_iter()
        .find(|a| a.short().eq_ignore_ascii_case(key))
        .ok_or_else(|| {
            format!("has the unsupported attribute type {key:?}; use C, ST, L, O, OU or CN")
        })?;
    let mut rest = value;
    while let Some(open) = rest.find(['{', '}']) {
        let tail = &rest[open..];
        let placeholder = SUBJECT_PLACEHOLDERS
            .into_iter()
            .find(|p| tail.starts_with(p))
            .ok_or_else(|| {
                format!(
                    "has an unknown placeholder or a stray brace at {tail:?}; the placeholders are {}",
                    SUBJECT_PLACEHOLDERS.join(" and ")
                )
            })?;
        rest = &tail[placeholder.len()..];
    }
    Ok((attr, value))
}

/// Checks a DNS name in preferred name syntax (RFC 1034 §3.5, RFC 5280 §4.2.1.6).
fn check_dns_name(name: &str) -> Result<(), String> {
    check_host(name, false)
}

/// Checks a DNS name constraint: a DNS name, which covers itself and every name below it.
fn check_dns_constraint(c: &str) -> Result<(), String> {
    if c.starts_with('.') {
        return Err(format!(
            "starts with '.'; a DNS name constraint already covers every name below it (RFC 5280 §4.2.1.10): write {:?}",
            c.trim_start_matches('.')
        ));
    }
    check_host(c, false)
}

/// Checks a URI name constraint: a host name, or `.domain` for any host below the domain
/// (RFC 5280 §4.2.1.10). Labels may hold `_`, which SPIFFE trust domains allow.
fn check_uri_constraint(c: &str) -> Result<(), String> {
    if let Some((scheme, rest)) = c.split_once("://") {
        let host = rest.split(['/', ':', '?', '#']).next().unwrap_or("");
        let hint = if scheme.eq_ignore_ascii_case("spiffe") {
            format!("; for the SPIFFE trust domain {host} write {host:?}")
        } else {
            format!("; write {host:?}")
        };
        return Err(format!(
            "is a URI, but a URI name constraint is a host name (RFC 5280 §4.2.1.10) that the host of every URI must match{hint}"
        ));
    }
    if c.contains(['/', ':', '@', '?', '#']) {
        return Err(
            "has a path, port or user part; a URI name constraint is only a host name (RFC 5280 §4.2.1.10), e.g. \"cluster.local\""
                .into(),
        );
    }
    check_host(c.strip_prefix('.').unwrap_or(c), true)
}

fn check_host(name: &str, underscore_ok: bool) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty".into());
    }
    if name.parse::<IpAddr>().is_ok() {
        return Err("is an IP address; only DNS names are supported here".into());
    }
    if name.contains('*') {
        return Err(
            "contains a wildcard; write the domain itself, which covers the names below it".into(),
        );
    }
    if name.ends_with('.') {
        return Err("ends with '.'; write the name without the trailing dot".into());
    }
    if name.len() > 253 {
        return Err("is longer than 253 characters".into());
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("has an empty label ('..' or a leading '.')".into());
        }
        if label.len() > 63 {
            return Err(format!(
                "has the label {label:?}, longer than 63 characters"
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || (underscore_ok && *c == '_')))
        {
            return Err(format!(
                "contains {c:?}; DNS names are letters, digits and '-' separated by '.'"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "has the label {label:?}, which starts or ends with '-'"
            ));
        }
    }
    Ok(())
}

/// Whether DNS name `name` satisfies DNS constraint `constraint` (RFC 5280 §4.2.1.10).
fn dns_within(name: &str, constraint: &str) -> bool {
    let (name, constraint) = (name.to_ascii_lowercase(), constraint.to_ascii_lowercase());
    name == constraint || name.ends_with(&format!(".{constraint}"))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

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
        let v: VaultToml =
            toml::from_str("[policy]\nmax_days = 400\n[policy.clusters.dev]\n").unwrap();
        assert_eq!(v.policy.max_days, 400);
        assert_eq!(v.policy.default_days, 365);
        assert_eq!(v.policy.clusters["dev"], ClusterPolicy::default());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<VaultToml>("[policy]\nrsa_min_bit = 2048\n").unwrap_err();
        assert!(err.to_string().contains("rsa_min_bit"), "{err}");
        let err = toml::from_str::<VaultToml>(
            "[policy.clusters.prod]\npermitted_dns = []\nmax_day = 3\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("max_day"), "{err}");
    }

    #[test]
    fn the_example_in_the_policy_documentation_is_valid() {
        let doc = include_str!("../docs/policy.md");
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
            assert!(p.permitted_dns.is_empty() && p.permitted_uri.is_empty());
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
        let e =
            Policy::default().evaluate(&cluster("prod-eu"), KeyAlg::EcP256, Some(500), now(), root);
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
        let e =
            Policy::default().evaluate(&cluster("prod-eu"), KeyAlg::EcP256, None, now(), expired);
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
            e.profile.permitted_dns,
            ["istio-system.svc", "prod.example"]
        );
        assert_eq!(e.profile.excluded_dns, ["admin.prod.example"]);
        assert_eq!(e.profile.permitted_uri, ["prod.example"]);
        assert_eq!(e.profile.excluded_uri, [".evil.prod.example"]);
        let other = p.evaluate(&cluster("dev"), KeyAlg::EcP256, None, now(), far_root());
        assert!(other.profile.permitted_dns.is_empty() && other.profile.permitted_uri.is_empty());
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
            invalid(Policy { rsa_min_bits: 1024, ..d() }),
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
        assert!(invalid(p).starts_with(
            "policy.clusters.Prod_EU: cluster name \"Prod_EU\" has upper-case letters"
        ));
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
        assert!(e.starts_with("policy.clusters.prod-eu.excluded_dns entry \"svc\" excludes istiod.istio-system.svc"), "{e}");
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
        assert!(
            err("Prod").starts_with("cluster name \"Prod\" has upper-case letters (try \"prod\")")
        );
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
        assert_eq!(e.profile.permitted_uri, ["cluster.local"]);
        assert_eq!(e.profile.excluded_ip, [IpRange::ALL_V4, IpRange::ALL_V6]);
        assert_eq!(e.profile.permitted_email, [NO_EMAIL_PERMITTED]);
        assert_eq!(e.profile.excluded_email, [NO_EMAIL_EXCLUDED]);
        assert!(e.profile.permitted_dns.is_empty() && e.profile.excluded_dns.is_empty());
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
        assert_eq!(e.profile.permitted_uri, ["cluster.local"]);
        assert_eq!(e.profile.excluded_ip.len(), 2);
        assert_eq!(e.profile.permitted_email, [NO_EMAIL_PERMITTED]);
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
        assert!(ip.excluded_ip.is_empty());
        assert_eq!(ip.permitted_uri, ["cluster.local"]);
        assert_eq!(ip.permitted_email, [NO_EMAIL_PERMITTED]);
        let email = cluster_with("allow_names = [\"email\"]");
        assert!(email.permitted_email.is_empty() && email.excluded_email.is_empty());
        assert_eq!(email.excluded_ip.len(), 2);
        let uri = cluster_with("allow_names = [\"any-uri\"]");
        assert!(uri.permitted_uri.is_empty());
        let all = cluster_with("allow_names = [\"any-uri\", \"ip\", \"email\"]");
        assert!(
            all.permitted_uri.is_empty()
                && all.excluded_ip.is_empty()
                && all.permitted_email.is_empty()
                && all.excluded_email.is_empty()
        );
        // Naming other hosts replaces the trust domain; the other defaults stay.
        let other = cluster_with("permitted_uri = [\"prod.example.com\"]");
        assert_eq!(other.permitted_uri, ["prod.example.com"]);
        assert_eq!(other.excluded_ip.len(), 2);
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
            e.profile.permitted_uri.is_empty()
                && e.profile.excluded_ip.is_empty()
                && e.profile.permitted_email.is_empty()
                && e.profile.excluded_email.is_empty()
        );
        // Setting one turns the defaults on; it round-trips through vault.toml.
        let text = toml::to_string(&VaultToml { policy: with_td() }).unwrap();
        assert!(text.contains("trust_domain = \"cluster.local\""), "{text}");
        assert_eq!(
            toml::from_str::<VaultToml>(&text).unwrap().policy,
            with_td()
        );
    }
}
