//! Long work off the UI thread: each use case runs on a thread of its own and reports back
//! through a channel, so the screen keeps drawing and keys keep working meanwhile.
//!
//! A job says in its type whether it needs the token session: [`Job::plain`] work gets the
//! vault, [`Job::with_session`] work gets the vault and the unlocked session. The app lends
//! the session to the thread and gets it back with the outcome, so at any moment exactly one
//! place holds it, and a job that needs it cannot start without it.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::ceremony::{
    Answer, CertInfo, Confirm, ConfirmRequest, CrlInfo, ExportReport, GenerationInfo, Issued,
    RootCsrReport, RootInfo, RotateReport, TokenReport, Unlocked,
};
use crate::error::Result;
use crate::ledger::VerifyReport;
use crate::vault::Vault;

use super::keys::Screen;
use super::modals::generate::GenerateSpec;
use super::screens::batch::{BatchSigned, BatchSpec};

/// What a finished job produced.
pub(crate) enum Outcome {
    /// `token_report`.
    Token(Result<TokenReport>),
    /// `unlock`.
    Unlock(Result<Unlocked>),
    /// The session from `unlock` is now the app's; what to tell the operator.
    LoggedIn(String),
    /// `sign_csr` for the inbox entry at this path.
    Sign(std::path::PathBuf, Result<Issued>),
    /// `sign_csr` of a refused request, declined, so that ceremony records the refusal as
    /// the CLI's `sign` does: its error, if any.
    Recorded(std::path::PathBuf, Option<crate::error::Error>),
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
    /// `rotate_root`.
    Rotate(Result<RotateReport>),
    /// `retire_root` of this generation.
    Retire(u32, Result<GenerationInfo>),
    /// `destroy_root_key` of this generation.
    DestroyKey(u32, Result<GenerationInfo>),
    /// `root_csr`, after the TUI's confirmation of `csr_confirmation`.
    RootCsr(Result<RootCsrReport>),
    /// `import_root`.
    Import(Result<GenerationInfo>),
}

/// What a job asks the operator: ceremony's confirmation request, and what the TUI adds to
/// it.
pub(crate) struct Question {
    /// Ceremony's request: the action, the summary, what to type a prefix of.
    pub request: ConfirmRequest,
    /// Where the operator gets the value from (not from this screen).
    pub source: &'static str,
    /// What the TUI knows that the summary does not say (where files go).
    pub extra: Vec<(String, String)>,
    /// What the operator must know before confirming (a key that already has a valid
    /// certificate), already acknowledged.
    pub warning: Vec<String>,
}

/// A job's way of reporting progress and asking the operator.
pub(crate) struct Progress(Sender<Msg>);

/// The TUI's [`Confirm`]: ceremony's question goes to the screen as a dialog, and the job
/// waits for the answer. If the app goes away, the answer is no.
pub(crate) struct Asker {
    tx: Sender<Msg>,
    source: &'static str,
    extra: Vec<(String, String)>,
    warning: Vec<String>,
}

impl Confirm for Asker {
    fn ask(&mut self, request: &ConfirmRequest) -> Answer {
        let (reply, answer) = mpsc::channel();
        let question = Question {
            request: request.clone(),
            source: self.source,
            extra: std::mem::take(&mut self.extra),
            warning: std::mem::take(&mut self.warning),
        };
        if self.tx.send(Msg::Ask(Box::new(question), reply)).is_err() {
            return Answer::Declined;
        }
        answer.recv().unwrap_or(Answer::Declined)
    }
}

impl Progress {
    /// The operator, through a dialog: `source` says where the value to type comes from,
    /// `extra` and `warning` are shown with ceremony's summary.
    pub fn asker(
        &self,
        source: &'static str,
        extra: Vec<(String, String)>,
        warning: Vec<String>,
    ) -> Asker {
        Asker {
            tx: self.0.clone(),
            source,
            extra,
            warning,
        }
    }

    /// Announces how many units of work there are.
    pub fn total(&self, n: u64) {
        let _ = self.0.send(Msg::Total(n));
    }

    /// Reports how many units of work are done.
    pub fn done(&self, n: u64) {
        let _ = self.0.send(Msg::Progress(n));
    }
}

type PlainWork = Box<dyn FnOnce(&Vault, &Progress) -> Outcome + Send + 'static>;
type SessionWork = Box<dyn FnOnce(&Vault, &Unlocked, &Progress) -> Outcome + Send + 'static>;

/// Work with its vault and session, ready to run; it gives the session back.
type Bound = Box<dyn FnOnce(&Progress) -> (Outcome, Option<Unlocked>) + Send + 'static>;

enum Work {
    Plain(PlainWork),
    WithSession(SessionWork),
}

/// Work to start, and who gets its outcome.
pub(crate) struct Job {
    label: &'static str,
    owner: Screen,
    work: Work,
}

impl Job {
    /// Work that needs no token session (reading, verifying, logging in).
    pub fn plain(
        label: &'static str,
        owner: Screen,
        work: impl FnOnce(&Vault, &Progress) -> Outcome + Send + 'static,
    ) -> Job {
        Job {
            label,
            owner,
            work: Work::Plain(Box::new(work)),
        }
    }

    /// Work with the unlocked session (signing, revoking, issuing): it starts only while the
    /// token is unlocked, and the vault is read again when it ends.
    pub fn with_session(
        label: &'static str,
        owner: Screen,
        work: impl FnOnce(&Vault, &Unlocked, &Progress) -> Outcome + Send + 'static,
    ) -> Job {
        Job {
            label,
            owner,
            work: Work::WithSession(Box::new(work)),
        }
    }

    /// The screen that gets its outcome.
    pub fn owner(&self) -> Screen {
        self.owner
    }

    /// Whether it needs the session.
    pub fn needs_session(&self) -> bool {
        matches!(self.work, Work::WithSession(_))
    }

    /// Starts it on a new thread. `session` must be `Some` when the job needs it (a session
    /// job without one is handed back untouched).
    pub fn spawn(
        self,
        vault: Arc<Vault>,
        session: Option<Unlocked>,
    ) -> std::result::Result<Running, Job> {
        let session_job = self.needs_session();
        let Job { label, owner, work } = self;
        // The work, bound to what it needs; a session job cannot be built without one.
        let run: Bound = match (work, session) {
            (Work::Plain(f), session) => Box::new(move |p| (f(&vault, p), session)),
            (Work::WithSession(f), Some(u)) => Box::new(move |p| (f(&vault, &u, p), Some(u))),
            (work @ Work::WithSession(_), None) => return Err(Job { label, owner, work }),
        };
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("rootvault-{}", label.replace(' ', "-")))
            .spawn(move || {
                let progress = Progress(tx);
                let (outcome, session) = run(&progress);
                let _ = progress.0.send(Msg::Done(Box::new(outcome), session));
            })
            .expect("the system can start a thread");
        Ok(Running {
            label,
            owner,
            session_job,
            started: Instant::now(),
            total: None,
            done: 0,
            item: None,
            from_modal: false,
            pending: None,
            rx,
        })
    }
}

/// A message from a job's thread.
pub(crate) enum Msg {
    /// How much work the job has: `total` units, when known.
    Total(u64),
    /// How many units of work are done.
    Progress(u64),
    /// The job waits for the operator's answer to this.
    Ask(Box<Question>, Sender<Answer>),
    /// The job is done; the session it borrowed comes back with it.
    Done(Box<Outcome>, Option<Unlocked>),
}

/// A job in flight.
pub(crate) struct Running {
    /// What it does, for the status line ("signing", "verifying the ledger").
    pub label: &'static str,
    /// The screen that gets the outcome.
    pub owner: Screen,
    session_job: bool,
    /// When it started.
    pub started: Instant,
    /// Units of work announced by the job (events to verify), if any.
    pub total: Option<u64>,
    /// Units of work done so far, as last reported.
    pub done: u64,
    /// The item of the owner's screen when it started: its status line belongs there.
    pub item: Option<String>,
    /// Whether a modal started it (its outcome goes to that modal while it is open).
    pub from_modal: bool,
    /// Where the answer to the question asked goes, while one is asked.
    pending: Option<Sender<Answer>>,
    rx: Receiver<Msg>,
}

impl Running {
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

    /// Keeps where the answer to the question asked goes.
    pub fn asked(&mut self, reply: Sender<Answer>) {
        self.pending = Some(reply);
    }

    /// Whether the job waits for the operator.
    pub fn asking(&self) -> bool {
        self.pending.is_some()
    }

    /// Gives the operator's answer to the question asked (none asked: nothing happens).
    pub fn answer(&mut self, answer: Answer) {
        if let Some(reply) = self.pending.take() {
            let _ = reply.send(answer);
        }
    }

    /// Whether the vault should be read again after it: it used the session, so it may
    /// have recorded something.
    pub fn reload(&self) -> bool {
        self.session_job
    }
}
