//! `revoke` and `crl`: revocations are ledger events; the CRL is signed by the root key on the
//! token through the lint → sign → verify path and numbered one above the last.

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::certify::find_root_key;
use super::confirm::{self, Confirm, ConfirmRequest};
use super::witness::WitnessSigs;
use super::{rfc3339, CertInfo, Ctx, Output};
use crate::error::{Error, Refusal, Result};
use crate::fsio;
use crate::keys::{sha256_hex, RawSigner};
use crate::ledger::{
    CertificateRevoked, CertificateRow, CrlIssued, Event, Ledger, LedgerError, RootRecord,
};
use crate::policy::ClusterName;
use crate::witness::Body;
use crate::x509::{self, CrlDraft, CrlEntry, RevocationReason};

/// Default CRL validity (nextUpdate - thisUpdate) in days.
pub const DEFAULT_CRL_DAYS: u32 = 180;
/// Longest CRL validity in days.
pub const MAX_CRL_DAYS: u32 = 365;

/// What to revoke.
#[derive(Debug, Clone)]
pub enum RevokeTarget {
    /// One certificate, by serial (hex; colons and case ignored).
    Serial(String),
    /// Every unrevoked certificate of a cluster.
    Cluster(ClusterName),
}

/// Revokes the target after the operator confirms, one `certificate_revoked` event per
/// certificate, all in one transaction. Returns the certificates revoked.
pub fn revoke(
    ctx: &Ctx<'_>,
    target: &RevokeTarget,
    reason: RevocationReason,
    confirmer: &mut dyn Confirm,
) -> Result<Vec<CertInfo>> {
    revoke_witnessed(ctx, target, reason, &WitnessSigs::none(), confirmer)
}

/// [`revoke`] with the witnesses' signatures of its statement.
pub fn revoke_witnessed(
    ctx: &Ctx<'_>,
    target: &RevokeTarget,
    reason: RevocationReason,
    sigs: &WitnessSigs,
    confirmer: &mut dyn Confirm,
) -> Result<Vec<CertInfo>> {
    let (vault, operator) = (ctx.vault, ctx.operator);
    let mut ledger = vault.ledger()?;
    let root = super::require_root(&ledger)?;
    let targets = find_targets(&ledger, &root, target)?;
    let approval = super::witness::approve(
        vault,
        &ledger,
        &revoke_body(&targets, reason),
        sigs,
        "nothing was revoked",
    )?;
    let request = confirmation(&targets, reason);
    confirm::check(&request, confirmer.ask(&request), "nothing was revoked")?;

    ctx.with_session(|_session, attestor| {
        let attested = approval.attest(attestor)?;
        let revoked_at =
            rfc3339(DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("now is in range"));
        let tx = attestor.take(attested.begin(&mut ledger, operator)?)?;
        for row in &targets {
            // Checked again under the write lock: another process may have revoked it meanwhile.
            if tx.is_revoked(&row.record.serial)? {
                return Err(Error::Raced(
                    "another process revoked one of these certificates meanwhile",
                ));
            }
            tx.append(
                &operator.0,
                &Event::CertificateRevoked(CertificateRevoked {
                    serial: row.record.serial.clone(),
                    cluster: row.cluster.clone().unwrap_or_default(),
                    reason: reason.name().to_owned(),
                    revoked_at: revoked_at.clone(),
                }),
            )?;
        }
        crate::fault::point("revoke.before_commit");
        attestor.commit(tx)?;
        Ok(targets
            .iter()
            .map(|r| CertInfo::from_row(r, Some(&revoked_at)))
            .collect())
    })
}

/// `revoke … --statement-out`: the targets found and checked as `revoke` finds them, then
/// the statement body.
pub(super) fn revoke_statement(
    vault: &crate::vault::Vault,
    target: &RevokeTarget,
    reason: RevocationReason,
) -> Result<Body> {
    let ledger = vault.ledger()?;
    let root = super::require_root(&ledger)?;
    Ok(revoke_body(&find_targets(&ledger, &root, target)?, reason))
}

/// The statement body of `revoke`: the reason and every certificate, by serial.
fn revoke_body(targets: &[CertificateRow], reason: RevocationReason) -> Body {
    let mut body = Body::new("revoke");
    body.line("reason", reason.name())
        .line("certificates", targets.len());
    let mut sorted: Vec<&CertificateRow> = targets.iter().collect();
    sorted.sort_by(|a, b| a.record.serial.cmp(&b.record.serial));
    for t in sorted {
        body.line(
            "revoke",
            format!(
                "serial {}, cluster {}, subject {}, certificate SHA-256 {}",
                t.record.serial,
                t.cluster.as_deref().unwrap_or("-"),
                t.record.subject,
                t.record.sha256
            ),
        );
    }
    body
}

/// Normalises a serial as typed: colons, spaces and case ignored.
pub fn normalize_serial(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ':' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

fn find_targets(
    ledger: &Ledger,
    root: &RootRecord,
    target: &RevokeTarget,
) -> Result<Vec<CertificateRow>> {
    match target {
        RevokeTarget::Serial(typed) => {
            let serial = normalize_serial(typed);
            let a_root = ledger.generations()?.iter().any(|g| {
                g.certificate
                    .as_ref()
                    .is_some_and(|c| c.record.serial == serial)
            });
            if serial == root.certificate.serial || a_root {
                return Err(Refusal::RootSerial.into());
            }
            let row = ledger
                .certificate(&serial)?
                .ok_or_else(|| Refusal::UnknownSerial(serial.clone()))?;
            if let Some(r) = ledger.revocation(&serial)? {
                return Err(Refusal::AlreadyRevoked {
                    serial,
                    revoked_at: r.revoked_at,
                    reason: r.reason,
                }
                .into());
            }
            Ok(vec![row])
        }
        RevokeTarget::Cluster(cluster) => {
            let all = ledger.intermediates(Some(cluster.as_str()))?;
            if all.is_empty() {
                return Err(Refusal::UnknownCluster(cluster.to_string()).into());
            }
            let mut live = Vec::new();
            for row in all {
                if ledger.revocation(&row.record.serial)?.is_none() {
                    live.push(row);
                }
            }
            if live.is_empty() {
                return Err(Refusal::ClusterAllRevoked(cluster.to_string()).into());
            }
            Ok(live)
        }
    }
}

fn confirmation(targets: &[CertificateRow], reason: RevocationReason) -> ConfirmRequest {
    let mut summary = vec![("reason".to_owned(), reason.name().to_owned())];
    for t in targets {
        summary.push((
            "revoke".to_owned(),
            format!(
                "cluster {} serial {} ({}, until {})",
                t.cluster.as_deref().unwrap_or("-"),
                t.record.serial,
                t.record.subject,
                t.record.not_after
            ),
        ));
    }
    match targets {
        [one] => ConfirmRequest {
            action: "revoke",
            summary,
            subject: "the certificate's serial",
            expected: one.record.serial.clone(),
        },
        many => {
            // Several certificates are confirmed together by the SHA-256 of their serials,
            // one per line, sorted (as `printf '%s\n' SERIALS | sort | sha256sum` prints).
            let mut serials: Vec<&str> = many.iter().map(|t| t.record.serial.as_str()).collect();
            serials.sort_unstable();
            let list: String = serials.iter().map(|s| format!("{s}\n")).collect();
            let fingerprint = sha256_hex(list.as_bytes());
            summary.push(("serial set SHA-256".to_owned(), fingerprint.clone()));
            ConfirmRequest {
                action: "revoke",
                summary,
                subject: "the SHA-256 of the serial set",
                expected: fingerprint,
            }
        }
    }
}

/// A CRL as `crl` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct CrlInfo {
    /// The root generation that signed it.
    pub generation: u32,
    /// CRL number, counted per generation.
    pub number: i64,
    /// RFC 3339.
    pub this_update: String,
    /// RFC 3339.
    pub next_update: String,
    /// Serials listed.
    pub entries: i64,
    /// SHA-256 of the DER CRL.
    pub sha256: String,
    /// The PEM CRL.
    pub pem: String,
    /// Where it was written, if it was.
    pub written: Option<std::path::PathBuf>,
}

/// Issues the next CRL of the active root generation ([`issue_crl_for`]).
pub fn issue_crl(ctx: &Ctx<'_>, days: Option<u32>, out: Option<&Output>) -> Result<CrlInfo> {
    issue_crl_for(ctx, None, days, out)
}

/// Issues the next CRL of root generation `generation` (default: the active one): every
/// revocation of a certificate that generation issued, signed by its key on the token and
/// numbered one above that generation's last CRL.
pub fn issue_crl_for(
    ctx: &Ctx<'_>,
    generation: Option<u32>,
    days: Option<u32>,
    out: Option<&Output>,
) -> Result<CrlInfo> {
    let (vault, operator) = (ctx.vault, ctx.operator);
    let days = days.unwrap_or(DEFAULT_CRL_DAYS);
    if days == 0 || days > MAX_CRL_DAYS {
        return Err(Error::Usage(format!(
            "--days {days}: a CRL is valid for 1 to {MAX_CRL_DAYS} days"
        )));
    }
    let mut ledger = vault.ledger()?;
    let generation = match generation {
        Some(g) => g,
        None => super::require_root(&ledger)?.generation,
    };
    let record = ledger
        .generation(generation)?
        .ok_or(Refusal::NoSuchGeneration(generation))?;
    if record.key_destroyed {
        return Err(Refusal::KeyDestroyed(generation).into());
    }
    let root = record.root_record().ok_or(Refusal::GenerationPending {
        generation,
        what: "sign a CRL",
    })?;
    // Reserved before the token is touched: a full or read-only disk stops here.
    let reserved = out
        .map(|o| fsio::ReservedFile::reserve(&o.path, o.force, fsio::CRL_RESERVATION))
        .transpose()?;
    let info = ctx.with_session(|session, attestor| {
        let root_key = find_root_key(session, &root, attestor)?;
        let state = attestor.state();
        if super::verified::generation(&state, generation)?.key_destroyed {
            return Err(Refusal::KeyDestroyed(generation).into());
        }
        // What is signed comes from rows proven equal to what the token attested, and the
        // number from the token's counter: a row removed from `revocations`, or an older
        // ledger restored, cannot take a revocation off the CRL or reuse a number; a
        // certificate moved to another generation cannot leave this generation's CRL.
        let revocations = super::verified::revocations_of(&ledger, &state, generation)?;
        let number = state.next_crl_number(
            generation,
            ledger.last_crl_of(generation)?.map_or(0, |c| c.number),
        );
        let mut entries = Vec::new();
        let mut serials = Vec::new();
        for r in revocations {
            let serial = hex::decode(&r.serial)
                .map_err(|e| LedgerError::malformed("a revoked serial", e))?;
            let revoked_at = DateTime::parse_from_rfc3339(&r.revoked_at)
                .map_err(|e| LedgerError::malformed("a revocation time", e))?
                .with_timezone(&Utc);
            let reason = r
                .reason
                .parse::<RevocationReason>()
                .map_err(|e| LedgerError::malformed("a revocation reason", e))?;
            entries.push(CrlEntry {
                serial,
                revoked_at,
                reason,
            });
            serials.push(r.serial);
        }
        let now = Utc::now();
        let draft = CrlDraft::new(
            number as u64,
            now,
            now + Duration::days(i64::from(days)),
            entries,
            root.der.clone(),
            root_key.public_key().clone(),
        )?;
        let linted = x509::lint_crl(draft)?;
        let (this_update, next_update) =
            (linted.draft().this_update(), linted.draft().next_update());
        let issued = x509::sign_crl(linted, &root_key)?;
        crate::fault::point("crl.after_sign");

        let payload = CrlIssued {
            generation,
            number,
            this_update: rfc3339(this_update),
            next_update: rfc3339(next_update),
            serials,
            sha256: sha256_hex(issued.der()),
            der_base64: base64::engine::general_purpose::STANDARD.encode(issued.der()),
        };
        let tx = attestor.begin(&mut ledger)?;
        // Numbers strictly increase: if another process issued a CRL meanwhile, stop.
        if tx.last_crl_of(generation)?.map_or(0, |c| c.number) >= number {
            return Err(Error::Raced(
                "another CRL was issued while this one was being signed",
            ));
        }
        tx.append(&operator.0, &Event::CrlIssued(payload.clone()))?;
        attestor.commit(tx)?;
        Ok(CrlInfo {
            generation,
            number,
            this_update: payload.this_update,
            next_update: payload.next_update,
            entries: payload.serials.len() as i64,
            sha256: payload.sha256,
            pem: issued.pem(),
            written: None,
        })
    })?;
    if let Some(r) = reserved {
        let path = r.path().to_owned();
        r.commit(info.pem.as_bytes())
            .map_err(|e| Error::RecordedNotWritten {
                done: format!("CRL {} was signed", info.number),
                remedy: "Free space or fix the directory, then issue a fresh CRL with `rootvault crl --out FILE`.".to_owned(),
                source: Box::new(e.into()),
            })?;
        return Ok(CrlInfo {
            written: Some(path),
            ..info
        });
    }
    Ok(info)
}
