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

/// What `root rotate` asks for.
#[derive(Debug, Clone)]
pub struct RotateRequest {
    /// The new root's subject.
    pub subject: Dn,
    /// Its key type (any allowed: P-384 replacing P-256 is a typical reason to rotate).
    pub key_type: KeyType,
    /// Its validity in days.
    pub days: u32,
    /// basicConstraints pathLenConstraint of the new root and its cross-certificate.
    pub path_len: Option<u8>,
    /// CKA_LABEL for its key pair (default [`default_key_label`]).
    pub key_label: Option<String>,
}

/// What `root rotate` made.
#[derive(Debug, Clone, Serialize)]
pub struct RotateReport {
    /// The new generation.
    pub root: GenerationInfo,
    /// The generation it replaced (now trusted).
    pub previous: u32,
    /// The cross-certificate's SHA-256.
    pub cross_sha256: String,
    /// The new root certificate, PEM.
    pub root_pem: String,
    /// The cross-certificate, PEM.
    pub cross_pem: String,
}

/// Checks that the vault can rotate and returns what the operator confirms: the active root
/// certificate's SHA-256. Nothing is touched.
pub fn rotate_confirmation(vault: &Vault, req: &RotateRequest) -> Result<ConfirmRequest> {
    let ledger = vault.ledger()?;
    let generations = ledger.generations()?;
    refuse_if_pending(&generations)?;
    let active = active_of(&generations).ok_or(Refusal::NoRoot)?;
    let cert = active.certificate.as_ref().ok_or(Refusal::NoRoot)?;
    if !is_self_signed(&cert.der)? {
        return Err(Refusal::RotateSubordinate(active.generation).into());
    }
    let next = next_generation(&generations);
    let label = req
        .key_label
        .clone()
        .unwrap_or_else(|| default_key_label(next));
    Ok(ConfirmRequest {
        action: "rotate the root",
        summary: vec![
            (
                "active root".to_owned(),
                format!(
                    "generation {}: {} (until {})",
                    active.generation, cert.record.subject, cert.record.not_after
                ),
            ),
            ("active SHA-256".to_owned(), cert.record.sha256.clone()),
            (
                "new root".to_owned(),
                format!("generation {next}: {}", req.subject),
            ),
            ("key type".to_owned(), req.key_type.name().to_owned()),
            ("days".to_owned(), req.days.to_string()),
            ("key label".to_owned(), label),
            (
                "cross-certificate".to_owned(),
                format!(
                    "the new key certified by generation {}, valid until {} at the latest",
                    active.generation, cert.record.not_after
                ),
            ),
            (
                "afterwards".to_owned(),
                format!(
                    "generation {next} active (issues intermediates), generation {} trusted (in every trust bundle): re-export every cluster so its root-cert.pem holds both",
                    active.generation
                ),
            ),
        ],
        subject: "the active root certificate's SHA-256",
        expected: cert.record.sha256.clone(),
    })
}

/// The statement body of `root rotate`, after the checks of [`rotate_confirmation`]: the new
/// root's subject, key type, validity in days, pathlen and key label, and the active root it
/// replaces, by its certificate's SHA-256.
fn rotate_body(ledger: &Ledger, req: &RotateRequest) -> Result<Body> {
    let generations = ledger.generations()?;
    let active = active_of(&generations).ok_or(Refusal::NoRoot)?;
    let cert = active.certificate.as_ref().ok_or(Refusal::NoRoot)?;
    let next = next_generation(&generations);
    let label = req
        .key_label
        .clone()
        .unwrap_or_else(|| default_key_label(next));
    let mut body = Body::new("root rotate");
    body.line("new generation", format!("{next} (becomes active)"))
        .line("subject", &req.subject)
        .line("key type", req.key_type.name())
        .line("validity", format!("{} days", req.days))
        .line(
            "pathlen",
            req.path_len.map_or("none".to_owned(), |p| p.to_string()),
        )
        .line("token key label", label)
        .line(
            "active root",
            format!(
                "generation {} (becomes trusted): {}",
                active.generation, cert.record.subject
            ),
        )
        .line("active root certificate SHA-256", &cert.record.sha256)
        .line(
            "cross-certificate",
            format!(
                "the new key certified by generation {}, until {} at the latest",
                active.generation, cert.record.not_after
            ),
        );
    Ok(body)
}

/// `root rotate … --statement-out`: the checks of [`rotate_root`], then its statement body.
pub(super) fn rotate_statement(vault: &Vault, req: &RotateRequest) -> Result<Body> {
    rotate_confirmation(vault, req)?;
    rotate_body(&vault.ledger()?, req)
}

/// `root rotate`: a new key on the token, a self-signed root for it (the next generation) and
/// a cross-certificate of it signed by the active generation, within the active root's
/// validity; the new generation becomes active and the old one trusted. A failure after the
/// key was made destroys the key.
pub fn rotate_root(
    ctx: &Ctx<'_>,
    req: &RotateRequest,
    confirmer: &mut dyn Confirm,
) -> Result<RotateReport> {
    rotate_root_witnessed(ctx, req, &WitnessSigs::none(), confirmer)
}

/// [`rotate_root`] with the witnesses' signatures of its statement: checked before the
/// operator confirms and the PIN is read; no key is made unless they count.
pub fn rotate_root_witnessed(
    ctx: &Ctx<'_>,
    req: &RotateRequest,
    sigs: &WitnessSigs,
    confirmer: &mut dyn Confirm,
) -> Result<RotateReport> {
    let request = rotate_confirmation(ctx.vault, req)?;
    let mut ledger = ctx.vault.ledger()?;
    let approval = witness::approve(
        ctx.vault,
        &ledger,
        &rotate_body(&ledger, req)?,
        sigs,
        "nothing was rotated",
    )?;
    confirm_root_step(&request, confirmer, "nothing was rotated")?;
    let old = super::require_root(&ledger)?;
    let generation = next_generation(&ledger.generations()?);
    let label = req
        .key_label
        .clone()
        .unwrap_or_else(|| default_key_label(generation));
    let operator = ctx.operator;
    ctx.with_session(|session, attestor| {
        let attested = approval.attest(attestor)?;
        // The generation that signs the cross-certificate is the one the token attested active.
        super::verified::issuing(&old, &attestor.state())?;
        let old_key = super::sign::find_root_key(session, &old, attestor)?;
        let key = session.generate_key_pair(req.key_type, &label)?;
        let made = (|| -> Result<RotateReport> {
            let protection = session.protection(&key)?;
            if !protection.is_locked_in() {
                return Err(Error::KeyNotLockedIn {
                    what: "root key",
                    protection,
                });
            }
            let now = Utc::now();
            let profile = CaProfile {
                path_len: req.path_len,
                ..CaProfile::default()
            };
            let root_draft = Draft::new(
                super::sign::fresh_serial(&ledger, session)?,
                req.subject.clone(),
                key.public_key().clone(),
                Issuing::SelfSigned,
                now,
                now + Duration::days(i64::from(req.days)),
                profile.clone(),
            )?;
            let linted = x509::lint(root_draft)?;
            let root_draft = linted.draft().clone();
            let root = x509::sign(linted, &key)?;
            // The cross-certificate: the new root's subject and key, issued by the old root,
            // valid no longer than either.
            let old_not_after =
                parse_time("the active root's notAfter", &old.certificate.not_after)?;
            let cross_draft = Draft::new(
                super::sign::fresh_serial(&ledger, session)?,
                req.subject.clone(),
                key.public_key().clone(),
                Issuing::ByCa {
                    der: old.der.clone(),
                    key: old_key.public_key().clone(),
                },
                now,
                root_draft.not_after().min(old_not_after),
                profile,
            )?;
            let linted = x509::lint(cross_draft)?;
            let cross_draft = linted.draft().clone();
            let cross = x509::sign(linted, &old_key)?;
            crate::fault::point("rotate.after_sign");
            let root_record = super::sign::record_of(&root_draft, &root);
            let cross_record = super::sign::record_of(&cross_draft, &cross);
            let tx = attestor.take(attested.begin(&mut ledger, operator)?)?;
            // Checked again under the write lock: another process may have changed the roots.
            let now_generations = tx.generations()?;
            if next_generation(&now_generations) != generation
                || active_of(&now_generations).map(|g| g.generation) != Some(old.generation)
            {
                return Err(Error::Raced(
                    "another process changed the root generations meanwhile",
                ));
            }
            if tx.serial_exists(&cross_record.serial)? || cross_record.serial == root_record.serial
            {
                return Err(Error::SerialCollision(cross_record.serial.clone()));
            }
            tx.append(
                &operator.0,
                &Event::RootRotated(RootRotated {
                    generation,
                    previous: old.generation,
                    certificate: root_record.clone(),
                    key_label: key.label().to_owned(),
                    key_id: hex::encode(key.id()),
                    token_serial: ctx.vault.config().token.serial.clone(),
                    cross: cross_record.clone(),
                }),
            )?;
            attestor.commit(tx)?;
            let info = ledger.generation(generation)?.ok_or_else(|| {
                LedgerError::Integrity("the generation just recorded cannot be read back".into())
            })?;
            Ok(RotateReport {
                root: describe(&ledger, &info)?,
                previous: old.generation,
                cross_sha256: cross_record.sha256,
                root_pem: root.pem(),
                cross_pem: cross.pem(),
            })
        })();
        if made.is_err() {
            // Nothing may remain of a failed rotation: the new key goes too.
            let _ = session.destroy_key_pair(key);
        }
        made
    })
}

// ------------------------------------------------------------------------------------------
// root retire, root destroy-key
// ------------------------------------------------------------------------------------------

fn require_generation(ledger: &Ledger, generation: u32) -> Result<GenerationRecord> {
    Ok(ledger
        .generation(generation)?
        .ok_or(Refusal::NoSuchGeneration(generation))?)
}

/// The clusters (with serials) holding a valid intermediate of `generation`.
fn live_intermediates(
    ledger: &Ledger,
    generation: u32,
    revoked: &std::collections::BTreeSet<String>,
) -> Result<Vec<String>> {
    Ok(ledger
        .intermediates_of(generation)?
        .iter()
        .filter(|row| !revoked.contains(&row.record.serial))
        .filter(|row| super::CertInfo::from_row(row, None).status == "valid")
        .map(|row| {
            format!(
                "{} (serial {})",
                row.cluster.as_deref().unwrap_or("-"),
                row.record.serial
            )
        })
        .collect())
}

/// Checks that generation `generation` can retire and returns what the operator confirms: its
/// certificate's SHA-256. Nothing is touched.
pub fn retire_confirmation(vault: &Vault, generation: u32) -> Result<ConfirmRequest> {
    let ledger = vault.ledger()?;
    let g = require_generation(&ledger, generation)?;
    if g.status != "trusted" {
        return Err(Refusal::RetireNotTrusted {
            generation,
            status: g.status,
        }
        .into());
    }
    let revoked = ledger
        .revocations()?
        .into_iter()
        .map(|r| r.serial)
        .collect();
    let live = live_intermediates(&ledger, generation, &revoked)?;
    if !live.is_empty() {
        return Err(Refusal::RetireInUse {
            generation,
            clusters: live,
        }
        .into());
    }
    let cert = g.certificate.as_ref().ok_or(Refusal::GenerationPending {
        generation,
        what: "be retired",
    })?;
    Ok(ConfirmRequest {
        action: "retire the root",
        summary: vec![
            (
                "retire".to_owned(),
                format!(
                    "generation {generation}: {} (until {})",
                    cert.record.subject, cert.record.not_after
                ),
            ),
            ("SHA-256".to_owned(), cert.record.sha256.clone()),
            (
                "afterwards".to_owned(),
                "it is in no trust bundle and signs only its own CRLs: re-export every cluster so that its root-cert.pem no longer holds it".to_owned(),
            ),
        ],
        subject: "the retiring root certificate's SHA-256",
        expected: cert.record.sha256.clone(),
    })
}

/// The statement body of `root retire`: the generation and its certificate's SHA-256.
fn retire_body(ledger: &Ledger, generation: u32) -> Result<Body> {
    let g = require_generation(ledger, generation)?;
    let cert = g.certificate.as_ref().ok_or(Refusal::GenerationPending {
        generation,
        what: "be retired",
    })?;
    let mut body = Body::new("root retire");
    body.line(
        "generation",
        format!("{generation} (leaves every trust bundle)"),
    )
    .line("subject", &cert.record.subject)
    .line("certificate SHA-256", &cert.record.sha256);
    Ok(body)
}

/// `root retire … --statement-out`: the checks of [`retire_root`], then its statement body.
pub(super) fn retire_statement(vault: &Vault, generation: u32) -> Result<Body> {
    retire_confirmation(vault, generation)?;
    retire_body(&vault.ledger()?, generation)
}

/// `root retire --generation N`: the generation leaves every trust bundle. Refused (exit 3)
/// unless it is trusted and no valid intermediate it issued remains; the whole ledger is
/// verified first, so a certificate row removed to make the check pass is found.
pub fn retire_root(
    ctx: &Ctx<'_>,
    generation: u32,
    confirmer: &mut dyn Confirm,
) -> Result<GenerationInfo> {
    retire_root_witnessed(ctx, generation, &WitnessSigs::none(), confirmer)
}

/// [`retire_root`] with the witnesses' signatures of its statement.
pub fn retire_root_witnessed(
    ctx: &Ctx<'_>,
    generation: u32,
    sigs: &WitnessSigs,
    confirmer: &mut dyn Confirm,
) -> Result<GenerationInfo> {
    let request = retire_confirmation(ctx.vault, generation)?;
    let mut ledger = ctx.vault.ledger()?;
    let approval = witness::approve(
        ctx.vault,
        &ledger,
        &retire_body(&ledger, generation)?,
        sigs,
        "nothing was retired",
    )?;
    confirm_root_step(&request, confirmer, "nothing was retired")?;
    let report = ledger.verify()?;
    if !report.ok {
        return Err(LedgerError::Integrity(format!(
            "the ledger does not verify ({}), so it cannot show that no valid intermediate of generation {generation} remains",
            report.problems.first().map_or("", String::as_str)
        ))
        .into());
    }
    ctx.with_session(|_session, attestor| {
        let approved = approval.attest(attestor)?;
        let state = attestor.state();
        let attested = super::verified::generation(&state, generation)?
            .status
            .clone();
        if attested != "trusted" {
            return Err(Refusal::RetireNotTrusted {
                generation,
                status: attested,
            }
            .into());
        }
        let root = super::verified::root_of(&ledger, &state, generation)?;
        let revoked = super::verified::revoked_serials(&ledger, &state)?;
        let live = live_intermediates(&ledger, generation, &revoked)?;
        if !live.is_empty() {
            return Err(Refusal::RetireInUse {
                generation,
                clusters: live,
            }
            .into());
        }
        let tx = attestor.take(approved.begin(&mut ledger, ctx.operator)?)?;
        if tx
            .generations()?
            .iter()
            .find(|g| g.generation == generation)
            .is_none_or(|g| g.status != "trusted")
        {
            return Err(Error::Raced(
                "another process changed the root generations meanwhile",
            ));
        }
        tx.append(
            &ctx.operator.0,
            &Event::RootRetired(RootRetired {
                generation,
                sha256: root.certificate.sha256.clone(),
            }),
        )?;
        attestor.commit(tx)?;
        Ok(())
    })?;
    describe(&ledger, &require_generation(&ledger, generation)?)
}

/// Checks that generation `generation`'s key can be destroyed and returns what the operator
/// confirms: the SHA-256 of the key's SubjectPublicKeyInfo. Nothing is touched.
pub fn destroy_key_confirmation(vault: &Vault, generation: u32) -> Result<ConfirmRequest> {
    let ledger = vault.ledger()?;
    let g = require_generation(&ledger, generation)?;
    if g.status != "retired" || g.key_destroyed {
        return Err(Refusal::DestroyNotRetired {
            generation,
            status: if g.key_destroyed {
                "retired, and its key was destroyed already".to_owned()
            } else {
                g.status
            },
        }
        .into());
    }
    let cert = g.certificate.as_ref().ok_or(Refusal::GenerationPending {
        generation,
        what: "have its key destroyed",
    })?;
    Ok(ConfirmRequest {
        action: "destroy the retired root's key",
        summary: vec![
            (
                "destroy".to_owned(),
                format!(
                    "the key of generation {generation} ({}), label {} id {}",
                    cert.record.subject, g.key_label, g.key_id
                ),
            ),
            ("SPKI SHA-256".to_owned(), cert.record.spki_sha256.clone()),
            (
                "afterwards".to_owned(),
                "it can never sign again, not even a CRL: issue its last CRL first (`rootvault crl --generation N`)".to_owned(),
            ),
        ],
        subject: "the retired key's SPKI SHA-256",
        expected: cert.record.spki_sha256.clone(),
    })
}

/// The statement body of `root destroy-key`: the generation and its key (label, id, SPKI
/// SHA-256).
fn destroy_body(ledger: &Ledger, generation: u32) -> Result<Body> {
    let g = require_generation(ledger, generation)?;
    let cert = g.certificate.as_ref().ok_or(Refusal::GenerationPending {
        generation,
        what: "have its key destroyed",
    })?;
    let mut body = Body::new("root destroy-key");
    body.line("generation", format!("{generation} (retired)"))
        .line("subject", &cert.record.subject)
        .line(
            "key",
            format!(
                "label {}, id {}, {}",
                g.key_label, g.key_id, cert.record.key_type
            ),
        )
        .line("key SPKI SHA-256", &cert.record.spki_sha256);
    Ok(body)
}

/// `root destroy-key … --statement-out`: the checks of [`destroy_root_key`], then its
/// statement body.
pub(super) fn destroy_statement(vault: &Vault, generation: u32) -> Result<Body> {
    destroy_key_confirmation(vault, generation)?;
    destroy_body(&vault.ledger()?, generation)
}

/// `root destroy-key --generation N`: destroys a retired generation's key on the token and
/// records it. If the key is already gone from the token (a crash after destroying it), the
/// destruction is recorded all the same.
pub fn destroy_root_key(
    ctx: &Ctx<'_>,
    generation: u32,
    confirmer: &mut dyn Confirm,
) -> Result<GenerationInfo> {
    destroy_root_key_witnessed(ctx, generation, &WitnessSigs::none(), confirmer)
}

/// [`destroy_root_key`] with the witnesses' signatures of its statement. The ledger's write
/// transaction (still at the statement's head) is open before the key is destroyed, so a
/// ledger that moved meanwhile stops it with the key intact.
pub fn destroy_root_key_witnessed(
    ctx: &Ctx<'_>,
    generation: u32,
    sigs: &WitnessSigs,
    confirmer: &mut dyn Confirm,
) -> Result<GenerationInfo> {
    let request = destroy_key_confirmation(ctx.vault, generation)?;
    let mut ledger = ctx.vault.ledger()?;
    let approval = witness::approve(
        ctx.vault,
        &ledger,
        &destroy_body(&ledger, generation)?,
        sigs,
        "no key was destroyed",
    )?;
    confirm_root_step(&request, confirmer, "no key was destroyed")?;
    ctx.with_session(|session, attestor| {
        let approved = approval.attest(attestor)?;
        let state = attestor.state();
        let attested = super::verified::generation(&state, generation)?;
        if attested.status != "retired" || attested.key_destroyed {
            return Err(Refusal::DestroyNotRetired {
                generation,
                status: attested.status.clone(),
            }
            .into());
        }
        let root = super::verified::root_of(&ledger, &state, generation)?;
        let key = match super::sign::find_root_key(session, &root, attestor) {
            Ok(key) => Some(key),
            Err(Error::Hsm(crate::hsm::HsmError::KeyNotFound { .. })) => None,
            Err(e) => return Err(e),
        };
        let tx = attestor.take(approved.begin(&mut ledger, ctx.operator)?)?;
        if let Some(key) = key {
            session.destroy_key_pair(key)?;
        }
        crate::fault::point("destroy.after_destroy");
        tx.append(
            &ctx.operator.0,
            &Event::RootKeyDestroyed(RootKeyDestroyed {
                generation,
                key_label: root.key_label.clone(),
                key_id: root.key_id.clone(),
                spki_sha256: root.certificate.spki_sha256.clone(),
            }),
        )?;
        attestor.commit(tx)?;
        Ok(())
    })?;
    describe(&ledger, &require_generation(&ledger, generation)?)
}

// ------------------------------------------------------------------------------------------
// root csr, root import
// ------------------------------------------------------------------------------------------

/// What `root csr` asks for.
#[derive(Debug, Clone)]
pub struct RootCsrRequest {
    /// The subject to request.
    pub subject: Dn,
    /// The key type to generate on the token.
    pub key_type: KeyType,
    /// CKA_LABEL (default [`default_key_label`]).
    pub key_label: Option<String>,
    /// Where to write the request (PEM).
    pub out: Output,
}

/// What `root csr` made.
#[derive(Debug, Clone, Serialize)]
pub struct RootCsrReport {
    /// The pending generation.
    pub generation: u32,
    /// Key type.
    pub key_type: String,
    /// SHA-256 of the key's SubjectPublicKeyInfo: what the enterprise CA's operator compares.
    pub spki_sha256: String,
    /// SHA-256 of the DER request.
    pub csr_sha256: String,
    /// Where it was written.
    pub path: std::path::PathBuf,
}

/// What the operator would confirm for `root csr` (the TUI asks; the command line does not, as
/// making a pending key changes no trust): the request's subject, key and token, confirmed by
/// the SHA-256 of those lines (`printf 'subject=%s\nkey-type=%s\ntoken-serial=%s\n' … |
/// sha256sum`). Refuses what `root csr` would refuse.
pub fn csr_confirmation(vault: &Vault, req: &RootCsrRequest) -> Result<ConfirmRequest> {
    let ledger = vault.ledger()?;
    let generations = ledger.generations()?;
    refuse_if_pending(&generations)?;
    let token_serial = &vault.config().token.serial;
    let fingerprint = sha256_hex(
        format!(
            "subject={}\nkey-type={}\ntoken-serial={token_serial}\n",
            req.subject,
            req.key_type.name()
        )
        .as_bytes(),
    );
    Ok(ConfirmRequest {
        action: "make a root key and its certificate request",
        summary: vec![
            (
                "generation".to_owned(),
                format!(
                    "{} (pending until its certificate is imported)",
                    next_generation(&generations)
                ),
            ),
            ("subject".to_owned(), req.subject.to_string()),
            ("key type".to_owned(), req.key_type.name().to_owned()),
            ("token serial".to_owned(), token_serial.clone()),
            ("request SHA-256".to_owned(), fingerprint.clone()),
        ],
        subject: "the SHA-256 of the request's lines",
        expected: fingerprint,
    })
}

/// The statement body of `root csr`, after its checks: the pending generation, the subject
/// requested, the key type and its label.
fn csr_body(ledger: &Ledger, req: &RootCsrRequest) -> Result<Body> {
    let generations = ledger.generations()?;
    refuse_if_pending(&generations)?;
    let generation = next_generation(&generations);
    let label = req
        .key_label
        .clone()
        .unwrap_or_else(|| default_key_label(generation));
    let mut body = Body::new("root csr");
    body.line(
        "generation",
        format!("{generation} (pending until its certificate is imported)"),
    )
    .line("subject", &req.subject)
    .line("key type", req.key_type.name())
    .line("token key label", label);
    Ok(body)
}

/// `root csr … --statement-out`: the checks of [`root_csr`], then its statement body.
pub(super) fn csr_statement(vault: &Vault, req: &RootCsrRequest) -> Result<Body> {
    csr_body(&vault.ledger()?, req)
}

/// `root csr`: a key on the token (a pending generation) and a PKCS#10 request for it signed
/// on the token, written to `out` (reserved before the token is touched). A failure before the
/// generation is recorded destroys the key.
pub fn root_csr(ctx: &Ctx<'_>, req: &RootCsrRequest) -> Result<RootCsrReport> {
    root_csr_witnessed(ctx, req, &WitnessSigs::none())
}

/// [`root_csr`] with the witnesses' signatures of its statement: no key is made on the
/// token unless they count.
pub fn root_csr_witnessed(
    ctx: &Ctx<'_>,
    req: &RootCsrRequest,
    sigs: &WitnessSigs,
) -> Result<RootCsrReport> {
    let mut ledger = ctx.vault.ledger()?;
    let approval = witness::approve(
        ctx.vault,
        &ledger,
        &csr_body(&ledger, req)?,
        sigs,
        "no key was generated",
    )?;
    let generations = ledger.generations()?;
    refuse_if_pending(&generations)?;
    let generation = next_generation(&generations);
    let label = req
        .key_label
        .clone()
        .unwrap_or_else(|| default_key_label(generation));
    let reserved =
        fsio::ReservedFile::reserve(&req.out.path, req.out.force, fsio::CERT_RESERVATION)?;
    let (report, pem) = ctx.with_session(|session, attestor| {
        let attested = approval.attest(attestor)?;
        let key = session.generate_key_pair(req.key_type, &label)?;
        let made = (|| -> Result<(RootCsrReport, String)> {
            let protection = session.protection(&key)?;
            if !protection.is_locked_in() {
                return Err(Error::KeyNotLockedIn {
                    what: "root key",
                    protection,
                });
            }
            let der = x509::sign_request(&req.subject, &key)?;
            let spki_sha256 = key.public_key().spki_sha256_hex();
            let csr_sha256 = sha256_hex(&der);
            let tx = attestor.take(attested.begin(&mut ledger, ctx.operator)?)?;
            let now_generations = tx.generations()?;
            refuse_if_pending(&now_generations)?;
            if next_generation(&now_generations) != generation {
                return Err(Error::Raced(
                    "another process changed the root generations meanwhile",
                ));
            }
            tx.append(
                &ctx.operator.0,
                &Event::RootKeyGenerated(RootKeyGenerated {
                    generation,
                    key_label: key.label().to_owned(),
                    key_id: hex::encode(key.id()),
                    key_type: req.key_type.name().to_owned(),
                    spki_sha256: spki_sha256.clone(),
                    token_serial: ctx.vault.config().token.serial.clone(),
                    subject: req.subject.to_string(),
                    csr_sha256: csr_sha256.clone(),
                }),
            )?;
            attestor.commit(tx)?;
            Ok((
                RootCsrReport {
                    generation,
                    key_type: req.key_type.name().to_owned(),
                    spki_sha256,
                    csr_sha256,
                    path: req.out.path.clone(),
                },
                x509::to_pem("CERTIFICATE REQUEST", &der),
            ))
        })();
        if made.is_err() {
            let _ = session.destroy_key_pair(key);
        }
        made
    })?;
    reserved
        .commit(pem.as_bytes())
        .map_err(|e| Error::RecordedNotWritten {
            done: format!("the key of pending root generation {generation} was made on the token"),
            remedy: "The request was not kept: abandon nothing, but ask for support to write it again (the key is recorded; its public key is in `rootvault root show --json`).".to_owned(),
            source: Box::new(e.into()),
        })?;
    Ok(report)
}

/// What `root import` is given.
#[derive(Debug, Clone, Copy)]
pub struct ImportRequest<'a> {
    /// The certificate file: the certificate the enterprise root issued, PEM or DER, possibly
    /// followed by its chain.
    pub cert: &'a [u8],
    /// The chain file, if one was given: the certificates from its issuer up to and including
    /// the enterprise's self-signed root, PEM, in any order.
    pub chain: Option<&'a [u8]>,
}

/// An imported certificate that passed every check, ready to confirm.
#[derive(Debug, Clone)]
pub struct CheckedImport {
    /// The pending generation it completes.
    pub generation: u32,
    /// The generation that becomes trusted, if one is active.
    pub previous: Option<u32>,
    /// The certificate as the ledger will keep it.
    pub record: CertificateRecord,
    /// Its chain: issuer first, the self-signed anchor last.
    pub chain: Vec<LinkedCertificate>,
    /// The pending key on the token.
    pub key_label: String,
    /// Its CKA_ID, hex.
    pub key_id: String,
    /// The certificate's basicConstraints pathLenConstraint (`None`: unlimited).
    pub path_len: Option<u32>,
}

fn import_refusal(check: &'static str, detail: impl Into<String>) -> Error {
    Refusal::Import {
        check,
        detail: detail.into(),
    }
    .into()
}

/// Every certificate in `bytes`: PEM blocks (`CERTIFICATE` only), or one DER certificate.
fn read_certificates(what: &str, bytes: &[u8]) -> Result<Vec<Vec<u8>>> {
    if let Ok(blocks) = pem::parse_many(bytes) {
        if !blocks.is_empty() {
            let mut out = Vec::new();
            for b in blocks {
                if b.tag() != "CERTIFICATE" {
                    return Err(import_refusal(
                        "certificate",
                        format!(
                            "{what} holds a {} block; pass CERTIFICATE blocks only",
                            b.tag()
                        ),
                    ));
                }
                out.push(b.into_contents());
            }
            return Ok(out);
        }
    }
    match X509Certificate::from_der(bytes) {
        Ok(([], _)) => Ok(vec![bytes.to_vec()]),
        _ => Err(import_refusal(
            "certificate",
            format!("{what} is neither PEM certificates nor one DER certificate"),
        )),
    }
}

fn parse<'a>(what: &str, der: &'a [u8]) -> Result<X509Certificate<'a>> {
    match X509Certificate::from_der(der) {
        Ok(([], c)) => Ok(c),
        Ok(_) => Err(import_refusal(
            "certificate",
            format!("{what} has trailing bytes"),
        )),
        Err(e) => Err(import_refusal(
            "certificate",
            format!("{what} is not a well-formed X.509 certificate ({e})"),
        )),
    }
}

/// The subject as the vault writes names (RFC 4514, C/ST/L/O/OU/CN), so that the policy can
/// read the root's O= as it does for a root the vault made.
fn subject_of(cert: &X509Certificate<'_>) -> Result<String> {
    let mut attrs = Vec::new();
    for a in cert.subject().iter_attributes() {
        let oid = a.attr_type().to_id_string();
        let attr = [
            Attr::Country,
            Attr::State,
            Attr::Locality,
            Attr::Organization,
            Attr::OrganizationalUnit,
            Attr::CommonName,
        ]
        .into_iter()
        .find(|k| k.oid() == oid)
        .ok_or_else(|| {
            import_refusal(
                "subject",
                format!("its subject ({}) has attribute {oid}, and the vault's names hold C, ST, L, O, OU and CN only", cert.subject()),
            )
        })?;
        let value = a.as_str().map_err(|_| {
            import_refusal(
                "subject",
                format!(
                    "its subject ({}) has a value that is not a string",
                    cert.subject()
                ),
            )
        })?;
        attrs.push((attr, value.to_owned()));
    }
    let dn = Dn::from_attrs(attrs).map_err(|e| import_refusal("subject", e))?;
    Ok(dn.to_string())
}

const SHA1_SIGNATURES: [&str; 2] = ["1.2.840.113549.1.1.5", "1.2.840.10045.4.1"];

/// The checks of cli.md for one CA certificate of the path: a CA, keyCertSign, pathLen room
/// for `below` CA certificates under it, valid now, not signed with SHA-1.
fn check_ca(what: &str, cert: &X509Certificate<'_>, below: u32, now: i64) -> Result<()> {
    match cert.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => {
            if let Some(n) = bc.value.path_len_constraint {
                if n < below {
                    return Err(import_refusal(
                        "pathLen",
                        format!(
                            "{what} has pathLen {n}, but {below} CA certificate(s) must fit under it (the vault's CA and each cluster's intermediate); the enterprise must issue it with pathLen {below} or more, or none"
                        ),
                    ));
                }
            }
        }
        _ => {
            return Err(import_refusal(
                "CA",
                format!("{what} is not a CA certificate (no basicConstraints cA TRUE)"),
            ))
        }
    }
    match cert.key_usage() {
        Ok(Some(ku)) if ku.value.key_cert_sign() => {}
        _ => {
            return Err(import_refusal(
                "keyCertSign",
                format!("{what} may not sign certificates (its keyUsage lacks keyCertSign)"),
            ))
        }
    }
    let v = cert.validity();
    if now < v.not_before.timestamp() || now > v.not_after.timestamp() {
        return Err(import_refusal(
            "validity",
            format!(
                "{what} is not valid now (valid from {} to {})",
                v.not_before, v.not_after
            ),
        ));
    }
    if SHA1_SIGNATURES.contains(&cert.signature_algorithm.algorithm.to_id_string().as_str()) {
        return Err(import_refusal(
            "signature",
            format!("{what} is signed with SHA-1, which istiod refuses"),
        ));
    }
    Ok(())
}

/// Checks an imported certificate against everything cli.md names (each refusal exit 3,
/// naming the check): its key is the pending generation's, it is a CA with keyCertSign (and
/// cRLSign, for the generation's CRLs), its pathLen (if any) is at least 1, it is valid now,
/// and it chains through the certificates given to a self-signed anchor among them. Nothing is
/// touched.
pub fn check_import(vault: &Vault, req: ImportRequest<'_>) -> Result<CheckedImport> {
    let ledger = vault.ledger()?;
    let generations = ledger.generations()?;
    let pending = generations
        .iter()
        .find(|g| g.status == "pending")
        .ok_or(Refusal::NoPending)?;
    let Some(Event::RootKeyGenerated(key)) = ledger.event(pending.status_seq)? else {
        return Err(LedgerError::Integrity(format!(
            "root generation {} is pending, but the event that made it is not a root_key_generated",
            pending.generation
        ))
        .into());
    };
    let mut given = read_certificates("--cert", req.cert)?;
    let cert_der = given.remove(0);
    if let Some(chain) = req.chain {
        given.extend(read_certificates("--chain", chain)?);
    }
    let cert = parse("the certificate", &cert_der)?;
    let spki_sha256 = sha256_hex(cert.public_key().raw);
    if spki_sha256 != key.spki_sha256 {
        return Err(import_refusal(
            "key match",
            format!(
                "its public key (SPKI SHA-256 {spki_sha256}) is not the pending generation {}'s key ({}); it was issued for another request",
                pending.generation, key.spki_sha256
            ),
        ));
    }
    let now = Utc::now().timestamp();
    check_ca("the certificate", &cert, 1, now)?;
    let path_len = cert
        .basic_constraints()
        .ok()
        .flatten()
        .and_then(|bc| bc.value.path_len_constraint);
    // RFC 5280 §4.2.1.2: a CA certificate carries a subjectKeyIdentifier, which every
    // intermediate the vault issues under it names as its authorityKeyIdentifier.
    if !cert
        .get_extension_unique(&x509_parser::oid_registry::OID_X509_EXT_SUBJECT_KEY_IDENTIFIER)
        .is_ok_and(|e| e.is_some())
    {
        return Err(import_refusal(
            "CA",
            "the certificate carries no subjectKeyIdentifier, which RFC 5280 §4.2.1.2 requires of a CA certificate",
        ));
    }
    if !cert
        .key_usage()
        .ok()
        .flatten()
        .is_some_and(|ku| ku.value.crl_sign())
    {
        return Err(import_refusal(
            "keyCertSign",
            "the certificate's keyUsage lacks cRLSign, so the CRLs the vault signs with it would be invalid; the enterprise must issue it with keyCertSign and cRLSign",
        ));
    }
    if cert.issuer().as_raw() == cert.subject().as_raw() {
        return Err(import_refusal(
            "chain",
            "the certificate is self-signed: `root import` takes a certificate an enterprise root issued",
        ));
    }
    // The path: from the certificate through the given certificates to a self-signed anchor.
    let parsed: Vec<(Vec<u8>, X509Certificate<'_>)> = given
        .iter()
        .map(|d| parse("a certificate of the chain", d).map(|c| (d.clone(), c)))
        .collect::<Result<_>>()?;
    let mut chain: Vec<LinkedCertificate> = Vec::new();
    let mut current = &cert;
    let mut below = 1u32;
    loop {
        let issuer = parsed.iter().find(|(_, c)| {
            c.subject().as_raw() == current.issuer().as_raw()
                && current.verify_signature(Some(c.public_key())).is_ok()
        });
        let Some((der, issuer)) = issuer else {
            return Err(import_refusal(
                "chain",
                format!(
                    "no certificate given is the issuer of {} (its issuer is {}): pass the chain up to and including the enterprise's self-signed root with --chain",
                    current.subject(),
                    current.issuer()
                ),
            ));
        };
        if chain.iter().any(|c| c.sha256 == sha256_hex(der)) || chain.len() > 8 {
            return Err(import_refusal("chain", "the chain loops"));
        }
        below += 1;
        check_ca(
            &format!("chain certificate {}", issuer.subject()),
            issuer,
            below,
            now,
        )?;
        chain.push(LinkedCertificate {
            serial: hex::encode(issuer.raw_serial()),
            subject: issuer.subject().to_string(),
            sha256: sha256_hex(der),
            der_base64: base64::engine::general_purpose::STANDARD.encode(der),
        });
        if issuer.issuer().as_raw() == issuer.subject().as_raw() {
            if issuer.verify_signature(None).is_err() {
                return Err(import_refusal(
                    "chain",
                    format!(
                        "the anchor {} does not verify its own signature",
                        issuer.subject()
                    ),
                ));
            }
            break;
        }
        current = issuer;
    }
    let key_type = KeyType::from_str(&key.key_type)
        .map_err(|e| LedgerError::malformed("the pending key's type", e))?;
    let v = cert.validity();
    let time = |t: i64| rfc3339(DateTime::from_timestamp(t, 0).unwrap_or_default());
    let record = CertificateRecord {
        serial: hex::encode(cert.raw_serial()),
        subject: subject_of(&cert)?,
        not_before: time(v.not_before.timestamp()),
        not_after: time(v.not_after.timestamp()),
        key_type: key_type.name().to_owned(),
        spki_sha256,
        sha256: sha256_hex(&cert_der),
        der_base64: base64::engine::general_purpose::STANDARD.encode(&cert_der),
    };
    if ledger.serial_issued(&record.serial)? {
        return Err(import_refusal(
            "certificate",
            format!(
                "its serial {} is one the vault already recorded",
                record.serial
            ),
        ));
    }
    Ok(CheckedImport {
        generation: pending.generation,
        previous: active_of(&generations).map(|g| g.generation),
        record,
        chain,
        key_label: pending.key_label.clone(),
        key_id: pending.key_id.clone(),
        path_len,
    })
}

/// What the operator confirms for an import: the imported certificate's SHA-256.
pub fn import_confirmation(c: &CheckedImport) -> ConfirmRequest {
    let mut summary = vec![
        (
            "generation".to_owned(),
            format!("{} (pending, becomes active)", c.generation),
        ),
        ("subject".to_owned(), c.record.subject.clone()),
        ("serial".to_owned(), c.record.serial.clone()),
        (
            "validity".to_owned(),
            format!("{} .. {}", c.record.not_before, c.record.not_after),
        ),
        ("SPKI SHA-256".to_owned(), c.record.spki_sha256.clone()),
        ("SHA-256".to_owned(), c.record.sha256.clone()),
    ];
    for (i, link) in c.chain.iter().enumerate() {
        summary.push((
            if i + 1 == c.chain.len() {
                "anchor".to_owned()
            } else {
                "issued by".to_owned()
            },
            format!("{} (SHA-256 {})", link.subject, link.sha256),
        ));
    }
    if let Some(p) = c.previous {
        summary.push((
            "afterwards".to_owned(),
            format!("generation {p} trusted (both in every trust bundle until it is retired)"),
        ));
    }
    ConfirmRequest {
        action: "import the root certificate",
        summary,
        subject: "the imported certificate's SHA-256",
        expected: c.record.sha256.clone(),
    }
}

/// The statement body of `root import`: the imported certificate (SHA-256, subject, issuer,
/// pathLen, key, validity) and the anchor its chain ends in.
fn import_body(c: &CheckedImport) -> Body {
    let mut body = Body::new("root import");
    body.line(
        "generation",
        format!("{} (pending, becomes active)", c.generation),
    );
    if let Some(p) = c.previous {
        body.line("previous", format!("generation {p} (becomes trusted)"));
    }
    body.line("certificate SHA-256", &c.record.sha256)
        .line("subject", &c.record.subject)
        .line(
            "issuer",
            c.chain.first().map_or("-", |i| i.subject.as_str()),
        )
        .line(
            "pathlen",
            c.path_len.map_or("none".to_owned(), |p| p.to_string()),
        )
        .line("serial", &c.record.serial)
        .line(
            "validity",
            format!("{} .. {}", c.record.not_before, c.record.not_after),
        )
        .line("SPKI SHA-256", &c.record.spki_sha256);
    if let Some(anchor) = c.chain.last() {
        body.line("anchor", &anchor.subject)
            .line("anchor SHA-256", &anchor.sha256);
    }
    body
}

/// `root import … --statement-out`: [`check_import`], then the statement body.
pub(super) fn import_statement(vault: &Vault, req: ImportRequest<'_>) -> Result<Body> {
    Ok(import_body(&check_import(vault, req)?))
}

/// `root import`: after [`check_import`] and the operator's confirmation, the pending key is
/// found on the token and checked against the certificate and what the token attested, and
/// the generation becomes active (the one before it trusted).
pub fn import_root(
    ctx: &Ctx<'_>,
    req: ImportRequest<'_>,
    confirmer: &mut dyn Confirm,
) -> Result<GenerationInfo> {
    import_root_witnessed(ctx, req, &WitnessSigs::none(), confirmer)
}

/// [`import_root`] with the witnesses' signatures of its statement.
pub fn import_root_witnessed(
    ctx: &Ctx<'_>,
    req: ImportRequest<'_>,
    sigs: &WitnessSigs,
    confirmer: &mut dyn Confirm,
) -> Result<GenerationInfo> {
    let checked = check_import(ctx.vault, req)?;
    let request = import_confirmation(&checked);
    let mut ledger = ctx.vault.ledger()?;
    let approval = witness::approve(
        ctx.vault,
        &ledger,
        &import_body(&checked),
        sigs,
        "nothing was imported",
    )?;
    confirm_root_step(&request, confirmer, "nothing was imported")?;
    let generation = checked.generation;
    ctx.with_session(|session, attestor| {
        let attested_approval = approval.attest(attestor)?;
        let state: TokenState = attestor.state();
        let attested = super::verified::generation(&state, generation)?;
        if attested.status != "pending" || attested.key.as_deref() != Some(&checked.record.spki_sha256) {
            return Err(state::Mismatch::Derived(format!(
                "the token attested root generation {generation} {} with key {:?}, not pending with the key of this certificate: the ledger was altered",
                attested.status, attested.key
            ))
            .into());
        }
        let key_type = KeyType::from_str(&checked.record.key_type)
            .map_err(|e| LedgerError::malformed("the pending key's type", e))?;
        let id = hex::decode(&checked.key_id)
            .map_err(|e| LedgerError::malformed("the pending key's id", e))?;
        let key = session.find_key_pair(key_type, &checked.key_label, &id)?;
        if key.public_key().spki_sha256_hex() != checked.record.spki_sha256 {
            return Err(Error::RootKeyMismatch(checked.key_label.clone()));
        }
        let tx = attestor.take(attested_approval.begin(&mut ledger, ctx.operator)?)?;
        let now_generations = tx.generations()?;
        if now_generations
            .iter()
            .find(|g| g.generation == generation)
            .is_none_or(|g| g.status != "pending")
            || active_of(&now_generations).map(|g| g.generation) != checked.previous
        {
            return Err(Error::Raced("another process changed the root generations meanwhile"));
        }
        tx.append(
            &ctx.operator.0,
            &Event::RootImported(RootImported {
                generation,
                previous: checked.previous,
                certificate: checked.record.clone(),
                chain: checked.chain.clone(),
            }),
        )?;
        attestor.commit(tx)?;
        Ok(())
    })?;
    describe(&ledger, &require_generation(&ledger, generation)?)
}

// ------------------------------------------------------------------------------------------
// root cert
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
                    && super::CertInfo::from_row(r, None).status == "valid"
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
