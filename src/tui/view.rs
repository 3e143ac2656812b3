//! What screens and modals share without knowing the app: the read-only context they are
//! handed ([`Ctx`]), what they ask the app to do ([`Effect`]), and the two traits they
//! implement ([`ScreenView`], [`Modal`]). Only `app` applies effects.

use std::any::Any;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use crate::ceremony::{Answer, Operator};
use crate::hsm::TokenSummary;
use crate::vault::Vault;

use super::data::Data;
use super::job::{Job, Outcome};
use super::keys::Action;
use super::screens::inbox::InboxMsg;
use super::theme::Theme;

/// A footer entry: the key and what it does.
pub(crate) type Key = (&'static str, &'static str);

/// The token session as the screens see it.
#[derive(Clone, Copy)]
pub(crate) enum Session<'a> {
    /// Not logged in.
    Locked,
    /// Logged in; the session is in the app.
    Unlocked(&'a TokenSummary),
    /// Logged in; the session is lent to the running job.
    Lent,
}

/// The running job, as drawn.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JobView {
    /// What it does ("signing").
    pub label: &'static str,
    /// Time since it started, as of the app's last tick.
    pub elapsed: Duration,
    /// Units of work announced, if any.
    pub total: Option<u64>,
    /// Units of work done.
    pub done: u64,
    /// It waits for the operator's confirmation.
    pub asking: bool,
}

/// Everything a screen or modal may read. Times and the working directory are passed in, so
/// drawing never reads the clock or the process's directory.
pub(crate) struct Ctx<'a> {
    /// The vault (screens read requests and events through it; a modal that watches
    /// something on a thread of its own takes a clone).
    pub vault: &'a Arc<Vault>,
    /// What the app last read from the vault and the token.
    pub data: &'a Data,
    /// Colours or not.
    pub theme: Theme,
    /// The wall clock at the app's last tick.
    pub now: DateTime<Utc>,
    /// The directory relative paths are relative to.
    pub cwd: &'a Path,
    /// Who is recorded as the actor.
    pub operator: &'a Operator,
    /// Whether the operator typed their name (the system gave none).
    pub operator_typed: bool,
    /// The token session.
    pub session: Session<'a>,
    /// The running job, if any.
    pub job: Option<JobView>,
}

impl Ctx<'_> {
    /// Whether the token is logged in (the session may be lent to a running job).
    pub fn unlocked(&self) -> bool {
        !matches!(self.session, Session::Locked)
    }

    /// Whether a job is running.
    pub fn busy(&self) -> bool {
        self.job.is_some()
    }
}

/// A line in the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Status {
    pub text: String,
    pub kind: StatusKind,
}

/// How a status line is styled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusKind {
    Info,
    Success,
    Error,
}

/// What a screen tells the app's owner of another screen (through the app).
pub(crate) enum Msg {
    /// To the inbox.
    Inbox(InboxMsg),
}

/// What a screen or modal asks the app to do after handling a key or an outcome.
pub(crate) enum Effect {
    /// Nothing.
    None,
    /// Close the modal.
    Close,
    /// Open a modal over the ones open.
    Open(Box<dyn Modal>),
    /// Put this modal in the place of the one that asked.
    Replace(Box<dyn Modal>),
    /// The operator's answer to the running job's question.
    Answer(Answer),
    /// The operator named themselves.
    SetOperator(Operator),
    /// Show a status line.
    Status(Status),
    /// Start a job (refused while another runs, or without the session it needs).
    Run(Job),
    /// Deliver a message to a screen.
    Send(Msg),
    /// Switch screens.
    Go(super::keys::Screen),
    /// Read the token (no PIN) again.
    ReadToken,
    /// Log out of the token.
    Lock,
    /// Several, in order.
    Many(Vec<Effect>),
}

impl Effect {
    /// An informational status line.
    pub fn info(text: impl Into<String>) -> Effect {
        Effect::Status(Status {
            text: text.into(),
            kind: StatusKind::Info,
        })
    }

    /// Good news in the status line.
    pub fn success(text: impl Into<String>) -> Effect {
        Effect::Status(Status {
            text: text.into(),
            kind: StatusKind::Success,
        })
    }

    /// A failure in the status line only.
    pub fn error_line(text: impl Into<String>) -> Effect {
        Effect::Status(Status {
            text: text.into(),
            kind: StatusKind::Error,
        })
    }

    /// A use case's failure in full, in the TUI's words (`words.rs`): the status line and a
    /// modal until dismissed.
    pub fn failed(title: &str, e: &crate::error::Error) -> Effect {
        Effect::error(title, &super::words::say(e))
    }

    /// A failure in full: the status line and a modal until dismissed.
    pub fn error(title: &str, e: &dyn std::fmt::Display) -> Effect {
        let text = e.to_string();
        Effect::Many(vec![
            Effect::error_line(format!("error: {text}")),
            Effect::Open(Box::new(super::modals::message::ErrorBox::new(title, text))),
        ])
    }

    /// "The token is locked", and where to unlock it.
    pub fn locked() -> Effect {
        Effect::error_line("the token is locked: unlock it first on screen 2 (Unlock)")
    }

    /// Opens `modal`.
    pub fn open(modal: impl Modal + 'static) -> Effect {
        Effect::Open(Box::new(modal))
    }

    /// Puts `modal` in the place of the one that asked.
    pub fn replace(modal: impl Modal + 'static) -> Effect {
        Effect::Replace(Box::new(modal))
    }
}

/// A screen: its state, its keys, its drawing and its footer. It never sees the app.
pub(crate) trait ScreenView {
    /// Applies a key's action.
    fn handle(&mut self, action: Action, ctx: &Ctx) -> Effect;
    /// Draws the body of the screen.
    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer);
    /// The keys of its current state, most important first, and whether the app's own
    /// (quit, help, screens) follow them.
    fn footer(&self, ctx: &Ctx) -> Footer;
    /// Whether a text field has the keys.
    fn takes_text(&self) -> bool {
        false
    }
    /// What the operator is in the middle of, if quitting now abandons something.
    fn flow(&self) -> Option<&'static str> {
        None
    }
    /// The item the screen is on (a request's path, a certificate's serial): a status line
    /// belongs to the screen and item it was about, and goes when they change.
    fn item(&self) -> Option<String> {
        None
    }
    /// Switched to.
    fn on_enter(&mut self, _ctx: &Ctx) {}
    /// Switched away from.
    fn on_leave(&mut self) {}
    /// The vault was read again; `shown` when this screen is the one on display.
    fn on_reload(&mut self, _ctx: &Ctx, _shown: bool) {}
    /// A job this screen started has finished.
    fn on_outcome(&mut self, _outcome: Outcome, _ctx: &Ctx) -> Effect {
        Effect::None
    }
}

/// A screen's footer: its own keys, and whether the app's keys follow them.
pub(crate) struct Footer {
    /// The screen's keys, most important first.
    pub keys: Vec<Key>,
    /// Whether quit, help and screens follow.
    pub global: bool,
}

impl Footer {
    /// The screen's keys, then the app's.
    pub fn with_global(keys: Vec<Key>) -> Footer {
        Footer { keys, global: true }
    }

    /// Only these keys.
    pub fn only(keys: Vec<Key>) -> Footer {
        Footer {
            keys,
            global: false,
        }
    }
}

/// A dialog over the screen until it is answered. It never sees the app: what it decides
/// comes back as an [`Effect`].
pub(crate) trait Modal: Any {
    /// Applies a key's action.
    fn handle(&mut self, action: Action, ctx: &Ctx) -> Effect;
    /// Draws it over `area` (the whole terminal).
    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer);
    /// Its keys.
    fn footer(&self) -> Vec<Key>;
    /// Whether keys go to a text field.
    fn takes_text(&self) -> bool {
        false
    }
    /// What the operator is in the middle of, if closing this abandons something.
    fn flow(&self) -> Option<&'static str> {
        None
    }
    /// Whether the screen behind is not drawn while it is open (a confirmation: the value
    /// typed must come from elsewhere, not from a review showing it).
    fn hides_screen(&self) -> bool {
        false
    }
    /// The failure it shows, if any (an error box, or a field's problem).
    fn error_text(&self) -> Option<&str> {
        None
    }
    /// A job it started has finished: its effect, or the outcome back if it is not this
    /// modal's (it then goes to the screen that owns the job).
    fn on_outcome(&mut self, outcome: Outcome, _ctx: &Ctx) -> Result<Effect, Box<Outcome>> {
        Err(Box::new(outcome))
    }
    /// Time passed (the app's tick, several times a second): a modal that waits for
    /// something outside (files appearing) looks at what its watcher found.
    fn tick(&mut self, _ctx: &Ctx) -> Effect {
        Effect::None
    }
    /// For tests: the concrete modal.
    #[cfg_attr(not(test), allow(dead_code))]
    fn as_any(&self) -> &dyn Any;
}
