//! The app: the screens, the open modal, the running job, and the one place effects are
//! applied. Screens and modals handle their own keys and draw themselves; they tell the app
//! what to do through [`Effect`]s and never see it.
//!
//! Every rule lives in `ceremony`: screens gather what the operator typed, jobs call a use
//! case (on a worker thread), and the result or the error's `Display` text is shown, the
//! same words the CLI prints.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ratatui::crossterm::event::KeyEvent;

use crate::ceremony::{self, Operator, Unlocked};
use crate::pin::PIN_ENV;
use crate::vault::Vault;

use super::data::Data;
use super::job::{Job, Msg as JobMsg, Outcome, Running};
use super::keys::{self, Action, Mode, Screen};
use super::screens::certs::Certs;
use super::screens::crl::Crl;
use super::screens::inbox::Inbox;
use super::screens::ledger::LedgerView;
use super::screens::overview::Overview;
use super::screens::unlock::Unlock;
use super::theme::Theme;
use super::view::{Ctx, Effect, JobView, Modal, Msg, ScreenView, Session, Status};

/// Options of one TUI session.
#[derive(Debug, Clone)]
pub struct Options {
    /// Recorded as the actor of every event.
    pub operator: Operator,
    /// `--pin-file`, used when the PIN field is left empty.
    pub pin_file: Option<PathBuf>,
    /// Colours (false under `NO_COLOR`).
    pub theme: Theme,
}

/// What every screen may read: the vault, what was read from it, the session, the clock as
/// of the last tick, and the job in flight.
pub(crate) struct Shared {
    vault: Arc<Vault>,
    data: Data,
    operator: Operator,
    theme: Theme,
    now: DateTime<Utc>,
    tick: Instant,
    cwd: PathBuf,
    unlocked: Option<Unlocked>,
    /// The session is lent to the running job.
    lent: bool,
    job: Option<Running>,
}

impl Shared {
    pub(crate) fn ctx(&self) -> Ctx<'_> {
        Ctx {
            vault: &self.vault,
            data: &self.data,
            theme: self.theme,
            now: self.now,
            cwd: &self.cwd,
            operator: &self.operator,
            session: match (&self.unlocked, self.lent) {
                (Some(u), _) => Session::Unlocked(u.token()),
                (None, true) => Session::Lent,
                (None, false) => Session::Locked,
            },
            job: self.job.as_ref().map(|j| JobView {
                label: j.label,
                elapsed: self.tick.saturating_duration_since(j.started),
                total: j.total,
                done: j.done,
            }),
        }
    }
}

/// The six screens.
pub(crate) struct Screens {
    overview: Overview,
    pub(crate) unlock: Unlock,
    pub(crate) inbox: Inbox,
    certs: Certs,
    crl: Crl,
    ledger: LedgerView,
}

impl Screens {
    pub(crate) fn get(&self, s: Screen) -> &dyn ScreenView {
        match s {
            Screen::Overview => &self.overview,
            Screen::Unlock => &self.unlock,
            Screen::Inbox => &self.inbox,
            Screen::Certificates => &self.certs,
            Screen::Crl => &self.crl,
            Screen::Ledger => &self.ledger,
        }
    }

    fn get_mut(&mut self, s: Screen) -> &mut dyn ScreenView {
        match s {
            Screen::Overview => &mut self.overview,
            Screen::Unlock => &mut self.unlock,
            Screen::Inbox => &mut self.inbox,
            Screen::Certificates => &mut self.certs,
            Screen::Crl => &mut self.crl,
            Screen::Ledger => &mut self.ledger,
        }
    }
}

/// The whole state of the TUI.
pub struct App {
    pub(crate) shared: Shared,
    pub(crate) screens: Screens,
    pub(crate) screen: Screen,
    pub(crate) modal: Option<Box<dyn Modal>>,
    pub(crate) help: bool,
    pub(crate) quit_ask: Option<&'static str>,
    quit: bool,
    quit_after_job: bool,
    pub(crate) message: Option<Status>,
    fatal: Option<String>,
}

impl App {
    /// An app over `vault`. Starts reading the token (on a worker) and the vault.
    pub fn new(vault: Vault, options: Options) -> App {
        let inbox_dir = vault.dir().join("inbox");
        let mut app = App {
            shared: Shared {
                vault: Arc::new(vault),
                data: Data::empty(),
                operator: options.operator,
                theme: options.theme,
                now: Utc::now(),
                tick: Instant::now(),
                cwd: std::env::current_dir().unwrap_or_default(),
                unlocked: None,
                lent: false,
                job: None,
            },
            screens: Screens {
                overview: Overview,
                unlock: Unlock::new(options.pin_file, std::env::var_os(PIN_ENV).is_some()),
                inbox: Inbox::new(inbox_dir),
                certs: Certs::default(),
                crl: Crl,
                ledger: LedgerView::default(),
            },
            screen: Screen::Overview,
            modal: None,
            help: false,
            quit_ask: None,
            quit: false,
            quit_after_job: false,
            message: None,
            fatal: None,
        };
        app.reload();
        app.read_token();
        app
    }

    /// The screen shown.
    pub fn screen(&self) -> Screen {
        self.screen
    }

    /// Whether the loop should end: quit was asked and no job is running.
    pub fn should_quit(&self) -> bool {
        (self.quit || self.fatal.is_some()) && self.shared.job.is_none()
    }

    /// Whether a job is running.
    pub fn busy(&self) -> bool {
        self.shared.job.is_some()
    }

    /// Whether the token is logged in (the session may be lent to a running job).
    pub fn is_unlocked(&self) -> bool {
        self.shared.unlocked.is_some() || self.shared.lent
    }

    /// How many characters are in the PIN field (the PIN itself is never shown).
    pub fn typed_pin_len(&self) -> usize {
        self.screens.unlock.typed_len()
    }

    /// A failure that ended the app (a worker thread died).
    pub fn fatal(&self) -> Option<&str> {
        self.fatal.as_deref()
    }

    /// The status line's text, if any.
    pub fn message(&self) -> Option<&str> {
        self.message.as_ref().map(|m| m.text.as_str())
    }

    /// The text of the error shown in a modal, if one is shown.
    pub fn error_shown(&self) -> Option<&str> {
        self.modal.as_deref().and_then(|m| m.error_text())
    }

    /// For tests: the open modal, if it is a `T`.
    #[cfg(test)]
    pub(crate) fn modal_as<T: 'static>(&self) -> Option<&T> {
        self.modal.as_deref()?.as_any().downcast_ref()
    }

    /// The context screens and modals see.
    pub(crate) fn ctx(&self) -> Ctx<'_> {
        self.shared.ctx()
    }

    /// Maps a key and applies it.
    pub fn handle_key(&mut self, key: KeyEvent) {
        if let Some(action) = self.action_for(key) {
            self.update(action);
        }
    }

    /// Waits (at most `limit`) for the running job to finish and applies its outcome.
    /// Returns false if it was still running at the limit. For tests and for quitting.
    pub fn wait_for_job(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while let Some(job) = self.shared.job.as_mut() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match job.next_within(left.min(Duration::from_millis(50))) {
                Ok(Some(msg)) => {
                    self.tick_clock();
                    self.on_job_message(msg)
                }
                Ok(None) => {}
                Err(()) => self.job_died(),
            }
        }
        true
    }

    /// Whether a text field has the keys.
    fn text_mode(&self) -> bool {
        match &self.modal {
            Some(m) => m.takes_text(),
            None => self.screens.get(self.screen).takes_text(),
        }
    }

    /// Which keys are live.
    fn mode(&self) -> Mode {
        if self.quit_ask.is_some() {
            Mode::Quitting
        } else if self.help {
            Mode::Help
        } else if self.text_mode() {
            Mode::Text
        } else if self.modal.is_some() {
            Mode::Modal
        } else {
            Mode::Screen(self.screen)
        }
    }

    /// What the operator is in the middle of, if quitting now abandons something.
    fn mid_flow(&self) -> Option<&'static str> {
        if let Some(job) = &self.shared.job {
            return Some(job.label);
        }
        if let Some(flow) = self.modal.as_ref().and_then(|m| m.flow()) {
            return Some(flow);
        }
        self.screens.get(self.screen).flow()
    }

    /// The action a key stands for in the current state, if any.
    pub fn action_for(&self, key: KeyEvent) -> Option<Action> {
        keys::action_for(key, self.mode())
    }

    fn tick_clock(&mut self) {
        self.shared.now = Utc::now();
        self.shared.tick = Instant::now();
    }

    /// Applies one action.
    pub fn update(&mut self, action: Action) {
        self.tick_clock();
        if action == Action::Tick {
            self.poll_job();
            return;
        }
        if action == Action::Quit {
            self.ask_quit();
            return;
        }
        if let Some(what) = self.quit_ask {
            match action {
                Action::Yes => {
                    self.quit_ask = None;
                    self.modal = None;
                    self.screens.unlock.wipe();
                    self.quit = true;
                    if self.shared.job.is_some() {
                        self.quit_after_job = true;
                        self.apply(Effect::info(format!("quitting when {what} is done")));
                    }
                }
                Action::No => self.quit_ask = None,
                _ => {}
            }
            return;
        }
        if action == Action::Help {
            self.help = !self.help;
            return;
        }
        if let Some(modal) = self.modal.as_mut() {
            let effect = modal.handle(action, &self.shared.ctx());
            self.apply(effect);
            return;
        }
        match action {
            Action::NextScreen => self.go(self.screen.step(1)),
            Action::PrevScreen => self.go(self.screen.step(-1)),
            Action::Go(s) => self.go(s),
            Action::Unlock => self.go(Screen::Unlock),
            Action::Reload => {
                self.reload();
                if self.screen == Screen::Inbox {
                    self.screens.inbox.scan(&self.shared.vault);
                }
                if !self.is_unlocked() {
                    self.read_token();
                }
                self.apply(Effect::info("read the vault again"));
            }
            _ => {
                let effect = self
                    .screens
                    .get_mut(self.screen)
                    .handle(action, &self.shared.ctx());
                self.apply(effect);
            }
        }
    }

    /// Does what a screen or modal asked.
    fn apply(&mut self, effect: Effect) {
        match effect {
            Effect::None => {}
            Effect::Close => self.modal = None,
            Effect::Open(m) => self.modal = Some(m),
            Effect::Status(s) => self.message = Some(s),
            Effect::Run(job) => self.start(job),
            Effect::Send(Msg::Inbox(m)) => {
                let e = self.screens.inbox.receive(m, &self.shared.ctx());
                self.apply(e);
            }
            Effect::Go(s) => self.go(s),
            Effect::ReadToken => self.read_token(),
            Effect::Lock => self.lock(),
            Effect::Many(effects) => {
                for e in effects {
                    self.apply(e);
                }
            }
        }
    }

    fn ask_quit(&mut self) {
        if self.quit_ask.is_some() {
            return;
        }
        self.help = false;
        match self.mid_flow() {
            Some(what) => self.quit_ask = Some(what),
            None => {
                self.screens.unlock.wipe();
                self.quit = true;
            }
        }
    }

    fn go(&mut self, to: Screen) {
        if self.screen != to {
            self.screens.get_mut(self.screen).on_leave();
        }
        self.screen = to;
        let ctx = self.shared.ctx();
        self.screens.get_mut(to).on_enter(&ctx);
    }

    fn lock(&mut self) {
        if self.shared.lent {
            self.apply(Effect::info("wait: the session is in use"));
        } else if self.shared.unlocked.take().is_some() {
            self.apply(Effect::info("logged out of the token"));
            self.read_token();
        }
    }

    // ---- reading the vault ----

    /// Reads root, certificates, ledger head, CRL and revocations again, and tells the
    /// screens.
    fn reload(&mut self) {
        self.shared.data.reload(&self.shared.vault);
        let ctx = self.shared.ctx();
        for s in Screen::ALL {
            self.screens.get_mut(s).on_reload(&ctx, s == self.screen);
        }
    }

    /// Reads the token (no PIN needed) on a worker. Never while logged in: the session holds
    /// the vault's token lock.
    fn read_token(&mut self) {
        if self.is_unlocked() || self.shared.job.is_some() {
            return;
        }
        self.start(Job::plain(
            "reading the token",
            Screen::Overview,
            |vault, _| Outcome::Token(ceremony::token_report(vault)),
        ));
    }

    // ---- jobs ----

    /// Starts a job, lending it the session if it needs it. Refuses while another runs.
    fn start(&mut self, job: Job) {
        if let Some(running) = &self.shared.job {
            let text = format!("wait: {} is still running", running.label);
            self.apply(Effect::info(text));
            return;
        }
        let session = if job.needs_session() {
            match self.shared.unlocked.take() {
                Some(u) => Some(u),
                None => return self.apply(Effect::locked()),
            }
        } else {
            None
        };
        let lent = session.is_some();
        match job.spawn(Arc::clone(&self.shared.vault), session) {
            Ok(running) => {
                self.shared.lent = lent;
                self.shared.job = Some(running);
            }
            Err(_) => self.apply(Effect::locked()),
        }
    }

    fn poll_job(&mut self) {
        loop {
            let Some(job) = self.shared.job.as_mut() else {
                return;
            };
            match job.try_next() {
                Ok(Some(msg)) => self.on_job_message(msg),
                Ok(None) => return,
                Err(()) => {
                    self.job_died();
                    return;
                }
            }
        }
    }

    fn job_died(&mut self) {
        let label = self.shared.job.take().map_or("a job", |j| j.label);
        self.shared.lent = false;
        self.fatal = Some(format!(
            "internal error: the worker thread stopped while {label}; the vault is as the ledger says (`rootvault ledger verify`)"
        ));
    }

    fn on_job_message(&mut self, msg: JobMsg) {
        match msg {
            JobMsg::Total(n) => {
                if let Some(job) = self.shared.job.as_mut() {
                    job.total = Some(n);
                }
            }
            JobMsg::Progress(n) => {
                if let Some(job) = self.shared.job.as_mut() {
                    job.done = n;
                }
            }
            JobMsg::Done(outcome, session) => {
                let Some(job) = self.shared.job.take() else {
                    return;
                };
                self.shared.lent = false;
                if session.is_some() {
                    self.shared.unlocked = session;
                }
                if job.reload() {
                    self.reload();
                }
                self.on_outcome(job.owner, *outcome);
                if self.quit_after_job {
                    self.quit = true;
                }
            }
        }
    }

    /// Keeps what belongs to the app (the token report, the session, the last verification)
    /// and hands the rest to the screen that started the job.
    fn on_outcome(&mut self, owner: Screen, outcome: Outcome) {
        let outcome = match outcome {
            Outcome::Token(r) => {
                self.shared.data.token = Some(r.map_err(|e| e.to_string()));
                return;
            }
            Outcome::Unlock(Ok(u)) => {
                let t = u.token();
                let text = format!(
                    "logged in to token {:?} (serial {}); PIN wiped",
                    t.label, t.serial
                );
                self.shared.unlocked = Some(u);
                Outcome::LoggedIn(text)
            }
            Outcome::Verify(r) => {
                if let Ok(report) = &r {
                    let when = ceremony::rfc3339(self.shared.now);
                    self.shared.data.last_verify = Some((report.clone(), when));
                }
                Outcome::Verify(r)
            }
            other => other,
        };
        let ctx = self.shared.ctx();
        let effect = self.screens.get_mut(owner).on_outcome(outcome, &ctx);
        self.apply(effect);
    }
}
