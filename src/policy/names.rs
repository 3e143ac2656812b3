//! The syntax of the names a policy speaks of: clusters, SPIFFE trust domains, and the DNS
//! names and host names of name constraints.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

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

    pub(super) fn check(s: &str) -> Result<(), String> {
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

pub(super) const CLUSTER_NAME_RULE: &str =
    "cluster names are DNS labels: a-z, 0-9 and '-', 1 to 63 characters, not starting or ending with '-'";

impl ClusterName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(super) fn check(s: &str) -> Result<(), String> {
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

impl fmt::Display for ClusterName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a DNS name in preferred name syntax (RFC 1034 §3.5, RFC 5280 §4.2.1.6).
pub(super) fn check_dns_name(name: &str) -> Result<(), String> {
    check_host(name, false)
}

/// Checks a DNS name constraint: a DNS name, which covers itself and every name below it.
pub(super) fn check_dns_constraint(c: &str) -> Result<(), String> {
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
pub(super) fn check_uri_constraint(c: &str) -> Result<(), String> {
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
pub(super) fn dns_within(name: &str, constraint: &str) -> bool {
    let (name, constraint) = (name.to_ascii_lowercase(), constraint.to_ascii_lowercase());
    name == constraint || name.ends_with(&format!(".{constraint}"))
}
