//! One-line questions: a request's cluster or days, a path to add to the inbox, where to
//! write the last CRL.

use std::any::Any;
use std::path::{Path, PathBuf};

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;

use crate::policy::ClusterName;

use super::super::field::TextField;
use super::super::keys::Action;
use super::super::screens::inbox::InboxMsg;
use super::super::view::{Ctx, Effect, Key, Modal};
use super::super::widgets::{boxed, inner_width, input_line, text_lines};

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
            PromptKind::InboxPath => "A CSR file, or a directory of them (e.g. a USB stick):",
            PromptKind::CrlOut(..) => "Write the last CRL (PEM) to:",
        }
    }
}

/// A one-line question and its answer field.
pub(crate) struct Prompt {
    kind: PromptKind,
    field: TextField,
}

impl Prompt {
    pub fn new(kind: PromptKind, text: &str) -> Prompt {
        Prompt {
            kind,
            field: TextField::new(text),
        }
    }

    /// What is typed.
    #[cfg(test)]
    pub fn text(&self) -> &str {
        self.field.text()
    }

    fn answer(&self) -> Effect {
        let text = self.field.text().trim().to_owned();
        match &self.kind {
            PromptKind::Cluster(path) => match text.parse::<ClusterName>() {
                Ok(c) => Effect::Many(vec![
                    Effect::Close,
                    Effect::Send(InboxMsg::SetCluster(path.clone(), c).into()),
                ]),
                Err(e) => Effect::error("Not a cluster name", &e),
            },
            PromptKind::Days(path) => {
                let days = if text.is_empty() {
                    None
                } else {
                    match text.parse::<u32>() {
                        Ok(d) => Some(d),
                        Err(_) => {
                            return Effect::error(
                                "Not a number of days",
                                &format!("{text:?} is not a whole number of days"),
                            )
                        }
                    }
                };
                Effect::Many(vec![
                    Effect::Close,
                    Effect::Send(InboxMsg::SetDays(path.clone(), days).into()),
                ])
            }
            PromptKind::InboxPath if text.is_empty() => Effect::Close,
            PromptKind::InboxPath => Effect::Many(vec![
                Effect::Close,
                Effect::Send(InboxMsg::AddPath(PathBuf::from(text)).into()),
            ]),
            PromptKind::CrlOut(..) if text.is_empty() => Effect::Close,
            PromptKind::CrlOut(number, der) => {
                let path = Path::new(&text);
                let pem = crate::x509::to_pem("X509 CRL", der);
                match crate::fsio::write_file(path, pem.as_bytes(), false) {
                    Ok(()) => Effect::Many(vec![
                        Effect::Close,
                        Effect::success(format!("wrote CRL {number} to {}", path.display())),
                    ]),
                    Err(e) => Effect::error("Not written", &e),
                }
            }
        }
    }
}

impl Modal for Prompt {
    fn handle(&mut self, action: Action, _ctx: &Ctx) -> Effect {
        match action {
            Action::Type(c) => self.field.insert(c),
            Action::Erase => {
                self.field.backspace();
            }
            Action::Back => return Effect::Many(vec![Effect::Close, Effect::info("cancelled")]),
            Action::Enter => return self.answer(),
            _ => {}
        }
        Effect::None
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let mut lines = text_lines(self.kind.question(), inner_width(area), t.text());
        lines.push(input_line(&self.field, t));
        if matches!(self.kind, PromptKind::CrlOut(..)) {
            lines.push(Line::styled(
                format!("relative to {}", ctx.cwd.display()),
                t.dim(),
            ));
        }
        boxed(self.kind.title().to_owned(), lines, area, buf, t);
    }

    fn footer(&self) -> Vec<Key> {
        vec![("Enter", "OK"), ("Esc", "cancel"), ("Ctrl-C", "quit")]
    }

    fn takes_text(&self) -> bool {
        true
    }

    fn flow(&self) -> Option<&'static str> {
        Some("answering a question")
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
