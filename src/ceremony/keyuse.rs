//! One rule for a request's key, whatever face and command brings it (`csr inspect`, `sign`,
//! `sign-batch`, the TUI): what the vault has already certified with the same
//! SubjectPublicKeyInfo, and what that means.
//!
//! - A key whose certificate was revoked for `keyCompromise` or `cACompromise` is never
//!   certified again: the request is refused (exit 3, recorded as `signing_rejected`).
//! - A key with a valid certificate for another cluster is refused unless the operator allows
//!   it explicitly (`--allow-key-reuse`); allowed, it is shown in the confirmation. One key
//!   for two clusters lets either cluster act as the other's CA.
//! - A key with a valid certificate for the same cluster (a renewal that kept its key), or
//!   an earlier certificate that expired or was revoked for another reason, is a note.

use serde::Serialize;

use crate::error::Result;
use crate::ledger::{Appender, KeyHolder, Ledger};

/// The revocation reasons that mean the key itself is compromised.
pub const COMPROMISE_REASONS: [&str; 2] = ["keyCompromise", "cACompromise"];

/// A certificate the vault issued for the same subject key as a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyUse {
    /// Its serial, lowercase hex.
    pub serial: String,
    /// Its cluster.
    pub cluster: String,
    /// `valid`, `revoked` or `expired`.
    pub status: &'static str,
    /// Why it was revoked (an RFC 5280 reason name), if it was.
    pub revocation_reason: Option<String>,
    /// When it was revoked (RFC 3339), if it was.
    pub revoked_at: Option<String>,
}

impl KeyUse {
    fn compromised(&self) -> bool {
        self.revocation_reason
            .as_deref()
            .is_some_and(|r| COMPROMISE_REASONS.contains(&r))
    }
}

/// Every intermediate the vault issued for the key with this SPKI SHA-256, oldest first.
pub(super) fn key_uses(ledger: &Ledger, spki_sha256: &str) -> Result<Vec<KeyUse>> {
    Ok(ledger
        .key_holders(spki_sha256)?
        .into_iter()
        .map(key_use)
        .collect())
}

/// [`key_uses`] inside a write transaction: what `record_issue` checks again under the lock,
/// so that two processes cannot both certify one key for two clusters.
pub(super) fn key_uses_in(tx: &Appender<'_>, spki_sha256: &str) -> Result<Vec<KeyUse>> {
    Ok(tx
        .key_holders(spki_sha256)?
        .into_iter()
        .map(key_use)
        .collect())
}

fn key_use((row, revocation): KeyHolder) -> KeyUse {
    let info = super::CertInfo::from_row(&row, revocation.as_ref().map(|r| r.revoked_at.as_str()));
    KeyUse {
        serial: info.serial,
        cluster: row.cluster.unwrap_or_default(),
        status: info.status,
        revocation_reason: revocation.map(|r| r.reason),
        revoked_at: info.revoked_at,
    }
}

/// What the earlier certificates for a request's key mean for a request for `cluster`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct KeyVerdict {
    /// Why the request is refused, one sentence each.
    pub reasons: Vec<String>,
    /// What the operator should know and see in the confirmation.
    pub notes: Vec<String>,
}

/// Judges a request for `cluster` whose key the vault already certified as `uses`.
pub(super) fn judge(uses: &[KeyUse], cluster: &str, allow_reuse: bool) -> KeyVerdict {
    let mut v = KeyVerdict::default();
    for u in uses {
        let (serial, other) = (&u.serial, &u.cluster);
        if u.compromised() {
            v.reasons.push(format!(
                "the request's key is the key of certificate {serial} of cluster {other}, revoked for {} at {}; a compromised key is never certified again: the cluster must generate a new key",
                u.revocation_reason.as_deref().unwrap_or_default(),
                u.revoked_at.as_deref().unwrap_or_default()
            ));
        } else if u.status == "valid" && other != cluster && !allow_reuse {
            v.reasons.push(format!(
                "the request's key already has valid certificate {serial} for cluster {other}; one key for two clusters lets each act as the other's CA. Have cluster {cluster} make its own key, or sign it anyway with --allow-key-reuse"
            ));
        } else if u.status == "valid" && other != cluster {
            v.notes.push(format!(
                "KEY REUSE (allowed by --allow-key-reuse): this key also has valid certificate {serial} for cluster {other}"
            ));
        } else if u.status == "valid" {
            v.notes.push(format!(
                "this key already has valid certificate {serial} for cluster {cluster} (a renewal that keeps its key)"
            ));
        } else {
            v.notes.push(format!(
                "this key had certificate {serial} for cluster {other} ({}{})",
                u.status,
                u.revocation_reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn used(serial: &str, cluster: &str, status: &'static str, reason: Option<&str>) -> KeyUse {
        KeyUse {
            serial: serial.into(),
            cluster: cluster.into(),
            status,
            revocation_reason: reason.map(Into::into),
            revoked_at: reason.map(|_| "2026-01-01T00:00:00Z".into()),
        }
    }

    fn east() -> &'static str {
        "east"
    }

    #[test]
    fn a_key_revoked_for_compromise_is_refused_even_with_reuse_allowed() {
        for reason in COMPROMISE_REASONS {
            for allow in [false, true] {
                let v = judge(
                    &[used("5a", "west", "revoked", Some(reason))],
                    east(),
                    allow,
                );
                assert_eq!(
                    v.reasons,
                    [format!("the request's key is the key of certificate 5a of cluster west, revoked for {reason} at 2026-01-01T00:00:00Z; a compromised key is never certified again: the cluster must generate a new key")]
                );
            }
        }
        // The same cluster's own compromised key too.
        assert_eq!(
            judge(
                &[used("5a", "east", "revoked", Some("keyCompromise"))],
                east(),
                false
            )
            .reasons
            .len(),
            1
        );
    }

    #[test]
    fn a_key_valid_for_another_cluster_needs_the_flag_and_is_then_shown() {
        let uses = [used("5b", "west", "valid", None)];
        let v = judge(&uses, east(), false);
        assert_eq!(v.reasons.len(), 1);
        assert!(v.reasons[0].contains("valid certificate 5b for cluster west"));
        assert!(v.reasons[0].ends_with("or sign it anyway with --allow-key-reuse"));
        let v = judge(&uses, east(), true);
        assert!(v.reasons.is_empty());
        assert_eq!(
            v.notes,
            ["KEY REUSE (allowed by --allow-key-reuse): this key also has valid certificate 5b for cluster west"]
        );
    }

    #[test]
    fn the_same_clusters_key_or_a_past_certificate_is_a_note() {
        let v = judge(
            &[
                used("5c", "east", "valid", None),
                used("5d", "west", "expired", None),
                used("5e", "north", "revoked", Some("superseded")),
            ],
            east(),
            false,
        );
        assert!(v.reasons.is_empty(), "{:?}", v.reasons);
        assert_eq!(
            v.notes,
            [
                "this key already has valid certificate 5c for cluster east (a renewal that keeps its key)",
                "this key had certificate 5d for cluster west (expired)",
                "this key had certificate 5e for cluster north (revoked: superseded)",
            ]
        );
    }
}
