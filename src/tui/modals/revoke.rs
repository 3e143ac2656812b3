//! Revoking a certificate: the RFC 5280 reason, then ceremony's confirmation (the serial,
//! typed from the revocation request) through the one dialog.

use std::any::Any;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;

use crate::ceremony::{self, Auth, CertInfo, WitnessedAction};
use crate::x509::RevocationReason;

use super::super::job::{Job, Outcome};
use super::super::keys::{Action, Screen};
use super::super::view::{Ctx, Effect, Key, Modal};
use super::super::widgets::{boxed, inner_width, kv_lines};
use super::witness::{self, TrustChange};

/// Which RFC 5280 reason.
pub(crate) struct RevokeReason {
    cert: CertInfo,
    selected: usize,
}

impl RevokeReason {
    pub fn new(cert: &CertInfo) -> RevokeReason {
        RevokeReason {
            cert: cert.clone(),
            selected: 0,
        }
    }

    fn start(&self, ctx: &Ctx) -> Effect {
        let reason = RevocationReason::ALL[self.selected];
        let serial = self.cert.serial.clone();
        let operator = ctx.operator.clone();
        let for_statement = ceremony::RevokeTarget::Serial(serial.clone());
        Effect::Many(vec![
            Effect::Close,
            witness::run(
                ctx,
                TrustChange::new(
                    "revoke",
                    move |vault, operator| {
                        ceremony::statement(
                            vault,
                            operator,
                            &WitnessedAction::Revoke(&for_statement, reason),
                        )
                    },
                    move |sigs| {
                        Job::with_session(
                            "revoking",
                            Screen::Certificates,
                            move |vault, session, progress| {
                                let mut confirm = progress.asker(
                                    "Take the serial from the revocation request, not from this screen.",
                                    Vec::new(),
                                    Vec::new(),
                                );
                                let ctx = ceremony::Ctx {
                                    vault,
                                    auth: Auth::Unlocked(session),
                                    operator: &operator,
                                };
                                let target = ceremony::RevokeTarget::Serial(serial);
                                Outcome::Revoke(
                                    reason,
                                    ceremony::revoke_witnessed(
                                        &ctx,
                                        &target,
                                        reason,
                                        &sigs,
                                        &mut confirm,
                                    ),
                                )
                            },
                        )
                    },
                ),
            ),
        ])
    }
}

impl Modal for RevokeReason {
    fn handle(&mut self, action: Action, ctx: &Ctx) -> Effect {
        match action {
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => {
                self.selected = (self.selected + 1).min(RevocationReason::ALL.len() - 1)
            }
            Action::Enter => return self.start(ctx),
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
        let c = &self.cert;
        let cluster = c.cluster.as_deref().unwrap_or("-");
        let mut lines = vec![Line::raw(format!(
            "Revoke the certificate of cluster {cluster}:"
        ))];
        lines.extend(kv_lines(
            &[
                ("cluster".to_owned(), cluster.to_owned()),
                ("subject".to_owned(), c.subject.clone()),
                (
                    "valid".to_owned(),
                    format!("{} .. {}", c.not_before, c.not_after),
                ),
            ],
            inner_width(area),
            t,
        ));
        lines.push(Line::raw(""));
        lines.push(Line::styled("Why (RFC 5280 reason):", t.dim()));
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
