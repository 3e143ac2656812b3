//! The witness gate: one mechanism every trust-changing action passes at its confirmation
//! point, and the registry it checks against.
//!
//! The order is a chain of types, each made only by the step before (like `x509/lint.rs`):
//!
//! ```text
//! Body ──statement()──▶ Statement ──approve(signatures)──▶ Approval
//!      ──attest(token state)──▶ Attested ──begin(ledger)──▶ the action's transaction
//! ```
//!
//! * [`Statement`]: the action and every value the operator confirms, for the vault and the
//!   ledger head it applies to ([`crate::witness::Statement`]), rebuilt from the current state.
//! * [`Approval`]: every signature given is valid, by a distinct registered witness, in the
//!   namespace `rootvault-witness`, over exactly this statement, and at least M of them;
//!   checked before the PIN is read (exit 6 otherwise, nothing changed).
//! * [`Attested`]: inside the session, before the token is used, the requirement M and the
//!   registry the approval was judged by are the ones the token attested (`state.rs`): an
//!   edited ledger, table or `vault.toml` cannot lower M (exit 4).
//! * [`Attested::begin`]: the action's write transaction, still at the statement's head,
//!   with the `action_witnessed` event (statement, digest, signatures) appended first; and
//!   `Attestor::commit` refuses a trust-changing event that does not follow one when
//!   witnesses are required.
//!
//! The registry (names, keys, M) is folded from the `witness_added`, `witness_removed` and
//! `witnesses_required` events (and the M a `ledger_recovered` event carries over), found
//! through the `events_by_kind` index; there is no derived table of it to edit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::audit::Attestor;
use super::confirm::{Answer, Confirm, ConfirmRequest};
use super::state::{Mismatch, TokenState};
use super::{Ctx, Operator, Output};
use crate::error::{Error, NotConfirmed, NotWitnessed, Refusal, Result};
use crate::keys::sha256_hex;
use crate::ledger::{
    ActionWitnessed, Appender, Event, Ledger, LedgerError, WitnessAdded, WitnessRemoved,
    WitnessSignature, WitnessesRequired, GENESIS,
};
use crate::vault::Vault;
use crate::witness::{
    self, Body, Head, Invalid, Signature, Statement, VaultId, WitnessKey, WitnessName,
};

mod commands;

#[cfg(test)]
use commands::check_fingerprint;
pub use commands::*;
pub(crate) use commands::{add_body, remove_body, require_body};

/// The event kinds the registry is folded from (`ledger_recovered` carries the M the token
/// had attested when the lost events changed it).
const REGISTRY_KINDS: [&str; 4] = [
    "witness_added",
    "witness_removed",
    "witnesses_required",
    "ledger_recovered",
];

/// How many earlier ledger heads a signature that does not verify is tried against, to say
/// "the ledger moved" rather than "another statement".
const MOVED_WINDOW: i64 = 4096;

/// A registered witness.
#[derive(Debug, Clone, Serialize)]
pub struct Witness {
    /// The name.
    pub name: String,
    /// SHA-256 fingerprint, `SHA256:…`.
    pub fingerprint: String,
    /// The event that registered it.
    pub added_seq: i64,
    /// Key type, as OpenSSH names it.
    pub key_type: String,
    /// The public key, `TYPE BASE64`.
    pub public_key: String,
    #[serde(skip)]
    key: WitnessKey,
}

/// The witness registry and the requirement, as the ledger's events give them.
#[derive(Debug, Clone)]
pub struct Registry {
    witnesses: BTreeMap<String, Witness>,
    required: u32,
    digest: String,
}

impl Registry {
    /// Folds the registry from the ledger's witness events.
    pub fn read(ledger: &Ledger) -> Result<Registry> {
        let mut r = Registry {
            witnesses: BTreeMap::new(),
            required: 0,
            digest: GENESIS.to_owned(),
        };
        for ev in ledger.events_of_kinds(&REGISTRY_KINDS)? {
            let event = Event::parse(&ev.kind, &ev.payload)
                .map_err(|e| LedgerError::malformed("a witness event", e))?;
            match event {
                Event::WitnessAdded(w) => {
                    let key = WitnessKey::parse(&w.public_key)
                        .map_err(|e| LedgerError::malformed("a witness's key", e))?;
                    if key.fingerprint() != w.fingerprint {
                        return Err(LedgerError::Integrity(format!(
                            "event {}: witness {}'s key does not have the fingerprint recorded with it",
                            ev.seq, w.name
                        ))
                        .into());
                    }
                    r.digest = witness::registry_step(&r.digest, "added", &w.name, &w.fingerprint);
                    r.witnesses.insert(
                        w.name.clone(),
                        Witness {
                            name: w.name,
                            fingerprint: w.fingerprint,
                            added_seq: ev.seq,
                            key_type: key.key_type(),
                            public_key: key.openssh(),
                            key,
                        },
                    );
                }
                Event::WitnessRemoved(w) => {
                    r.digest =
                        witness::registry_step(&r.digest, "removed", &w.name, &w.fingerprint);
                    r.witnesses.remove(&w.name);
                }
                Event::WitnessesRequired(q) => r.required = q.required,
                Event::LedgerRecovered(l) => {
                    if let Some(m) = l.witnesses_required {
                        r.required = m;
                    }
                }
                _ => {}
            }
        }
        Ok(r)
    }

    /// M: how many distinct witnesses each trust-changing action needs.
    pub fn required(&self) -> u32 {
        self.required
    }

    /// The registered witnesses, by name.
    pub fn witnesses(&self) -> impl Iterator<Item = &Witness> {
        self.witnesses.values()
    }

    /// The witness whose key made `sig`.
    fn signer(&self, sig: &Signature) -> Option<&Witness> {
        self.witnesses.values().find(|w| sig.is_by(&w.key))
    }

    /// The registry and requirement are the ones the token attested.
    fn prove(&self, state: &TokenState) -> Result<()> {
        if self.required != state.witnesses_required || self.digest != state.witnesses_digest {
            return Err(Mismatch::Derived(format!(
                "the witness registry and requirement the ledger holds (M = {}, {} witnesses, digest {}) are not what the token attested (M = {}, digest {}): the ledger was altered",
                self.required,
                self.witnesses.len(),
                self.digest,
                state.witnesses_required,
                state.witnesses_digest
            ))
            .into());
        }
        Ok(())
    }
}

/// `witness list`.
pub fn list_witnesses(vault: &Vault) -> Result<(u32, Vec<Witness>)> {
    let r = Registry::read(&vault.ledger()?)?;
    Ok((r.required, r.witnesses.into_values().collect()))
}

/// A signature file a witness handed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureFile {
    /// How to name it in messages (its path, as given).
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl SignatureFile {
    /// Reads a signature file; an unreadable one is a rejected input (exit 3).
    pub fn read(path: &Path) -> Result<SignatureFile> {
        let bytes = std::fs::read(path).map_err(|source| Refusal::Unreadable {
            what: "witness signature",
            path: path.to_owned(),
            source,
        })?;
        Ok(SignatureFile {
            name: path.display().to_string(),
            bytes,
        })
    }
}

/// The signatures given for one action (`--witness-sig`, or the valid files of a directory).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WitnessSigs(pub Vec<SignatureFile>);

impl WitnessSigs {
    /// No signatures: the action runs only while the vault requires none.
    pub fn none() -> WitnessSigs {
        WitnessSigs(Vec::new())
    }

    /// Reads each file.
    pub fn read(paths: &[PathBuf]) -> Result<WitnessSigs> {
        Ok(WitnessSigs(
            paths
                .iter()
                .map(|p| SignatureFile::read(p))
                .collect::<Result<_>>()?,
        ))
    }
}

/// The vault as a statement names it, and the ledger's head.
fn vault_and_head(vault: &Vault, ledger: &Ledger) -> Result<(VaultId, Head)> {
    let audit = match ledger.audit_key()? {
        Some(a) => sha256_hex(&a.public_key_der()?),
        None => "none yet".to_owned(),
    };
    let (seq, hash) = ledger.head()?;
    Ok((
        VaultId {
            token_serial: vault.config().token.serial.clone(),
            audit_key_sha256: audit,
        },
        Head { seq, hash },
    ))
}

/// The statement of `body` at the ledger's current head.
pub(crate) fn statement_of(vault: &Vault, ledger: &Ledger, body: &Body) -> Result<Statement> {
    let (id, head) = vault_and_head(vault, ledger)?;
    Ok(Statement::new(&id, &head, body))
}

/// What each signature file says about a statement.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    /// M.
    pub required: u32,
    /// N: witnesses registered.
    pub registered: usize,
    /// The distinct witnesses whose signatures are valid, in the order found.
    pub valid: Vec<String>,
    /// Each file: its name and the witness it counts for, or why it does not count.
    #[serde(serialize_with = "ser_files")]
    pub files: Vec<(String, std::result::Result<String, Invalid>)>,
}

fn ser_files<S: serde::Serializer>(
    files: &[(String, std::result::Result<String, Invalid>)],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(files.len()))?;
    for (file, verdict) in files {
        seq.serialize_element(&match verdict {
            Ok(w) => serde_json::json!({ "file": file, "witness": w }),
            Err(e) => serde_json::json!({ "file": file, "invalid": e.to_string() }),
        })?;
    }
    seq.end()
}

impl Progress {
    /// Whether enough distinct witnesses signed.
    pub fn enough(&self) -> bool {
        self.valid.len() >= self.required as usize
    }
}

/// Judges each file against `statement` and the registry, in order: the namespace, a
/// registered key, the signature over exactly this statement (else, over the same action's
/// statement for an earlier head: the ledger moved), and one file per witness.
fn judge(
    ledger: &Ledger,
    registry: &Registry,
    statement: &Statement,
    files: &[SignatureFile],
) -> Result<(Progress, Vec<(String, Signature)>)> {
    let mut progress = Progress {
        required: registry.required,
        registered: registry.witnesses.len(),
        valid: Vec::new(),
        files: Vec::new(),
    };
    let mut counted: Vec<(String, Signature)> = Vec::new();
    let mut first_file: BTreeMap<String, String> = BTreeMap::new();
    let mut earlier: Option<Vec<Statement>> = None;
    for file in files {
        let verdict = (|| -> Result<std::result::Result<(String, Signature), Invalid>> {
            let sig = match Signature::parse(&file.bytes) {
                Ok(s) => s,
                Err(e) => return Ok(Err(e)),
            };
            if sig.namespace() != witness::NAMESPACE {
                return Ok(Err(Invalid::Namespace(sig.namespace().to_owned())));
            }
            let Some(w) = registry.signer(&sig) else {
                return Ok(Err(Invalid::Unregistered(sig.key_fingerprint().to_owned())));
            };
            match sig.check(&w.key, statement.text().as_bytes()) {
                Ok(()) => {}
                Err(Invalid::NotThisStatement) => {
                    let earlier = match &mut earlier {
                        Some(e) => e,
                        None => earlier.insert(earlier_statements(ledger, statement)?),
                    };
                    let moved = earlier
                        .iter()
                        .find(|s| sig.check(&w.key, s.text().as_bytes()).is_ok());
                    return Ok(Err(match moved {
                        Some(s) => Invalid::Moved {
                            then_seq: s.head().seq,
                            then_hash: s.head().hash.clone(),
                            now_seq: statement.head().seq,
                        },
                        None => Invalid::NotThisStatement,
                    }));
                }
                Err(e) => return Ok(Err(e)),
            }
            if let Some(first) = first_file.get(&w.name) {
                return Ok(Err(Invalid::Twice {
                    witness: w.name.clone(),
                    first: first.clone(),
                }));
            }
            Ok(Ok((w.name.clone(), sig)))
        })()?;
        match verdict {
            Ok((name, sig)) => {
                first_file.insert(name.clone(), file.name.clone());
                progress.valid.push(name.clone());
                progress.files.push((file.name.clone(), Ok(name.clone())));
                counted.push((name, sig));
            }
            Err(why) => progress.files.push((file.name.clone(), Err(why))),
        }
    }
    Ok((progress, counted))
}

/// The statement for each of the last [`MOVED_WINDOW`] heads before the current one.
fn earlier_statements(ledger: &Ledger, statement: &Statement) -> Result<Vec<Statement>> {
    let now = statement.head().seq;
    let mut heads = Vec::new();
    let from = (now - MOVED_WINDOW).max(1);
    if from == 1 {
        heads.push(Head {
            seq: 0,
            hash: GENESIS.to_owned(),
        });
    }
    ledger.for_each_event(from, |e| {
        if e.seq < now {
            heads.push(Head {
                seq: e.seq,
                hash: e.hash,
            });
        }
        Ok(())
    })?;
    Ok(heads.iter().rev().map(|h| statement.at(h)).collect())
}

/// The statement of an action that enough witnesses signed. Made only by [`approve`].
#[derive(Debug)]
pub(crate) struct Approval {
    statement: Statement,
    signatures: Vec<(String, Signature)>,
    registry: Registry,
    /// The witnesses it needed: M, or more for `ledger recover` (the token's M).
    required: u32,
    nothing: &'static str,
}

/// The gate, before the PIN is read: builds the statement of `body` at the current head and
/// checks every signature in `sigs` against it and the registry. Any invalid signature, or
/// fewer than M valid ones from distinct witnesses, is exit 6; `nothing` says what did not
/// happen (`nothing was signed`).
pub(crate) fn approve(
    vault: &Vault,
    ledger: &Ledger,
    body: &Body,
    sigs: &WitnessSigs,
    nothing: &'static str,
) -> Result<Approval> {
    approve_at_least(vault, ledger, body, sigs, nothing, 0)
}

/// [`approve`], needing at least `at_least` witnesses even if the ledger's M is lower
/// (`ledger recover`: the M the token attested, which the lost events may have raised).
pub(crate) fn approve_at_least(
    vault: &Vault,
    ledger: &Ledger,
    body: &Body,
    sigs: &WitnessSigs,
    nothing: &'static str,
    at_least: u32,
) -> Result<Approval> {
    let registry = Registry::read(ledger)?;
    let required = registry.required.max(at_least);
    let statement = statement_of(vault, ledger, body)?;
    if sigs.0.is_empty() && required > 0 {
        return Err(NotWitnessed::Required {
            action: body.action,
            required,
            registered: registry.witnesses.len(),
            nothing,
        }
        .into());
    }
    let (progress, signatures) = judge(ledger, &registry, &statement, &sigs.0)?;
    let problems: Vec<(String, Invalid)> = progress
        .files
        .into_iter()
        .filter_map(|(f, v)| v.err().map(|e| (f, e)))
        .collect();
    if !problems.is_empty() {
        return Err(NotWitnessed::Invalid { problems, nothing }.into());
    }
    if signatures.len() < required as usize {
        return Err(NotWitnessed::TooFew {
            action: body.action,
            required,
            valid: progress.valid,
            nothing,
        }
        .into());
    }
    Ok(Approval {
        statement,
        signatures,
        registry,
        required,
        nothing,
    })
}

impl Approval {
    /// Inside the session, before the token does anything: the registry and M this approval
    /// was judged by are the ones the token attested (exit 4 if the ledger lied).
    pub(crate) fn attest(self, attestor: &Attestor<'_>) -> Result<Attested> {
        self.registry.prove(&attestor.state())?;
        Ok(Attested(self))
    }

    /// For `ledger recover`, whose ledger is behind the token: the token's registry digest
    /// may name witnesses the lost events registered, so the registry cannot be proven
    /// against it; what is proven is that the approval counted at least the M the token
    /// attested (the ledger's own registry was authenticated by `ledger verify`, its
    /// checkpoints signed by the token's audit key).
    pub(crate) fn attest_recovery(self, token: &TokenState) -> Result<Attested> {
        if self.required < token.witnesses_required {
            return Err(Mismatch::Derived(format!(
                "the recovery was approved by {} witnesses, but the token requires {}",
                self.required, token.witnesses_required
            ))
            .into());
        }
        Ok(Attested(self))
    }
}

/// An approval proven against the token's state. Made only by [`Approval::attest`].
#[derive(Debug)]
pub(crate) struct Attested(Approval);

impl Attested {
    /// Opens the action's write transaction. If witnesses signed, the ledger must still be
    /// at the head their statement names (else exit 6, nothing recorded), and the
    /// `action_witnessed` event is appended first, so it precedes the events it covers.
    pub(crate) fn begin<'l>(
        &self,
        ledger: &'l mut Ledger,
        operator: &Operator,
    ) -> Result<Appender<'l>> {
        let a = &self.0;
        let tx = ledger.begin()?;
        if a.signatures.is_empty() {
            return Ok(tx);
        }
        let (seq, hash) = tx.head()?;
        let head = a.statement.head();
        if seq != head.seq || hash != head.hash {
            return Err(NotWitnessed::Moved {
                statement_seq: head.seq,
                now_seq: seq,
                nothing: a.nothing,
            }
            .into());
        }
        tx.append(
            &operator.0,
            &Event::ActionWitnessed(ActionWitnessed {
                action: a.statement.action().to_owned(),
                statement: a.statement.text().to_owned(),
                statement_sha256: a.statement.sha256(),
                required: a.required,
                signatures: a
                    .signatures
                    .iter()
                    .map(|(name, sig)| WitnessSignature {
                        witness: name.clone(),
                        fingerprint: sig.key_fingerprint().to_owned(),
                        signature: sig.armored().to_owned(),
                    })
                    .collect(),
            }),
        )?;
        Ok(tx)
    }
}

/// Checks, in `Attestor::commit`, that a transaction holding a trust-changing event starts
/// with an `action_witnessed` event of at least `required` signatures (the gate's record).
pub(crate) fn check_witnessed(events: &[Event], required: u32) -> Result<()> {
    if required == 0 || !events.iter().any(Event::is_trust_changing) {
        return Ok(());
    }
    match events.first() {
        Some(Event::ActionWitnessed(w)) if w.signatures.len() >= required as usize => Ok(()),
        _ => Err(Error::Unwitnessed),
    }
}

/// A trust-changing action, as a face asks for its statement: the same request the action
/// itself takes.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum WitnessedAction<'a> {
    /// `sign FILE --cluster NAME`.
    Sign(&'a super::SignRequest<'a>),
    /// `sign --generate-key`.
    SignGenerated(&'a super::GenerateRequest),
    /// `sign-batch MANIFEST` (checked by `check_batch`).
    SignBatch(&'a super::CheckedBatch),
    /// `revoke`.
    Revoke(&'a super::RevokeTarget, crate::x509::RevocationReason),
    /// `root create`.
    CreateRoot(&'a super::RootRequest),
    /// `root rotate`.
    RootRotate(&'a super::RotateRequest),
    /// `root retire --generation N`.
    RootRetire(u32),
    /// `root csr`.
    RootCsr(&'a super::RootCsrRequest),
    /// `root import` (checked by `check_import` again when the statement is made).
    RootImport(super::ImportRequest<'a>),
    /// `root destroy-key --generation N`.
    RootDestroyKey(u32),
    /// `token approve-module`: the module `vault.toml` names.
    ApproveModule,
    /// `witness add`.
    WitnessAdd(&'a WitnessName, &'a WitnessKey),
    /// `witness remove`.
    WitnessRemove(&'a WitnessName),
    /// `witness require M`.
    WitnessRequire(u32),
}

/// The statement of `action` at the ledger's current head, after every check the action
/// makes before the token (policy, lint, the vault's state; a refused signing request is
/// recorded as `sign` records it). Touches no key. The same inputs at the same head give the
/// same bytes.
pub fn statement(
    vault: &Vault,
    operator: &Operator,
    action: &WitnessedAction<'_>,
) -> Result<Statement> {
    let body = match *action {
        WitnessedAction::Sign(req) => super::sign::sign_statement(vault, operator, req)?,
        WitnessedAction::SignGenerated(req) => super::bundle::generated_statement(vault, req)?,
        WitnessedAction::SignBatch(batch) => super::batch::batch_statement(batch)?,
        WitnessedAction::Revoke(target, reason) => {
            super::revoke::revoke_statement(vault, target, reason)?
        }
        WitnessedAction::CreateRoot(req) => super::root::root_statement(vault, req)?,
        WitnessedAction::RootRotate(req) => super::generations::rotate_statement(vault, req)?,
        WitnessedAction::RootRetire(g) => super::generations::retire_statement(vault, g)?,
        WitnessedAction::RootCsr(req) => super::generations::csr_statement(vault, req)?,
        WitnessedAction::RootImport(req) => super::generations::import_statement(vault, req)?,
        WitnessedAction::RootDestroyKey(g) => super::generations::destroy_statement(vault, g)?,
        WitnessedAction::ApproveModule => super::module_statement(vault)?,
        WitnessedAction::WitnessAdd(name, key) => add_body(&vault.ledger()?, name, key)?,
        WitnessedAction::WitnessRemove(name) => remove_body(&vault.ledger()?, name)?,
        WitnessedAction::WitnessRequire(m) => require_body(&vault.ledger()?, m)?,
    };
    statement_of(vault, &vault.ledger()?, &body)
}

/// [`statement`], written to `out` for the witnesses (`--statement-out FILE`).
pub fn write_statement(
    vault: &Vault,
    operator: &Operator,
    action: &WitnessedAction<'_>,
    out: &Output,
) -> Result<StatementReport> {
    let statement = statement(vault, operator, action)?;
    write_statement_file(&vault.ledger()?, &statement, out)
}

/// Writes a statement made earlier by [`statement`] to `out`, for a face that shows the
/// statement before the operator chooses where it goes (the TUI): the same file
/// [`write_statement`] writes, without building the statement again.
pub fn write_prepared_statement(
    vault: &Vault,
    statement: &Statement,
    out: &Output,
) -> Result<StatementReport> {
    write_statement_file(&vault.ledger()?, statement, out)
}

/// A statement written for the witnesses (`--statement-out`).
#[derive(Debug, Clone, Serialize)]
pub struct StatementReport {
    /// Where it was written.
    pub path: PathBuf,
    /// The action.
    pub action: String,
    /// SHA-256 of the statement.
    pub sha256: String,
    /// The ledger head it applies to.
    pub head_seq: i64,
    /// Its hash.
    pub head_hash: String,
    /// M.
    pub required: u32,
    /// N.
    pub registered: usize,
    /// The statement text.
    pub statement: String,
}

/// Writes `statement` to `out` (readable by the witnesses; never over an existing file
/// unless `out.force`).
pub(super) fn write_statement_file(
    ledger: &Ledger,
    statement: &Statement,
    out: &Output,
) -> Result<StatementReport> {
    let registry = Registry::read(ledger)?;
    crate::fsio::ReservedFile::reserve(&out.path, out.force, 0)?
        .with_mode(crate::fsio::PUBLIC_FILE_MODE)?
        .commit(statement.text().as_bytes())?;
    Ok(StatementReport {
        path: out.path.clone(),
        action: statement.action().to_owned(),
        sha256: statement.sha256(),
        head_seq: statement.head().seq,
        head_hash: statement.head().hash.clone(),
        required: registry.required,
        registered: registry.witnesses.len(),
        statement: statement.text().to_owned(),
    })
}

/// For a face that collects signature files as they appear (the TUI): judges every `*.sig`
/// file in `dir` against `statement` (from [`super::statement`]) and reports M-of-N progress
/// and each invalid file's reason. The statement must still be the current one: if the
/// ledger moved, every file says so.
pub fn check_signature_dir(vault: &Vault, statement: &Statement, dir: &Path) -> Result<Progress> {
    let ledger = vault.ledger()?;
    let registry = Registry::read(&ledger)?;
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io("cannot read the directory", dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sig") && p.is_file())
        .collect();
    paths.sort();
    let files = WitnessSigs::read(&paths)?;
    let current = statement.at(&{
        let (seq, hash) = ledger.head()?;
        Head { seq, hash }
    });
    Ok(judge(&ledger, &registry, &current, &files.0)?.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> ConfirmRequest {
        ConfirmRequest {
            action: "register the witness",
            summary: vec![],
            subject: "the key's fingerprint",
            expected: "SHA256:KijMNedMyuP733FrpriaRzTNhCdZZ0k/lXiH16hWBwk".into(),
        }
    }

    #[test]
    fn a_fingerprint_confirms_with_sixteen_characters_case_sensitive() {
        let ok = |t: &str| check_fingerprint(&req(), Answer::Typed(t.into()), "x");
        ok("KijMNedMyuP733Fr").unwrap();
        ok("SHA256:KijMNedMyuP733FrpriaRzTNhCdZZ0k/lXiH16hWBwk").unwrap();
        assert!(matches!(
            ok("KijMNedMyuP733F"),
            Err(Error::NotConfirmed(NotConfirmed::TooShort { min: 16, .. }))
        ));
        assert!(matches!(
            ok("kijmnedmyup733fr"),
            Err(Error::NotConfirmed(NotConfirmed::Mismatch { .. }))
        ));
    }

    #[test]
    fn a_trust_changing_transaction_needs_the_witness_record_first() {
        let revoked = Event::CertificateRevoked(crate::ledger::CertificateRevoked {
            serial: "01".into(),
            cluster: "a".into(),
            reason: "superseded".into(),
            revoked_at: "2026-01-01T00:00:00Z".into(),
        });
        let witnessed = |n: usize| {
            Event::ActionWitnessed(ActionWitnessed {
                action: "revoke".into(),
                statement: String::new(),
                statement_sha256: String::new(),
                required: 2,
                signatures: vec![
                    WitnessSignature {
                        witness: "a".into(),
                        fingerprint: String::new(),
                        signature: String::new(),
                    };
                    n
                ],
            })
        };
        check_witnessed(std::slice::from_ref(&revoked), 0).unwrap();
        assert!(matches!(
            check_witnessed(std::slice::from_ref(&revoked), 1),
            Err(Error::Unwitnessed)
        ));
        assert!(check_witnessed(&[witnessed(1), revoked.clone()], 2).is_err());
        check_witnessed(&[witnessed(2), revoked], 2).unwrap();
    }
}
