//! Unlock: the token, its PIN state, and the masked PIN field. The typed PIN is wiped as it
//! is handed over, when the field is left, and when the screen is.

use std::path::PathBuf;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget, Wrap};
use secrecy::SecretString;
use zeroize::{Zeroize, Zeroizing};

use crate::ceremony;
use crate::pin::{PinSource, PIN_ENV};

use super::super::job::{Job, Outcome};
use super::super::keys::{Action, Screen};
use super::super::view::{Ctx, Effect, Footer, ScreenView, Session};
use super::super::widgets::kv_lines;
use super::super::words;

/// The Unlock screen's state.
pub(crate) struct Unlock {
    pin: Zeroizing<String>,
    focus: bool,
    error: Option<String>,
    pin_file: Option<PathBuf>,
    pin_env: bool,
}

impl Unlock {
    /// `pin_file` (`--pin-file`) and `pin_env` (`ROOTVAULT_PIN` is set) are used when the
    /// field is left empty.
    pub fn new(pin_file: Option<PathBuf>, pin_env: bool) -> Unlock {
        Unlock {
            pin: Zeroizing::new(String::new()),
            focus: false,
            error: None,
            pin_file,
            pin_env,
        }
    }

    /// How many characters are in the PIN field.
    pub fn typed_len(&self) -> usize {
        self.pin.chars().count()
    }

    /// The last login failure, in ceremony's words.
    #[cfg(test)]
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Wipes the typed PIN and leaves the field.
    pub fn wipe(&mut self) {
        self.pin.zeroize();
        self.focus = false;
    }

    /// Logs in with the typed PIN, or (field left empty) the `--pin-file` or `ROOTVAULT_PIN`.
    /// The typed buffer is wiped as soon as the PIN has been handed over.
    fn start(&mut self, ctx: &Ctx) -> Effect {
        if ctx.unlocked() {
            return Effect::None;
        }
        if ctx.busy() {
            return Effect::info("wait: the token is busy");
        }
        let pins = if self.pin.is_empty() && (self.pin_file.is_some() || self.pin_env) {
            PinSource {
                typed: None,
                file: self.pin_file.clone(),
                allow_prompt: false,
            }
        } else {
            PinSource {
                typed: Some(SecretString::from(self.pin.as_str())),
                file: None,
                allow_prompt: false,
            }
        };
        self.wipe();
        self.error = None;
        Effect::Run(Job::plain("logging in", Screen::Unlock, move |vault, _| {
            let r = ceremony::unlock(vault, &pins);
            drop(pins);
            Outcome::Unlock(r)
        }))
    }
}

impl ScreenView for Unlock {
    fn handle(&mut self, action: Action, ctx: &Ctx) -> Effect {
        if self.focus {
            return match action {
                Action::Type(c) => {
                    self.pin.push(c);
                    Effect::None
                }
                Action::Erase => {
                    self.pin.pop();
                    Effect::None
                }
                Action::KillLine | Action::KillWord => {
                    self.pin.zeroize();
                    Effect::None
                }
                Action::Back => {
                    self.wipe();
                    Effect::None
                }
                Action::NextField => {
                    self.wipe();
                    Effect::Go(Screen::Inbox)
                }
                Action::PrevField => {
                    self.wipe();
                    Effect::Go(Screen::Overview)
                }
                Action::Enter => self.start(ctx),
                _ => Effect::None,
            };
        }
        match action {
            // The key that opens the field is not typed into it.
            Action::Enter | Action::Unlock if !ctx.unlocked() => {
                self.focus = true;
                Effect::None
            }
            Action::Unlock => Effect::info("the token is already unlocked; l logs out"),
            Action::Lock => Effect::Lock,
            _ => Effect::None,
        }
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        self.draw(ctx, area, buf)
    }

    fn footer(&self, ctx: &Ctx) -> Footer {
        if self.focus {
            Footer::only(vec![
                ("Enter", "log in"),
                ("Esc", "stop typing"),
                ("Ctrl-U", "clear"),
                ("Ctrl-C", "quit"),
            ])
        } else if ctx.unlocked() {
            Footer::with_global(vec![("l", "log out")])
        } else {
            Footer::with_global(vec![("u/Enter", "type the PIN")])
        }
    }

    fn takes_text(&self) -> bool {
        self.focus
    }

    fn flow(&self) -> Option<&'static str> {
        (!self.pin.is_empty()).then_some("typing the PIN")
    }

    fn on_enter(&mut self, _ctx: &Ctx) {
        // Switching here never starts typing: a key meant for another screen must not land
        // in the PIN. `u` or Enter opens the field.
        self.focus = false;
    }

    fn on_leave(&mut self) {
        // Never leave a half-typed PIN behind a tab.
        self.wipe();
    }

    fn on_outcome(&mut self, outcome: Outcome, _ctx: &Ctx) -> Effect {
        match outcome {
            Outcome::LoggedIn(text) => {
                self.error = None;
                self.focus = false;
                Effect::success(text)
            }
            Outcome::Unlock(Err(e)) => {
                self.error = Some(words::say(&e));
                // Closed: the next key is not taken as a PIN by accident.
                self.focus = false;
                // The token's PIN flags (tries left, locked) changed: read them again.
                Effect::Many(vec![
                    Effect::error_line(format!("error: {}", words::say(&e))),
                    Effect::ReadToken,
                ])
            }
            _ => Effect::None,
        }
    }
}

impl Unlock {
    fn draw(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let block = Block::new()
            .borders(Borders::TOP)
            .title(Line::from(Span::styled(" Unlock the token ", t.title())));
        let inner = block.inner(area);
        block.render(area, buf);

        let mut pairs: Vec<(String, String)> = Vec::new();
        match (ctx.session, &ctx.data.token) {
            (Session::Unlocked(s), _) => {
                pairs.push(("token".into(), format!("{:?}", s.label)));
                pairs.push(("serial".into(), s.serial.clone()));
                pairs.push(("model".into(), format!("{} ({})", s.model, s.manufacturer)));
            }
            (_, Some(Ok(r))) => {
                pairs.push(("token".into(), format!("{:?}", r.label)));
                pairs.push(("serial".into(), r.serial.clone()));
                pairs.push(("model".into(), format!("{} ({})", r.model, r.manufacturer)));
                pairs.push(("module".into(), r.module.clone()));
                pairs.push(("user PIN".into(), words::pin_state(&r.pin)));
                for k in &r.keys {
                    pairs.push((
                        "key".into(),
                        format!(
                            "{} {} ({}): {}",
                            k.purpose,
                            k.label,
                            k.key_type,
                            if k.present {
                                "present"
                            } else {
                                "MISSING from the token"
                            }
                        ),
                    ));
                }
            }
            (_, Some(Err(e))) => pairs.push(("token".into(), format!("error: {e}"))),
            (_, None) => pairs.push(("token".into(), "…".into())),
        }
        pairs.push((
            "session".into(),
            match ctx.session {
                Session::Unlocked(_) => "LOGGED IN: every action uses this session; l logs out",
                Session::Lent => "LOGGED IN (in use by the running job)",
                Session::Locked => "not logged in",
            }
            .into(),
        ));
        let info = kv_lines(&pairs, inner.width, t);
        let [info_area, pin_area] = Layout::vertical([
            Constraint::Length(info.len() as u16 + 1),
            Constraint::Min(3),
        ])
        .areas(inner);
        Paragraph::new(info).render(info_area, buf);

        if ctx.unlocked() {
            return;
        }
        let mut lines = Vec::new();
        let masked: String = "•".repeat(self.pin.chars().count());
        if self.focus {
            lines.push(Line::from(vec![
                Span::styled("User PIN: ", t.title()),
                Span::styled(format!(" {masked}"), t.input()),
                Span::styled(" ", t.cursor()),
            ]));
            lines.push(Line::styled(
                "type the PIN, Enter logs in, Esc stops, Ctrl-U clears; the PIN is wiped right after login",
                t.dim(),
            ));
        } else {
            lines.push(Line::from(vec![
                Span::styled("User PIN: ", t.title()),
                Span::styled("press u or Enter to type it", t.dim()),
            ]));
        }
        let source = match (&self.pin_file, self.pin_env) {
            (Some(f), _) => Some(format!(
                "or leave it empty: Enter logs in with the PIN in the file given at start, {}",
                f.display()
            )),
            (None, true) => Some(format!(
                "or leave it empty: Enter logs in with the PIN in the environment ({PIN_ENV})"
            )),
            _ => None,
        };
        if let Some(s) = source {
            lines.push(Line::styled(s, t.dim()));
        }
        if let Some(e) = &self.error {
            lines.push(Line::raw(""));
            lines.push(Line::styled(e.clone(), t.error()));
        }
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .render(pin_area, buf);
    }
}
