//! `root rotate`: a new key and self-signed root on the same token, and a cross-certificate of
//! it signed by the active root.

#[allow(unused_imports)]
use super::*;

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
pub(crate) fn rotate_statement(vault: &Vault, req: &RotateRequest) -> Result<Body> {
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
    let old = crate::ceremony::require_root(&ledger)?;
    let generation = next_generation(&ledger.generations()?);
    let label = req
        .key_label
        .clone()
        .unwrap_or_else(|| default_key_label(generation));
    let operator = ctx.operator;
    ctx.with_session(|session, attestor| {
        let attested = approval.attest(attestor)?;
        // The generation that signs the cross-certificate is the one the token attested active.
        crate::ceremony::verified::issuing(&old, &attestor.state())?;
        let old_key = crate::ceremony::certify::find_root_key(session, &old, attestor)?;
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
                crate::ceremony::certify::fresh_serial(&ledger, session)?,
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
                crate::ceremony::certify::fresh_serial(&ledger, session)?,
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
            let root_record = crate::ceremony::certify::record_of(&root_draft, &root);
            let cross_record = crate::ceremony::certify::record_of(&cross_draft, &cross);
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
