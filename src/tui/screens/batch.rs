//! Sign a batch (`sign-batch`), opened from the inbox with `b`: the operator names a
//! manifest (`cluster  spki-sha256  csr-path` lines), an output directory and optionally the
//! days; `ceremony::check_batch` takes in and judges every line (on a worker); the view shows
//! the checked lines and the manifest's SHA-256, or every problem; `s` opens the one
//! confirmation (a prefix of that SHA-256), and `ceremony::sign_batch` signs them all with
//! the unlocked session and writes `DIR/CLUSTER.pem`. Every rule and message is ceremony's.

use std::path::{Path, PathBuf};

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Cell, Paragraph, Row, StatefulWidget, Table, TableState, Widget, Wrap,
};

use crate::ceremony::{self, Answer, Auth, BatchLine, CertInfo, CheckedBatch, Scripted};

use super::super::app::{Action, App, Modal};
use super::super::ui::{group_hex, kv_lines, wrap};
use super::super::worker::Outcome;

/// What the operator asked for: the CLI's `sign-batch MANIFEST --out-dir DIR [--days N]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BatchSpec {
    pub manifest: PathBuf,
    pub out_dir: PathBuf,
    pub days: Option<u32>,
}

/// The form that opens a batch: manifest, output directory, days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BatchForm {
    pub manifest: String,
    pub out_dir: String,
    /// The operator typed in the output field: no more following the manifest.
    pub out_edited: bool,
    pub days: String,
    /// 0 manifest, 1 output directory, 2 days.
    pub focus: usize,
    pub problem: Option<String>,
}

impl BatchForm {
    pub const FIELDS: usize = 3;

    pub fn new() -> BatchForm {
        let mut f = BatchForm {
            manifest: String::new(),
            out_dir: String::new(),
            out_edited: false,
            days: String::new(),
            focus: 0,
            problem: None,
        };
        f.default_out();
        f
    }

    /// The form again, filled in as `spec` was.
    pub fn from_spec(spec: &BatchSpec) -> BatchForm {
        let mut f = BatchForm {
            manifest: spec.manifest.display().to_string(),
            out_dir: String::new(),
            out_edited: false,
            days: spec.days.map(|d| d.to_string()).unwrap_or_default(),
            focus: 0,
            problem: None,
        };
        f.default_out();
        if f.out_dir != spec.out_dir.display().to_string() {
            f.out_dir = spec.out_dir.display().to_string();
            f.out_edited = true;
        }
        f
    }

    /// The suggested output: a `signed` directory next to the manifest, until the operator
    /// edits it.
    pub fn default_out(&mut self) {
        if !self.out_edited {
            self.out_dir = default_out_dir(Path::new(self.manifest.trim()))
                .display()
                .to_string();
        }
    }

    /// The form's values, parsed as the command line parses its arguments.
    pub fn spec(&self) -> Result<BatchSpec, String> {
        let manifest = self.manifest.trim();
        if manifest.is_empty() {
            return Err("manifest: type the path of the manifest file".to_owned());
        }
        let out_dir = self.out_dir.trim();
        if out_dir.is_empty() {
            return Err("write to: type the directory for the certificates".to_owned());
        }
        let days = match self.days.trim() {
            "" => None,
            d => Some(
                d.parse::<u32>()
                    .map_err(|_| format!("days: {d:?} is not a whole number of days"))?,
            ),
        };
        Ok(BatchSpec {
            manifest: PathBuf::from(manifest),
            out_dir: PathBuf::from(out_dir),
            days,
        })
    }
}

/// `signed` next to the manifest (in the current directory for a bare file name).
pub(crate) fn default_out_dir(manifest: &Path) -> PathBuf {
    match manifest.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("signed"),
        _ => PathBuf::from("signed"),
    }
}

/// Where a batch is.
pub(crate) enum BatchState {
    /// `check_batch` is running.
    Checking,
    /// Every line passed. `batch` is what `sign_batch` takes; an attempt spends it (it is
    /// out while signing, and gone after a failure, until the manifest is checked again).
    Checked {
        sha256: String,
        lines: Vec<BatchLine>,
        batch: Option<Box<CheckedBatch>>,
        /// Why the last attempt signed nothing.
        failed: Option<String>,
    },
    /// `check_batch` refused the manifest; its words, every problem.
    Refused(String),
    /// Signed: each line's certificate.
    Signed {
        sha256: String,
        lines: Vec<BatchLine>,
        certs: Vec<CertInfo>,
    },
}

/// The batch view, shown in place of the inbox list while it is open.
pub(crate) struct BatchView {
    pub spec: BatchSpec,
    pub state: BatchState,
    pub selected: usize,
    pub scroll: u16,
}

impl BatchView {
    fn new(spec: BatchSpec, state: BatchState) -> BatchView {
        BatchView {
            spec,
            state,
            selected: 0,
            scroll: 0,
        }
    }

    /// Whether a checked batch is waiting for its confirmation.
    pub fn ready(&self) -> bool {
        matches!(self.state, BatchState::Checked { batch: Some(_), .. })
    }

    fn rows(&self) -> usize {
        match &self.state {
            BatchState::Checked { lines, .. } | BatchState::Signed { lines, .. } => lines.len(),
            _ => 0,
        }
    }
}

impl App {
    /// `b` on the inbox: the form, filled in as the open batch was, if one is open.
    pub(crate) fn open_batch_form(&mut self) {
        let form = match &self.inbox.batch {
            Some(v) => BatchForm::from_spec(&v.spec),
            None => BatchForm::new(),
        };
        self.modal = Some(Modal::BatchForm(form));
    }

    pub(crate) fn batch_form_action(&mut self, mut f: BatchForm, action: Action) -> Option<Modal> {
        match action {
            Action::Back => {
                self.info("cancelled; nothing was signed".to_owned());
                return None;
            }
            Action::NextField | Action::Down => f.focus = (f.focus + 1) % BatchForm::FIELDS,
            Action::PrevField | Action::Up => {
                f.focus = (f.focus + BatchForm::FIELDS - 1) % BatchForm::FIELDS
            }
            Action::Type(_) | Action::Erase => {
                let field = match f.focus {
                    0 => &mut f.manifest,
                    1 => {
                        f.out_edited = true;
                        &mut f.out_dir
                    }
                    _ => &mut f.days,
                };
                if let Action::Type(c) = action {
                    field.push(c);
                } else {
                    field.pop();
                }
                f.default_out();
            }
            Action::Enter => match f.spec() {
                Ok(spec) => {
                    if self.start_batch_check(spec) {
                        return None;
                    }
                }
                Err(problem) => f.problem = Some(problem),
            },
            _ => {}
        }
        Some(Modal::BatchForm(f))
    }

    /// Checks the manifest on a worker (`ceremony::check_batch`; no token needed). Returns
    /// false if it could not start (another job is running).
    pub(crate) fn start_batch_check(&mut self, spec: BatchSpec) -> bool {
        let s = spec.clone();
        let started = self.start(
            "checking the batch",
            false,
            Box::new(move |vault, _, _| {
                let r = ceremony::check_batch(vault, &s.manifest, s.days, false);
                Outcome::CheckBatch(s, r)
            }),
        );
        if started {
            self.inbox.batch = Some(BatchView::new(spec, BatchState::Checking));
            self.inbox.reviewing = false;
        }
        started
    }

    /// Keys while the batch view is open.
    pub(crate) fn batch_action(&mut self, action: Action) {
        let Some(view) = self.inbox.batch.as_mut() else {
            return;
        };
        let rows = view.rows();
        match action {
            Action::Up => {
                view.selected = view.selected.saturating_sub(1);
                view.scroll = view.scroll.saturating_sub(1);
            }
            Action::Down => {
                view.selected = (view.selected + 1).min(rows.max(1) - 1);
                view.scroll = view.scroll.saturating_add(1);
            }
            Action::PageUp => {
                view.selected = view.selected.saturating_sub(10);
                view.scroll = view.scroll.saturating_sub(10);
            }
            Action::PageDown => {
                view.selected = (view.selected + 10).min(rows.max(1) - 1);
                view.scroll = view.scroll.saturating_add(10);
            }
            Action::Home => {
                view.selected = 0;
                view.scroll = 0;
            }
            Action::End => view.selected = rows.saturating_sub(1),
            Action::Back => {
                let ready = view.ready();
                self.inbox.batch = None;
                if ready {
                    self.info("closed the batch; nothing was signed".to_owned());
                }
            }
            Action::Batch => self.open_batch_form(),
            Action::Enter => match view.state {
                BatchState::Checking => {}
                BatchState::Signed { .. } => self.inbox.batch = None,
                BatchState::Checked { .. } | BatchState::Refused(_) => {
                    let spec = view.spec.clone();
                    self.start_batch_check(spec);
                }
            },
            Action::Sign => match &view.state {
                BatchState::Checked { batch: Some(_), .. } => {
                    if !self.is_unlocked() {
                        self.locked_refusal();
                    } else {
                        self.modal = Some(Modal::ConfirmBatch {
                            typed: String::new(),
                        });
                    }
                }
                BatchState::Checked { batch: None, .. } => self.info(
                    "check the manifest again first (Enter): an attempt uses up a check".to_owned(),
                ),
                BatchState::Refused(_) => {
                    self.info("this batch was refused; nothing can be signed from it".to_owned())
                }
                BatchState::Checking | BatchState::Signed { .. } => {}
            },
            _ => {}
        }
    }

    /// Signs the checked batch on a worker with the unlocked session; `typed` goes to ceremony
    /// as the operator's answer, and ceremony decides whether it matches.
    pub(crate) fn start_batch_sign(&mut self, typed: String) {
        if let Some(job) = &self.job {
            self.info(format!("wait: {} is still running", job.label));
            return;
        }
        if self.unlocked.is_none() {
            self.locked_refusal();
            return;
        }
        let Some(view) = self.inbox.batch.as_mut() else {
            return;
        };
        let BatchState::Checked {
            sha256,
            lines,
            batch,
            failed,
        } = &mut view.state
        else {
            return;
        };
        let Some(checked) = batch.take() else {
            return;
        };
        *failed = None;
        let (spec, sha256, lines) = (view.spec.clone(), sha256.clone(), lines.clone());
        let operator = self.operator.clone();
        self.start(
            "signing the batch",
            true,
            Box::new(move |vault, session, _| {
                let session = session.expect("the batch is signed only with the session");
                // Exactly what the operator typed: ceremony decides whether it matches.
                let mut confirm = Scripted(Answer::Typed(typed));
                let r = ceremony::sign_batch(
                    &ceremony::Ctx {
                        vault,
                        auth: Auth::Unlocked(session),
                        operator: &operator,
                    },
                    *checked,
                    &spec.out_dir,
                    &mut confirm,
                );
                Outcome::SignBatch(Box::new(BatchSigned {
                    spec,
                    sha256,
                    lines,
                    result: r,
                }))
            }),
        );
    }

    pub(crate) fn on_batch_checked(
        &mut self,
        spec: BatchSpec,
        r: crate::error::Result<CheckedBatch>,
    ) {
        let state = match r {
            Ok(batch) => {
                self.info(format!(
                    "checked: {} requests, all acceptable; s signs them after one confirmation",
                    batch.lines.len()
                ));
                BatchState::Checked {
                    sha256: batch.manifest_sha256.clone(),
                    lines: batch.lines.clone(),
                    batch: Some(Box::new(batch)),
                    failed: None,
                }
            }
            Err(e) => {
                let text = e.to_string();
                let mut first = text.lines().next().unwrap_or("").to_owned();
                if text.lines().nth(1).is_some() {
                    first = format!(
                        "{}; every problem is listed above",
                        first.trim_end_matches(':')
                    );
                }
                self.message = Some(super::super::app::Message {
                    text: format!("error: {first}"),
                    kind: super::super::app::MessageKind::Error,
                });
                BatchState::Refused(text)
            }
        };
        self.inbox.batch = Some(BatchView::new(spec, state));
    }

    pub(crate) fn on_batch_signed(&mut self, done: BatchSigned) {
        self.reload();
        let BatchSigned {
            spec,
            sha256,
            lines,
            result,
        } = done;
        let state = match result {
            Ok(issued) => {
                self.success(format!(
                    "signed {} certificates into {}",
                    issued.len(),
                    spec.out_dir.display()
                ));
                BatchState::Signed {
                    sha256,
                    lines,
                    certs: issued.into_iter().map(|i| i.certificate).collect(),
                }
            }
            Err(e) => {
                let failed = e.to_string();
                self.show_error("Not signed", &e);
                BatchState::Checked {
                    sha256,
                    lines,
                    batch: None,
                    failed: Some(failed),
                }
            }
        };
        self.inbox.batch = Some(BatchView::new(spec, state));
    }
}

/// What a batch signing job reports: what was checked, and `sign_batch`'s result.
pub(crate) struct BatchSigned {
    pub spec: BatchSpec,
    pub sha256: String,
    pub lines: Vec<BatchLine>,
    pub result: crate::error::Result<Vec<ceremony::Issued>>,
}

/// The batch view's keys, in order of importance.
pub(crate) fn footer_keys(view: &BatchView) -> Vec<(&'static str, &'static str)> {
    match &view.state {
        BatchState::Checked { batch: Some(_), .. } => vec![
            ("s", "sign all"),
            ("↑↓", "move"),
            ("Enter", "check again"),
            ("b", "change"),
            ("Esc", "close"),
        ],
        BatchState::Checked { .. } | BatchState::Refused(_) => vec![
            ("Enter", "check again"),
            ("b", "change"),
            ("↑↓", "scroll"),
            ("Esc", "close"),
        ],
        BatchState::Checking => vec![("b", "change"), ("Esc", "close")],
        BatchState::Signed { .. } => vec![("↑↓", "move"), ("Enter/Esc", "close")],
    }
}

/// The lines of the confirmation modal: what will be signed, and where.
pub(crate) fn confirm_pairs(view: &BatchView) -> Vec<(String, String)> {
    let mut pairs = vec![(
        "manifest".to_owned(),
        view.spec.manifest.display().to_string(),
    )];
    if let BatchState::Checked { sha256, lines, .. } = &view.state {
        pairs.push((
            "requests".to_owned(),
            format!(
                "{} ({})",
                lines.len(),
                lines
                    .iter()
                    .map(|l| l.cluster.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
        pairs.push((
            "write to".to_owned(),
            format!("{}/CLUSTER.pem", view.spec.out_dir.display()),
        ));
        pairs.push(("manifest SHA-256".to_owned(), group_hex(sha256)));
    }
    pairs
}

pub(crate) fn render(app: &App, view: &BatchView, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let name = view
        .spec
        .manifest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| view.spec.manifest.display().to_string());
    let (word, style) = match &view.state {
        BatchState::Checking => ("checking… ".to_owned(), t.dim()),
        BatchState::Checked { lines, .. } => {
            (format!("{} requests, acceptable ", lines.len()), t.ok())
        }
        BatchState::Refused(_) => ("REFUSED ".to_owned(), t.error()),
        BatchState::Signed { certs, .. } => (format!("{} signed ", certs.len()), t.ok()),
    };
    let block = Block::new().borders(Borders::TOP).title(Line::from(vec![
        Span::styled(" Batch ", t.title()),
        Span::raw(format!("{name} ")),
        Span::styled(word, style),
    ]));
    let inner = block.inner(area);
    block.render(area, buf);

    let mut pairs = vec![
        (
            "manifest".to_owned(),
            view.spec.manifest.display().to_string(),
        ),
        (
            "write to".to_owned(),
            format!("{} (one CLUSTER.pem each)", view.spec.out_dir.display()),
        ),
        (
            "days".to_owned(),
            view.spec
                .days
                .map(|d| d.to_string())
                .unwrap_or_else(|| "the policy's default".to_owned()),
        ),
    ];
    if let BatchState::Checked { sha256, .. } | BatchState::Signed { sha256, .. } = &view.state {
        pairs.push(("manifest SHA-256".to_owned(), group_hex(sha256)));
    }
    let header = kv_lines(&pairs, inner.width, t);
    let hint: Vec<Line> = match &view.state {
        BatchState::Checking => vec![Line::styled(
            "Checking every line of the manifest; nothing is signed.",
            t.dim(),
        )],
        BatchState::Checked {
            lines,
            batch: Some(_),
            ..
        } => vec![Line::from(vec![
            Span::styled("s", t.key()),
            Span::raw(format!(
                " signs all {} once you type 8+ hex digits of the manifest's SHA-256. ",
                lines.len()
            )),
            Span::styled("Esc", t.key()),
            Span::raw(" closes; nothing is signed before."),
        ])],
        BatchState::Checked {
            failed: Some(e), ..
        } => vec![Line::styled(
            format!("Not signed: {e}. Enter checks the manifest again for another try."),
            t.error(),
        )],
        BatchState::Checked { .. } => {
            vec![Line::styled("Signing the batch on the token…", t.dim())]
        }
        BatchState::Refused(_) => vec![Line::styled(
            "Nothing was signed. Fix the manifest, then Enter checks it again; b changes the paths.",
            t.dim(),
        )],
        BatchState::Signed { certs, .. } => vec![Line::styled(
            format!(
                "Signed {} certificates into {}; each is in the ledger.",
                certs.len(),
                view.spec.out_dir.display()
            ),
            t.ok(),
        )],
    };
    let [head_area, body_area, hint_area] = Layout::vertical([
        Constraint::Length(header.len() as u16 + 1),
        Constraint::Min(3),
        Constraint::Length(2),
    ])
    .areas(inner);
    Paragraph::new(header).render(head_area, buf);
    Paragraph::new(hint)
        .wrap(Wrap { trim: false })
        .render(hint_area, buf);

    match &view.state {
        BatchState::Checking => {}
        BatchState::Refused(text) => {
            // Each problem on its own lines, wrapped under its own indentation.
            let width = body_area.width as usize;
            let lines: Vec<Line> = text
                .lines()
                .flat_map(|l| {
                    let body = l.trim_start();
                    let indent = " ".repeat(l.len() - body.len());
                    wrap(body, width.saturating_sub(indent.len()))
                        .into_iter()
                        .map(move |piece| format!("{indent}{piece}"))
                })
                .map(|l| Line::styled(l, t.error()))
                .collect();
            let max = (lines.len() as u16).saturating_sub(body_area.height);
            Paragraph::new(lines)
                .scroll((view.scroll.min(max), 0))
                .render(body_area, buf);
        }
        BatchState::Checked { lines, .. } => {
            let cluster_w = lines
                .iter()
                .map(|l| l.cluster.chars().count())
                .max()
                .unwrap_or(0)
                .clamp(7, 24) as u16;
            let rows: Vec<Row> = lines
                .iter()
                .map(|l| {
                    Row::new(vec![
                        Cell::from(l.line.to_string()),
                        Cell::from(l.cluster.clone()),
                        Cell::from(l.key_type.clone()),
                        Cell::from(group_hex(&l.spki_sha256[..l.spki_sha256.len().min(16)])),
                        Cell::from(l.days.to_string()),
                        // As the manifest names it (relative to the manifest's directory).
                        Cell::from(
                            view.spec
                                .manifest
                                .parent()
                                .and_then(|d| l.csr.strip_prefix(d).ok())
                                .unwrap_or(&l.csr)
                                .display()
                                .to_string(),
                        ),
                    ])
                })
                .collect();
            let table = Table::new(
                rows,
                [
                    Constraint::Length(4),
                    Constraint::Length(cluster_w),
                    Constraint::Length(11),
                    Constraint::Length(17),
                    Constraint::Length(5),
                    Constraint::Fill(1),
                ],
            )
            .header(
                Row::new(vec![
                    "LINE",
                    "CLUSTER",
                    "KEY",
                    "SPKI SHA-256",
                    "DAYS",
                    "CSR",
                ])
                .style(t.title()),
            )
            .row_highlight_style(t.selected());
            let mut state = TableState::default().with_selected(Some(view.selected));
            StatefulWidget::render(table, body_area, buf, &mut state);
        }
        BatchState::Signed { lines, certs, .. } => {
            let cluster_w = lines
                .iter()
                .map(|l| l.cluster.chars().count())
                .max()
                .unwrap_or(0)
                .clamp(7, 24) as u16;
            let rows: Vec<Row> = lines
                .iter()
                .zip(certs)
                .map(|(l, c)| {
                    Row::new(vec![
                        Cell::from(l.line.to_string()),
                        Cell::from(l.cluster.clone()),
                        Cell::from(c.serial.clone()),
                        Cell::from(format!("{}.pem", l.cluster)),
                    ])
                })
                .collect();
            let table = Table::new(
                rows,
                [
                    Constraint::Length(4),
                    Constraint::Length(cluster_w),
                    Constraint::Length(32),
                    Constraint::Fill(1),
                ],
            )
            .header(Row::new(vec!["LINE", "CLUSTER", "SERIAL", "FILE"]).style(t.title()))
            .row_highlight_style(t.selected());
            let mut state = TableState::default().with_selected(Some(view.selected));
            StatefulWidget::render(table, body_area, buf, &mut state);
        }
    }
}
