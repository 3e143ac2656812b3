//! `root retire` (a generation leaves every trust bundle) and `root destroy-key` (its key
//! leaves the token).

#[allow(unused_imports)]
use super::*;

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
        .filter(|row| {
            crate::ceremony::CertInfo::from_row(row, None).status
                == crate::ceremony::CertStatus::Valid
        })
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
pub(crate) fn retire_statement(vault: &Vault, generation: u32) -> Result<Body> {
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
        let attested = crate::ceremony::verified::generation(&state, generation)?
            .status
            .clone();
        if attested != "trusted" {
            return Err(Refusal::RetireNotTrusted {
                generation,
                status: attested,
            }
            .into());
        }
        let root = crate::ceremony::verified::root_of(&ledger, &state, generation)?;
        let revoked = crate::ceremony::verified::revoked_serials(&ledger, &state)?;
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
pub(crate) fn destroy_statement(vault: &Vault, generation: u32) -> Result<Body> {
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
        let attested = crate::ceremony::verified::generation(&state, generation)?;
        if attested.status != "retired" || attested.key_destroyed {
            return Err(Refusal::DestroyNotRetired {
                generation,
                status: attested.status.clone(),
            }
            .into());
        }
        let root = crate::ceremony::verified::root_of(&ledger, &state, generation)?;
        let key = match crate::ceremony::certify::find_root_key(session, &root, attestor) {
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
