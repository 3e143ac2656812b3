//! The error a use case returns, and the exit code each kind of failure maps to.
//!
//! Each layer has its own error type ([`HsmError`], [`LedgerError`], [`CertError`],
//! [`FsError`], [`ExportError`], [`BackupError`]); this enum is what the ceremony functions
//! return and what both faces (CLI, TUI) show. Every distinct failure is a variant of its own,
//! so the exit code follows from the type. The exit codes are the contract of
//! `shared/cli.md` and must not drift: [`Error::exit_code`] is the only place that maps
//! failures to them.

use std::path::PathBuf;

use crate::ceremony::BackupError;
use crate::export::ExportError;
use crate::fsio::{FsError, Obstacle};
use crate::hsm::{HsmError, KeyProtection};
use crate::ledger::LedgerError;
use crate::x509::CertError;

/// Exit codes of the command-line contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Done.
    Ok = 0,
    /// I/O, configuration, token or database error.
    Failed = 1,
    /// Usage error.
    Usage = 2,
    /// Input rejected: malformed file, refused by policy, or forbidden by the vault's state.
    Rejected = 3,
    /// Ledger integrity failure.
    Integrity = 4,
    /// Login failed: wrong PIN, PIN locked, no PIN available.
    Login = 5,
    /// Not confirmed by the operator.
    NotConfirmed = 6,
}

/// Why a use case did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The command line or its values are wrong (the message is the argument's own check).
    #[error("{0}")]
    Usage(String),
    /// A file could not be read.
    #[error("{context} {}: {source}", path.display())]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// An output could not be written (it exists, no room, …); nothing was left behind.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// The vault directory or its configuration is missing, unusable or busy.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The token or its module failed.
    #[error(transparent)]
    Hsm(#[from] HsmError),
    /// No PIN could be obtained, or the PIN file is not private (exit 5).
    #[error(transparent)]
    Pin(#[from] crate::pin::PinError),
    /// The ledger database failed or is inconsistent.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Building, linting or verifying a certificate failed.
    #[error(transparent)]
    Cert(#[from] CertError),
    /// An export's inputs were refused or its encryption failed.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// age recipients were refused, or encryption failed.
    #[error(transparent)]
    Recipients(#[from] crate::recipients::RecipientError),
    /// A backup could not be made or restored.
    #[error(transparent)]
    Backup(#[from] BackupError),
    /// The token made a key without the protection a vault key needs.
    #[error("the token created the {what} without the required protection ({protection:?}); refusing to use it")]
    KeyNotLockedIn {
        /// Which key: `root key`, `audit key`.
        what: &'static str,
        /// What the token reports.
        protection: KeyProtection,
    },
    /// The token's RNG gave a serial the vault already issued.
    #[error("serial {0} was drawn twice from the token's RNG; nothing was recorded, run the command again")]
    SerialCollision(String),
    /// The token's RNG keeps repeating itself.
    #[error(
        "the token's RNG returned already-issued serials four times; do not trust this token's RNG"
    )]
    RngRepeats,
    /// Another process changed the vault between this action's check and its commit.
    #[error("{0}; nothing was recorded, run the command again")]
    Raced(&'static str),
    /// A key for a cluster could not be generated in memory (the library's message).
    #[error("cannot generate the {key} key: {detail}")]
    KeyGeneration {
        /// The key type.
        key: String,
        /// Why.
        detail: String,
    },
    /// `sign --generate-key` wrote the key and chain (the only copy of the key), but the
    /// export could not be recorded; the certificate itself is recorded.
    #[error("certificate {serial} is recorded and its key and chain were written to {}, but the export could not be recorded: {source}. Keep the files; the certificate is valid", path.display())]
    WrittenNotRecorded {
        /// The certificate's serial.
        serial: String,
        /// Where the export is.
        path: PathBuf,
        /// Why recording failed.
        source: Box<Error>,
    },
    /// The root key on the token is not the key of the root certificate the ledger holds: the
    /// ledger's root was replaced, or this is not the vault's token (exit 4).
    #[error("the key labelled {0:?} on the token is not the key of the vault's root certificate, so the ledger's root was altered (or this is another vault's token); refusing to sign")]
    RootKeyMismatch(String),
    /// A step of `rootvault demo` failed (the message names the step and what it saw).
    #[error("demo: {0}")]
    Demo(String),
    /// The ledger disagrees with the state the token holds (exit 4).
    #[error(transparent)]
    State(#[from] crate::ceremony::Mismatch),
    /// The terminal could not be used.
    #[error("the terminal failed: {0}")]
    Terminal(#[source] std::io::Error),
    /// The request is refused: bad input or a state the vault forbids.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The operator did not confirm.
    #[error(transparent)]
    NotConfirmed(#[from] NotConfirmed),
    /// A trust-changing event was about to be committed without the witness gate's record
    /// before it, while the vault requires witnesses: a bug in rootvault; nothing was
    /// recorded.
    #[error("a trust-changing action reached the ledger without passing the witness gate; nothing was recorded (this is a bug in rootvault: please report it)")]
    Unwitnessed,
    /// The witnesses the vault requires did not sign the action's statement (exit 6).
    #[error(transparent)]
    NotWitnessed(#[from] NotWitnessed),
    /// The token acted and the ledger recorded it, but the output file could not be written
    /// afterwards (space for it is reserved before signing, so this is rare). The one case
    /// where a failing command has changed something: the message says what is recorded and
    /// how to get the output again.
    #[error("{done}, and that is recorded in the ledger; but the output could not be written: {source}\nNothing needs undoing. {remedy}")]
    RecordedNotWritten {
        /// What was done and recorded.
        done: String,
        /// How to get the output again.
        remedy: String,
        /// Why writing failed.
        source: Box<Error>,
    },
}

/// The vault directory, its configuration or its token lock stops the command (exit 1).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// No `vault.toml` in the directory.
    #[error("no vault at {}: vault.toml is missing; create one with `rootvault init`, or point --vault / ROOTVAULT_DIR at an existing vault", .0.display())]
    Missing(PathBuf),
    /// `vault.toml` does not parse or breaks a rule (the message is the parser's, naming the
    /// field).
    #[error("{} is not a valid vault configuration: {why}", path.display())]
    BadConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The vault has a configuration but no ledger.
    #[error("the vault at {} has no ledger.sqlite; restore it from a backup", .0.display())]
    NoLedger(PathBuf),
    /// The vault could not record a token action.
    #[error("{}", cannot_record(dir, obstacle))]
    CannotRecord {
        /// The vault directory.
        dir: PathBuf,
        /// What is in the way.
        obstacle: Obstacle,
    },
    /// Another process held the token lock too long.
    #[error("another rootvault process has been using the token for over {0}s; let it finish and try again")]
    TokenBusy(u64),
    /// `init` or `restore` found a vault where it would create one.
    #[error("a vault already exists at {}; a new vault is never written over one (choose another --vault)", .0.display())]
    Exists(PathBuf),
    /// `init` or `restore` found a non-empty directory where it would create a vault.
    #[error("{} exists and is not empty; a vault is created only in a new or empty directory", .0.display())]
    NotEmpty(PathBuf),
    /// `init` or `restore` found something that is not a directory where it would create one.
    #[error("{} exists and is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// `restore` found something where it would create the vault.
    #[error("{} already exists; restore only creates a new vault directory and never writes into an existing one. Choose another --vault, or move the existing one aside first", .0.display())]
    RestoreTargetExists(PathBuf),
    /// `restore` needs the new vault's parent directory to exist.
    #[error("{} does not exist (or is not a directory); restore creates only the vault directory itself, so create its parent first", .0.display())]
    NoParent(PathBuf),
    /// The module `vault.toml` names is not one the operator approved for this vault.
    #[error("{}", module_not_approved(path, sha256, approved))]
    ModuleNotApproved {
        /// The module path in vault.toml.
        path: PathBuf,
        /// Its SHA-256 now.
        sha256: String,
        /// The approved `(path, sha256)` pairs.
        approved: Vec<(String, String)>,
    },
    /// The token has no user PIN yet.
    #[error("the token {0:?} has no user PIN yet; initialise it first (softhsm2-util --init-token, or hsm-test/make-token.sh)")]
    TokenUninitialised(String),
}

fn module_not_approved(
    path: &std::path::Path,
    sha256: &str,
    approved: &[(String, String)],
) -> String {
    let list = if approved.is_empty() {
        "none: the vault was made before modules were recorded".to_owned()
    } else {
        approved
            .iter()
            .map(|(p, s)| format!("{p} (SHA-256 {s})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "the PKCS#11 module {} (SHA-256 {sha256}) is not approved for this vault, so it was not loaded and no PIN was given to it; approved: {list}. If vault.toml was edited, restore it. If the module was updated on purpose, check that SHA-256 against its publisher's, then approve it with `rootvault token approve-module --confirm {}`",
        path.display(),
        &sha256[..16]
    )
}

fn cannot_record(dir: &std::path::Path, obstacle: &Obstacle) -> String {
    let dir = dir.display();
    match obstacle {
        Obstacle::ReadOnly => format!("the vault {dir} is on a read-only filesystem, and every token action is recorded in its ledger, so nothing was done. Reading it works as it is (`list`, `ledger verify`); remount it read-write and run the command again"),
        Obstacle::NotWritable(_) => format!("the vault {dir} is not writable by this user, and every token action is recorded in its ledger, so nothing was done. Run as the vault's owner"),
        Obstacle::Full { free } => format!(
            "the vault's filesystem ({dir}) has {} KiB free, less than the {} KiB a token action needs to be recorded, so nothing was done. Free space and run the command again",
            free / 1024,
            crate::fsio::MIN_FREE_BYTES / 1024
        ),
    }
}

/// A request the vault's state or its input forbids (exit 3). Nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The vault has no root yet.
    #[error("this vault has no root yet; create it with `rootvault root create`")]
    NoRoot,
    /// `ledger recover` on a ledger that is not behind its token.
    #[error("the ledger is not behind the token, so there is nothing to recover; `rootvault ledger verify --with-token` compares them")]
    NothingToRecover,
    /// `ledger recover` while the token requires more witnesses than the ledger that survived
    /// registers: the lost events registered the others, and their keys went with them.
    #[error("the token requires {required} witnesses for every trust-changing action, but the ledger that survived registers only {registered} (the lost events registered the others, and their keys went with them); nothing was recorded. A recovery witnessed by fewer would lower the requirement: restore a newer backup that holds their registrations")]
    RecoverWitnessesLost {
        /// M, as the token attested it.
        required: u32,
        /// Witnesses the surviving ledger registers.
        registered: usize,
    },
    /// `init` on a token that already holds another vault's audit key: a token serves one
    /// vault, whose ledger its keys attest.
    #[error("the token {token:?} already holds another vault's keys (its audit key has SHA-256 {audit_key_sha256}), so no vault was created. A token serves one vault: open that vault (its `root show`, transcripts and receipts name the same audit key), restore it from a backup, or initialise a fresh token")]
    TokenHasVault {
        /// The token's label.
        token: String,
        /// SHA-256 of the DER SubjectPublicKeyInfo of the audit key on it.
        audit_key_sha256: String,
    },
    /// `root create` on a vault that has one.
    #[error("this vault already has a root; `rootvault root show` describes it, and `rootvault root rotate` replaces it with a new generation")]
    RootExists,
    /// The root's serial was given to `revoke`.
    #[error("that is the root's serial; the root cannot revoke itself (retire it by rotating to a new root)")]
    RootSerial,
    /// No certificate with this serial.
    #[error("no certificate with serial {0} was issued by this vault; `rootvault list` shows the serials")]
    UnknownSerial(String),
    /// No certificate was ever issued for this cluster.
    #[error("no certificate was ever issued for cluster {0}; `rootvault list` shows the clusters")]
    UnknownCluster(String),
    /// The certificate is already revoked.
    #[error("certificate {serial} was already revoked at {revoked_at} ({reason})")]
    AlreadyRevoked {
        /// Its serial.
        serial: String,
        /// When.
        revoked_at: String,
        /// Why.
        reason: String,
    },
    /// Every certificate of the cluster is revoked.
    #[error("every certificate of cluster {0} is already revoked")]
    ClusterAllRevoked(String),
    /// The cluster has no certificate to export.
    #[error(
        "cluster {0} has no valid certificate (all are revoked or expired); sign a new one first"
    )]
    NoValidCertificate(String),
    /// An input file could not be read.
    #[error("cannot read the {what} {}: {source}", path.display())]
    Unreadable {
        /// `request`, `receipt`, `manifest`, `backup`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// An input file is not what it must be (the message names the line or field).
    #[error("the {what} {}: {why}", path.display())]
    Malformed {
        /// `manifest`, `receipt`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// A `sign-batch` manifest was refused: every problem of every line; the refusal was
    /// recorded.
    #[error("{}", Refusal::batch_text(problems, not_recorded))]
    Batch {
        /// Every problem, naming its line.
        problems: Vec<String>,
        /// Why recording the refusal failed, if it did.
        not_recorded: Option<String>,
    },
    /// `witness add` for a name that is registered.
    #[error("a witness named {0} is registered already; remove it first, or choose another name")]
    WitnessExists(String),
    /// `witness add` for a key another witness registered.
    #[error("this key ({fingerprint}) is registered already, as witness {name}; each witness needs a key of their own")]
    WitnessKeyTaken {
        /// The key's fingerprint.
        fingerprint: String,
        /// The witness who holds it.
        name: String,
    },
    /// No witness of that name.
    #[error("no witness named {0} is registered; `rootvault witness list` shows them")]
    UnknownWitness(String),
    /// The key file cannot be a witness key.
    #[error("the key {}: {why}", path.display())]
    WitnessKey {
        /// The file.
        path: PathBuf,
        /// Why not.
        why: crate::witness::KeyRefused,
    },
    /// `witness require M` with fewer than M witnesses registered.
    #[error("cannot require {required} witnesses while {registered} are registered: every trust-changing action would be impossible; add witnesses first")]
    RequirementAboveWitnesses {
        /// M asked for.
        required: u32,
        /// Witnesses registered.
        registered: usize,
    },
    /// `witness remove` that would leave fewer witnesses than required.
    #[error("removing {name} would leave {left} witnesses, fewer than the {required} every trust-changing action needs; lower the requirement first (`rootvault witness require`)")]
    RemoveBelowRequirement {
        /// The witness.
        name: String,
        /// How many would be left.
        left: usize,
        /// M.
        required: u32,
    },
    /// The signing request was refused by intake or policy; the refusal was recorded.
    #[error("request refused, {nothing}: {}{}", reasons.join("; "), not_recorded.as_ref().map(|e| format!(" (the refusal could not be recorded in the ledger: {e})")).unwrap_or_default())]
    Request {
        /// What did not happen: `nothing was signed`, `nothing was generated or signed`.
        nothing: &'static str,
        /// Why, one sentence each.
        reasons: Vec<String>,
        /// Why recording the refusal failed, if it did.
        not_recorded: Option<String>,
    },
    /// No root generation with this number.
    #[error("this vault has no root generation {0}; `rootvault root show` lists them")]
    NoSuchGeneration(u32),
    /// The generation is pending: its key exists, its certificate not yet.
    #[error("root generation {generation} is pending (its certificate was not imported yet), so it cannot {what}; import it with `rootvault root import --cert FILE --chain FILE`")]
    GenerationPending {
        /// The generation.
        generation: u32,
        /// What it cannot do.
        what: &'static str,
    },
    /// The generation's key was destroyed on the token.
    #[error(
        "the key of root generation {0} was destroyed on the token; it signs nothing any more"
    )]
    KeyDestroyed(u32),
    /// An intermediate of a generation that is in no trust bundle any more.
    #[error("root generation {generation} is {status}, in no trust bundle: its intermediates cannot be exported")]
    GenerationNotTrusted {
        /// The generation.
        generation: u32,
        /// Its status.
        status: String,
    },
    /// A rotation, CSR or import while another generation is pending.
    #[error("root generation {0} is pending: import its certificate (`rootvault root import`) before making another root")]
    PendingExists(u32),
    /// `root import` with no pending generation.
    #[error("no root generation is pending; make one with `rootvault root csr` first")]
    NoPending,
    /// `root rotate` on a subordinate vault.
    #[error("the active root generation {0} was issued by an enterprise root, so a new self-signed root would not chain to it; rotate a subordinate with `rootvault root csr` and `rootvault root import`")]
    RotateSubordinate(u32),
    /// `root retire` of a generation that is not trusted.
    #[error("root generation {generation} is {status}; only a trusted generation (one a rotation replaced) can be retired{}", if status == "active" { ": rotate to a new root first (`rootvault root rotate`)" } else { "" })]
    RetireNotTrusted {
        /// The generation.
        generation: u32,
        /// Its status.
        status: String,
    },
    /// `root retire` while intermediates of the generation are still valid.
    #[error("root generation {generation} still has valid intermediates, for cluster(s) {}: re-key each (sign a new CSR under the active root and export it) and revoke the old one (`rootvault revoke --serial SERIAL --reason superseded`), then retire; nothing was retired", clusters.join(", "))]
    RetireInUse {
        /// The generation.
        generation: u32,
        /// The clusters (with serials) still holding one.
        clusters: Vec<String>,
    },
    /// `root destroy-key` of a generation that is not retired, or whose key is gone already.
    #[error("root generation {generation} is {status}; only a retired generation's key can be destroyed (`rootvault root retire --generation {generation}` first)")]
    DestroyNotRetired {
        /// The generation.
        generation: u32,
        /// Its status.
        status: String,
    },
    /// The generation has no cross-certificate (it was not made by `root rotate`).
    #[error("root generation {0} has no cross-certificate: only a generation made by `rootvault root rotate` has one")]
    NoCross(u32),
    /// An imported root certificate failed a check; the message names it.
    #[error("the certificate is refused, nothing was imported: {check}: {detail}")]
    Import {
        /// The check that failed, as cli.md names it (key match, CA, keyCertSign, pathLen,
        /// validity, chain).
        check: &'static str,
        /// What was found.
        detail: String,
    },
}

impl Refusal {
    fn batch_text(problems: &[String], not_recorded: &Option<String>) -> String {
        let mut text = format!(
            "batch refused, nothing was signed:\n  {}",
            problems.join("\n  ")
        );
        if let Some(e) = not_recorded {
            text += &format!("\n(the refusal could not be recorded: {e})");
        }
        text
    }
}

/// The operator did not confirm (exit 6). Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotConfirmed {
    /// The operator declined.
    #[error("the operator declined; {nothing}")]
    Declined {
        /// What did not happen, e.g. `nothing was signed`.
        nothing: &'static str,
    },
    /// No terminal to ask on and no `--confirm`.
    #[error("no terminal to confirm on; pass --confirm with at least {min} hex digits of {subject}; {nothing}")]
    NoTerminal {
        /// What the operator types a prefix of.
        subject: &'static str,
        /// The fewest digits.
        min: usize,
        /// What did not happen.
        nothing: &'static str,
    },
    /// Too few digits, or not hex.
    #[error("the confirmation must be at least {min} hex digits of {subject}; {nothing}")]
    TooShort {
        /// What the operator types a prefix of.
        subject: &'static str,
        /// The fewest digits.
        min: usize,
        /// What did not happen.
        nothing: &'static str,
    },
    /// The digits typed are not a prefix of the expected value.
    #[error("the confirmation does not match {subject}; {nothing}")]
    Mismatch {
        /// What the operator types a prefix of.
        subject: &'static str,
        /// What did not happen.
        nothing: &'static str,
    },
}

/// The witnesses the vault requires did not sign this action's statement (exit 6). Nothing
/// was changed: the token was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotWitnessed {
    /// No signature was given, and the vault requires witnesses.
    #[error("{action} needs {required} witness signature(s) in this vault ({registered} witnesses are registered), and none was given; {nothing}. Write the statement with `--statement-out FILE`, have {required} registered witnesses sign it (`ssh-keygen -Y sign -f KEY -n rootvault-witness FILE`), then pass each FILE.sig with --witness-sig")]
    Required {
        /// The action.
        action: &'static str,
        /// M.
        required: u32,
        /// N.
        registered: usize,
        /// What did not happen.
        nothing: &'static str,
    },
    /// At least one signature does not count; each is named with its reason.
    #[error("{}", NotWitnessed::invalid_text(problems, nothing))]
    Invalid {
        /// Each refused file and why.
        problems: Vec<(String, crate::witness::Invalid)>,
        /// What did not happen.
        nothing: &'static str,
    },
    /// Every signature is valid, but too few witnesses signed.
    #[error("{action} needs {required} distinct registered witnesses, and {} signed{}; {nothing}", valid.len(), if valid.is_empty() { String::new() } else { format!(" ({})", valid.join(", ")) })]
    TooFew {
        /// The action.
        action: &'static str,
        /// M.
        required: u32,
        /// The witnesses whose signatures count.
        valid: Vec<String>,
        /// What did not happen.
        nothing: &'static str,
    },
    /// The ledger moved after the signatures were checked and before the action was recorded.
    #[error("the ledger moved on (to event {now_seq}) after the statement for event {statement_seq} was checked; {nothing}. Write the statement again and have it signed again")]
    Moved {
        /// The head the statement names.
        statement_seq: i64,
        /// The head now.
        now_seq: i64,
        /// What did not happen.
        nothing: &'static str,
    },
}

impl NotWitnessed {
    fn invalid_text(problems: &[(String, crate::witness::Invalid)], nothing: &str) -> String {
        let mut text = format!("witness signatures refused, {nothing}:");
        for (file, why) in problems {
            text += &format!("\n  {file}: {why}");
        }
        text
    }
}

impl Error {
    /// The exit code the command-line contract assigns to this failure.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Usage(_) => ExitCode::Usage,
            Error::Io { .. }
            | Error::Fs(_)
            | Error::Vault(_)
            | Error::KeyNotLockedIn { .. }
            | Error::SerialCollision(_)
            | Error::RngRepeats
            | Error::Raced(_)
            | Error::Terminal(_)
            | Error::KeyGeneration { .. }
            | Error::Demo(_)
            | Error::WrittenNotRecorded { .. }
            | Error::Unwitnessed
            | Error::RecordedNotWritten { .. } => ExitCode::Failed,
            Error::Hsm(e) if e.is_login_failure() => ExitCode::Login,
            Error::Pin(_) => ExitCode::Login,
            Error::Hsm(e) if e.is_unsupported_request() => ExitCode::Rejected,
            Error::Hsm(_) => ExitCode::Failed,
            Error::Ledger(e) if e.is_integrity_failure() => ExitCode::Integrity,
            Error::RootKeyMismatch(_) | Error::State(_) => ExitCode::Integrity,
            Error::Ledger(_) => ExitCode::Failed,
            Error::Cert(e) if e.is_input_rejection() => ExitCode::Rejected,
            Error::Cert(_) => ExitCode::Failed,
            Error::Export(e) if e.is_input_rejection() => ExitCode::Rejected,
            Error::Export(_) => ExitCode::Failed,
            Error::Backup(e) => e.exit_code(),
            Error::Recipients(e) if e.is_input_rejection() => ExitCode::Rejected,
            Error::Recipients(_) => ExitCode::Failed,
            Error::Refused(_) => ExitCode::Rejected,
            Error::NotConfirmed(_) | Error::NotWitnessed(_) => ExitCode::NotConfirmed,
        }
    }

    /// An I/O error with what was being done and to which file.
    pub fn io(context: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            context,
            path: path.into(),
            source,
        }
    }
}

impl From<crate::recipients::IdentityError> for Error {
    fn from(e: crate::recipients::IdentityError) -> Error {
        Error::Backup(e.into())
    }
}

/// Result of a use case.
pub type Result<T, E = Error> = std::result::Result<T, E>;
