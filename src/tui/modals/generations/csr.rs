//! `c`: a key on the token and its request, for a root an enterprise CA will certify.

use std::any::Any;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;

use crate::ceremony::{self, Output, WitnessSigs, WitnessedAction};
use crate::keys::KeyType;

use crate::tui::field::{Completion, TextField};
use crate::tui::job::{Job, Outcome};
use crate::tui::keys::{Action, Screen};
use crate::tui::modals::message::Details;
use crate::tui::modals::witness::{self, TrustChange};
use crate::tui::view::{Ctx, Effect, Key, Modal};
use crate::tui::widgets::{boxed, field_line, inner_width, picker, text_lines};
use crate::tui::words;

use super::{
    kept_open, key_type_index, next_generation, parse_label, parse_subject, resolve, session_ctx,
    CSR_SOURCE,
};

// ---- root csr -----------------------------------------------------------------------------

/// `c`: a key on the token (a pending generation) and its request, for an enterprise root.
pub(crate) struct CsrForm {
    subject: TextField,
    key_type: usize,
    key_label: TextField,
    out: TextField,
    /// 0 subject, 1 key type, 2 key label, 3 write to.
    focus: usize,
    problem: Option<String>,
    choices: Vec<String>,
}

impl CsrForm {
    const FIELDS: usize = 4;

    pub fn new(ctx: &Ctx) -> CsrForm {
        let next = next_generation(ctx);
        CsrForm {
            subject: TextField::default(),
            key_type: key_type_index(KeyType::EcdsaP384),
            key_label: TextField::new(&ceremony::default_key_label(next)),
            out: TextField::new(&format!("root-generation-{next}.csr")),
            focus: 0,
            problem: None,
            choices: Vec::new(),
        }
    }

    fn request(&self, ctx: &Ctx) -> Result<ceremony::RootCsrRequest, String> {
        let subject = parse_subject(&self.subject)?;
        if self.out.text().trim().is_empty() {
            return Err("write to: type where the request goes".to_owned());
        }
        Ok(ceremony::RootCsrRequest {
            subject,
            key_type: KeyType::ALL[self.key_type],
            key_label: parse_label(&self.key_label)?,
            out: Output {
                path: resolve(self.out.text(), ctx),
                force: false,
            },
        })
    }

    fn field_mut(&mut self) -> Option<&mut TextField> {
        match self.focus {
            0 => Some(&mut self.subject),
            2 => Some(&mut self.key_label),
            3 => Some(&mut self.out),
            _ => None,
        }
    }

    fn submit(&mut self, ctx: &Ctx) -> Effect {
        let req = match self.request(ctx) {
            Ok(r) => r,
            Err(p) => {
                self.problem = Some(p);
                return Effect::None;
            }
        };
        if let Err(e) = ceremony::csr_confirmation(ctx.vault, &req) {
            self.problem = Some(words::say(&e));
            return Effect::None;
        }
        if req.out.path.exists() {
            self.problem = Some(words::say(
                &crate::fsio::FsError::OutputExists(req.out.path.clone()).into(),
            ));
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
        let extra = vec![(
            "write to".to_owned(),
            format!("{} (never over a file)", req.out.path.display()),
        )];
        witness::run(
            ctx,
            TrustChange::new(
                "make a root key and its request",
                move |vault, operator| {
                    ceremony::statement(vault, operator, &WitnessedAction::RootCsr(&for_statement))
                },
                move |sigs| {
                    Job::with_session(
                        "making the root key and its request",
                        Screen::Overview,
                        move |vault, session, progress| {
                            Outcome::RootCsr(root_csr(vault, session, &operator, &req, &sigs, {
                                progress.asker(CSR_SOURCE, extra, Vec::new())
                            }))
                        },
                    )
                },
            ),
        )
    }
}

/// `root csr` changes no trust on the command line, so ceremony asks nothing; the TUI asks
/// ceremony's `csr_confirmation` through the one dialog before the key is made.
fn root_csr(
    vault: &crate::vault::Vault,
    session: &ceremony::Unlocked,
    operator: &ceremony::Operator,
    req: &ceremony::RootCsrRequest,
    sigs: &WitnessSigs,
    mut confirm: impl ceremony::Confirm,
) -> crate::error::Result<ceremony::RootCsrReport> {
    let request = ceremony::csr_confirmation(vault, req)?;
    let answer = confirm.ask(&request);
    ceremony::check_confirmation(&request, answer, "no key was generated")?;
    ceremony::root_csr_witnessed(&session_ctx(vault, session, operator), req, sigs)
}

impl Modal for CsrForm {
    fn handle(&mut self, action: Action, ctx: &Ctx) -> Effect {
        let n = KeyType::ALL.len();
        match action {
            Action::Back => {
                return Effect::Many(vec![
                    Effect::Close,
                    Effect::info("cancelled; no key was generated"),
                ])
            }
            Action::NextField if self.focus == 3 => {
                self.choices.clear();
                match self.out.complete_path(ctx.cwd) {
                    Completion::Completed => {}
                    Completion::Choices(c) => self.choices = c,
                    Completion::Nothing => self.focus = 0,
                }
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
                        self.choices.clear();
                    }
                }
            }
        }
        Effect::None
    }

    fn on_outcome(&mut self, outcome: Outcome, _ctx: &Ctx) -> Result<Effect, Box<Outcome>> {
        let Outcome::RootCsr(r) = outcome else {
            return Err(Box::new(outcome));
        };
        Ok(match r {
            Ok(report) => Effect::Many(vec![
                Effect::Close,
                Effect::success(format!(
                    "generation {} is pending: its request is in {}; i imports the certificate the enterprise root issues for it",
                    report.generation,
                    report.path.display()
                )),
                Effect::open(Details::new(
                    format!("Generation {} is pending", report.generation),
                    vec![
                        ("request".into(), report.path.display().to_string()),
                        ("key type".into(), report.key_type.clone()),
                        ("SPKI SHA-256".into(), report.spki_sha256.clone()),
                        ("request SHA-256".into(), report.csr_sha256.clone()),
                        (
                            "next".into(),
                            "have the enterprise CA issue a CA certificate for it (pathLen 1 or more, or none; keyCertSign and cRLSign), then import it with i on the Overview".into(),
                        ),
                    ],
                )),
            ]),
            Err(e) => kept_open(&mut self.problem, &e),
        })
    }

    fn error_text(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let w = inner_width(area);
        let names: Vec<&str> = KeyType::ALL.iter().map(|k| k.name()).collect();
        let mut lines = text_lines(
            &format!(
                "Make generation {} for an enterprise root: a key on the token and a certificate request it signs. The generation is pending until its certificate is imported (i).",
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
        lines.push(picker(
            "key type",
            &names,
            self.key_type,
            self.focus == 1,
            t,
        ));
        lines.push(field_line("key label", &self.key_label, self.focus == 2, t));
        lines.push(field_line("write to", &self.out, self.focus == 3, t));
        if !self.choices.is_empty() {
            lines.extend(text_lines(&self.choices.join("  "), w, t.dim()));
        }
        if let Some(p) = &self.problem {
            lines.push(Line::raw(""));
            lines.extend(text_lines(p, w, t.error()));
        }
        boxed(
            "A root key for an enterprise root".into(),
            lines,
            area,
            buf,
            t,
        );
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
        Some("making a root key")
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
