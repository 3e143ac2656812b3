//! `i`: import the certificate an enterprise CA issued for the pending key.

use std::any::Any;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;

use crate::ceremony::{self, ImportRequest, WitnessedAction};

use crate::tui::field::{Completion, TextField};
use crate::tui::job::{Job, Outcome};
use crate::tui::keys::{Action, Screen};
use crate::tui::modals::witness::{self, TrustChange};
use crate::tui::view::{Ctx, Effect, Key, Modal};
use crate::tui::widgets::{boxed, field_line, inner_width, text_lines};
use crate::tui::words;

use super::{kept_open, resolve, session_ctx, IMPORT_SOURCE};

// ---- root import --------------------------------------------------------------------------

/// `i`: the certificate the enterprise root issued for the pending key, and its chain.
pub(crate) struct ImportForm {
    cert: TextField,
    chain: TextField,
    /// 0 certificate, 1 chain.
    focus: usize,
    problem: Option<String>,
    choices: Vec<String>,
}

impl ImportForm {
    pub fn new() -> ImportForm {
        ImportForm {
            cert: TextField::default(),
            chain: TextField::default(),
            focus: 0,
            problem: None,
            choices: Vec::new(),
        }
    }

    fn read(&self, ctx: &Ctx) -> Result<(Vec<u8>, Option<Vec<u8>>), String> {
        let read = |what: &str, field: &TextField| -> Result<Vec<u8>, String> {
            let path = resolve(field.text(), ctx);
            std::fs::read(&path).map_err(|e| format!("{what}: cannot read {}: {e}", path.display()))
        };
        if self.cert.text().trim().is_empty() {
            return Err(
                "certificate: type the path of the certificate the enterprise root issued".into(),
            );
        }
        let cert = read("certificate", &self.cert)?;
        let chain = match self.chain.text().trim() {
            "" => None,
            _ => Some(read("chain", &self.chain)?),
        };
        Ok((cert, chain))
    }

    fn submit(&mut self, ctx: &Ctx) -> Effect {
        let (cert, chain) = match self.read(ctx) {
            Ok(r) => r,
            Err(p) => {
                self.problem = Some(p);
                return Effect::None;
            }
        };
        let req = ImportRequest {
            cert: &cert,
            chain: chain.as_deref(),
        };
        if let Err(e) = ceremony::check_import(ctx.vault, req) {
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
        let (cert2, chain2) = (cert.clone(), chain.clone());
        witness::run(
            ctx,
            TrustChange::new(
                "import the root certificate",
                move |vault, operator| {
                    let req = ImportRequest {
                        cert: &cert2,
                        chain: chain2.as_deref(),
                    };
                    ceremony::statement(vault, operator, &WitnessedAction::RootImport(req))
                },
                move |sigs| {
                    Job::with_session(
                        "importing the root certificate",
                        Screen::Overview,
                        move |vault, session, progress| {
                            let mut confirm = progress.asker(IMPORT_SOURCE, Vec::new(), Vec::new());
                            let ctx = session_ctx(vault, session, &operator);
                            let req = ImportRequest {
                                cert: &cert,
                                chain: chain.as_deref(),
                            };
                            Outcome::Import(ceremony::import_root_witnessed(
                                &ctx,
                                req,
                                &sigs,
                                &mut confirm,
                            ))
                        },
                    )
                },
            ),
        )
    }

    fn field_mut(&mut self) -> &mut TextField {
        if self.focus == 0 {
            &mut self.cert
        } else {
            &mut self.chain
        }
    }
}

impl Modal for ImportForm {
    fn handle(&mut self, action: Action, ctx: &Ctx) -> Effect {
        match action {
            Action::Back => {
                return Effect::Many(vec![
                    Effect::Close,
                    Effect::info("cancelled; nothing was imported"),
                ])
            }
            Action::NextField => {
                self.choices.clear();
                let cwd = ctx.cwd.to_owned();
                match self.field_mut().complete_path(&cwd) {
                    Completion::Completed => {}
                    Completion::Choices(c) => self.choices = c,
                    Completion::Nothing => self.focus = 1 - self.focus,
                }
            }
            Action::PrevField | Action::Up | Action::Down => self.focus = 1 - self.focus,
            Action::Enter => return self.submit(ctx),
            other => {
                if self.field_mut().edit(other) {
                    self.problem = None;
                    self.choices.clear();
                }
            }
        }
        Effect::None
    }

    fn on_outcome(&mut self, outcome: Outcome, _ctx: &Ctx) -> Result<Effect, Box<Outcome>> {
        let Outcome::Import(r) = outcome else {
            return Err(Box::new(outcome));
        };
        Ok(match r {
            Ok(g) => Effect::Many(vec![
                Effect::Close,
                Effect::success(format!(
                    "imported: generation {} is active ({}); export every cluster again (4, e)",
                    g.generation, g.subject
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
        let pending = ctx.data.pending().map_or_else(String::new, |g| {
            format!("generation {} ({})", g.generation, g.subject)
        });
        let mut lines = text_lines(
            &format!(
                "Import the certificate the enterprise root issued for pending {pending}. It is checked before anything opens: its key is the pending key, a CA with keyCertSign and cRLSign, pathLen 1 or more (or none), valid now, and it chains through the chain file to a self-signed root."
            ),
            w,
            t.text(),
        );
        lines.push(Line::raw(""));
        lines.push(field_line("certificate", &self.cert, self.focus == 0, t));
        lines.push(field_line("chain", &self.chain, self.focus == 1, t));
        lines.push(Line::styled(
            format!("{:<17}the issuer up to the self-signed root, PEM", ""),
            t.dim(),
        ));
        if !self.choices.is_empty() {
            lines.extend(text_lines(&self.choices.join("  "), w, t.dim()));
        }
        if let Some(p) = &self.problem {
            lines.push(Line::raw(""));
            lines.extend(text_lines(p, w, t.error()));
        }
        boxed("Import the root certificate".into(), lines, area, buf, t);
    }

    fn footer(&self) -> Vec<Key> {
        vec![
            ("Tab", "complete / next"),
            ("Enter", "check and review"),
            ("Esc", "cancel"),
        ]
    }

    fn takes_text(&self) -> bool {
        true
    }

    fn flow(&self) -> Option<&'static str> {
        Some("importing a root certificate")
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
