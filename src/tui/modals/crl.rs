//! Issuing the next CRL (`crl`): its validity in days.

use std::any::Any;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;

use crate::ceremony::{self, Auth};

use super::super::field::TextField;
use super::super::job::{Job, Outcome};
use super::super::keys::{Action, Screen};
use super::super::view::{Ctx, Effect, Key, Modal};
use super::super::widgets::{boxed, inner_width, input_line, text_lines};

/// The next CRL's validity in days.
pub(crate) struct IssueCrl {
    generation: u32,
    days: TextField,
    problem: Option<String>,
}

impl IssueCrl {
    pub fn new(generation: u32) -> IssueCrl {
        IssueCrl {
            generation,
            days: TextField::new(&ceremony::DEFAULT_CRL_DAYS.to_string()),
            problem: None,
        }
    }

    fn start(&mut self, ctx: &Ctx) -> Effect {
        let text = self.days.text().trim();
        let days = match text.parse::<u32>() {
            Ok(d) if (1..=ceremony::MAX_CRL_DAYS).contains(&d) => d,
            _ => {
                self.problem = Some(format!(
                    "{text:?} is not a number of days from 1 to {}",
                    ceremony::MAX_CRL_DAYS
                ));
                return Effect::None;
            }
        };
        let operator = ctx.operator.clone();
        let generation = self.generation;
        Effect::Many(vec![
            Effect::Close,
            Effect::Run(Job::with_session(
                "issuing the CRL",
                Screen::Crl,
                move |vault, session, _| {
                    let ctx = ceremony::Ctx {
                        vault,
                        auth: Auth::Unlocked(session),
                        operator: &operator,
                    };
                    Outcome::Crl(ceremony::issue_crl_for(
                        &ctx,
                        Some(generation),
                        Some(days),
                        None,
                    ))
                },
            )),
        ])
    }
}

impl Modal for IssueCrl {
    fn handle(&mut self, action: Action, ctx: &Ctx) -> Effect {
        match action {
            Action::Back => {
                return Effect::Many(vec![
                    Effect::Close,
                    Effect::info("cancelled; no CRL was issued"),
                ])
            }
            Action::Enter => return self.start(ctx),
            other => {
                if self.days.edit(other) {
                    self.problem = None;
                }
            }
        }
        Effect::None
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let g = self.generation;
        let next = ctx.data.last_crl_of(g).map_or(1, |c| c.number + 1);
        let revs = ctx.data.revocations.as_ref().map_or(0, |all| {
            all.iter()
                .filter(|r| {
                    ctx.data
                        .certs()
                        .iter()
                        .find(|c| c.serial == r.serial)
                        .is_none_or(|c| c.generation.is_none() || c.generation == Some(g))
                })
                .count()
        });
        let mut lines = text_lines(
            &format!(
                "Issue CRL {next} of root generation {g}, listing {revs} revoked certificate(s) it issued, signed by that generation's key on the token."
            ),
            inner_width(area),
            t.text(),
        );
        lines.extend([
            Line::raw(""),
            Line::styled(
                format!("Days until nextUpdate (1 to {}):", ceremony::MAX_CRL_DAYS),
                t.dim(),
            ),
            input_line(&self.days, t),
        ]);
        if let Some(p) = &self.problem {
            lines.extend(text_lines(p, inner_width(area), t.error()));
        }
        boxed("Issue the next CRL".into(), lines, area, buf, t);
    }

    fn footer(&self) -> Vec<Key> {
        vec![("Enter", "issue"), ("Esc", "cancel")]
    }

    fn takes_text(&self) -> bool {
        true
    }

    fn flow(&self) -> Option<&'static str> {
        Some("issuing a CRL")
    }

    fn error_text(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
