//! Root generations from the Overview (docs/rotation.md): rotate (`r`), retire (`x`) and
//! destroy a retired key (`D`) on the selected generation, a key and its request for an
//! enterprise root (`c`), and the import of its certificate (`i`). Each form parses what is
//! typed as the command line parses its flags; what would refuse the step is asked of
//! ceremony before anything opens (`rotate_confirmation`, `retire_confirmation`, …, which
//! touch nothing), and the step runs through the witnesses' dialog (while M > 0) and then
//! ceremony's own confirmation.

use std::any::Any;
use std::path::PathBuf;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;

use crate::ceremony::{self, Auth, ImportRequest, Output, WitnessSigs, WitnessedAction};
use crate::keys::KeyType;
use crate::x509::Dn;

use super::super::field::{Completion, TextField};
use super::super::job::{Job, Outcome};
use super::super::keys::{Action, Screen};
use super::super::view::{Ctx, Effect, Key, Modal};
use super::super::widgets::{boxed, field_line, inner_width, picker, text_lines};
use super::super::words;
use super::message::Details;
use super::witness::{self, TrustChange};

/// Where the operator reads each value they type a prefix of.
const ROTATE_SOURCE: &str =
    "Read the active root certificate's SHA-256 from the record of its ceremony (not from this screen).";
const RETIRE_SOURCE: &str =
    "Read the retiring root certificate's SHA-256 from the record of its ceremony (not from this screen).";
const DESTROY_SOURCE: &str =
    "Read the retired key's SPKI SHA-256 from the record of its ceremony (not from this screen).";
const CSR_SOURCE: &str = "Take the request's SHA-256 from the ceremony script: printf 'subject=%s\\nkey-type=%s\\ntoken-serial=%s\\n' … | sha256sum.";
const IMPORT_SOURCE: &str = "Have the enterprise CA's operator read out the certificate's SHA-256 (openssl x509 -noout -fingerprint -sha256).";

/// The next generation's number, as the vault was last read.
fn next_generation(ctx: &Ctx) -> u32 {
    ctx.data
        .generations()
        .iter()
        .map(|g| g.generation)
        .max()
        .unwrap_or(0)
        + 1
}

fn session_ctx<'a>(
    vault: &'a crate::vault::Vault,
    session: &'a ceremony::Unlocked,
    operator: &'a ceremony::Operator,
) -> ceremony::Ctx<'a> {
    ceremony::Ctx {
        vault,
        auth: Auth::Unlocked(session),
        operator,
    }
}

fn key_type_index(k: KeyType) -> usize {
    KeyType::ALL.iter().position(|t| *t == k).unwrap_or(0)
}

/// The path typed, relative to the directory the TUI was started in.
fn resolve(text: &str, ctx: &Ctx) -> PathBuf {
    let p = PathBuf::from(text.trim());
    if p.is_absolute() {
        p
    } else {
        ctx.cwd.join(p)
    }
}

fn parse_subject(field: &TextField) -> Result<Dn, String> {
    Dn::parse(field.text().trim()).map_err(|e| format!("subject: {e}"))
}

fn parse_label(field: &TextField) -> Result<Option<String>, String> {
    match field.text().trim() {
        "" => Err("key label: must not be empty".to_owned()),
        l => Ok(Some(l.to_owned())),
    }
}

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

/// A failed step keeps its form open with what was typed; the reason is shown in it.
fn kept_open(problem: &mut Option<String>, e: &crate::Error) -> Effect {
    let said = words::say(e);
    *problem = Some(said.clone());
    if matches!(e, crate::Error::NotConfirmed(_)) {
        Effect::info(said)
    } else {
        Effect::error_line(format!("error: {said}"))
    }
}

// ---- retire, destroy-key -----------------------------------------------------------------

/// `x` on generation `generation`: refused at once if ceremony would refuse it (a generation
/// that is not trusted, one with a valid intermediate), else retired after the witnesses and
/// the confirmation.
pub(crate) fn retire(generation: u32, ctx: &Ctx) -> Effect {
    if let Err(e) = ceremony::retire_confirmation(ctx.vault, generation) {
        return Effect::failed("Not retired", &e);
    }
    if !ctx.unlocked() {
        return Effect::locked();
    }
    let operator = ctx.operator.clone();
    witness::run(
        ctx,
        TrustChange::new(
            "retire the root",
            move |vault, operator| {
                ceremony::statement(vault, operator, &WitnessedAction::RootRetire(generation))
            },
            move |sigs| {
                Job::with_session(
                    "retiring the root",
                    Screen::Overview,
                    move |vault, session, progress| {
                        let mut confirm = progress.asker(RETIRE_SOURCE, Vec::new(), Vec::new());
                        let ctx = session_ctx(vault, session, &operator);
                        Outcome::Retire(
                            generation,
                            ceremony::retire_root_witnessed(&ctx, generation, &sigs, &mut confirm),
                        )
                    },
                )
            },
        ),
    )
}

/// `D` on generation `generation`: its key destroyed on the token, if it is retired.
pub(crate) fn destroy_key(generation: u32, ctx: &Ctx) -> Effect {
    if let Err(e) = ceremony::destroy_key_confirmation(ctx.vault, generation) {
        return Effect::failed("No key destroyed", &e);
    }
    if !ctx.unlocked() {
        return Effect::locked();
    }
    let operator = ctx.operator.clone();
    witness::run(
        ctx,
        TrustChange::new(
            "destroy the retired root's key",
            move |vault, operator| {
                ceremony::statement(
                    vault,
                    operator,
                    &WitnessedAction::RootDestroyKey(generation),
                )
            },
            move |sigs| {
                Job::with_session(
                    "destroying the key",
                    Screen::Overview,
                    move |vault, session, progress| {
                        let mut confirm = progress.asker(DESTROY_SOURCE, Vec::new(), Vec::new());
                        let ctx = session_ctx(vault, session, &operator);
                        Outcome::DestroyKey(
                            generation,
                            ceremony::destroy_root_key_witnessed(
                                &ctx,
                                generation,
                                &sigs,
                                &mut confirm,
                            ),
                        )
                    },
                )
            },
        ),
    )
}

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
