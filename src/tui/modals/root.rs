//! The root creation form (`root create`): subject, key type, days, path length, key label.

use std::any::Any;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;

use crate::ceremony::{self, Auth, WitnessedAction};
use crate::keys::KeyType;
use crate::x509::Dn;

use super::super::field::TextField;
use super::super::job::{Job, Outcome};
use super::super::keys::{Action, Screen};
use super::super::view::{Ctx, Effect, Key, Modal};
use super::super::widgets::{boxed, field_line, inner_width, picker, text_lines};
use super::super::words;
use super::witness::{self, TrustChange};

/// The root creation form.
pub(crate) struct RootForm {
    subject: TextField,
    key_type: usize,
    days: TextField,
    path_len: TextField,
    key_label: TextField,
    /// 0 subject, 1 key type, 2 days, 3 path length, 4 key label.
    focus: usize,
    problem: Option<String>,
    /// The creation job is running (the form waits for its outcome).
    running: bool,
}

impl RootForm {
    const FIELDS: usize = 5;

    pub fn new() -> RootForm {
        RootForm {
            subject: TextField::default(),
            key_type: KeyType::ALL
                .iter()
                .position(|k| *k == KeyType::EcdsaP384)
                .unwrap_or(0),
            days: TextField::new(&ceremony::DEFAULT_ROOT_DAYS.to_string()),
            path_len: TextField::default(),
            key_label: TextField::new(ceremony::DEFAULT_ROOT_LABEL),
            focus: 0,
            problem: None,
            running: false,
        }
    }

    /// The form's values as the request, parsed as the command line parses its flags.
    fn request(&self) -> Result<ceremony::RootRequest, String> {
        let subject = Dn::parse(self.subject.text().trim()).map_err(|e| format!("subject: {e}"))?;
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
        let key_label = self.key_label.text().trim().to_owned();
        if key_label.is_empty() {
            return Err("key label: must not be empty".to_owned());
        }
        Ok(ceremony::RootRequest {
            subject,
            key_type: KeyType::ALL[self.key_type],
            days,
            path_len,
            key_label,
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
}

/// Generates the root key and self-signs the root on a worker, with the session, after the
/// one confirmation: ceremony asks for the request's SHA-256 from the ceremony script.
fn start_create_root(req: ceremony::RootRequest, ctx: &Ctx) -> Effect {
    let operator = ctx.operator.clone();
    let label = if req.key_type.name().starts_with("rsa") {
        "generating the root key (RSA takes a while)"
    } else {
        "generating the root key"
    };
    let for_statement = req.clone();
    witness::run(
        ctx,
        TrustChange::new(
            "create the root",
            move |vault, operator| {
                ceremony::statement(
                    vault,
                    operator,
                    &WitnessedAction::CreateRoot(&for_statement),
                )
            },
            move |sigs| {
                Job::with_session(label, Screen::Overview, move |vault, session, progress| {
                    let mut confirm = progress.asker(
                        "Take the request's SHA-256 from the ceremony script: printf 'subject=%s\\nkey-type=%s\\ndays=%s\\npath-len=%s\\ntoken-serial=%s\\n' … | sha256sum.",
                        Vec::new(),
                        vec!["The key is generated on the token and never leaves it; the root certificate it self-signs is generation 1, the vault's first root.".to_owned()],
                    );
                    let ctx = ceremony::Ctx {
                        vault,
                        auth: Auth::Unlocked(session),
                        operator: &operator,
                    };
                    Outcome::CreateRoot(ceremony::create_root_confirmed_witnessed(
                        &ctx,
                        &req,
                        &sigs,
                        &mut confirm,
                    ))
                })
            },
        ),
    )
}

impl Modal for RootForm {
    fn handle(&mut self, action: Action, ctx: &Ctx) -> Effect {
        let n = KeyType::ALL.len();
        if self.running {
            return Effect::info("wait: the root is being created");
        }
        match action {
            Action::Back => {
                return Effect::Many(vec![
                    Effect::Close,
                    Effect::info("cancelled; no root was created"),
                ])
            }
            Action::NextField | Action::Down => self.focus = (self.focus + 1) % Self::FIELDS,
            Action::PrevField | Action::Up => {
                self.focus = (self.focus + Self::FIELDS - 1) % Self::FIELDS
            }
            Action::Left if self.focus == 1 => self.key_type = (self.key_type + n - 1) % n,
            Action::Right if self.focus == 1 => self.key_type = (self.key_type + 1) % n,
            Action::Enter => match self.request() {
                Ok(req) => {
                    if let Some(job) = ctx.job {
                        return Effect::info(format!("wait: {} is still running", job.label));
                    }
                    self.problem = None;
                    // With witnesses, their dialog comes first and may be cancelled.
                    self.running = ctx.data.witnesses_required() == 0;
                    return start_create_root(req, ctx);
                }
                Err(problem) => self.problem = Some(problem),
            },
            other => {
                if let Some(f) = self.field_mut() {
                    f.edit(other);
                }
            }
        }
        Effect::None
    }

    fn on_outcome(&mut self, outcome: Outcome, _ctx: &Ctx) -> Result<Effect, Box<Outcome>> {
        let Outcome::CreateRoot(r) = outcome else {
            return Err(Box::new(outcome));
        };
        self.running = false;
        Ok(match r {
            Ok(_) => Effect::Many(vec![
                Effect::Close,
                Effect::success("root created; its key stays on the token"),
            ]),
            Err(e) => {
                // Kept open with everything typed, to correct and try again.
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
        let names: Vec<&str> = KeyType::ALL.iter().map(|k| k.name()).collect();
        let mut lines = vec![
            Line::raw("Generate the root key on the token and self-sign the root."),
            Line::styled(
                "Enter shows what will be made; nothing happens before you confirm it.",
                t.dim(),
            ),
            Line::raw(""),
            field_line("subject", &self.subject, self.focus == 0, t),
            Line::styled(
                format!("{:<17}e.g. CN=Example Root CA,O=Example,C=GB", ""),
                t.dim(),
            ),
            picker("key type", &names, self.key_type, self.focus == 1, t),
            field_line("days", &self.days, self.focus == 2, t),
            field_line("path length", &self.path_len, self.focus == 3, t),
            field_line("key label", &self.key_label, self.focus == 4, t),
        ];
        if let Some(p) = &self.problem {
            lines.push(Line::raw(""));
            lines.extend(text_lines(p, inner_width(area), t.error()));
        }
        boxed("Create the root".into(), lines, area, buf, t);
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
        Some("creating the root")
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
