//! The error a use case returns, and the exit code each kind of failure maps to.
//!
//! Each layer has its own error type ([`HsmError`], [`LedgerError`], [`CertError`]); this enum
//! is what the ceremony functions return and what both faces (CLI, TUI) show. The exit codes
//! are the contract of `shared/cli.md` and must not drift: `Error::exit_code` is the only
//! place that maps failures to them.

use std::path::PathBuf;

use crate::export::ExportError;
use crate::hsm::HsmError;
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
    /// The command line or its values are wrong.
    #[error("{0}")]
    Usage(String),
    /// A file could not be read or written.
    #[error("{context} {path}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The vault's configuration is missing, unreadable or inconsistent.
    #[error("{0}")]
    Config(String),
    /// An output file exists and `--force` was not given.
    #[error("{} already exists; choose another path or pass --force to overwrite it", .0.display())]
    OutputExists(PathBuf),
    /// An output file could not be started (no space, read-only, no permission); checked
    /// before any token action, so nothing was done.
    #[error("cannot write {}: {source}. Nothing was changed: free space on that filesystem or make it writable (or choose another output path), then run the command again", path.display())]
    NoRoom {
        /// The output file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The token or its module failed.
    #[error(transparent)]
    Hsm(#[from] HsmError),
    /// The ledger database failed or is inconsistent.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Building, linting or verifying a certificate failed.
    #[error(transparent)]
    Cert(#[from] CertError),
    /// Writing an export failed or its inputs were refused.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// The request is refused: bad input or a state the vault forbids.
    #[error("{0}")]
    Rejected(String),
    /// The operator did not confirm.
    #[error("{0}")]
    NotConfirmed(String),
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

impl Error {
    /// The exit code the command-line contract assigns to this failure.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Usage(_) => ExitCode::Usage,
            Error::Io { .. }
            | Error::Config(_)
            | Error::OutputExists(_)
            | Error::NoRoom { .. }
            | Error::RecordedNotWritten { .. } => ExitCode::Failed,
            Error::Hsm(e) if e.is_login_failure() => ExitCode::Login,
            Error::Hsm(_) => ExitCode::Failed,
            Error::Ledger(e) if e.is_integrity_failure() => ExitCode::Integrity,
            Error::Ledger(_) => ExitCode::Failed,
            Error::Cert(e) if e.is_input_rejection() => ExitCode::Rejected,
            Error::Cert(_) => ExitCode::Failed,
            Error::Export(e) if e.is_input_rejection() => ExitCode::Rejected,
            Error::Export(_) => ExitCode::Failed,
            Error::Rejected(_) => ExitCode::Rejected,
            Error::NotConfirmed(_) => ExitCode::NotConfirmed,
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

/// Result of a use case.
pub type Result<T, E = Error> = std::result::Result<T, E>;
