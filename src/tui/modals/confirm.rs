//! The one confirmation of every irreversible step. A job asks through `ceremony::Confirm`
//! (`job::Asker`): the dialog shows ceremony's summary of exactly what will happen (the
//! CLI's), anything the TUI adds (where files go, a warning acknowledged before), then asks
//! for a prefix of the fingerprint or serial the operator has from elsewhere. That value is
//! never shown in the dialog. What is typed stays in the field until it is right: the
//! dialog answers the job only when ceremony's own check (`check_confirmation`) passes, and
//! ceremony checks it again before it acts. Esc answers no.
//!
//! Any use case that takes a `Confirm` (sign, sign-batch, generate, revoke, every root step)
//! gets this dialog without code of its own.

use std::any::Any;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::ceremony::{self, Answer, MIN_CONFIRM_DIGITS};

use super::super::field::TextField;
use super::super::job::Question;
use super::super::keys::Action;
use super::super::view::{Ctx, Effect, Key, Modal};
use super::super::widgets::{
    boxed_pinned, group_hex, inner_width, input_line, kv_lines, text_lines,
};
use super::super::words;

/// What the operator confirms, and what they type.
pub(crate) struct ConfirmDialog {
    question: Box<Question>,
    typed: TextField,
    problem: Option<String>,
    scroll: u16,
}

impl ConfirmDialog {
    pub fn new(question: Box<Question>) -> ConfirmDialog {
        ConfirmDialog {
            question,
            typed: TextField::default(),
            problem: None,
            scroll: 0,
        }
    }

    /// What did not happen when the operator says no or cannot confirm.
    fn nothing(&self) -> &'static str {
        match self.question.request.action {
            "revoke" => "nothing was revoked",
            "generate a key and sign" => "nothing was generated or signed",
            "create the root" => "no root was created",
            "rotate the root" => "nothing was rotated",
            "retire the root" => "nothing was retired",
            "destroy the retired root's key" => "no key was destroyed",
            "make a root key and its certificate request" => "no key was generated",
            "import the root certificate" => "nothing was imported",
            _ => "nothing was signed",
        }
    }

    /// Whether the text can go to ceremony: hex digits (colons and spaces ignored), enough
    /// of them, and a prefix of the value by ceremony's own check.
    fn check(&self) -> Result<String, String> {
        let text = self.typed.text().trim().to_owned();
        let subject = self.question.request.subject;
        if let Some(c) = text
            .chars()
            .find(|c| !(c.is_ascii_hexdigit() || matches!(c, ':' | ' ' | '\t')))
        {
            return Err(format!(
                "{c:?} is not a hex digit: type 0-9 and a-f from {subject} (colons and spaces are ignored)"
            ));
        }
        let digits = text.chars().filter(char::is_ascii_hexdigit).count();
        if digits < MIN_CONFIRM_DIGITS {
            return Err(format!(
                "type at least {MIN_CONFIRM_DIGITS} hex digits of {subject} ({digits} so far)"
            ));
        }
        ceremony::check_confirmation(
            &self.question.request,
            Answer::Typed(text.clone()),
            self.nothing(),
        )
        .map_err(|e| words::say(&e))?;
        Ok(text)
    }

    /// The summary without the value to type: it comes from elsewhere.
    fn summary(&self) -> Vec<(String, String)> {
        let expected = self.question.request.expected.to_ascii_lowercase();
        let hide = |v: &str| -> String {
            if expected.is_empty() {
                return v.to_owned();
            }
            if v.to_ascii_lowercase() == expected {
                return "(not shown: you type it below)".to_owned();
            }
            match v.to_ascii_lowercase().find(&expected) {
                Some(at) => format!("{}(typed below){}", &v[..at], &v[at + expected.len()..]),
                None => v.to_owned(),
            }
        };
        self.question
            .request
            .summary
            .iter()
            .chain(&self.question.extra)
            .map(|(k, v)| {
                // Ceremony's summary is the command line's; a command it names is a key here.
                let v = words::cli_words(&hide(v));
                // Long hex (a CSR's SHA-256) in groups of eight, so it wraps between them.
                let hex = v.len() >= 32 && v.chars().all(|c| c.is_ascii_hexdigit());
                (k.clone(), if hex { group_hex(&v) } else { v })
            })
            .collect()
    }
}

impl Modal for ConfirmDialog {
    fn handle(&mut self, action: Action, _ctx: &Ctx) -> Effect {
        match action {
            Action::Back => {
                return Effect::Many(vec![Effect::Answer(Answer::Declined), Effect::Close])
            }
            Action::Enter => match self.check() {
                Ok(text) => {
                    return Effect::Many(vec![Effect::Answer(Answer::Typed(text)), Effect::Close])
                }
                Err(problem) => self.problem = Some(problem),
            },
            Action::Up => self.scroll = self.scroll.saturating_sub(1),
            Action::Down => self.scroll = self.scroll.saturating_add(1),
            Action::PageUp => self.scroll = self.scroll.saturating_sub(10),
            Action::PageDown => self.scroll = self.scroll.saturating_add(10),
            other => {
                if self.typed.edit(other) {
                    self.problem = None;
                }
            }
        }
        Effect::None
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let w = inner_width(area);
        let q = &self.question;
        let mut body = Vec::new();
        for warning in &q.warning {
            for (i, line) in text_lines(warning, w.saturating_sub(2), t.error())
                .into_iter()
                .enumerate()
            {
                let mark = if i == 0 { "! " } else { "  " };
                let mut spans = vec![Span::styled(mark, t.error())];
                spans.extend(line.spans);
                body.push(Line::from(spans));
            }
        }
        if !q.warning.is_empty() {
            body.push(Line::raw(""));
        }
        body.push(Line::styled(
            format!("This will {}:", q.request.action),
            t.title(),
        ));
        body.extend(kv_lines(&self.summary(), w, t));
        let mut tail = vec![Line::raw("")];
        tail.extend(text_lines(
            &format!(
                "{} Type at least {MIN_CONFIRM_DIGITS} hex digits of {} to {} (colons, spaces and case are ignored):",
                q.source, q.request.subject, q.request.action
            ),
            w,
            t.text(),
        ));
        tail.push(input_line(&self.typed, t));
        if let Some(p) = &self.problem {
            tail.extend(text_lines(p, w, t.error()));
        }
        boxed_pinned(
            format!("Confirm: {}", q.request.action),
            body,
            tail,
            self.scroll,
            area,
            buf,
            t,
        );
    }

    fn footer(&self) -> Vec<Key> {
        vec![
            ("Enter", self.question.request.action),
            ("Esc", "cancel"),
            ("↑↓", "scroll"),
            ("Ctrl-C", "quit"),
        ]
    }

    fn takes_text(&self) -> bool {
        true
    }

    fn hides_screen(&self) -> bool {
        true
    }

    fn flow(&self) -> Option<&'static str> {
        Some(match self.question.request.action {
            "sign" => "confirming a signature",
            "revoke" => "revoking a certificate",
            "sign the batch" => "confirming a batch",
            "generate a key and sign" => "confirming a generated key",
            "create the root" => "creating the root",
            "rotate the root" => "rotating the root",
            "retire the root" => "retiring a root",
            "destroy the retired root's key" => "destroying a root key",
            "make a root key and its certificate request" => "making a root key",
            "import the root certificate" => "importing a root certificate",
            _ => "confirming",
        })
    }

    fn error_text(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
