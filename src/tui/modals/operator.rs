//! The operator's name, asked once at the start of a session when the system gives none:
//! every event records it, so it is never `unknown`.

use std::any::Any;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;

use crate::ceremony::Operator;

use super::super::field::TextField;
use super::super::keys::Action;
use super::super::view::{Ctx, Effect, Key, Modal};
use super::super::widgets::{boxed, inner_width, input_line, text_lines};

/// The longest name taken.
const MAX_NAME: usize = 64;

/// Who is at the terminal.
pub(crate) struct OperatorPrompt {
    name: TextField,
    problem: Option<String>,
}

impl OperatorPrompt {
    pub fn new() -> OperatorPrompt {
        OperatorPrompt {
            name: TextField::default(),
            problem: None,
        }
    }

    fn name(&self) -> Result<String, String> {
        let name = self.name.text().trim();
        if name.is_empty() {
            return Err("type your name: every action in this session is recorded with it".into());
        }
        if name.chars().count() > MAX_NAME {
            return Err(format!("a name of at most {MAX_NAME} characters, please"));
        }
        if name.chars().any(char::is_control) {
            return Err("letters, digits, spaces and punctuation only".into());
        }
        Ok(name.to_owned())
    }
}

impl Modal for OperatorPrompt {
    fn handle(&mut self, action: Action, _ctx: &Ctx) -> Effect {
        match action {
            Action::Enter => match self.name() {
                Ok(name) => {
                    return Effect::Many(vec![
                        Effect::Close,
                        Effect::info(format!(
                            "every action in this session is recorded as operator {name}"
                        )),
                        Effect::SetOperator(Operator(name)),
                    ])
                }
                Err(problem) => self.problem = Some(problem),
            },
            Action::Back => {
                self.problem =
                    Some("a name is needed before anything is recorded; Ctrl-C quits".to_owned())
            }
            other => {
                if self.name.edit(other) {
                    self.problem = None;
                }
            }
        }
        Effect::None
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let w = inner_width(area);
        let mut lines = text_lines(
            "The system gives no name for you. Every event in the ledger records who did it: type your name (as in the ceremony script).",
            w,
            t.text(),
        );
        lines.push(Line::raw(""));
        lines.push(input_line(&self.name, t));
        if let Some(p) = &self.problem {
            lines.extend(text_lines(p, w, t.error()));
        }
        boxed("Operator".into(), lines, area, buf, t);
    }

    fn footer(&self) -> Vec<Key> {
        vec![("Enter", "OK"), ("Ctrl-C", "quit")]
    }

    fn takes_text(&self) -> bool {
        true
    }

    fn error_text(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
