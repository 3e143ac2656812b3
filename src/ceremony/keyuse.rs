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
use crate::ledger::{KeyHolder, Ledger};

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
    pub status: super::CertStatus,
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

/// The rule again, once the token is this process's (its lock held, so no other process signs
/// or revokes until the action ends) and before it signs anything: another process may have
/// certified or revoked the key since it was judged (exit 1, run again), and the judgement
/// read tables anyone with the vault's files could edit, so the compromised keys are proven
/// against what the token attested ([`proven_compromised`]; a removed or altered row is
/// exit 4).
pub(super) fn recheck(
    ledger: &Ledger,
    attestor: &super::audit::Attestor<'_>,
    spki_sha256: &str,
    cluster: &str,
    allow_reuse: bool,
) -> Result<()> {
    if !judge(&key_uses(ledger, spki_sha256)?, cluster, allow_reuse)
        .reasons
        .is_empty()
    {
        return Err(crate::Error::Raced(
            "another process certified this key for another cluster, or revoked it, after it was judged",
        ));
    }
    if proven_compromised(ledger, &attestor.state())?.contains(spki_sha256) {
        return Err(super::state::Mismatch::Derived(format!(
            "the request's key (SPKI SHA-256 {spki_sha256}) is the key of a certificate revoked for compromise, which the ledger's certificate rows no longer show: they were altered"
        ))
        .into());
    }
    Ok(())
}

/// The SPKI SHA-256 of every certificate revoked for compromise, proven rather than read:
/// the revocations are the ones the token attested (`verified::revocations`), and each such
/// certificate is the one the vault's root signed (`verified::intermediate`), its key read
/// from the certificate itself. A revocation or certificate row removed from the files does
/// not bring a compromised key back (exit 4 instead).
pub(super) fn proven_compromised(
    ledger: &Ledger,
    state: &super::state::TokenState,
) -> Result<std::collections::BTreeSet<String>> {
    let mut keys = std::collections::BTreeSet::new();
    let revocations = super::verified::revocations(ledger, state)?;
    let compromised: Vec<_> = revocations
        .iter()
        .filter(|r| COMPROMISE_REASONS.contains(&r.reason.as_str()))
        .collect();
    if compromised.is_empty() {
        return Ok(keys);
    }
    let root = super::require_root(ledger)?;
    super::verified::root(&root, state)?;
    for r in compromised {
        let row = ledger.certificate(&r.serial)?.ok_or_else(|| {
            super::state::Mismatch::Derived(format!(
                "certificate {} was revoked for {}, but the ledger's certificates no longer hold it: it was removed",
                r.serial, r.reason
            ))
        })?;
        super::verified::intermediate(&row, &root)?;
        keys.insert(spki_sha256_of(&row.der)?);
    }
    Ok(keys)
}

/// The SHA-256 of a certificate's SubjectPublicKeyInfo, from the certificate itself.
fn spki_sha256_of(der: &[u8]) -> Result<String> {
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der)
        .map_err(|e| crate::ledger::LedgerError::malformed("a revoked certificate", e))?;
    Ok(crate::keys::sha256_hex(cert.public_key().raw))
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
        } else if u.status == super::CertStatus::Valid && other != cluster && !allow_reuse {
            v.reasons.push(format!(
                "the request's key already has valid certificate {serial} for cluster {other}; one key for two clusters lets each act as the other's CA. Have cluster {cluster} make its own key, or sign it anyway with --allow-key-reuse"
            ));
        } else if u.status == super::CertStatus::Valid && other != cluster {
            v.notes.push(format!(
                "KEY REUSE (allowed by --allow-key-reuse): this key also has valid certificate {serial} for cluster {other}"
            ));
        } else if u.status == super::CertStatus::Valid {
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
            status: super::super::CertStatus::ALL
                .into_iter()
                .find(|s| s.as_str() == status)
                .expect("a status the contract names"),
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
