//! Revoking a certificate: the RFC 5280 reason, then the typed serial.

use std::any::Any;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;

use crate::x509::RevocationReason;

use super::super::keys::Action;
use super::super::view::{Ctx, Effect, Key, Modal};
use super::super::widgets::boxed;
use super::confirm::TypedConfirm;

/// Which RFC 5280 reason.
pub(crate) struct RevokeReason {
    serial: String,
    selected: usize,
}

impl RevokeReason {
    pub fn new(serial: &str) -> RevokeReason {
        RevokeReason {
            serial: serial.to_owned(),
            selected: 0,
        }
    }
}

impl Modal for RevokeReason {
    fn handle(&mut self, action: Action, ctx: &Ctx) -> Effect {
        match action {
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => {
                self.selected = (self.selected + 1).min(RevocationReason::ALL.len() - 1)
            }
            Action::Enter => {
                let reason = RevocationReason::ALL[self.selected];
                let cert = ctx.data.certs().iter().find(|c| c.serial == self.serial);
                let mut pairs = vec![
                    ("serial".to_owned(), self.serial.clone()),
                    ("reason".to_owned(), reason.name().to_owned()),
                ];
                if let Some(c) = cert {
                    pairs.push((
                        "cluster".into(),
                        c.cluster.clone().unwrap_or_else(|| "-".into()),
                    ));
                    pairs.push(("subject".into(), c.subject.clone()));
                    pairs.push(("not after".into(), c.not_after.clone()));
                }
                return Effect::open(TypedConfirm::revoke(self.serial.clone(), reason, pairs));
            }
            Action::Back => {
                return Effect::Many(vec![
                    Effect::Close,
                    Effect::info("cancelled; nothing was revoked"),
                ])
            }
            _ => {}
        }
        Effect::None
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let mut lines = vec![
            Line::raw(format!("Revoke certificate {}", self.serial)),
            Line::styled("Why (RFC 5280 reason):", t.dim()),
        ];
        for (i, r) in RevocationReason::ALL.iter().enumerate() {
            let style = if i == self.selected {
                t.selected()
            } else {
                t.text()
            };
            lines.push(Line::styled(format!("  {}  ", r.name()), style));
        }
        boxed("Revoke: reason".into(), lines, area, buf, t);
    }

    fn footer(&self) -> Vec<Key> {
        vec![("↑↓", "reason"), ("Enter", "next"), ("Esc", "cancel")]
    }

    fn flow(&self) -> Option<&'static str> {
        Some("revoking a certificate")
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
