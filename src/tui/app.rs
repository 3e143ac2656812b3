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

use crate::ceremony::{self, Answer, Operator, Unlocked};
use crate::pin::PIN_ENV;
use crate::vault::Vault;

use super::data::Data;
use super::job::{Job, Msg as JobMsg, Outcome, Running};
use super::keys::{self, Action, Mode, Screen};
use super::modals::confirm::ConfirmDialog;
use super::modals::operator::OperatorPrompt;
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
    /// Recorded as the actor of every event; `None` when the system gives no name, and the
    /// TUI asks for one before anything else.
    pub operator: Option<Operator>,
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
    /// The operator typed their name in this session (the system gave none).
    operator_typed: bool,
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
            operator_typed: self.operator_typed,
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
                asking: j.asking(),
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

/// Where an effect comes from: what its status line is about, and which modal `Close`
/// means.
#[derive(Clone)]
enum Origin {
    /// The screen shown.
    Screen,
    /// The modal at this place in the stack.
    Modal(usize),
    /// A job that `owner` started while on `item`.
    Job { owner: Screen, item: Option<String> },
}

/// A status line, the screen it belongs to and the item it is about.
struct Owned {
    status: Status,
    screen: Screen,
    item: Option<String>,
}

/// The whole state of the TUI.
pub struct App {
    pub(crate) shared: Shared,
    pub(crate) screens: Screens,
    pub(crate) screen: Screen,
    /// The open modals, the top one last: it has the keys.
    pub(crate) modals: Vec<Box<dyn Modal>>,
    pub(crate) help: bool,
    pub(crate) quit_ask: Option<&'static str>,
    quit: bool,
    quit_after_job: bool,
    /// One status line per screen, about one item of it.
    statuses: Vec<Owned>,
    fatal: Option<String>,
}

impl App {
    /// An app over `vault`. Starts reading the token (on a worker) and the vault.
    pub fn new(vault: Vault, options: Options) -> App {
        let vault_dir = vault.dir().to_owned();
        let mut app = App {
            shared: Shared {
                vault: Arc::new(vault),
                data: Data::empty(),
                operator_typed: options.operator.is_none(),
                operator: options.operator.clone().unwrap_or(Operator(String::new())),
                theme: options.theme,
                now: Utc::now(),
                tick: Instant::now(),
                cwd: std::env::current_dir().unwrap_or_default(),
                unlocked: None,
                lent: false,
                job: None,
            },
            screens: Screens {
                overview: Overview::default(),
                unlock: Unlock::new(options.pin_file, std::env::var_os(PIN_ENV).is_some()),
                inbox: Inbox::new(&vault_dir),
                certs: Certs::default(),
                crl: Crl::default(),
                ledger: LedgerView::default(),
            },
            screen: Screen::Overview,
            modals: Vec::new(),
            help: false,
            quit_ask: None,
            quit: false,
            quit_after_job: false,
            statuses: Vec::new(),
            fatal: None,
        };
        app.reload();
        app.read_token();
        if options.operator.is_none() {
            // Asked once, before anything is recorded.
            app.modals.push(Box::new(OperatorPrompt::new()));
        }
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

    /// The status line shown: the one of the screen shown, about the item it is on.
    pub(crate) fn status(&self) -> Option<&Status> {
        let item = self.screens.get(self.screen).item();
        self.statuses
            .iter()
            .find(|o| o.screen == self.screen && o.item == item)
            .map(|o| &o.status)
    }

    /// The status line's text, if any.
    pub fn message(&self) -> Option<&str> {
        self.status().map(|s| s.text.as_str())
    }

    /// The failure the top modal shows (an error box, or a field's problem), if any.
    pub fn error_shown(&self) -> Option<&str> {
        self.modals.last().and_then(|m| m.error_text())
    }

    /// How many dialogs are open.
    pub fn modals_open(&self) -> usize {
        self.modals.len()
    }

    /// The operator recorded in the ledger.
    pub fn operator(&self) -> &Operator {
        &self.shared.operator
    }

    /// For tests: the top modal, if it is a `T`.
    #[cfg(test)]
    pub(crate) fn modal_as<T: 'static>(&self) -> Option<&T> {
        self.modals.last()?.as_any().downcast_ref()
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

    /// Waits (at most `limit`) for the running job to finish, or to ask the operator to
    /// confirm, and applies what it sent. Returns false if it was still running at the limit.
    /// For tests and for quitting.
    pub fn wait_for_job(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while let Some(job) = self.shared.job.as_mut() {
            if job.asking() {
                return true;
            }
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
        match self.modals.last() {
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
        } else if !self.modals.is_empty() {
            Mode::Modal
        } else {
            Mode::Screen(self.screen)
        }
    }

    /// What the operator is in the middle of, if quitting now abandons something.
    fn mid_flow(&self) -> Option<&'static str> {
        let modal = self.modals.iter().rev().find_map(|m| m.flow());
        if let Some(job) = &self.shared.job {
            // A job waiting for a confirmation has done nothing yet: name the confirmation.
            return Some(match modal {
                Some(flow) if job.asking() => flow,
                _ => job.label,
            });
        }
        modal.or_else(|| self.screens.get(self.screen).flow())
    }

    /// Whether the running job waits for the operator (nothing of it is done yet).
    pub(crate) fn asking(&self) -> bool {
        self.shared.job.as_ref().is_some_and(Running::asking)
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
            let mut i = 0;
            while i < self.modals.len() {
                let effect = self.modals[i].tick(&self.shared.ctx());
                self.apply_from(effect, Origin::Modal(i));
                i += 1;
            }
            return;
        }
        if let Some(what) = self.quit_ask {
            match action {
                // Ctrl-C again at the question quits too.
                Action::Yes | Action::Quit => {
                    self.quit_ask = None;
                    self.modals.clear();
                    self.screens.unlock.wipe();
                    self.quit = true;
                    if let Some(job) = self.shared.job.as_mut() {
                        // A question not answered is answered no.
                        job.answer(Answer::Declined);
                        self.quit_after_job = true;
                        self.apply(Effect::info(format!("quitting when {what} is done")));
                    }
                }
                Action::No => self.quit_ask = None,
                _ => {}
            }
            return;
        }
        if action == Action::Quit {
            self.ask_quit();
            return;
        }
        if action == Action::Help {
            self.help = !self.help;
            return;
        }
        if let Some(top) = self.modals.len().checked_sub(1) {
            let effect = self.modals[top].handle(action, &self.shared.ctx());
            self.apply_from(effect, Origin::Modal(top));
            self.prune_status();
            return;
        }
        match action {
            Action::NextScreen => self.go(self.screen.step(1)),
            Action::PrevScreen => self.go(self.screen.step(-1)),
            Action::Go(s) => self.go(s),
            // Switching to Unlock never opens the PIN field; `u` on it does.
            Action::Unlock if self.screen != Screen::Unlock => self.go(Screen::Unlock),
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
        self.prune_status();
    }

    /// A status line goes when the screen's item changes.
    fn prune_status(&mut self) {
        let item = self.screens.get(self.screen).item();
        let screen = self.screen;
        self.statuses
            .retain(|o| o.screen != screen || o.item == item);
    }

    /// Does what the screen shown asked.
    fn apply(&mut self, effect: Effect) {
        self.apply_from(effect, Origin::Screen);
    }

    /// Does what a screen, a modal or a job's outcome asked.
    fn apply_from(&mut self, effect: Effect, origin: Origin) {
        match effect {
            Effect::None => {}
            Effect::Close => match origin {
                Origin::Modal(i) if i < self.modals.len() => {
                    self.modals.remove(i);
                }
                _ => {
                    self.modals.pop();
                }
            },
            Effect::Open(m) => self.modals.push(m),
            Effect::Replace(m) => match origin {
                Origin::Modal(i) if i < self.modals.len() => self.modals[i] = m,
                _ => {
                    self.modals.pop();
                    self.modals.push(m);
                }
            },
            Effect::Status(status) => {
                let (screen, item) = match origin {
                    Origin::Job { owner, item } => (owner, item),
                    Origin::Screen | Origin::Modal(_) => {
                        (self.screen, self.screens.get(self.screen).item())
                    }
                };
                self.statuses.retain(|o| o.screen != screen);
                self.statuses.push(Owned {
                    status,
                    screen,
                    item,
                });
            }
            Effect::Run(job) => self.start(job, &origin),
            Effect::Send(Msg::Inbox(m)) => {
                let e = self.screens.inbox.receive(m, &self.shared.ctx());
                let next = match origin {
                    Origin::Job { .. } => origin,
                    _ => Origin::Screen,
                };
                self.apply_from(e, next);
            }
            Effect::Answer(answer) => {
                if let Some(job) = self.shared.job.as_mut() {
                    job.answer(answer);
                }
            }
            Effect::SetOperator(operator) => self.shared.operator = operator,
            Effect::Go(s) => self.go(s),
            Effect::ReadToken => self.read_token(),
            Effect::Lock => self.lock(),
            Effect::Many(effects) => {
                // A modal that closes itself first must not shift what follows onto another.
                for e in effects {
                    self.apply_from(e, origin.clone());
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
            // What was said there is stale once the operator has gone elsewhere (a job's
            // outcome that arrives later is kept for when they come back).
            let left = self.screen;
            self.statuses.retain(|o| o.screen != left);
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
        self.start(
            Job::plain("reading the token", Screen::Overview, |vault, _| {
                Outcome::Token(ceremony::token_report(vault))
            }),
            &Origin::Screen,
        );
    }

    // ---- jobs ----

    /// Starts a job, lending it the session if it needs it. Refuses while another runs.
    fn start(&mut self, job: Job, origin: &Origin) {
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
        let owner = job.owner();
        match job.spawn(Arc::clone(&self.shared.vault), session) {
            Ok(mut running) => {
                running.item = self.screens.get(owner).item();
                running.from_modal = matches!(origin, Origin::Modal(_));
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
            JobMsg::Ask(question, reply) => match self.shared.job.as_mut() {
                Some(job) if !self.quit => {
                    job.asked(reply);
                    self.modals.push(Box::new(ConfirmDialog::new(question)));
                }
                // Quitting: the answer is no.
                _ => {
                    let _ = reply.send(Answer::Declined);
                }
            },
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
                self.on_outcome(&job, *outcome);
                if self.quit_after_job {
                    self.quit = true;
                }
            }
        }
    }

    /// Keeps what belongs to the app (the token report, the session, the last verification)
    /// and hands the rest to the screen that started the job.
    fn on_outcome(&mut self, job: &Running, outcome: Outcome) {
        let outcome = match outcome {
            Outcome::Token(r) => {
                self.shared.data.token = Some(r.map_err(|e| super::words::say(&e)));
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
        let origin = Origin::Job {
            owner: job.owner,
            item: job.item.clone(),
        };
        // The modal that started it gets it first, while it is open.
        let mut outcome = outcome;
        if job.from_modal {
            for i in (0..self.modals.len()).rev() {
                let ctx = self.shared.ctx();
                match self.modals[i].on_outcome(outcome, &ctx) {
                    Ok(effect) => return self.apply_from(effect, Origin::Modal(i)),
                    Err(back) => outcome = *back,
                }
            }
        }
        let ctx = self.shared.ctx();
        let effect = self.screens.get_mut(job.owner).on_outcome(outcome, &ctx);
        self.apply_from(effect, origin);
    }
}
