//! `sign --generate-key`, opened from the inbox with `n`: for a cluster that cannot make a
//! CSR. The operator fills in cluster, key type, days, format, output path and the age
//! recipients; Enter shows what will happen and the SHA-256 of the recipients (one per line,
//! sorted, as `ceremony::recipients_fingerprint` computes it from the recipients as
//! `export::Recipients` describes them); the typed prefix goes to `ceremony::sign_generated`
//! with the unlocked session, which decides whether it matches, generates the key in memory,
//! has the token sign, and writes key and chain only age-encrypted. Every rule and message is
//! ceremony's: the form only parses its fields with the command line's parsers.

use std::path::PathBuf;

use crate::ceremony::{self, Answer, Auth, ExportReport, Scripted};
use crate::export::Format;
use crate::keys::KeyAlg;
use crate::policy::ClusterName;
use crate::recipients::Recipients;

use super::super::app::{default_export_name, Action, App, Message, MessageKind, Modal};
use super::super::ui::group_hex;
use super::super::worker::Outcome;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GenerateForm {
    pub cluster: String,
    pub key_type: usize,
    pub days: String,
    pub format: usize,
    pub out: String,
    /// The operator typed in the output field: no more following cluster and format.
    pub out_edited: bool,
    /// The recipient being typed.
    pub recipient: String,
    /// Recipients added (Enter on the recipient field).
    pub recipients: Vec<String>,
    /// 0 cluster, 1 key type, 2 days, 3 format, 4 write to, 5 age recipient.
    pub focus: usize,
    pub problem: Option<String>,
}

impl GenerateForm {
    pub const FIELDS: usize = 6;
    /// The fields chosen with ←→ rather than typed.
    const PICKERS: [usize; 2] = [1, 3];

    pub fn new() -> GenerateForm {
        GenerateForm {
            cluster: String::new(),
            key_type: 0,
            days: String::new(),
            // The command line's default.
            format: Format::ALL
                .iter()
                .position(|f| *f == Format::IstioSecret)
                .unwrap_or(0),
            out: String::new(),
            out_edited: false,
            recipient: String::new(),
            recipients: Vec::new(),
            focus: 0,
            problem: None,
        }
    }

    /// Whether the focused field takes typed text.
    pub fn takes_text(&self) -> bool {
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
        let cluster = self.cluster.trim();
        self.out = if cluster.is_empty() {
            String::new()
        } else {
            default_export_name(cluster, self.format(), true)
        };
    }

    /// Every recipient given: those added, and the one in the field.
    fn all_recipients(&self) -> Vec<String> {
        let mut all = self.recipients.clone();
        if !self.recipient.trim().is_empty() {
            all.push(self.recipient.trim().to_owned());
        }
        all
    }

    /// The form's values, parsed as the command line parses its flags. Recipients that do
    /// not parse are refused in `export::Recipients`' words (what `sign --generate-key`
    /// prints for them).
    pub fn spec(&self) -> Result<GenerateSpec, String> {
        let cluster = self
            .cluster
            .trim()
            .parse::<ClusterName>()
            .map_err(|e| format!("cluster: {e}"))?;
        let key = KEY_TYPES[self.key_type]
            .parse::<KeyAlg>()
            .map_err(|e| format!("key type: {e}"))?;
        let days = match self.days.trim() {
            "" => None,
            d => Some(
                d.parse::<u32>()
                    .map_err(|_| format!("days: {d:?} is not a whole number of days"))?,
            ),
        };
        let out = self.out.trim();
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

impl App {
    /// `n` on the inbox: the form, if the token is unlocked.
    pub(crate) fn open_generate_form(&mut self) {
        if !self.is_unlocked() {
            self.locked_refusal();
            return;
        }
        self.modal = Some(Modal::GenerateForm(GenerateForm::new()));
    }

    pub(crate) fn generate_form_action(
        &mut self,
        mut f: GenerateForm,
        action: Action,
    ) -> Option<Modal> {
        let n = GenerateForm::FIELDS;
        match action {
            Action::Back => {
                self.info("cancelled; nothing was generated or signed".to_owned());
                return None;
            }
            Action::NextField | Action::Down => f.focus = (f.focus + 1) % n,
            Action::PrevField | Action::Up => f.focus = (f.focus + n - 1) % n,
            Action::Left | Action::Right if f.focus == 1 => {
                let k = KEY_TYPES.len();
                let step = if action == Action::Left { k - 1 } else { 1 };
                f.key_type = (f.key_type + step) % k;
            }
            Action::Left | Action::Right if f.focus == 3 => {
                let k = Format::ALL.len();
                let step = if action == Action::Left { k - 1 } else { 1 };
                f.format = (f.format + step) % k;
                f.default_out();
            }
            Action::Erase if f.focus == 5 && f.recipient.is_empty() => {
                f.recipients.pop();
            }
            Action::Type(_) | Action::Erase if f.takes_text() => {
                let field = match f.focus {
                    0 => &mut f.cluster,
                    2 => &mut f.days,
                    4 => {
                        f.out_edited = true;
                        &mut f.out
                    }
                    _ => &mut f.recipient,
                };
                if let Action::Type(c) = action {
                    field.push(c);
                } else {
                    field.pop();
                }
                f.default_out();
            }
            Action::Enter if f.focus == 5 && !f.recipient.trim().is_empty() => {
                f.recipients.push(f.recipient.trim().to_owned());
                f.recipient.clear();
            }
            Action::Enter => match f.spec() {
                Ok(spec) => {
                    if !self.is_unlocked() {
                        self.locked_refusal();
                    } else {
                        f.problem = None;
                        return Some(Modal::ConfirmGenerate {
                            spec: Box::new(spec),
                            typed: String::new(),
                        });
                    }
                }
                Err(problem) => {
                    self.message = Some(Message {
                        text: format!("error: {problem}"),
                        kind: MessageKind::Error,
                    });
                    f.problem = Some(problem);
                }
            },
            _ => {}
        }
        Some(Modal::GenerateForm(f))
    }

    pub(crate) fn confirm_generate_action(
        &mut self,
        spec: Box<GenerateSpec>,
        mut typed: String,
        action: Action,
    ) -> Option<Modal> {
        match action {
            Action::Type(c) => typed.push(c),
            Action::Erase => {
                typed.pop();
            }
            Action::Back => {
                self.info("not confirmed; nothing was generated or signed".to_owned());
                return None;
            }
            Action::Enter => {
                self.start_generate(*spec, typed);
                return None;
            }
            _ => {}
        }
        Some(Modal::ConfirmGenerate { spec, typed })
    }

    /// Generates, signs and writes on a worker with the unlocked session; `typed` goes to
    /// ceremony as the operator's answer, and ceremony decides whether it matches.
    fn start_generate(&mut self, spec: GenerateSpec, typed: String) {
        let operator = self.operator.clone();
        let label = match spec.request.key {
            KeyAlg::Rsa { .. } => "generating the key and signing (RSA takes a while)",
            _ => "generating the key and signing",
        };
        self.start(
            label,
            true,
            Box::new(move |vault, session, _| {
                let session = session.expect("the key is generated only with the session");
                // Exactly what the operator typed: ceremony decides whether it matches.
                let mut confirm = Scripted(Answer::Typed(typed));
                let r = ceremony::sign_generated(
                    &ceremony::Ctx {
                        vault,
                        auth: Auth::Unlocked(session),
                        operator: &operator,
                    },
                    &spec.request,
                    &mut confirm,
                );
                Outcome::Generate(Box::new(spec), r)
            }),
        );
    }

    pub(crate) fn on_generated(
        &mut self,
        spec: Box<GenerateSpec>,
        r: crate::error::Result<ExportReport>,
    ) {
        self.reload();
        match r {
            Ok(report) => {
                // The command line's words.
                self.success(format!(
                    "signed: cluster {} serial {}; key and chain written encrypted to {}",
                    spec.request.cluster,
                    report.certificate.serial,
                    report.path.display()
                ));
                self.modal = Some(Modal::Generated {
                    spec,
                    report: Box::new(report),
                });
            }
            Err(e) => self.show_error("Not signed", &e),
        }
    }
}

/// The days as the confirmation shows them.
fn days_text(days: Option<u32>) -> String {
    days.map(|d| d.to_string())
        .unwrap_or_else(|| "the policy's default".to_owned())
}

/// The lines of the confirmation modal: everything the operator confirms.
pub(crate) fn confirm_pairs(spec: &GenerateSpec) -> Vec<(String, String)> {
    let mut pairs = vec![
        ("cluster".to_owned(), spec.request.cluster.to_string()),
        ("key type".to_owned(), spec.request.key.name()),
        ("days".to_owned(), days_text(spec.request.days)),
        ("format".to_owned(), spec.request.format.name().to_owned()),
        (
            "write to".to_owned(),
            spec.request.out.display().to_string(),
        ),
    ];
    for r in spec.request.recipients.given() {
        pairs.push(("age recipient".to_owned(), r.clone()));
    }
    pairs.push((
        "recipients SHA-256".to_owned(),
        group_hex(&spec.fingerprint),
    ));
    pairs
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
