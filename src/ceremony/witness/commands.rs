//! The witness commands: `witness add`, `remove` and `require` (each a witnessed, attested
//! event), and `ledger witnesses --out DIR` (the auditor's copy of every witnessed event).

#[allow(unused_imports)]
use super::*;

/// The body of `witness add`, after its checks.
pub(crate) fn add_body(ledger: &Ledger, name: &WitnessName, key: &WitnessKey) -> Result<Body> {
    let registry = Registry::read(ledger)?;
    if registry.witnesses.contains_key(name.as_str()) {
        return Err(Refusal::WitnessExists(name.to_string()).into());
    }
    if let Some(w) = registry.witnesses.values().find(|w| w.key == *key) {
        return Err(Refusal::WitnessKeyTaken {
            fingerprint: w.fingerprint.clone(),
            name: w.name.clone(),
        }
        .into());
    }
    let mut body = Body::new("witness add");
    body.line("witness", name)
        .line("key type", key.key_type())
        .line("fingerprint", key.fingerprint())
        .line("public key", key.openssh());
    Ok(body)
}

/// The body of `witness remove`, after its checks.
pub(crate) fn remove_body(ledger: &Ledger, name: &WitnessName) -> Result<Body> {
    let registry = Registry::read(ledger)?;
    let w = registry
        .witnesses
        .get(name.as_str())
        .ok_or_else(|| Refusal::UnknownWitness(name.to_string()))?;
    let left = registry.witnesses.len() - 1;
    if left < registry.required as usize {
        return Err(Refusal::RemoveBelowRequirement {
            name: name.to_string(),
            left,
            required: registry.required,
        }
        .into());
    }
    let mut body = Body::new("witness remove");
    body.line("witness", name)
        .line("fingerprint", &w.fingerprint);
    Ok(body)
}

/// The body of `witness require`, after its checks.
pub(crate) fn require_body(ledger: &Ledger, required: u32) -> Result<Body> {
    let registry = Registry::read(ledger)?;
    if required as usize > registry.witnesses.len() {
        return Err(Refusal::RequirementAboveWitnesses {
            required,
            registered: registry.witnesses.len(),
        }
        .into());
    }
    let mut body = Body::new("witness require");
    body.line("witnesses required now", registry.required)
        .line("witnesses required after", required)
        .line("witnesses registered", registry.witnesses.len());
    Ok(body)
}

/// `witness add`: registers `name`'s SSH key after the operator confirms its fingerprint
/// (at least 16 characters of it, as `ssh-keygen -l -E sha256` prints it, without
/// `SHA256:`), and, once witnesses are required, after M witnesses signed the statement.
pub fn add_witness(
    ctx: &Ctx<'_>,
    name: &WitnessName,
    key: &WitnessKey,
    sigs: &WitnessSigs,
    confirmer: &mut dyn Confirm,
) -> Result<Witness> {
    let mut ledger = ctx.vault.ledger()?;
    let body = add_body(&ledger, name, key)?;
    let nothing = "no witness was added";
    let approval = approve(ctx.vault, &ledger, &body, sigs, nothing)?;
    let request = ConfirmRequest {
        action: "register the witness",
        summary: body.lines.clone(),
        subject:
            "the key's SHA-256 fingerprint (as ssh-keygen -l -E sha256 prints it, without SHA256:)",
        expected: key.fingerprint(),
    };
    check_fingerprint(&request, confirmer.ask(&request), nothing)?;
    let seq = ctx.with_session(|_session, attestor| {
        let attested = approval.attest(attestor)?;
        let tx = attestor.take(attested.begin(&mut ledger, ctx.operator)?)?;
        let ev = tx.append(
            &ctx.operator.0,
            &Event::WitnessAdded(WitnessAdded {
                name: name.to_string(),
                public_key: key.openssh(),
                fingerprint: key.fingerprint(),
            }),
        )?;
        attestor.commit(tx)?;
        Ok(ev.seq)
    })?;
    Ok(Witness {
        name: name.to_string(),
        fingerprint: key.fingerprint(),
        added_seq: seq,
        key_type: key.key_type(),
        public_key: key.openssh(),
        key: key.clone(),
    })
}

/// `witness remove`.
pub fn remove_witness(ctx: &Ctx<'_>, name: &WitnessName, sigs: &WitnessSigs) -> Result<()> {
    let mut ledger = ctx.vault.ledger()?;
    let body = remove_body(&ledger, name)?;
    let approval = approve(ctx.vault, &ledger, &body, sigs, "no witness was removed")?;
    let fingerprint = Registry::read(&ledger)?.witnesses[name.as_str()]
        .fingerprint
        .clone();
    ctx.with_session(|_session, attestor| {
        let attested = approval.attest(attestor)?;
        let tx = attestor.take(attested.begin(&mut ledger, ctx.operator)?)?;
        tx.append(
            &ctx.operator.0,
            &Event::WitnessRemoved(WitnessRemoved {
                name: name.to_string(),
                fingerprint,
            }),
        )?;
        attestor.commit(tx)?;
        Ok(())
    })
}

/// `witness require M`.
pub fn require_witnesses(ctx: &Ctx<'_>, required: u32, sigs: &WitnessSigs) -> Result<()> {
    let mut ledger = ctx.vault.ledger()?;
    let body = require_body(&ledger, required)?;
    let approval = approve(
        ctx.vault,
        &ledger,
        &body,
        sigs,
        "the requirement was not changed",
    )?;
    ctx.with_session(|_session, attestor| {
        let attested = approval.attest(attestor)?;
        let tx = attestor.take(attested.begin(&mut ledger, ctx.operator)?)?;
        tx.append(
            &ctx.operator.0,
            &Event::WitnessesRequired(WitnessesRequired { required }),
        )?;
        attestor.commit(tx)?;
        Ok(())
    })
}

/// Accepts at least [`witness::MIN_FINGERPRINT_CHARS`] characters of an SSH SHA-256
/// fingerprint (base64, case-sensitive; a leading `SHA256:` is ignored).
pub(super) fn check_fingerprint(
    request: &ConfirmRequest,
    answer: Answer,
    nothing: &'static str,
) -> Result<()> {
    let subject = request.subject;
    let min = witness::MIN_FINGERPRINT_CHARS;
    let typed = match answer {
        Answer::Typed(t) => t,
        Answer::Declined => return Err(NotConfirmed::Declined { nothing }.into()),
        Answer::Unavailable => {
            return Err(NotConfirmed::NoTerminal {
                subject,
                min,
                nothing,
            }
            .into())
        }
    };
    let typed = typed.trim();
    let typed = typed.strip_prefix("SHA256:").unwrap_or(typed);
    let expected = request
        .expected
        .strip_prefix("SHA256:")
        .unwrap_or(&request.expected);
    if typed.chars().count() < min {
        return Err(NotConfirmed::TooShort {
            subject,
            min,
            nothing,
        }
        .into());
    }
    if !expected.starts_with(typed) {
        return Err(NotConfirmed::Mismatch { subject, nothing }.into());
    }
    Ok(())
}

/// What `ledger witnesses --out DIR` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct WitnessExport {
    /// The directory.
    pub dir: PathBuf,
    /// The witnessed events: seq, action, and the witnesses who signed.
    pub events: Vec<WitnessedEvent>,
    /// Principals in `allowed_signers`.
    pub signers: usize,
}

/// One witnessed event, as exported.
#[derive(Debug, Clone, Serialize)]
pub struct WitnessedEvent {
    /// Its seq.
    pub seq: i64,
    /// The action.
    pub action: String,
    /// SHA-256 of its statement.
    pub statement_sha256: String,
    /// Who signed.
    pub witnesses: Vec<String>,
}

/// `ledger witnesses --out DIR`: for each `action_witnessed` event, `DIR/SEQ/statement.txt`
/// and `DIR/SEQ/NAME.sig`; and `DIR/allowed_signers`, every key ever registered, so that
/// `ssh-keygen -Y verify -f DIR/allowed_signers -I NAME -n rootvault-witness -s SIG <
/// statement.txt` checks each signature without rootvault. DIR must not exist.
pub fn export_witnesses(vault: &Vault, dir: &Path) -> Result<WitnessExport> {
    let ledger = vault.ledger()?;
    let staged = crate::fsio::StagedDir::new(dir, "witnesses", crate::fsio::PUBLIC_DIR_MODE)?;
    let write = |path: &Path, bytes: &[u8]| -> Result<()> {
        crate::fsio::ReservedFile::reserve(path, false, 0)?
            .with_mode(crate::fsio::PUBLIC_FILE_MODE)?
            .commit(bytes)?;
        Ok(())
    };
    let mut signers = String::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut events = Vec::new();
    for ev in ledger.events_of_kinds(&["witness_added", "action_witnessed"])? {
        match Event::parse(&ev.kind, &ev.payload)
            .map_err(|e| LedgerError::malformed("a witness event", e))?
        {
            Event::WitnessAdded(w) if seen.insert((w.name.clone(), w.public_key.clone())) => {
                signers += &witness::allowed_signers_line(&w.name, &w.public_key);
            }
            Event::ActionWitnessed(a) => {
                let sub = staged.path().join(ev.seq.to_string());
                std::fs::create_dir(&sub)
                    .map_err(|e| Error::io("cannot create the directory", &sub, e))?;
                write(&sub.join("statement.txt"), a.statement.as_bytes())?;
                for s in &a.signatures {
                    // Names were checked when registered; a recorded one that is not a
                    // file-safe name was not written by rootvault.
                    let name: WitnessName = s
                        .witness
                        .parse()
                        .map_err(|e: String| LedgerError::malformed("a witness's name", e))?;
                    write(&sub.join(format!("{name}.sig")), s.signature.as_bytes())?;
                }
                events.push(WitnessedEvent {
                    seq: ev.seq,
                    action: a.action,
                    statement_sha256: a.statement_sha256,
                    witnesses: a.signatures.into_iter().map(|s| s.witness).collect(),
                });
            }
            _ => {}
        }
    }
    write(&staged.path().join("allowed_signers"), signers.as_bytes())?;
    staged.commit()?;
    Ok(WitnessExport {
        dir: dir.to_owned(),
        events,
        signers: seen.len(),
    })
}
