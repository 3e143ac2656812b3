//! What may be signed for which cluster: the `[policy]` table of `vault.toml`.
//!
//! A [`Policy`] is checked once when the configuration is loaded ([`Policy::validate`]) and
//! consulted for every request ([`Policy::evaluate`]). Evaluation sees only the cluster's
//! name, the request's key type and the validity the operator typed: the certificate's
//! subject, names and constraints all come from the policy, and nothing from the request but
//! its public key is ever used. `docs/policy.md` states every rule and its default.
//!
//! `names` holds the syntax of cluster names, trust domains and name constraints; `profile`
//! what an evaluation decides, and its two other forms (the extensions drafted, the profile
//! the ledger records).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::keys::KeyAlg;
use crate::x509::{Attr, Dn, IpRange, NameConstraintsSpec};

mod names;
mod profile;

use names::{check_dns_constraint, check_dns_name, check_uri_constraint, dns_within};
pub use names::{ClusterName, TrustDomain, DEFAULT_TRUST_DOMAIN};
pub use profile::{Evaluation, IntermediateProfile};

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
        let name_constraints = self.name_constraints(settings);

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
                    crate::time::rfc3339(root_not_after)
                )
            } else {
                format!(
                    "the root certificate expires at {}, less than a day from now; create a new root before signing",
                    crate::time::rfc3339(root_not_after)
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
                    crate::time::rfc3339(root_not_after)
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
                name_constraints,
            },
        }
    }

    /// The name constraints of `cluster`'s intermediate: its own, and the URI, email and IP
    /// defaults of a vault with a trust domain unless the cluster allows each by name.
    fn name_constraints(&self, settings: &ClusterPolicy) -> NameConstraintsSpec {
        let lifted = |k| settings.allow_names.contains(&k);
        let mut c = NameConstraintsSpec {
            permitted_dns: settings.permitted_dns.clone(),
            excluded_dns: settings.excluded_dns.clone(),
            permitted_uri: settings.permitted_uri.clone(),
            excluded_uri: settings.excluded_uri.clone(),
            ..NameConstraintsSpec::default()
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

#[cfg(test)]
mod tests;
