//! `r`: rotate to a new root generation.

use std::any::Any;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;

use crate::ceremony::{self, WitnessedAction};
use crate::keys::KeyType;

use crate::tui::field::TextField;
use crate::tui::job::{Job, Outcome};
use crate::tui::keys::{Action, Screen};
use crate::tui::modals::message::Details;
use crate::tui::modals::witness::{self, TrustChange};
use crate::tui::view::{Ctx, Effect, Key, Modal};
use crate::tui::widgets::{boxed, field_line, inner_width, picker, text_lines};
use crate::tui::words;

use super::{
    kept_open, key_type_index, next_generation, parse_label, parse_subject, session_ctx,
    ROTATE_SOURCE,
};

// ---- rotate -------------------------------------------------------------------------------

/// `r`: the new root's subject, key type, validity, path length and key label.
pub(crate) struct RotateForm {
    subject: TextField,
    key_type: usize,
    days: TextField,
    path_len: TextField,
    key_label: TextField,
    /// 0 subject, 1 key type, 2 days, 3 path length, 4 key label.
    focus: usize,
    problem: Option<String>,
}

impl RotateForm {
    const FIELDS: usize = 5;

    pub fn new(ctx: &Ctx) -> RotateForm {
        let active = ctx.data.active();
        let key_type = active
            .and_then(|g| g.key_type.parse::<KeyType>().ok())
            .unwrap_or(KeyType::EcdsaP384);
        RotateForm {
            subject: TextField::default(),
            key_type: key_type_index(key_type),
            days: TextField::new(&ceremony::DEFAULT_ROOT_DAYS.to_string()),
            path_len: TextField::default(),
            key_label: TextField::new(&ceremony::default_key_label(next_generation(ctx))),
            focus: 0,
            problem: None,
        }
    }

    fn request(&self) -> Result<ceremony::RotateRequest, String> {
        let subject = parse_subject(&self.subject)?;
        let days = self
            .days
            .text()
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=36500).contains(d))
            .ok_or_else(|| {
                format!(
                    "days: {:?} is not a number from 1 to 36500",
                    self.days.text()
                )
            })?;
        let path_len = match self.path_len.text().trim() {
            "" => None,
            s => Some(
                s.parse::<u8>()
                    .map_err(|_| format!("path length: {s:?} is not a number from 0 to 255"))?,
            ),
        };
        Ok(ceremony::RotateRequest {
            subject,
            key_type: KeyType::ALL[self.key_type],
            days,
            path_len,
            key_label: parse_label(&self.key_label)?,
        })
    }

    fn field_mut(&mut self) -> Option<&mut TextField> {
        match self.focus {
            0 => Some(&mut self.subject),
            2 => Some(&mut self.days),
            3 => Some(&mut self.path_len),
            4 => Some(&mut self.key_label),
            _ => None,
        }
    }

    fn submit(&mut self, ctx: &Ctx) -> Effect {
        let req = match self.request() {
            Ok(r) => r,
            Err(p) => {
                self.problem = Some(p);
                return Effect::None;
            }
        };
        if let Err(e) = ceremony::rotate_confirmation(ctx.vault, &req) {
            self.problem = Some(words::say(&e));
            return Effect::None;
        }
        if !ctx.unlocked() {
            return Effect::locked();
        }
        if let Some(job) = ctx.job {
            return Effect::info(format!("wait: {} is still running", job.label));
        }
        self.problem = None;
        let operator = ctx.operator.clone();
        let for_statement = req.clone();
        witness::run(
            ctx,
            TrustChange::new(
                "rotate the root",
                move |vault, operator| {
                    ceremony::statement(
                        vault,
                        operator,
                        &WitnessedAction::RootRotate(&for_statement),
                    )
                },
                move |sigs| {
                    Job::with_session(
                        "rotating the root",
                        Screen::Overview,
                        move |vault, session, progress| {
                            let mut confirm = progress.asker(ROTATE_SOURCE, Vec::new(), Vec::new());
                            let ctx = session_ctx(vault, session, &operator);
                            Outcome::Rotate(ceremony::rotate_root_witnessed(
                                &ctx,
                                &req,
                                &sigs,
                                &mut confirm,
                            ))
                        },
                    )
                },
            ),
        )
    }
}

impl Modal for RotateForm {
    fn handle(&mut self, action: Action, ctx: &Ctx) -> Effect {
        let n = KeyType::ALL.len();
        match action {
            Action::Back => {
                return Effect::Many(vec![
                    Effect::Close,
                    Effect::info("cancelled; nothing was rotated"),
                ])
            }
            Action::NextField | Action::Down => self.focus = (self.focus + 1) % Self::FIELDS,
            Action::PrevField | Action::Up => {
                self.focus = (self.focus + Self::FIELDS - 1) % Self::FIELDS
            }
            Action::Left if self.focus == 1 => self.key_type = (self.key_type + n - 1) % n,
            Action::Right if self.focus == 1 => self.key_type = (self.key_type + 1) % n,
            Action::Enter => return self.submit(ctx),
            other => {
                if let Some(f) = self.field_mut() {
                    if f.edit(other) {
                        self.problem = None;
                    }
                }
            }
        }
        Effect::None
    }

    fn on_outcome(&mut self, outcome: Outcome, _ctx: &Ctx) -> Result<Effect, Box<Outcome>> {
        let Outcome::Rotate(r) = outcome else {
            return Err(Box::new(outcome));
        };
        Ok(match r {
            Ok(report) => Effect::Many(vec![Effect::Close, rotated(&report)]),
            Err(e) => kept_open(&mut self.problem, &e),
        })
    }

    fn error_text(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let names: Vec<&str> = KeyType::ALL.iter().map(|k| k.name()).collect();
        let w = inner_width(area);
        let active = ctx.data.active().map_or_else(
            || "none".to_owned(),
            |g| format!("generation {}: {}", g.generation, g.subject),
        );
        let mut lines = text_lines(
            &format!(
                "Make generation {}: a new key on the token and its self-signed root, cross-certified by the active root ({active}), which stays trusted.",
                next_generation(ctx)
            ),
            w,
            t.text(),
        );
        lines.push(Line::styled(
            "Enter shows what will be made; nothing happens before you confirm it.",
            t.dim(),
        ));
        lines.push(Line::raw(""));
        lines.push(field_line("subject", &self.subject, self.focus == 0, t));
        lines.push(Line::styled(
            format!("{:<17}e.g. CN=Example Root CA 2,O=Example,C=GB", ""),
            t.dim(),
        ));
        lines.push(picker(
            "key type",
            &names,
            self.key_type,
            self.focus == 1,
            t,
        ));
        lines.push(field_line("days", &self.days, self.focus == 2, t));
        lines.push(field_line(
            "path length",
            &self.path_len,
            self.focus == 3,
            t,
        ));
        lines.push(field_line("key label", &self.key_label, self.focus == 4, t));
        if let Some(p) = &self.problem {
            lines.push(Line::raw(""));
            lines.extend(text_lines(p, w, t.error()));
        }
        boxed("Rotate the root".into(), lines, area, buf, t);
    }

    fn footer(&self) -> Vec<Key> {
        vec![
            ("Tab", "field"),
            ("←→", "key type"),
            ("Enter", "review"),
            ("Esc", "cancel"),
        ]
    }

    fn takes_text(&self) -> bool {
        self.focus != 1
    }

    fn flow(&self) -> Option<&'static str> {
        Some("rotating the root")
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// What a rotation made, in a box and the status line.
fn rotated(r: &ceremony::RotateReport) -> Effect {
    let g = &r.root;
    let text = format!(
        "root rotated: generation {} active, generation {} trusted; export every cluster again (4, e) so its root-cert.pem holds both",
        g.generation, r.previous
    );
    Effect::Many(vec![
        Effect::success(text),
        Effect::open(Details::new(
            format!("Generation {} is active", g.generation),
            vec![
                ("subject".into(), g.subject.clone()),
                ("key type".into(), g.key_type.clone()),
                (
                    "valid until".into(),
                    g.not_after.clone().unwrap_or_default(),
                ),
                ("SHA-256".into(), g.sha256.clone().unwrap_or_default()),
                ("cross SHA-256".into(), r.cross_sha256.clone()),
                (
                    "key label".into(),
                    format!("{} (id {})", g.key_label, g.key_id),
                ),
                (
                    "next".into(),
                    format!(
                        "generation {} is trusted: it stays in every trust bundle and signs its own CRLs. Export every cluster again; re-key them under generation {}; retire it (x) once none of its intermediates is valid",
                        r.previous, g.generation
                    ),
                ),
            ],
        )),
    ])
}
