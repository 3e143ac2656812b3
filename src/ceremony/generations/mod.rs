//! Root generations (docs/rotation.md): `root rotate`, `root retire`, `root destroy-key`,
//! `root csr`, `root import`, and what `root show` and `root cert` read of them.
//!
//! A generation goes `pending` (key made, certificate not yet imported) or straight to
//! `active` (it issues intermediates), then `trusted` (a newer one is active; it is still in
//! every trust bundle and signs its own CRLs), then `retired` (in no bundle; it signs only its
//! own CRLs), and its key may then be destroyed. Each step is one event, confirmed by at least
//! [`ROOT_CONFIRM_DIGITS`] hex digits of a fingerprint, checked against the ledger before and
//! against what the token attested inside the session, and refused (exit 3) with nothing
//! changed when the vault's state forbids it: a key made for a step that fails is destroyed.
//!
//! Every step but `root cert` changes what the vault trusts, so each passes the witness gate
//! (`ceremony/witness.rs`) as `root create` does: its statement body is built from the
//! ledger alone (no time of "now"), the signatures are checked before the operator confirms
//! and before the PIN is read, the approval is attested first inside the session (before a
//! key is made or destroyed), and the step's transaction begins through it.

use std::str::FromStr;

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::confirm::{self, Answer, Confirm, ConfirmRequest};
use super::state::{self, TokenState};
use super::witness::{self, WitnessSigs};
use super::{rfc3339, Ctx, Output};
use crate::error::{Error, NotConfirmed, Refusal, Result};
use crate::fsio;
use crate::keys::{sha256_hex, KeyType, RawSigner};
use crate::ledger::{
    CertificateRecord, Event, GenerationRecord, Ledger, LedgerError, LinkedCertificate,
    RootImported, RootKeyDestroyed, RootKeyGenerated, RootRetired, RootRotated,
};
use crate::vault::Vault;
use crate::witness::Body;
use crate::x509::{self, Attr, CaProfile, Dn, Draft, Issuing};

mod retire;
mod rotate;
mod subordinate;

pub use retire::*;
pub(crate) use retire::{destroy_statement, retire_statement};
pub(crate) use rotate::rotate_statement;
pub use rotate::*;
pub use subordinate::*;
pub(crate) use subordinate::{csr_statement, import_statement};

/// The fewest hex digits that confirm a root lifecycle step: 64 bits.
pub const ROOT_CONFIRM_DIGITS: usize = 16;

/// The default CKA_LABEL of generation `generation`'s key: `rootvault-root` for the first
/// (as `root create` always named it), `rootvault-root-gN` after.
pub fn default_key_label(generation: u32) -> String {
    if generation == 1 {
        super::DEFAULT_ROOT_LABEL.to_owned()
    } else {
        format!("{}-g{generation}", super::DEFAULT_ROOT_LABEL)
    }
}

/// A root generation as `root show` and the TUI describe it.
#[derive(Debug, Clone, Serialize)]
pub struct GenerationInfo {
    /// 1, 2, ...
    pub generation: u32,
    /// `pending`, `active`, `trusted` or `retired`.
    pub status: String,
    /// Its certificate's subject (for a pending generation, the subject requested).
    pub subject: String,
    /// Its certificate's serial, lowercase hex (null while pending).
    pub serial: Option<String>,
    /// SHA-256 of its DER certificate (null while pending).
    pub sha256: Option<String>,
    /// RFC 3339 (null while pending).
    pub not_before: Option<String>,
    /// RFC 3339 (null while pending).
    pub not_after: Option<String>,
    /// Its key type.
    pub key_type: String,
    /// Whether its certificate is self-signed (false for a subordinate of an enterprise root,
    /// and while pending).
    pub self_signed: bool,
    /// Its certificate's issuer (null while pending).
    pub issuer: Option<String>,
    /// SHA-256 of its key's SubjectPublicKeyInfo.
    pub spki_sha256: Option<String>,
    /// CKA_LABEL of its key pair on the token.
    pub key_label: String,
    /// CKA_ID, hex.
    pub key_id: String,
    /// Whether its key was destroyed on the token.
    pub key_destroyed: bool,
    /// SHA-256 of its cross-certificate (signed by the generation before it), if it has one.
    pub cross_sha256: Option<String>,
    /// The subject of the self-signed anchor its chain ends in (itself for a root).
    pub anchor: Option<String>,
    /// The event that gave it its status.
    pub status_seq: i64,
    /// Its certificate, PEM.
    #[serde(skip)]
    pub pem: Option<String>,
}

/// Every root generation, oldest first, as the ledger records them (no PIN needed; what a
/// signature or export is built from is proven against the token where it is used).
pub fn generations(vault: &Vault) -> Result<Vec<GenerationInfo>> {
    let ledger = vault.ledger()?;
    ledger
        .generations()?
        .iter()
        .map(|g| describe(&ledger, g))
        .collect()
}

fn describe(ledger: &Ledger, g: &GenerationRecord) -> Result<GenerationInfo> {
    let cross = ledger.root_links(g.generation, "cross")?;
    let chain = ledger.root_links(g.generation, "chain")?;
    let mut info = GenerationInfo {
        generation: g.generation,
        status: g.status.clone(),
        subject: String::new(),
        serial: None,
        sha256: None,
        not_before: None,
        not_after: None,
        key_type: g.key_type.clone(),
        self_signed: false,
        issuer: None,
        spki_sha256: None,
        key_label: g.key_label.clone(),
        key_id: g.key_id.clone(),
        key_destroyed: g.key_destroyed,
        cross_sha256: cross.first().map(|c| c.sha256.clone()),
        anchor: None,
        status_seq: g.status_seq,
        pem: None,
    };
    match &g.certificate {
        Some(c) => {
            let (_, cert) = X509Certificate::from_der(&c.der)
                .map_err(|e| LedgerError::malformed("a root certificate", e))?;
            info.subject = c.record.subject.clone();
            info.serial = Some(c.record.serial.clone());
            info.sha256 = Some(c.record.sha256.clone());
            info.not_before = Some(c.record.not_before.clone());
            info.not_after = Some(c.record.not_after.clone());
            info.spki_sha256 = Some(c.record.spki_sha256.clone());
            info.self_signed = cert.issuer().as_raw() == cert.subject().as_raw();
            info.issuer = Some(cert.issuer().to_string());
            info.anchor = Some(match chain.last() {
                Some(a) => a.subject.clone(),
                None => c.record.subject.clone(),
            });
            info.pem = Some(x509::certificate_pem(&c.der));
        }
        None => {
            if let Some(Event::RootKeyGenerated(k)) = ledger.event(g.status_seq)? {
                info.subject = k.subject;
                info.spki_sha256 = Some(k.spki_sha256);
            }
        }
    }
    Ok(info)
}

/// The confirmation every step asks for: at least [`ROOT_CONFIRM_DIGITS`] hex digits, then
/// [`confirm::check`]'s prefix match.
fn confirm_root_step(
    request: &ConfirmRequest,
    confirmer: &mut dyn Confirm,
    nothing: &'static str,
) -> Result<()> {
    let answer = confirmer.ask(request);
    if let Answer::Typed(t) = &answer {
        let digits = t.chars().filter(|c| !matches!(c, ':' | ' ' | '\t')).count();
        if digits < ROOT_CONFIRM_DIGITS {
            return Err(NotConfirmed::TooShort {
                subject: request.subject,
                min: ROOT_CONFIRM_DIGITS,
                nothing,
            }
            .into());
        }
    }
    confirm::check(request, answer, nothing)
}

fn active_of(generations: &[GenerationRecord]) -> Option<&GenerationRecord> {
    generations.iter().rev().find(|g| g.status == "active")
}

fn require_generation(ledger: &Ledger, generation: u32) -> Result<GenerationRecord> {
    Ok(ledger
        .generation(generation)?
        .ok_or(Refusal::NoSuchGeneration(generation))?)
}

fn next_generation(generations: &[GenerationRecord]) -> u32 {
    generations.iter().map(|g| g.generation).max().unwrap_or(0) + 1
}

fn refuse_if_pending(generations: &[GenerationRecord]) -> Result<()> {
    match generations.iter().find(|g| g.status == "pending") {
        Some(p) => Err(Refusal::PendingExists(p.generation).into()),
        None => Ok(()),
    }
}

fn is_self_signed(der: &[u8]) -> Result<bool> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| LedgerError::malformed("a root certificate", e))?;
    Ok(cert.issuer().as_raw() == cert.subject().as_raw())
}

fn parse_time(what: &'static str, t: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| LedgerError::malformed(what, e).into())
}

// ------------------------------------------------------------------------------------------
// root rotate
// ------------------------------------------------------------------------------------------

/// Which certificate(s) `root cert` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootCert {
    /// One generation's certificate.
    Generation(u32),
    /// The trust bundle: every active and trusted generation's anchor, active first.
    Bundle,
    /// Generation N's cross-certificate.
    Cross(u32),
}

/// The PEM of `which`, built from what the token attested (the ledger checked against the
/// token's state, nothing written): what clients and clusters install must not come from a
/// table someone could edit.
pub fn root_certificate(ctx: &Ctx<'_>, which: RootCert) -> Result<String> {
    let ledger = ctx.vault.ledger()?;
    let state = proven_state(ctx, &ledger)?;
    let ders = match which {
        RootCert::Bundle => super::verified::trust_bundle(&ledger, &state)?,
        RootCert::Generation(g) => {
            let record = require_generation(&ledger, g)?;
            if record.certificate.is_none() {
                return Err(Refusal::GenerationPending {
                    generation: g,
                    what: "have its certificate printed",
                }
                .into());
            }
            vec![super::verified::root_of(&ledger, &state, g)?.der]
        }
        RootCert::Cross(g) => {
            require_generation(&ledger, g)?;
            match super::verified::cross(&ledger, &state, g)? {
                Some(der) => vec![der],
                None => return Err(Refusal::NoCross(g).into()),
            }
        }
    };
    Ok(super::bundle::pems(&ders))
}

/// The token's state, the ledger compared with it (read-only: nothing is written).
fn proven_state(ctx: &Ctx<'_>, ledger: &Ledger) -> Result<TokenState> {
    ctx.logged_in(|session| {
        let audit = ledger.audit_key()?.ok_or(LedgerError::Integrity(
            "the ledger records no audit key".into(),
        ))?;
        let key =
            session.find_key_pair(KeyType::EcdsaP256, &audit.key_label, &audit.key_id_bytes()?)?;
        let spki = key.public_key().spki_der();
        if spki != audit.public_key_der()? {
            return Err(LedgerError::Integrity(
                "the token's audit key is not the one the ledger records".into(),
            )
            .into());
        }
        Ok(state::compare(ledger, session, &spki)?.state)
    })
}

// ------------------------------------------------------------------------------------------
// Is an export stale for the phase?
// ------------------------------------------------------------------------------------------

/// A cluster's latest export, judged against the vault's current phase.
#[derive(Debug, Clone, Serialize)]
pub struct ExportFreshness {
    /// The cluster.
    pub cluster: String,
    /// The export's event.
    pub seq: i64,
    /// Its format.
    pub format: String,
    /// Where it was written.
    pub path: String,
    /// Whether it must be exported again.
    pub stale: bool,
    /// Why, one sentence each.
    pub reasons: Vec<String>,
}

/// For each cluster, whether its latest export still matches the phase: its `root-cert.pem`
/// the current trust bundle, its intermediate the cluster's current one. From the ledger (a
/// warning for the faces, not a proof).
pub fn export_freshness(vault: &Vault) -> Result<Vec<ExportFreshness>> {
    let ledger = vault.ledger()?;
    let generations = ledger.generations()?;
    let mut bundle: Vec<String> = Vec::new();
    let order = active_of(&generations)
        .into_iter()
        .chain(generations.iter().rev().filter(|g| g.status == "trusted"));
    for g in order {
        let anchor = match ledger.root_links(g.generation, "chain")?.last() {
            Some(a) => Some(a.sha256.clone()),
            None => g.certificate.as_ref().map(|c| c.record.sha256.clone()),
        };
        if let Some(a) = anchor {
            if !bundle.contains(&a) {
                bundle.push(a);
            }
        }
    }
    let revoked: std::collections::BTreeSet<String> = ledger
        .revocations()?
        .into_iter()
        .map(|r| r.serial)
        .collect();
    let mut out = Vec::new();
    for (seq, e) in ledger.latest_exports()? {
        let mut reasons = Vec::new();
        if e.trust_sha256.is_empty() || e.trust_sha256 != bundle {
            reasons.push(format!(
                "its root-cert.pem holds {} root(s), the phase's trust bundle {}: export it again",
                if e.trust_sha256.is_empty() {
                    1
                } else {
                    e.trust_sha256.len()
                },
                bundle.len()
            ));
        }
        let current = ledger
            .intermediates(Some(&e.cluster))?
            .into_iter()
            .rev()
            .find(|r| {
                !revoked.contains(&r.record.serial)
                    && super::CertInfo::from_row(r, None).status == super::CertStatus::Valid
            });
        match current {
            Some(c) if c.record.serial != e.serial => reasons.push(format!(
                "it carries intermediate {}, but the cluster's current one is {}",
                e.serial, c.record.serial
            )),
            None => reasons.push("the cluster has no valid intermediate any more".to_owned()),
            Some(_) => {}
        }
        out.push(ExportFreshness {
            cluster: e.cluster,
            seq,
            format: e.format,
            path: e.path,
            stale: !reasons.is_empty(),
            reasons,
        });
    }
    Ok(out)
}
