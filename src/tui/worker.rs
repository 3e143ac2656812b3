//! Long work off the UI thread: each use case runs on a thread of its own and reports back
//! through a channel, so the screen keeps drawing and keys keep working meanwhile.
//!
//! The unlocked session travels with the job: the app lends it to the thread and gets it back
//! with the outcome, so at any moment exactly one place holds it.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::ceremony::{CertInfo, CrlInfo, ExportReport, Issued, RootInfo, TokenReport, Unlocked};
use crate::error::Result;
use crate::ledger::VerifyReport;
use crate::vault::Vault;

use super::screens::batch::{BatchSigned, BatchSpec};
use super::screens::generate::GenerateSpec;

/// What a finished job produced.
pub(crate) enum Outcome {
    /// `token_report`.
    Token(Result<TokenReport>),
    /// `unlock`.
    Unlock(Result<Unlocked>),
    /// `sign_csr` for the inbox entry at this path.
    Sign(std::path::PathBuf, Result<Issued>),
    /// `revoke`, with the reason given.
    Revoke(crate::x509::RevocationReason, Result<Vec<CertInfo>>),
    /// `issue_crl`.
    Crl(Result<CrlInfo>),
    /// `export_cluster`.
    Export(Result<ExportReport>),
    /// `verify_ledger`.
    Verify(Result<VerifyReport>),
    /// `create_root`.
    CreateRoot(Result<RootInfo>),
    /// `check_batch` of this manifest.
    CheckBatch(BatchSpec, Result<crate::ceremony::CheckedBatch>),
    /// `sign_batch` of a checked manifest.
    SignBatch(Box<BatchSigned>),
    /// `sign_generated` of what the operator confirmed.
    Generate(Box<GenerateSpec>, Result<ExportReport>),
}

/// A message from a job's thread.
pub(crate) enum Msg {
    /// How much work the job has: `total` units, when known.
    Total(u64),
    /// How many units of work are done.
    Progress(u64),
    /// The job is done; the session it borrowed comes back with it.
    Done(Box<Outcome>, Option<Unlocked>),
}

/// A job in flight.
pub(crate) struct Job {
    /// What it does, for the status line ("signing", "verifying the ledger").
    pub label: &'static str,
    /// When it started.
    pub started: Instant,
    /// Units of work announced by the job (events to verify), if any.
    pub total: Option<u64>,
    /// Units of work done so far, as last reported.
    pub done: u64,
    rx: Receiver<Msg>,
}

/// A job's way of reporting progress.
pub(crate) struct Progress(Sender<Msg>);

impl Progress {
    /// Announces how many units of work there are.
    pub fn total(&self, n: u64) {
        let _ = self.0.send(Msg::Total(n));
    }

    /// Reports how many units of work are done.
    pub fn done(&self, n: u64) {
        let _ = self.0.send(Msg::Progress(n));
    }
}

/// What a job's thread may receive: the vault and, if the app lent it, the session.
pub(crate) type Work =
    Box<dyn FnOnce(&Vault, Option<&Unlocked>, &Progress) -> Outcome + Send + 'static>;

impl Job {
    /// Starts `work` on a new thread.
    pub fn spawn(
        label: &'static str,
        vault: Arc<Vault>,
        unlocked: Option<Unlocked>,
        work: Work,
    ) -> Job {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("rootvault-{}", label.replace(' ', "-")))
            .spawn(move || {
                let progress = Progress(tx);
                let outcome = work(&vault, unlocked.as_ref(), &progress);
                let _ = progress.0.send(Msg::Done(Box::new(outcome), unlocked));
            })
            .expect("the system can start a thread");
        Job {
            label,
            started: Instant::now(),
            total: None,
            done: 0,
            rx,
        }
    }

    /// The next message, without waiting. `Err(())` means the job's thread ended without
    /// reporting (it panicked).
    pub fn try_next(&mut self) -> std::result::Result<Option<Msg>, ()> {
        match self.rx.try_recv() {
            Ok(m) => Ok(Some(m)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(()),
        }
    }

    /// The next message, waiting at most `timeout`.
    pub fn next_within(&mut self, timeout: Duration) -> std::result::Result<Option<Msg>, ()> {
        match self.rx.recv_timeout(timeout) {
            Ok(m) => Ok(Some(m)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(()),
        }
    }
}
