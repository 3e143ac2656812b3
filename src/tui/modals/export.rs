//! Export: a cluster's current intermediate in the form its software loads, optionally
//! age-encrypted (`ceremony::export_cluster`).

use std::any::Any;
use std::path::PathBuf;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;

use crate::ceremony::{self, Auth, ExportReport};
use crate::export::Format;
use crate::policy::ClusterName;
use crate::recipients::Recipients;

use super::super::field::{Completion, TextField};
use super::super::job::{Job, Outcome};
use super::super::keys::{Action, Screen};
use super::super::view::{Ctx, Effect, Key, Modal};
use super::super::widgets::{boxed, field_line, inner_width, picker, text_lines, wrap};
use super::super::words;

/// The output path suggested for an export of `cluster` in `format` (relative to the current
/// directory): `.age` on a one-file export that is encrypted.
pub(crate) fn default_export_name(cluster: &str, format: Format, encrypted: bool) -> String {
    let c = cluster;
    let base = match format {
        Format::Istio => format!("{c}-cacerts"),
        Format::IstioSecret => format!("{c}-cacerts.yaml"),
        Format::TlsSecret => format!("{c}-tls-secret.yaml"),
        Format::PemBundle => format!("{c}-chain.pem"),
    };
    if encrypted && !format.is_directory() {
        format!("{base}.age")
    } else {
        base
    }
}

/// What the status line says when an export job ends.
pub(crate) fn export_outcome(r: crate::error::Result<ExportReport>) -> Effect {
    match r {
        Ok(report) => Effect::success(format!(
            "exported cluster {} serial {} as {} to {}{}",
            report.certificate.cluster.as_deref().unwrap_or("-"),
            report.certificate.serial,
            report.format,
            report.path.display(),
            if report.recipients.is_empty() {
                ""
            } else {
                " (age-encrypted)"
            }
        )),
        Err(e) => Effect::failed("Not exported", &e),
    }
}

/// The export form: format picker, output path, optional age recipients.
pub(crate) struct ExportForm {
    cluster: ClusterName,
    owner: Screen,
    format: usize,
    out: TextField,
    out_edited: bool,
    recipient: TextField,
    recipients: Vec<String>,
    /// 0 format, 1 path, 2 recipient.
    focus: usize,
    /// Why the last attempt wrote nothing, in the TUI's words.
    problem: Option<String>,
    /// Names that complete the path typed, when Tab found several.
    choices: Vec<String>,
    /// The export job is running.
    running: bool,
}

impl ExportForm {
    const FIELDS: usize = 3;

    /// The form for `cluster`; the outcome goes to `owner`.
    pub fn new(cluster: ClusterName, owner: Screen) -> ExportForm {
        let mut f = ExportForm {
            cluster,
            owner,
            format: 0,
            out: TextField::default(),
            out_edited: false,
            recipient: TextField::default(),
            recipients: Vec::new(),
            focus: 0,
            problem: None,
            choices: Vec::new(),
            running: false,
        };
        f.default_out();
        f
    }

    fn format(&self) -> Format {
        Format::ALL[self.format]
    }

    /// The suggested output path, relative to the current directory, until the operator
    /// edits it.
    fn default_out(&mut self) {
        if self.out_edited {
            return;
        }
        let encrypted = !self.recipients.is_empty() || !self.recipient.text().trim().is_empty();
        self.out.set(&default_export_name(
            self.cluster.as_str(),
            self.format(),
            encrypted,
        ));
    }

    fn start(&mut self, ctx: &Ctx) -> Effect {
        if let Some(job) = ctx.job {
            return Effect::info(format!("wait: {} is still running", job.label));
        }
        let mut given = self.recipients.clone();
        if !self.recipient.text().trim().is_empty() {
            given.push(self.recipient.text().trim().to_owned());
        }
        // Parsed where they are given, as the command line parses its flags.
        let recipients = if given.is_empty() {
            None
        } else {
            match Recipients::parse(&given) {
                Ok(r) => Some(r),
                Err(e) => {
                    self.problem = Some(words::say(&crate::Error::from(e)));
                    return Effect::None;
                }
            }
        };
        let operator = ctx.operator.clone();
        let req = ceremony::ExportRequest {
            cluster: self.cluster.clone(),
            format: self.format(),
            out: PathBuf::from(self.out.text().trim()),
            recipients,
            force: false,
        };
        self.problem = None;
        self.running = true;
        // The form stays open until the outcome: a refusal is shown here, fields kept.
        Effect::Run(Job::with_session(
            "exporting",
            self.owner,
            move |vault, session, _| {
                let ctx = ceremony::Ctx {
                    vault,
                    auth: Auth::Unlocked(session),
                    operator: &operator,
                };
                Outcome::Export(ceremony::export_cluster(&ctx, &req))
            },
        ))
    }
}

impl Modal for ExportForm {
    fn handle(&mut self, action: Action, ctx: &Ctx) -> Effect {
        let n = Format::ALL.len();
        if self.running {
            return Effect::info("wait: exporting is still running");
        }
        match action {
            Action::Back => {
                return Effect::Many(vec![
                    Effect::Close,
                    Effect::info("cancelled; nothing was exported"),
                ])
            }
            Action::NextField if self.focus == 1 => {
                self.choices.clear();
                match self.out.complete_path(ctx.cwd) {
                    Completion::Nothing => self.focus = 2,
                    Completion::Completed => self.out_edited = true,
                    Completion::Choices(c) => self.choices = c,
                }
            }
            Action::NextField | Action::Down => self.focus = (self.focus + 1) % Self::FIELDS,
            Action::PrevField | Action::Up => {
                self.focus = (self.focus + Self::FIELDS - 1) % Self::FIELDS
            }
            Action::Left if self.focus == 0 => {
                self.format = (self.format + n - 1) % n;
                self.default_out();
            }
            Action::Right if self.focus == 0 => {
                self.format = (self.format + 1) % n;
                self.default_out();
            }
            Action::Erase if self.focus == 2 && self.recipient.is_empty() => {
                self.recipients.pop();
                self.default_out();
            }
            Action::Enter if self.focus == 2 && !self.recipient.text().trim().is_empty() => {
                self.recipients
                    .push(self.recipient.text().trim().to_owned());
                self.recipient.clear();
            }
            Action::Enter => return self.start(ctx),
            other if self.focus == 1 && self.out.edit(other) => {
                self.out_edited = true;
                self.choices.clear();
            }
            other if self.focus == 2 && self.recipient.edit(other) => self.default_out(),
            _ => {}
        }
        Effect::None
    }

    fn on_outcome(&mut self, outcome: Outcome, _ctx: &Ctx) -> Result<Effect, Box<Outcome>> {
        match outcome {
            Outcome::Export(Ok(report)) => Ok(Effect::Many(vec![
                Effect::Close,
                export_outcome(Ok(report)),
            ])),
            Outcome::Export(Err(e)) => {
                self.running = false;
                self.problem = Some(words::say(&e));
                Ok(Effect::error_line(format!("error: {}", words::say(&e))))
            }
            other => Err(Box::new(other)),
        }
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let w = inner_width(area);
        let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
        let mut lines = text_lines(
            &format!(
                "The current intermediate of cluster {}, in the form its software loads.",
                self.cluster
            ),
            w,
            t.text(),
        );
        lines.extend([
            Line::raw(""),
            picker("format", &names, self.format, self.focus == 0, t),
            field_line("write to", &self.out, self.focus == 1, t),
            Line::styled(
                format!("{:<17}relative to {}; Tab completes", "", ctx.cwd.display()),
                t.dim(),
            ),
            field_line("age recipient", &self.recipient, self.focus == 2, t),
        ]);
        for r in &self.recipients {
            for piece in wrap(r, (w as usize).saturating_sub(17)) {
                lines.push(Line::raw(format!("{:<17}{piece}", "")));
            }
        }
        if !self.choices.is_empty() {
            lines.extend(text_lines(&self.choices.join("  "), w, t.dim()));
        }
        lines.push(Line::raw(""));
        if let Some(p) = &self.problem {
            lines.extend(text_lines(p, w, t.error()));
        } else if self.running {
            lines.push(Line::styled("Exporting…", t.dim()));
        }
        lines.extend(text_lines(
            if self.recipients.is_empty() && self.recipient.is_empty() {
                "No recipients: written unencrypted (it holds no key). Enter on a recipient adds it; Enter elsewhere exports."
            } else {
                "Encrypted with age to the recipients. Enter on a recipient adds it; Enter elsewhere exports."
            },
            w,
            t.dim(),
        ));
        boxed(format!("Export {}", self.cluster), lines, area, buf, t);
    }

    fn footer(&self) -> Vec<Key> {
        vec![
            ("Tab", "field"),
            ("←→", "format"),
            ("Enter", "add recipient / export"),
            ("Esc", "cancel"),
        ]
    }

    fn takes_text(&self) -> bool {
        self.focus != 0
    }

    fn error_text(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    fn flow(&self) -> Option<&'static str> {
        Some("an export")
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
