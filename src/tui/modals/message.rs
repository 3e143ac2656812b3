//! Modals that only show something: a failure, read-only details, a signing's result.

use std::any::Any;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::ceremony::CertInfo;
use crate::policy::ClusterName;

use super::super::keys::{Action, Screen};
use super::super::view::{Ctx, Effect, Key, Modal, Msg};
use super::super::widgets::{
    boxed, centered, clear_rows, group_hex, inner_width, kv_lines, modal_block, text_lines,
};
use super::export::ExportForm;

/// A failure, in ceremony's words, until dismissed.
pub(crate) struct ErrorBox {
    title: String,
    text: String,
}

impl ErrorBox {
    pub fn new(title: &str, text: String) -> ErrorBox {
        ErrorBox {
            title: title.to_owned(),
            text,
        }
    }
}

impl Modal for ErrorBox {
    fn handle(&mut self, action: Action, _ctx: &Ctx) -> Effect {
        match action {
            Action::Enter | Action::Back => Effect::Close,
            _ => Effect::None,
        }
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let mut lines = text_lines(&self.text, inner_width(area), t.error());
        lines.push(Line::raw(""));
        lines.push(Line::styled("Enter or Esc closes this.", t.dim()));
        boxed(self.title.clone(), lines, area, buf, t);
    }

    fn footer(&self) -> Vec<Key> {
        vec![("Enter/Esc", "close")]
    }

    fn error_text(&self) -> Option<&str> {
        Some(&self.text)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Read-only details (a certificate, an event), scrollable.
pub(crate) struct Details {
    title: String,
    lines: Vec<(String, String)>,
    scroll: u16,
}

impl Details {
    pub fn new(title: String, lines: Vec<(String, String)>) -> Details {
        Details {
            title,
            lines,
            scroll: 0,
        }
    }
}

impl Modal for Details {
    fn handle(&mut self, action: Action, _ctx: &Ctx) -> Effect {
        match action {
            Action::Enter | Action::Back => return Effect::Close,
            Action::Up => self.scroll = self.scroll.saturating_sub(1),
            Action::Down => self.scroll = self.scroll.saturating_add(1),
            Action::PageUp => self.scroll = self.scroll.saturating_sub(10),
            Action::PageDown => self.scroll = self.scroll.saturating_add(10),
            Action::Home => self.scroll = 0,
            _ => {}
        }
        Effect::None
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let body = kv_lines(&self.lines, inner_width(area), t);
        let width = area.width.saturating_sub(4).min(78);
        let height = area.height;
        let r = centered(area, width, height);
        clear_rows(area, r, buf);
        let max_scroll = (body.len() as u16).saturating_sub(height.saturating_sub(2));
        Paragraph::new(body)
            .block(modal_block(self.title.clone(), t))
            .scroll((self.scroll.min(max_scroll), 0))
            .render(r, buf);
    }

    fn footer(&self) -> Vec<Key> {
        vec![("↑↓ PgUp PgDn", "scroll"), ("Enter/Esc", "close")]
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A signature was made: serial, fingerprint, and the export on offer.
pub(crate) struct Signed {
    cert: CertInfo,
}

impl Signed {
    pub fn new(cert: CertInfo) -> Signed {
        Signed { cert }
    }
}

impl Modal for Signed {
    fn handle(&mut self, action: Action, _ctx: &Ctx) -> Effect {
        match action {
            Action::Enter | Action::Back => Effect::Close,
            Action::Export => match self.cert.cluster.as_deref().map(str::parse::<ClusterName>) {
                Some(Ok(c)) => Effect::replace(ExportForm::new(c, Screen::Inbox)),
                _ => Effect::Close,
            },
            _ => Effect::None,
        }
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let c = &self.cert;
        let pairs = vec![
            (
                "cluster".to_owned(),
                c.cluster.clone().unwrap_or_else(|| "-".into()),
            ),
            ("serial".to_owned(), c.serial.clone()),
            ("SHA-256".to_owned(), group_hex(&c.sha256)),
            ("subject".to_owned(), c.subject.clone()),
            ("not after".to_owned(), c.not_after.clone()),
        ];
        let mut lines = vec![Line::styled(
            "The root key on the token signed the intermediate; it is in the ledger.",
            t.ok(),
        )];
        lines.push(Line::raw(""));
        lines.extend(kv_lines(&pairs, inner_width(area), t));
        lines.push(Line::raw(""));
        lines.push(Line::from(vec![
            Span::styled("e", t.key()),
            Span::raw(" exports it for the cluster now; "),
            Span::styled("Enter", t.key()),
            Span::raw(" closes."),
        ]));
        boxed("Signed".into(), lines, area, buf, t);
    }

    fn footer(&self) -> Vec<Key> {
        vec![("e", "export"), ("Enter", "close")]
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A fact the operator must acknowledge before going on (a key that already has a valid
/// certificate): `y` sends `then`, anything that closes it sends nothing.
pub(crate) struct Acknowledge {
    title: &'static str,
    lines: Vec<String>,
    yes: &'static str,
    no: &'static str,
    then: Option<Msg>,
}

impl Acknowledge {
    /// `lines` say what is at stake; `yes` is what `y` does, `no` what Esc leaves undone.
    pub fn new(
        title: &'static str,
        lines: Vec<String>,
        yes: &'static str,
        no: &'static str,
        then: Msg,
    ) -> Acknowledge {
        Acknowledge {
            title,
            lines,
            yes,
            no,
            then: Some(then),
        }
    }
}

impl Modal for Acknowledge {
    fn handle(&mut self, action: Action, _ctx: &Ctx) -> Effect {
        match action {
            Action::Yes => match self.then.take() {
                Some(msg) => Effect::Many(vec![Effect::Close, Effect::Send(msg)]),
                None => Effect::Close,
            },
            Action::Back => Effect::Many(vec![Effect::Close, Effect::info(self.no)]),
            _ => Effect::None,
        }
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let w = inner_width(area);
        let mut lines = Vec::new();
        for l in &self.lines {
            lines.extend(text_lines(l, w, t.error()));
        }
        lines.push(Line::raw(""));
        lines.push(Line::from(vec![
            Span::styled("y", t.key()),
            Span::raw(format!(" {}; ", self.yes)),
            Span::styled("Esc", t.key()),
            Span::raw(" stops here."),
        ]));
        boxed(self.title.to_owned(), lines, area, buf, t);
    }

    fn footer(&self) -> Vec<Key> {
        vec![("y", self.yes), ("Esc", "stop")]
    }

    fn flow(&self) -> Option<&'static str> {
        Some("acknowledging a warning")
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
