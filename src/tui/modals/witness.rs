//! Witnesses for a trust-changing action (docs/witnesses.md), the TUI's two steps of the
//! command line's `--statement-out` and `--witness-sig`: while the vault requires M > 0
//! witnesses, every action that changes trust (signing, a batch, a generated key, revoking,
//! each root step) opens this dialog before its job.
//!
//! 1. The statement is built on a thread of the dialog's own (`ceremony::statement`: the
//!    action's checks, nothing touched), then written where the operator says
//!    (`ceremony::write_prepared_statement`: a file, or a removable medium).
//! 2. The operator names the directory where the witnesses' `.sig` files appear; a watcher
//!    thread judges it (`ceremony::check_signature_dir`) twice a second and the dialog shows
//!    M-of-N progress and every file that does not count, with its reason. The screen never
//!    waits for the directory.
//! 3. Once M distinct witnesses signed, Enter starts the action's job with those files
//!    (`*_witnessed`), which checks them again and then asks the one confirmation.

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::ceremony::{self, Operator, Output, Progress, StatementReport, WitnessSigs};
use crate::error::Result;
use crate::vault::Vault;
use crate::witness::Statement;

use super::super::field::{Completion, TextField};
use super::super::job::Job;
use super::super::keys::Action;
use super::super::view::{Ctx, Effect, Key, Modal};
use super::super::widgets::{boxed_pinned, field_line, group_hex, inner_width, text_lines};
use super::super::words;

/// How often the watcher looks at the signature directory.
const WATCH_EVERY: Duration = Duration::from_millis(300);

type StatementWork = Box<dyn FnOnce(&Vault, &Operator) -> Result<Statement> + Send>;
type ActionJob = Box<dyn FnOnce(WitnessSigs) -> Job + Send>;

/// A trust-changing action as a screen or form hands it over: how to build its statement,
/// and the job that runs it with the witnesses' signatures (none while M = 0).
pub(crate) struct TrustChange {
    /// The action, as the dialog's title names it ("sign the request").
    pub what: &'static str,
    /// Builds its statement (the action's own checks first); run on a thread.
    pub statement: StatementWork,
    /// The action's job, given the signatures.
    pub job: ActionJob,
}

impl TrustChange {
    pub fn new(
        what: &'static str,
        statement: impl FnOnce(&Vault, &Operator) -> Result<Statement> + Send + 'static,
        job: impl FnOnce(WitnessSigs) -> Job + Send + 'static,
    ) -> TrustChange {
        TrustChange {
            what,
            statement: Box::new(statement),
            job: Box::new(job),
        }
    }
}

/// Runs `change`: at once while the vault requires no witness, else after the witnesses'
/// dialog.
pub(crate) fn run(ctx: &Ctx, change: TrustChange) -> Effect {
    if ctx.data.witnesses_required() == 0 {
        return Effect::Run((change.job)(WitnessSigs::none()));
    }
    Effect::open(WitnessGate::new(change, ctx))
}

/// What a thread of the dialog's own sends back; dropping it tells the thread to stop.
struct Worker<T> {
    rx: Receiver<T>,
    stop: Arc<AtomicBool>,
}

impl<T: Send + 'static> Worker<T> {
    fn spawn(
        name: &str,
        work: impl FnOnce(mpsc::Sender<T>, Arc<AtomicBool>) + Send + 'static,
    ) -> Worker<T> {
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        std::thread::Builder::new()
            .name(format!("rootvault-{name}"))
            .spawn(move || work(tx, flag))
            .expect("the system can start a thread");
        Worker { rx, stop }
    }

    /// The newest message, if any came.
    fn latest(&self) -> Option<T> {
        let mut last = None;
        while let Ok(m) = self.rx.try_recv() {
            last = Some(m);
        }
        last
    }
}

impl<T> Drop for Worker<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Watches `dir` until the dialog drops its end: judges every `*.sig` in it against
/// `statement`, and sends what it found whenever that changed.
fn watch(
    vault: Arc<Vault>,
    statement: Statement,
    dir: PathBuf,
) -> Worker<Result<Progress, String>> {
    Worker::spawn("witness-signatures", move |tx, stop| {
        let mut last = String::new();
        while !stop.load(Ordering::Relaxed) {
            let found =
                ceremony::check_signature_dir(&vault, &statement, &dir).map_err(|e| words::say(&e));
            let seen = format!("{found:?}");
            if seen != last {
                last = seen;
                if tx.send(found).is_err() {
                    return;
                }
            }
            std::thread::sleep(WATCH_EVERY);
        }
    })
}

enum Stage {
    /// The statement is being built.
    Preparing(Worker<Result<Statement, String>>),
    /// The action's checks refused it (nothing was written).
    Refused(String),
    /// The statement, and what became of it.
    Ready(Box<Ready>),
}

struct Ready {
    statement: Statement,
    written: Option<StatementReport>,
    watching: Option<(PathBuf, Worker<Result<Progress, String>>)>,
    progress: Option<Result<Progress, String>>,
}

/// The witnesses' dialog.
pub(crate) struct WitnessGate {
    what: &'static str,
    required: u32,
    registered: Vec<String>,
    job: Option<ActionJob>,
    stage: Stage,
    statement_out: TextField,
    sig_dir: TextField,
    /// 0 the statement file, 1 the signature directory.
    focus: usize,
    problem: Option<String>,
    choices: Vec<String>,
    scroll: u16,
}

impl WitnessGate {
    fn new(change: TrustChange, ctx: &Ctx) -> WitnessGate {
        let vault = Arc::clone(ctx.vault);
        let operator = ctx.operator.clone();
        let build = change.statement;
        let preparing = Worker::spawn("witness-statement", move |tx, _| {
            let _ = tx.send(build(&vault, &operator).map_err(|e| words::say(&e)));
        });
        let (required, registered) = match &ctx.data.witnesses {
            Ok(w) => (
                w.required,
                w.registered.iter().map(|w| w.name.clone()).collect(),
            ),
            Err(_) => (0, Vec::new()),
        };
        WitnessGate {
            what: change.what,
            required,
            registered,
            job: Some(change.job),
            stage: Stage::Preparing(preparing),
            statement_out: TextField::default(),
            sig_dir: TextField::default(),
            focus: 0,
            problem: None,
            choices: Vec::new(),
            scroll: 0,
        }
    }

    fn resolve(&self, text: &str, cwd: &Path) -> PathBuf {
        let p = PathBuf::from(text.trim());
        if p.is_absolute() {
            p
        } else {
            cwd.join(p)
        }
    }

    /// Writes the statement where the operator said; the signature directory follows it.
    fn write(&mut self, ctx: &Ctx) {
        let Stage::Ready(ready) = &mut self.stage else {
            return;
        };
        if self.statement_out.text().trim().is_empty() {
            self.problem = Some("statement file: type where to write the statement".into());
            return;
        }
        let path = {
            let p = PathBuf::from(self.statement_out.text().trim());
            if p.is_absolute() {
                p
            } else {
                ctx.cwd.join(p)
            }
        };
        let out = Output { path, force: false };
        match ceremony::write_prepared_statement(ctx.vault, &ready.statement, &out) {
            Ok(report) => {
                if self.sig_dir.is_empty() {
                    let dir = match Path::new(self.statement_out.text().trim()).parent() {
                        Some(d) if !d.as_os_str().is_empty() => d.display().to_string(),
                        _ => ".".to_owned(),
                    };
                    self.sig_dir.set(&dir);
                }
                ready.written = Some(report);
                self.problem = None;
                self.focus = 1;
            }
            Err(e) => self.problem = Some(words::say(&e)),
        }
    }

    /// Watches the directory typed (again, if it changed).
    fn start_watching(&mut self, ctx: &Ctx) {
        let dir = self.resolve(self.sig_dir.text(), ctx.cwd);
        let Stage::Ready(ready) = &mut self.stage else {
            return;
        };
        if self.sig_dir.text().trim().is_empty() {
            self.problem = Some("signatures in: type the directory the .sig files go to".into());
            return;
        }
        if !dir.is_dir() {
            self.problem = Some(format!(
                "{} is not a directory: create it, or type another",
                dir.display()
            ));
            return;
        }
        self.problem = None;
        if ready.watching.as_ref().is_some_and(|(d, _)| *d == dir) {
            return;
        }
        ready.progress = None;
        let worker = watch(Arc::clone(ctx.vault), ready.statement.clone(), dir.clone());
        ready.watching = Some((dir, worker));
    }

    /// Enter on the directory: watch it; once enough witnesses signed, go on to the action.
    fn go_on(&mut self, ctx: &Ctx) -> Effect {
        self.start_watching(ctx);
        if self.problem.is_some() {
            return Effect::None;
        }
        let Stage::Ready(ready) = &self.stage else {
            return Effect::None;
        };
        let progress = match &ready.progress {
            Some(Ok(p)) => p,
            Some(Err(e)) => {
                self.problem = Some(e.clone());
                return Effect::None;
            }
            // The watcher has not looked yet: its first look shows in a moment.
            None => return Effect::None,
        };
        if !progress.enough() {
            self.problem = Some(format!(
                "{} witnesses must sign; {} so far",
                progress.required,
                progress.valid.len()
            ));
            return Effect::None;
        }
        if ready.written.is_none() {
            self.problem = Some("write the statement first: the witnesses sign that file".into());
            self.focus = 0;
            return Effect::None;
        }
        let valid: Vec<PathBuf> = progress
            .files
            .iter()
            .filter(|(_, v)| v.is_ok())
            .map(|(f, _)| PathBuf::from(f))
            .collect();
        let sigs = match WitnessSigs::read(&valid) {
            Ok(s) => s,
            Err(e) => {
                self.problem = Some(words::say(&e));
                return Effect::None;
            }
        };
        let Some(job) = self.job.take() else {
            return Effect::None;
        };
        let names = progress.valid.join(", ");
        Effect::Many(vec![
            Effect::Close,
            Effect::info(format!("witnessed by {names}")),
            Effect::Run(job(sigs)),
        ])
    }

    fn field_mut(&mut self) -> &mut TextField {
        if self.focus == 0 {
            &mut self.statement_out
        } else {
            &mut self.sig_dir
        }
    }

    fn progress_lines(&self, w: u16, ctx: &Ctx) -> Vec<Line<'static>> {
        let t = ctx.theme;
        let Stage::Ready(ready) = &self.stage else {
            return Vec::new();
        };
        let mut lines = Vec::new();
        match (&ready.watching, &ready.progress) {
            (None, _) => lines.push(Line::styled(
                format!(
                    "0/{} signed: Enter on the directory starts watching it",
                    self.required
                ),
                t.dim(),
            )),
            (Some(_), None) => lines.push(Line::styled("looking…", t.dim())),
            (Some(_), Some(Err(e))) => lines.extend(text_lines(e, w, t.error())),
            (Some(_), Some(Ok(p))) => {
                let who = if p.valid.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", p.valid.join(", "))
                };
                let (text, style) = if p.enough() {
                    (
                        format!(
                            "{}/{} signed{who}: enough. Enter goes on to the confirmation",
                            p.valid.len(),
                            p.required
                        ),
                        t.ok(),
                    )
                } else {
                    (
                        format!(
                            "{}/{} signed{who}; watching for more",
                            p.valid.len(),
                            p.required
                        ),
                        t.title(),
                    )
                };
                lines.extend(text_lines(&text, w, style));
                for (file, verdict) in &p.files {
                    let name = Path::new(file)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| file.clone());
                    match verdict {
                        Ok(witness) => lines.push(Line::from(vec![
                            Span::styled("  ok ", t.ok()),
                            Span::raw(format!("{name}: {witness}")),
                        ])),
                        Err(why) => {
                            let text = format!("{name}: {}", words::invalid_signature(why));
                            for (i, l) in text_lines(&text, w.saturating_sub(5), t.error())
                                .into_iter()
                                .enumerate()
                            {
                                let mark = if i == 0 { "  NO " } else { "     " };
                                let mut spans = vec![Span::styled(mark, t.error())];
                                spans.extend(l.spans);
                                lines.push(Line::from(spans));
                            }
                        }
                    }
                }
            }
        }
        lines
    }
}

impl Modal for WitnessGate {
    fn handle(&mut self, action: Action, ctx: &Ctx) -> Effect {
        match action {
            Action::Back => {
                return Effect::Many(vec![
                    Effect::Close,
                    Effect::info(
                        "cancelled; nothing was done (a statement written stays where it is)",
                    ),
                ])
            }
            Action::Up => self.scroll = self.scroll.saturating_sub(1),
            Action::Down => self.scroll = self.scroll.saturating_add(1),
            _ if !matches!(self.stage, Stage::Ready(_)) => {}
            Action::Enter if self.focus == 0 => self.write(ctx),
            Action::Enter => return self.go_on(ctx),
            Action::NextField | Action::PrevField => {
                self.choices.clear();
                let cwd = ctx.cwd.to_owned();
                if action == Action::NextField {
                    match self.field_mut().complete_path(&cwd) {
                        Completion::Completed => return Effect::None,
                        Completion::Choices(c) => {
                            self.choices = c;
                            return Effect::None;
                        }
                        Completion::Nothing => {}
                    }
                }
                self.focus = 1 - self.focus;
                if self.focus == 1 && !self.sig_dir.is_empty() {
                    self.start_watching(ctx);
                }
            }
            other => {
                if self.field_mut().edit(other) {
                    self.problem = None;
                    self.choices.clear();
                }
            }
        }
        Effect::None
    }

    fn tick(&mut self, ctx: &Ctx) -> Effect {
        match &mut self.stage {
            Stage::Preparing(worker) => match worker.latest() {
                Some(Ok(statement)) => {
                    let name = format!(
                        "statement-{}-{}.txt",
                        statement.action().replace(' ', "-"),
                        statement.head().seq
                    );
                    self.statement_out.set(&name);
                    self.stage = Stage::Ready(Box::new(Ready {
                        statement,
                        written: None,
                        watching: None,
                        progress: None,
                    }));
                }
                Some(Err(e)) => self.stage = Stage::Refused(e),
                None => {}
            },
            Stage::Ready(ready) => {
                if let Some((_, worker)) = &ready.watching {
                    if let Some(found) = worker.latest() {
                        // What was said about the files before is stale now.
                        self.problem = None;
                        ready.progress = Some(found);
                    }
                }
            }
            Stage::Refused(_) => {}
        }
        let _ = ctx;
        Effect::None
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let w = inner_width(area);
        let mut body = text_lines(
            &format!(
                "{} of the {} registered witnesses ({}) must sign a statement of exactly what will happen before the token acts.",
                self.required,
                self.registered.len(),
                self.registered.join(", ")
            ),
            w,
            t.text(),
        );
        let mut tail = Vec::new();
        match &self.stage {
            Stage::Preparing(_) => body.push(Line::styled(
                "Checking the action and writing its statement…",
                t.dim(),
            )),
            Stage::Refused(e) => {
                body.extend(text_lines(
                    &format!("Refused before any statement was written: {e}"),
                    w,
                    t.error(),
                ));
            }
            Stage::Ready(ready) => {
                let s = &ready.statement;
                body.extend(super::super::widgets::kv_lines(
                    &[
                        (
                            "statement".into(),
                            format!(
                                "{}, at ledger event {} (void once it moves)",
                                s.action(),
                                s.head().seq
                            ),
                        ),
                        ("SHA-256".into(), group_hex(&s.sha256())),
                    ],
                    w,
                    t,
                ));
                body.extend(text_lines(
                    "1. Write it where the witnesses read it (a removable medium, if they sign on their own machines):",
                    w,
                    t.text(),
                ));
                body.push(field_line(
                    "statement file",
                    &self.statement_out,
                    self.focus == 0,
                    t,
                ));
                if let Some(r) = &ready.written {
                    body.extend(text_lines(
                        &format!("written: {}", r.path.display()),
                        w,
                        t.ok(),
                    ));
                }
                body.extend(text_lines(
                    "2. Each witness checks it, signs it (ssh-keygen -Y sign -n rootvault-witness -f KEY FILE) and brings FILE.sig to:",
                    w,
                    t.text(),
                ));
                tail.push(field_line(
                    "signatures in",
                    &self.sig_dir,
                    self.focus == 1,
                    t,
                ));
                if !self.choices.is_empty() {
                    tail.extend(text_lines(&self.choices.join("  "), w, t.dim()));
                }
                tail.extend(self.progress_lines(w, ctx));
            }
        }
        if let Some(p) = &self.problem {
            tail.extend(text_lines(p, w, t.error()));
        }
        boxed_pinned(
            format!("Witnesses: {}", self.what),
            body,
            tail,
            self.scroll,
            area,
            buf,
            t,
        );
    }

    fn footer(&self) -> Vec<Key> {
        match (&self.stage, self.focus) {
            (Stage::Ready(_), 0) => vec![
                ("Enter", "write the statement"),
                ("Tab", "complete / next"),
                ("Esc", "cancel"),
            ],
            (Stage::Ready(_), _) => vec![
                ("Enter", "watch / go on"),
                ("Tab", "complete / next"),
                ("Esc", "cancel"),
            ],
            _ => vec![("Esc", "close")],
        }
    }

    fn takes_text(&self) -> bool {
        matches!(self.stage, Stage::Ready(_))
    }

    fn flow(&self) -> Option<&'static str> {
        Some("collecting witness signatures")
    }

    fn error_text(&self) -> Option<&str> {
        match &self.stage {
            Stage::Refused(e) => Some(e),
            _ => self.problem.as_deref(),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
