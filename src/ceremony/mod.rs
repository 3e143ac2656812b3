//! The use cases. Each is a plain function over a vault, a PIN source and an operator name;
//! the CLI and the TUI call these and nothing below them.

mod audit;
mod backup;
mod batch;
mod bundle;
mod certify;
mod confirm;
mod generations;
mod init;
mod keyuse;
mod recover;
mod restore;
mod revoke;
mod root;
mod sign;
mod state;
mod token_check;
mod transcript;
mod verified;
mod witness;

use serde::Serialize;

pub use audit::{
    audit_public_key_pem, check_receipt, check_receipt_file, export_ledger, ledger_events,
    AUDIT_KEY_LABEL,
};
pub use backup::{
    backup, BackupError, BackupFile, BackupManifest, BackupProblem, BackupReport, BACKUP_ENTRIES,
    BACKUP_FORMAT, MANIFEST_FILE,
};
pub use batch::{check_batch, sign_batch, sign_batch_witnessed, BatchLine, CheckedBatch};
pub use bundle::{
    export_cluster, recipients_fingerprint, sign_generated, sign_generated_witnessed, ExportReport,
    ExportRequest, GenerateRequest,
};
pub use confirm::{
    check as check_confirmation, Answer, Confirm, ConfirmRequest, Scripted, MIN_CONFIRM_DIGITS,
};
pub use generations::{
    check_import, csr_confirmation, default_key_label, destroy_key_confirmation, destroy_root_key,
    destroy_root_key_witnessed, export_freshness, generations, import_confirmation, import_root,
    import_root_witnessed, retire_confirmation, retire_root, retire_root_witnessed,
    root_certificate, root_csr, root_csr_witnessed, rotate_confirmation, rotate_root,
    rotate_root_witnessed, CheckedImport, ExportFreshness, GenerationInfo, ImportRequest, RootCert,
    RootCsrReport, RootCsrRequest, RotateReport, RotateRequest, ROOT_CONFIRM_DIGITS,
};
pub use init::{init, InitReport};
pub use keyuse::{KeyUse, COMPROMISE_REASONS};
pub use recover::{
    recover_ledger, recover_ledger_witnessed, write_recover_statement, RecoverReport,
};
pub use restore::{restore, RestoreReport};
pub use revoke::{
    issue_crl, issue_crl_for, normalize_serial, revoke, revoke_witnessed, CrlInfo, RevokeTarget,
    DEFAULT_CRL_DAYS, MAX_CRL_DAYS,
};
pub use root::{
    create_root, create_root_confirmed, create_root_confirmed_witnessed, create_root_witnessed,
    rfc3339, root_info, root_request_fingerprint, RootInfo, RootRequest, DEFAULT_ROOT_DAYS,
    DEFAULT_ROOT_LABEL,
};
pub use sign::{
    describe_name_constraints, inspect_csr, list_certificates, read_request, sign_csr,
    sign_csr_witnessed, valid_certificates_for_key, Inspection, Issued, SignRequest,
};
pub use state::{
    chain_digest, revocation_step, GenerationState, Mismatch, TokenState, STATE_LABEL,
};
pub use token_check::{
    token_check, DataObjectCheck, Hosting, KeyTypeCheck, TokenCheckReport, AUDIT_KEY_TYPE,
};
pub use transcript::{transcript, TRANSCRIPT_WIDTH};
pub use witness::{
    add_witness, check_signature_dir, export_witnesses, list_witnesses, remove_witness,
    require_witnesses, statement, write_prepared_statement, write_statement, Progress, Registry,
    SignatureFile, StatementReport, Witness, WitnessExport, WitnessSigs, WitnessedAction,
    WitnessedEvent,
};

use crate::error::Result;
use crate::hsm::{KeyProtection, PinState};
use crate::ledger::VerifyReport;
use crate::pin::PinSource;
use crate::vault::Vault;
use crate::witness as witness_text;

/// The vault's root, or the refusal every use case that needs one gives.
pub(crate) fn require_root(ledger: &crate::ledger::Ledger) -> Result<crate::ledger::RootRecord> {
    ledger
        .root()?
        .ok_or_else(|| crate::error::Refusal::NoRoot.into())
}

/// Whether a certificate may still be relied on: `valid`, `revoked` or `expired` in JSON
/// and text alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CertStatus {
    /// Not revoked and not past its notAfter.
    Valid,
    /// Revoked in the ledger (a revocation wins over expiry).
    Revoked,
    /// Past its notAfter, not revoked.
    Expired,
}

impl CertStatus {
    /// Every status, in the order lists show them.
    pub const ALL: [CertStatus; 3] = [CertStatus::Valid, CertStatus::Revoked, CertStatus::Expired];

    /// The word the CLI contract uses.
    pub fn as_str(self) -> &'static str {
        match self {
            CertStatus::Valid => "valid",
            CertStatus::Revoked => "revoked",
            CertStatus::Expired => "expired",
        }
    }
}

impl std::fmt::Display for CertStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so that a table's `{:<8}` lines the word up as it did a `&str`.
        f.pad(self.as_str())
    }
}

/// A certificate with the stable JSON keys of the CLI contract.
#[derive(Debug, Clone, Serialize)]
pub struct CertInfo {
    /// Serial, lowercase hex.
    pub serial: String,
    /// The cluster (null for the root).
    pub cluster: Option<String>,
    /// Subject DN.
    pub subject: String,
    /// RFC 3339.
    pub not_before: String,
    /// RFC 3339.
    pub not_after: String,
    /// `valid`, `revoked` or `expired`.
    pub status: CertStatus,
    /// SHA-256 of the DER certificate.
    pub sha256: String,
    /// Subject key type.
    pub key_type: String,
    /// When it was revoked (RFC 3339), if it was.
    pub revoked_at: Option<String>,
    /// The root generation that issued it (for a root: the generation it is), when known.
    pub generation: Option<u32>,
}

impl CertInfo {
    /// From a ledger row and its revocation time, if revoked; `expired` is judged now.
    pub fn from_row(row: &crate::ledger::CertificateRow, revoked_at: Option<&str>) -> CertInfo {
        let mut info =
            CertInfo::from_record(&row.record, row.cluster.clone()).with_generation(row.generation);
        if let Some(t) = revoked_at {
            info.status = CertStatus::Revoked;
            info.revoked_at = Some(t.to_owned());
        }
        info
    }

    /// From a ledger record of an unrevoked certificate; `expired` is judged now.
    pub fn from_record(c: &crate::ledger::CertificateRecord, cluster: Option<String>) -> CertInfo {
        let expired = chrono::DateTime::parse_from_rfc3339(&c.not_after)
            .is_ok_and(|t| t < chrono::Utc::now());
        CertInfo {
            serial: c.serial.clone(),
            cluster,
            subject: c.subject.clone(),
            not_before: c.not_before.clone(),
            not_after: c.not_after.clone(),
            status: if expired {
                CertStatus::Expired
            } else {
                CertStatus::Valid
            },
            sha256: c.sha256.clone(),
            key_type: c.key_type.clone(),
            revoked_at: None,
            generation: None,
        }
    }

    /// The same, issued by (or being) root generation `generation`.
    pub fn with_generation(self, generation: u32) -> CertInfo {
        CertInfo {
            generation: Some(generation),
            ..self
        }
    }
}

/// How a use case gets a logged-in session on the vault's token.
pub enum Auth<'a> {
    /// Log in for this one action with the PIN from this source; the PIN is dropped
    /// (zeroized) right after login.
    Pin(&'a PinSource),
    /// A session unlocked earlier (the TUI), which holds the vault's token lock.
    Unlocked(&'a Unlocked),
}

/// A logged-in session on the vault's token, kept open across actions (the TUI's unlock).
/// It holds the vault's token lock: other rootvault processes wait until it is dropped.
pub struct Unlocked {
    // Field order matters: the session closes before the token (and its lock) go.
    session: crate::hsm::UserSession,
    open: crate::vault::OpenToken,
}

impl Unlocked {
    /// The token's label and serial.
    pub fn token(&self) -> &crate::hsm::TokenSummary {
        self.open.token.summary()
    }
}

/// Logs in to the vault's token and keeps the session; the PIN is dropped right after login.
pub fn unlock(vault: &Vault, pins: &PinSource) -> Result<Unlocked> {
    let open = vault.token()?;
    let pin = pins.read()?;
    let session = open.token.login(&pin)?;
    drop(pin);
    Ok(Unlocked { session, open })
}

/// What every use case that acts on the token works with: the vault, how to log in, and who
/// is acting. Use cases take it first, then their request, then the confirmer.
pub struct Ctx<'a> {
    /// The vault.
    pub vault: &'a Vault,
    /// How to get a logged-in session.
    pub auth: Auth<'a>,
    /// Who is acting, recorded in every event.
    pub operator: &'a Operator,
}

/// An output file a use case writes: reserved before the token is touched, so a full or
/// read-only disk stops the action before anything is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Where.
    pub path: std::path::PathBuf,
    /// Replace what is there.
    pub force: bool,
}

impl Ctx<'_> {
    /// Runs the ceremony action `f` with a logged-in session and the audit key, which `f`
    /// uses to commit its events together with a signed checkpoint.
    pub(crate) fn with_session<T>(
        &self,
        f: impl FnOnce(&crate::hsm::UserSession, &audit::Attestor<'_>) -> Result<T>,
    ) -> Result<T> {
        self.with_session_approving(None, f)
    }

    /// [`Ctx::with_session`], loading the module also if its SHA-256 is `approving` (which
    /// the operator has just confirmed, for `token approve-module`).
    fn with_session_approving<T>(
        &self,
        approving: Option<&str>,
        f: impl FnOnce(&crate::hsm::UserSession, &audit::Attestor<'_>) -> Result<T>,
    ) -> Result<T> {
        self.vault.check_writable()?;
        self.logged_in_approving(approving, |session| {
            let attestor = audit::attestor(self.vault, session, self.operator)?;
            f(session, &attestor)
        })
    }

    /// Runs `f` with a logged-in session on the vault's token, nothing more.
    pub(crate) fn logged_in<T>(
        &self,
        f: impl FnOnce(&crate::hsm::UserSession) -> Result<T>,
    ) -> Result<T> {
        self.logged_in_approving(None, f)
    }

    fn logged_in_approving<T>(
        &self,
        approving: Option<&str>,
        f: impl FnOnce(&crate::hsm::UserSession) -> Result<T>,
    ) -> Result<T> {
        let vault = self.vault;
        match &self.auth {
            Auth::Pin(pins) => {
                // The module is checked (approved, not writable by others) and loaded before
                // the PIN is even read: a foreign module never sees it.
                let open = vault.token_approving(approving)?;
                let pin = pins.read()?;
                let session = open.token.login(&pin)?;
                drop(pin);
                f(&session)
            }
            Auth::Unlocked(u) => {
                u.open.token.require_serial(&vault.config().token.serial)?;
                f(&u.session)
            }
        }
    }
}

/// The statement body of `token approve-module`: the module's path and SHA-256, and the
/// modules approved so far.
fn module_body(path: &str, sha256: &str, approved: &[(String, String)]) -> witness_text::Body {
    let mut body = witness_text::Body::new("token approve-module");
    body.line("module", path).line("module SHA-256", sha256);
    for (p, s) in approved {
        body.line("approved so far", format!("{p} (SHA-256 {s})"));
    }
    body
}

/// `token approve-module --statement-out`: the module `vault.toml` names (checked as a file:
/// not writable by others), and the statement body.
pub(crate) fn module_statement(vault: &Vault) -> Result<witness_text::Body> {
    let file = vault.module_file()?;
    let path = vault.config().token.module.display().to_string();
    let approved = vault.ledger()?.approved_modules()?;
    Ok(module_body(&path, &file.sha256, &approved))
}

/// `token approve-module`: records the operator's approval of the module `vault.toml` names,
/// after they confirm its SHA-256 (checked out of band against its publisher's, like a CSR's
/// fingerprint). Returns the module's path and SHA-256, and whether it was approved already.
pub fn approve_module(
    ctx: &Ctx<'_>,
    confirmer: &mut dyn Confirm,
) -> Result<(String, String, bool)> {
    approve_module_witnessed(ctx, &WitnessSigs::none(), confirmer)
}

/// [`approve_module`] with the witnesses' signatures of its statement: checked before the
/// operator confirms and before the new module is loaded, so an unwitnessed module never
/// sees the PIN.
pub fn approve_module_witnessed(
    ctx: &Ctx<'_>,
    sigs: &WitnessSigs,
    confirmer: &mut dyn Confirm,
) -> Result<(String, String, bool)> {
    let file = ctx.vault.module_file()?;
    let path = ctx.vault.config().token.module.display().to_string();
    let mut ledger = ctx.vault.ledger()?;
    let approved = ledger.approved_modules()?;
    if approved
        .iter()
        .any(|(p, s)| *p == path && *s == file.sha256)
    {
        return Ok((path, file.sha256, true));
    }
    let approval = witness::approve(
        ctx.vault,
        &ledger,
        &module_body(&path, &file.sha256, &approved),
        sigs,
        "nothing was approved",
    )?;
    let mut summary = vec![
        ("module".to_owned(), path.clone()),
        ("SHA-256".to_owned(), file.sha256.clone()),
    ];
    for (p, s) in &approved {
        summary.push(("approved so far".to_owned(), format!("{p} (SHA-256 {s})")));
    }
    let request = ConfirmRequest {
        action: "approve the PKCS#11 module",
        summary,
        subject: "the module's SHA-256",
        expected: file.sha256.clone(),
    };
    confirm::check(&request, confirmer.ask(&request), "nothing was approved")?;
    ctx.with_session_approving(Some(&file.sha256), |_session, attestor| {
        let attested = approval.attest(attestor)?;
        let tx = attestor.take(attested.begin(&mut ledger, ctx.operator)?)?;
        tx.append(
            &ctx.operator.0,
            &crate::ledger::Event::ModuleApproved(crate::ledger::ModuleApproved {
                module: path.clone(),
                sha256: file.sha256.clone(),
            }),
        )?;
        attestor.commit(tx)?;
        Ok(())
    })?;
    Ok((path, file.sha256, false))
}

/// Who is doing what, recorded in every event.
#[derive(Debug, Clone)]
pub struct Operator(pub String);

impl Operator {
    /// `--operator`, else the login name, else `unknown`.
    pub fn from_flag_or_login(flag: Option<String>) -> Operator {
        Operator::from_flag_or_env(flag).unwrap_or_else(|| Operator("unknown".into()))
    }

    /// `--operator`, else the login name (`USER`, then `LOGNAME`); `None` when the system
    /// gives no name, so a face can ask for one instead of recording `unknown`.
    pub fn from_flag_or_env(flag: Option<String>) -> Option<Operator> {
        flag.or_else(|| std::env::var("USER").ok())
            .or_else(|| std::env::var("LOGNAME").ok())
            .filter(|n| !n.trim().is_empty())
            .map(Operator)
    }
}

/// `rootvault token`: the token and the vault's keys on it.
#[derive(Debug, Clone, Serialize)]
pub struct TokenReport {
    /// Module path.
    pub module: String,
    /// Slot id.
    pub slot: u64,
    /// Token label.
    pub label: String,
    /// Token serial.
    pub serial: String,
    /// Token model.
    pub model: String,
    /// Token manufacturer.
    pub manufacturer: String,
    /// User PIN flags.
    pub pin: PinState,
    /// The vault's key objects.
    pub keys: Vec<TokenKeyStatus>,
    /// The SPIFFE trust domain intermediates are name-constrained to by default (null: the
    /// vault predates trust domains and constrains nothing by default).
    pub trust_domain: Option<String>,
}

/// One of the vault's keys, and whether the token holds it.
#[derive(Debug, Clone, Serialize)]
pub struct TokenKeyStatus {
    /// CKA_LABEL.
    pub label: String,
    /// CKA_ID, hex.
    pub id: String,
    /// What it is for.
    pub purpose: String,
    /// Key type.
    pub key_type: String,
    /// Whether its public half is visible on the token (no login needed).
    pub present: bool,
    /// Protection attributes of the private half, when a PIN was available to look.
    pub protection: Option<KeyProtection>,
}

/// Reports the token and the vault's keys on it, without needing a PIN.
pub fn token_report(vault: &Vault) -> Result<TokenReport> {
    let open = vault.token()?;
    let (module, token) = (&open.module, &open.token);
    let ledger = vault.ledger()?;
    let session = token.public_session()?;
    let mut keys = Vec::new();
    for g in ledger.generations()? {
        let id = hex::decode(&g.key_id).unwrap_or_default();
        keys.push(TokenKeyStatus {
            label: g.key_label.clone(),
            id: g.key_id.clone(),
            purpose: if g.generation == 1 && g.status == "active" {
                "root".into()
            } else {
                format!("root generation {} ({})", g.generation, g.status)
            },
            key_type: g.key_type.clone(),
            present: session.has_public_key(&id)?,
            protection: None,
        });
    }
    let s = token.summary();
    Ok(TokenReport {
        module: module.path().display().to_string(),
        slot: s.slot_id,
        label: s.label.clone(),
        serial: s.serial.clone(),
        model: s.model.clone(),
        manufacturer: s.manufacturer.clone(),
        pin: s.pin,
        keys,
        trust_domain: trust_domain(vault),
    })
}

/// `ledger verify --with-token`: [`verify_ledger`], then the ledger against the head the token
/// attested (`state.rs`), read with a logged-in session and changed in nothing.
pub fn verify_ledger_with_token(ctx: &Ctx<'_>) -> Result<VerifyReport> {
    let mut report = verify_ledger(ctx.vault)?;
    let ledger = ctx.vault.ledger()?;
    let mut notes = Vec::new();
    let (head, problem) = ctx.logged_in(|session| {
        let audit = ledger
            .audit_key()?
            .ok_or(crate::ledger::LedgerError::Integrity(
                "the ledger records no audit key".into(),
            ))?;
        let key = session.find_key_pair(
            crate::keys::KeyType::EcdsaP256,
            &audit.key_label,
            &audit.key_id_bytes()?,
        )?;
        let spki = crate::keys::RawSigner::public_key(&key).spki_der();
        if spki != audit.public_key_der()? {
            return Ok((
                None,
                Some("the token's audit key is not the one the ledger records".to_owned()),
            ));
        }
        let head = state::read(session)?.map(|s| crate::ledger::AttestedHead {
            seq: s.seq,
            hash: s.hash,
        });
        Ok(match state::compare(&ledger, session, &spki) {
            Ok(c) => {
                notes = c.notes;
                (head, None)
            }
            Err(crate::Error::State(m)) => (head, Some(m.to_string())),
            Err(e) => return Err(e),
        })
    })?;
    report.token_head = head;
    report.notes.extend(notes);
    if let Some(p) = problem {
        report.ok = false;
        report.problems.push(format!("against the token: {p}"));
    }
    Ok(report)
}

/// The trust domain in force (`policy.trust_domain`), as `token` and `root show` report it.
pub(crate) fn trust_domain(vault: &Vault) -> Option<String> {
    vault
        .config()
        .policy
        .trust_domain
        .as_ref()
        .map(ToString::to_string)
}

/// Recomputes the ledger's hash chain and derived tables.
pub fn verify_ledger(vault: &Vault) -> Result<VerifyReport> {
    verify_ledger_with_progress(vault, |_| {}, |_| {})
}

/// [`verify_ledger`] for a face that shows progress: `total` is told how many events the
/// ledger holds before the chain is walked, `done` how many have been checked as it goes.
pub fn verify_ledger_with_progress(
    vault: &Vault,
    total: impl FnOnce(u64),
    done: impl FnMut(u64),
) -> Result<VerifyReport> {
    let ledger = vault.ledger()?;
    let (events, _) = ledger.head()?;
    total(events.max(0) as u64);
    Ok(ledger.verify_with_progress(done)?)
}
