//! One-line questions: a request's cluster or days, a path to add to the inbox, where to
//! write the last CRL. A wrong answer is explained under the field, which keeps its text;
//! Tab completes a path.

use std::any::Any;
use std::path::{Path, PathBuf};

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;

use crate::policy::ClusterName;

use super::super::field::{Completion, TextField};
use super::super::keys::Action;
use super::super::screens::inbox::{check_path, InboxMsg};
use super::super::view::{Ctx, Effect, Key, Modal};
use super::super::widgets::{boxed, inner_width, input_line, text_lines};
use super::super::words;

/// What a prompt's answer is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PromptKind {
    /// The cluster of the inbox request at this path.
    Cluster(PathBuf),
    /// Days of validity asked for the request at this path.
    Days(PathBuf),
    /// A file or directory to add to the inbox.
    InboxPath,
    /// Where to write the last CRL: its number and DER.
    CrlOut(i64, Vec<u8>),
}

impl PromptKind {
    fn title(&self) -> &'static str {
        match self {
            PromptKind::Cluster(_) => "Cluster",
            PromptKind::Days(_) => "Validity",
            PromptKind::InboxPath => "Add to the inbox",
            PromptKind::CrlOut(..) => "Write the CRL",
        }
    }

    fn question(&self) -> &'static str {
        match self {
            PromptKind::Cluster(_) => "The cluster this request is for (a DNS label):",
            PromptKind::Days(_) => "Days of validity to ask for (empty: the policy's default):",
            PromptKind::InboxPath => "A CSR file, or a directory of them (e.g. a USB stick); it is remembered in the vault:",
            PromptKind::CrlOut(..) => "Write the last CRL (PEM) to:",
        }
    }

    fn is_path(&self) -> bool {
        matches!(self, PromptKind::InboxPath | PromptKind::CrlOut(..))
    }
}

/// A one-line question and its answer field.
pub(crate) struct Prompt {
    kind: PromptKind,
    field: TextField,
    problem: Option<String>,
    choices: Vec<String>,
}

impl Prompt {
    pub fn new(kind: PromptKind, text: &str) -> Prompt {
        Prompt {
            kind,
            field: TextField::new(text),
            problem: None,
            choices: Vec::new(),
        }
    }

    /// What is typed.
    #[cfg(test)]
    pub fn text(&self) -> &str {
        self.field.text()
    }

    /// The answer's effect, or why it is not an answer (the prompt stays open).
    fn answer(&self, ctx: &Ctx) -> Result<Effect, String> {
        let text = self.field.text().trim().to_owned();
        let send = |msg: InboxMsg| Effect::Many(vec![Effect::Close, Effect::Send(msg.into())]);
        match &self.kind {
            PromptKind::Cluster(path) => {
                let c = text.parse::<ClusterName>()?;
                Ok(send(InboxMsg::SetCluster(path.clone(), c)))
            }
            PromptKind::Days(path) => {
                let days = match text.as_str() {
                    "" => None,
                    t => Some(
                        t.parse::<u32>()
                            .map_err(|_| format!("{t:?} is not a whole number of days"))?,
                    ),
                };
                Ok(send(InboxMsg::SetDays(path.clone(), days)))
            }
            PromptKind::InboxPath | PromptKind::CrlOut(..) if text.is_empty() => Ok(Effect::Close),
            PromptKind::InboxPath => {
                let path = ctx.cwd.join(&text);
                check_path(&path).map_err(|e| words::say(&e))?;
                Ok(send(InboxMsg::AddPath(path)))
            }
            PromptKind::CrlOut(number, der) => {
                let path = ctx.cwd.join(&text);
                let pem = crate::x509::to_pem("X509 CRL", der);
                crate::fsio::write_file(&path, pem.as_bytes(), false)
                    .map_err(|e| words::say(&e.into()))?;
                Ok(Effect::Many(vec![
                    Effect::Close,
                    Effect::success(format!(
                        "wrote CRL {number} to {}",
                        Path::new(&text).display()
                    )),
                ]))
            }
        }
    }
}

impl Modal for Prompt {
    fn handle(&mut self, action: Action, ctx: &Ctx) -> Effect {
        match action {
            Action::Back => return Effect::Many(vec![Effect::Close, Effect::info("cancelled")]),
            Action::Enter => match self.answer(ctx) {
                Ok(effect) => return effect,
                Err(problem) => self.problem = Some(problem),
            },
            Action::NextField if self.kind.is_path() => {
                self.choices.clear();
                match self.field.complete_path(ctx.cwd) {
                    Completion::Choices(c) => self.choices = c,
                    Completion::Completed | Completion::Nothing => {}
                }
            }
            other => {
                if self.field.edit(other) {
                    self.problem = None;
                    self.choices.clear();
                }
            }
        }
        Effect::None
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let w = inner_width(area);
        let mut lines = text_lines(self.kind.question(), w, t.text());
        lines.push(input_line(&self.field, t));
        if self.kind.is_path() {
            lines.push(Line::styled(
                format!("relative to {}; Tab completes", ctx.cwd.display()),
                t.dim(),
            ));
        }
        if !self.choices.is_empty() {
            lines.extend(text_lines(&self.choices.join("  "), w, t.dim()));
        }
        if let Some(p) = &self.problem {
            lines.extend(text_lines(p, w, t.error()));
        }
        boxed(self.kind.title().to_owned(), lines, area, buf, t);
    }

    fn footer(&self) -> Vec<Key> {
        let mut keys = vec![("Enter", "OK"), ("Esc", "cancel")];
        if self.kind.is_path() {
            keys.push(("Tab", "complete"));
        }
        keys.extend([("Ctrl-U", "clear"), ("Ctrl-C", "quit")]);
        keys
    }

    fn takes_text(&self) -> bool {
        true
    }

    fn flow(&self) -> Option<&'static str> {
        Some("answering a question")
    }

    fn error_text(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
