//! `sign --generate-key`, opened from the inbox with `n`: for a cluster that cannot make a
//! CSR. The operator fills in cluster, key type, days, format, output path and the age
//! recipients; Enter shows what will happen and the SHA-256 of the recipients (one per line,
//! sorted, as `ceremony::recipients_fingerprint` computes it from the recipients as
//! `export::Recipients` describes them); the typed prefix goes to `ceremony::sign_generated`
//! with the unlocked session, which decides whether it matches, generates the key in memory,
//! has the token sign, and writes key and chain only age-encrypted. Every rule and message is
//! ceremony's: the form only parses its fields with the command line's parsers.

use std::any::Any;
use std::path::PathBuf;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::ceremony::{self, Auth, ExportReport, WitnessedAction};
use crate::export::Format;
use crate::keys::KeyAlg;
use crate::policy::ClusterName;
use crate::recipients::Recipients;

use super::super::field::{Completion, TextField};
use super::super::job::{Job, Outcome};
use super::super::keys::{Action, Screen};
use super::super::view::{Ctx, Effect, Key, Modal};
use super::super::widgets::{
    boxed, field_line, group_hex, inner_width, kv_lines, picker, text_lines, wrap,
};
use super::super::words;
use super::export::default_export_name;
use super::witness::{self, TrustChange};

/// The key types offered, as `--key-type` names them (parsed with the same parser).
pub(crate) const KEY_TYPES: [&str; 5] = [
    "ecdsa-p256",
    "ecdsa-p384",
    "rsa-2048",
    "rsa-3072",
    "rsa-4096",
];

/// What the operator asked for, parsed as the CLI's `sign --generate-key` flags parse
/// (recipients as `export::Recipients` describes them, which is what ceremony fingerprints
/// and records), and the SHA-256 the confirmation is a prefix of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GenerateSpec {
    pub request: ceremony::GenerateRequest,
    /// `ceremony::recipients_fingerprint` of the request's recipients.
    pub fingerprint: String,
}

/// The form: cluster, key type, days, format, output path, age recipients.
#[derive(Debug, Clone)]
pub(crate) struct GenerateForm {
    pub cluster: TextField,
    pub key_type: usize,
    pub days: TextField,
    pub format: usize,
    pub out: TextField,
    /// The operator typed in the output field: no more following cluster and format.
    pub out_edited: bool,
    /// The recipient being typed.
    pub recipient: TextField,
    /// Recipients added (Enter on the recipient field).
    pub recipients: Vec<String>,
    /// 0 cluster, 1 key type, 2 days, 3 format, 4 write to, 5 age recipient.
    pub focus: usize,
    pub problem: Option<String>,
    /// Names that complete the path typed, when Tab found several.
    choices: Vec<String>,
    /// The generate job is running (the form waits for its outcome).
    running: bool,
}

impl GenerateForm {
    pub const FIELDS: usize = 6;
    /// The fields chosen with ←→ rather than typed.
    const PICKERS: [usize; 2] = [1, 3];

    pub fn new() -> GenerateForm {
        GenerateForm {
            cluster: TextField::default(),
            key_type: 0,
            days: TextField::default(),
            // The command line's default.
            format: Format::ALL
                .iter()
                .position(|f| *f == Format::IstioSecret)
                .unwrap_or(0),
            out: TextField::default(),
            out_edited: false,
            recipient: TextField::default(),
            recipients: Vec::new(),
            focus: 0,
            problem: None,
            choices: Vec::new(),
            running: false,
        }
    }

    /// Whether the focused field takes typed text.
    fn text_focus(&self) -> bool {
        !Self::PICKERS.contains(&self.focus)
    }

    pub fn format(&self) -> Format {
        Format::ALL[self.format]
    }

    /// The suggested output (encrypted, relative to the current directory), following the
    /// cluster and the format until the operator edits it.
    fn default_out(&mut self) {
        if self.out_edited {
            return;
        }
        let cluster = self.cluster.text().trim();
        let out = if cluster.is_empty() {
            String::new()
        } else {
            default_export_name(cluster, self.format(), true)
        };
        self.out.set(&out);
    }

    /// Every recipient given: those added, and the one in the field.
    fn all_recipients(&self) -> Vec<String> {
        let mut all = self.recipients.clone();
        if !self.recipient.text().trim().is_empty() {
            all.push(self.recipient.text().trim().to_owned());
        }
        all
    }

    /// The form's values, parsed as the command line parses its flags. Recipients that do
    /// not parse are refused in `export::Recipients`' words (what `sign --generate-key`
    /// prints for them).
    pub fn spec(&self) -> Result<GenerateSpec, String> {
        let cluster = self
            .cluster
            .text()
            .trim()
            .parse::<ClusterName>()
            .map_err(|e| format!("cluster: {e}"))?;
        let key = KEY_TYPES[self.key_type]
            .parse::<KeyAlg>()
            .map_err(|e| format!("key type: {e}"))?;
        let days = match self.days.text().trim() {
            "" => None,
            d => Some(
                d.parse::<u32>()
                    .map_err(|_| format!("days: {d:?} is not a whole number of days"))?,
            ),
        };
        let out = self.out.text().trim();
        if out.is_empty() {
            return Err("write to: type the path for the encrypted key and chain".to_owned());
        }
        let recipients = Recipients::parse(&self.all_recipients())
            .map_err(|e| crate::Error::from(e).to_string())?;
        let fingerprint = ceremony::recipients_fingerprint(recipients.given());
        Ok(GenerateSpec {
            request: ceremony::GenerateRequest {
                cluster,
                key,
                days,
                format: self.format(),
                out: PathBuf::from(out),
                recipients,
                force: false,
            },
            fingerprint,
        })
    }
}

impl GenerateForm {
    fn field_mut(&mut self) -> &mut TextField {
        match self.focus {
            0 => &mut self.cluster,
            2 => &mut self.days,
            4 => {
                self.out_edited = true;
                &mut self.out
            }
            _ => &mut self.recipient,
        }
    }
}

impl Modal for GenerateForm {
    fn handle(&mut self, action: Action, ctx: &Ctx) -> Effect {
        let n = GenerateForm::FIELDS;
        if self.running {
            return Effect::info("wait: the key is being generated and signed");
        }
        match action {
            Action::Back => {
                return Effect::Many(vec![
                    Effect::Close,
                    Effect::info("cancelled; nothing was generated or signed"),
                ])
            }
            Action::NextField if self.focus == 4 => {
                self.choices.clear();
                match self.out.complete_path(ctx.cwd) {
                    Completion::Nothing => self.focus = 5,
                    Completion::Completed => self.out_edited = true,
                    Completion::Choices(c) => self.choices = c,
                }
            }
            Action::NextField | Action::Down => self.focus = (self.focus + 1) % n,
            Action::PrevField | Action::Up => self.focus = (self.focus + n - 1) % n,
            Action::Left | Action::Right if self.focus == 1 => {
                let k = KEY_TYPES.len();
                let step = if action == Action::Left { k - 1 } else { 1 };
                self.key_type = (self.key_type + step) % k;
            }
            Action::Left | Action::Right if self.focus == 3 => {
                let k = Format::ALL.len();
                let step = if action == Action::Left { k - 1 } else { 1 };
                self.format = (self.format + step) % k;
                self.default_out();
            }
            Action::Erase if self.focus == 5 && self.recipient.is_empty() => {
                self.recipients.pop();
            }
            Action::Enter if self.focus == 5 && !self.recipient.text().trim().is_empty() => {
                self.recipients
                    .push(self.recipient.text().trim().to_owned());
                self.recipient.clear();
            }
            Action::Enter => match self.spec() {
                Ok(spec) => {
                    if !ctx.unlocked() {
                        return Effect::locked();
                    }
                    if let Some(job) = ctx.job {
                        return Effect::info(format!("wait: {} is still running", job.label));
                    }
                    self.problem = None;
                    self.running = true;
                    return start_generate(spec, ctx);
                }
                Err(problem) => {
                    self.problem = Some(problem.clone());
                    return Effect::error_line(format!("error: {problem}"));
                }
            },
            other if self.text_focus() && self.field_mut().edit(other) => {
                self.choices.clear();
                self.default_out();
            }
            _ => {}
        }
        Effect::None
    }

    fn on_outcome(&mut self, outcome: Outcome, _ctx: &Ctx) -> Result<Effect, Box<Outcome>> {
        let Outcome::Generate(spec, r) = outcome else {
            return Err(Box::new(outcome));
        };
        self.running = false;
        Ok(match r {
            Ok(report) => Effect::Many(vec![success(&spec, &report), generated(spec, report)]),
            Err(e) => {
                // Kept open with everything typed: the problem in place of the hint.
                let said = words::say(&e);
                self.problem = Some(said.clone());
                if matches!(e, crate::Error::NotConfirmed(_)) {
                    Effect::info(said)
                } else {
                    Effect::error_line(format!("error: {said}"))
                }
            }
        })
    }

    fn error_text(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let inner_w = inner_width(area);
        let formats: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
        let mut lines = text_lines(
            "For a cluster without a CSR: the vault generates the key in memory, the token signs, and key and chain are written only age-encrypted.",
            inner_w,
            t.text(),
        );
        lines.extend([
            Line::raw(""),
            field_line("cluster", &self.cluster, self.focus == 0, t),
            picker("key type", &KEY_TYPES, self.key_type, self.focus == 1, t),
            field_line("days", &self.days, self.focus == 2, t),
            Line::styled(format!("{:<17}empty: the policy's default", ""), t.dim()),
            picker("format", &formats, self.format, self.focus == 3, t),
            field_line("write to", &self.out, self.focus == 4, t),
        ]);
        if !std::path::Path::new(self.out.text().trim()).is_absolute() {
            lines.push(Line::styled(
                format!("{:<17}relative to {}; Tab completes", "", ctx.cwd.display()),
                t.dim(),
            ));
        }
        lines.push(field_line(
            "age recipient",
            &self.recipient,
            self.focus == 5,
            t,
        ));
        for r in &self.recipients {
            for piece in wrap(r, (inner_w as usize).saturating_sub(17)) {
                lines.push(Line::raw(format!("{:<17}{piece}", "")));
            }
        }
        if !self.choices.is_empty() {
            lines.extend(text_lines(&self.choices.join("  "), inner_w, t.dim()));
        }
        lines.push(Line::raw(""));
        // The problem, in its words, in place of the hint.
        match &self.problem {
            Some(p) => lines.extend(text_lines(p, inner_w, t.error())),
            None if self.running => lines.push(Line::styled(
                "Generating the key in memory; the confirmation follows.",
                t.dim(),
            )),
            None => lines.extend(text_lines(
                "age1… or an SSH public key line. Enter on a recipient adds it, Backspace on an empty field removes the last; Enter elsewhere shows what to confirm.",
                inner_w,
                t.dim(),
            )),
        }
        boxed("Generate a key and sign".into(), lines, area, buf, t);
    }

    fn footer(&self) -> Vec<Key> {
        vec![
            ("Tab", "field"),
            ("←→", "pick"),
            ("Enter", "add recipient / review"),
            ("Esc", "cancel"),
        ]
    }

    fn takes_text(&self) -> bool {
        self.text_focus()
    }

    fn flow(&self) -> Option<&'static str> {
        Some("generating a key for a cluster")
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Generates, signs and writes on a worker with the unlocked session; ceremony asks for the
/// recipients' SHA-256 through the dialog, after the key exists in memory only.
fn start_generate(spec: GenerateSpec, ctx: &Ctx) -> Effect {
    let operator = ctx.operator.clone();
    let label = match spec.request.key {
        KeyAlg::Rsa { .. } => "generating the key and signing (RSA takes a while)",
        _ => "generating the key and signing",
    };
    let extra = vec![
        ("format".to_owned(), spec.request.format.name().to_owned()),
        (
            "write to".to_owned(),
            format!(
                "{} (age-encrypted, never over a file)",
                spec.request.out.display()
            ),
        ),
    ];
    let for_statement = spec.request.clone();
    witness::run(
        ctx,
        TrustChange::new(
            "generate a key and sign",
            move |vault, operator| {
                ceremony::statement(
                    vault,
                    operator,
                    &WitnessedAction::SignGenerated(&for_statement),
                )
            },
            move |sigs| {
                Job::with_session(label, Screen::Inbox, move |vault, session, progress| {
                    let mut confirm = progress.asker(
                        "Check it with the cluster team: printf '%s\\n' RECIPIENTS | sort | sha256sum.",
                        extra,
                        Vec::new(),
                    );
                    let ctx = ceremony::Ctx {
                        vault,
                        auth: Auth::Unlocked(session),
                        operator: &operator,
                    };
                    let r = ceremony::sign_generated_witnessed(
                        &ctx,
                        &spec.request,
                        &sigs,
                        &mut confirm,
                    );
                    Outcome::Generate(Box::new(spec), r)
                })
            },
        ),
    )
}

/// What a generate job's outcome shows when its form is gone.
pub(crate) fn outcome(spec: Box<GenerateSpec>, r: crate::error::Result<ExportReport>) -> Effect {
    match r {
        Ok(report) => Effect::Many(vec![success(&spec, &report), generated(spec, report)]),
        Err(e) => Effect::failed("Not signed", &e),
    }
}

/// The command line's words.
fn success(spec: &GenerateSpec, report: &ExportReport) -> Effect {
    Effect::success(format!(
        "signed: cluster {} serial {}; key and chain written encrypted to {}",
        spec.request.cluster,
        report.certificate.serial,
        report.path.display()
    ))
}

fn generated(spec: Box<GenerateSpec>, report: ExportReport) -> Effect {
    Effect::replace(Generated {
        spec,
        report: Box::new(report),
    })
}

/// A generated key was signed and written encrypted.
pub(crate) struct Generated {
    spec: Box<GenerateSpec>,
    report: Box<ExportReport>,
}

impl Modal for Generated {
    fn handle(&mut self, action: Action, _ctx: &Ctx) -> Effect {
        match action {
            Action::Enter | Action::Back => Effect::Close,
            _ => Effect::None,
        }
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let inner_w = inner_width(area);
        let mut lines = text_lines(
            "The token signed the generated key's certificate; it is in the ledger. The key is only in the encrypted file: send it to the cluster team.",
            inner_w,
            t.ok(),
        );
        lines.push(Line::raw(""));
        lines.extend(kv_lines(
            &result_pairs(&self.spec, &self.report),
            inner_w,
            t,
        ));
        lines.push(Line::raw(""));
        lines.push(Line::from(vec![
            Span::styled("Enter", t.key()),
            Span::raw(" closes."),
        ]));
        boxed("Generated and signed".into(), lines, area, buf, t);
    }

    fn footer(&self) -> Vec<Key> {
        vec![("Enter", "close")]
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The lines of the result.
pub(crate) fn result_pairs(spec: &GenerateSpec, report: &ExportReport) -> Vec<(String, String)> {
    let c = &report.certificate;
    let mut pairs = vec![
        ("cluster".to_owned(), spec.request.cluster.to_string()),
        ("serial".to_owned(), c.serial.clone()),
        ("SHA-256".to_owned(), group_hex(&c.sha256)),
        ("key type".to_owned(), spec.request.key.name()),
        ("not after".to_owned(), c.not_after.clone()),
        ("format".to_owned(), report.format.clone()),
        ("written to".to_owned(), report.path.display().to_string()),
    ];
    for r in &report.recipients {
        pairs.push(("age recipient".to_owned(), r.clone()));
    }
    pairs
}
