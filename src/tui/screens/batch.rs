//! The batch view (`sign-batch`), shown in place of the inbox list while open: the
//! manifest's lines as `ceremony::check_batch` took them in and judged them, or every
//! problem; `s` opens the one confirmation (a prefix of the manifest's SHA-256), and
//! `ceremony::sign_batch` signs them all with the unlocked session and writes
//! `DIR/CLUSTER.pem`. Every rule and message is ceremony's. The form that opens a batch is
//! `modals::batch_form`.

use std::path::PathBuf;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Cell, Paragraph, Row, StatefulWidget, Table, TableState, Widget, Wrap,
};

use crate::ceremony::{self, Answer, Auth, BatchLine, CertInfo, CheckedBatch, Operator, Scripted};

use super::super::job::{Job, Outcome};
use super::super::keys::{Action, Screen};
use super::super::modals::batch_form::BatchForm;
use super::super::modals::confirm::TypedConfirm;
use super::super::view::{Ctx, Effect, Key};
use super::super::widgets::{group_hex, kv_lines, wrap};

/// What the operator asked for: the CLI's `sign-batch MANIFEST --out-dir DIR [--days N]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BatchSpec {
    pub manifest: PathBuf,
    pub out_dir: PathBuf,
    pub days: Option<u32>,
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

/// What a key on the batch view leads to.
pub(crate) enum BatchKey {
    /// This effect; the view stays.
    Effect(Effect),
    /// The view closes, with this effect.
    Close(Effect),
    /// Check this manifest again.
    Check(BatchSpec),
}

/// What a batch signing job reports: what was checked, and `sign_batch`'s result.
pub(crate) struct BatchSigned {
    pub spec: BatchSpec,
    pub sha256: String,
    pub lines: Vec<BatchLine>,
    pub result: crate::error::Result<Vec<ceremony::Issued>>,
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

    /// A manifest being checked.
    pub fn checking(spec: BatchSpec) -> BatchView {
        BatchView::new(spec, BatchState::Checking)
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

    /// Keys while the batch view is open.
    pub fn handle(&mut self, action: Action, ctx: &Ctx) -> BatchKey {
        let rows = self.rows();
        match action {
            Action::Up => {
                self.selected = self.selected.saturating_sub(1);
                self.scroll = self.scroll.saturating_sub(1);
            }
            Action::Down => {
                self.selected = (self.selected + 1).min(rows.max(1) - 1);
                self.scroll = self.scroll.saturating_add(1);
            }
            Action::PageUp => {
                self.selected = self.selected.saturating_sub(10);
                self.scroll = self.scroll.saturating_sub(10);
            }
            Action::PageDown => {
                self.selected = (self.selected + 10).min(rows.max(1) - 1);
                self.scroll = self.scroll.saturating_add(10);
            }
            Action::Home => {
                self.selected = 0;
                self.scroll = 0;
            }
            Action::End => self.selected = rows.saturating_sub(1),
            Action::Back => {
                return BatchKey::Close(if self.ready() {
                    Effect::info("closed the batch; nothing was signed")
                } else {
                    Effect::None
                })
            }
            Action::Batch => {
                return BatchKey::Effect(Effect::open(BatchForm::from_spec(&self.spec)))
            }
            Action::Enter => match self.state {
                BatchState::Checking => {}
                BatchState::Signed { .. } => return BatchKey::Close(Effect::None),
                BatchState::Checked { .. } | BatchState::Refused(_) => {
                    return BatchKey::Check(self.spec.clone())
                }
            },
            Action::Sign => {
                return BatchKey::Effect(match &self.state {
                    BatchState::Checked { batch: Some(_), .. } => {
                        if !ctx.unlocked() {
                            Effect::locked()
                        } else {
                            Effect::open(TypedConfirm::batch(confirm_pairs(self)))
                        }
                    }
                    BatchState::Checked { batch: None, .. } => Effect::info(
                        "check the manifest again first (Enter): an attempt uses up a check",
                    ),
                    BatchState::Refused(_) => {
                        Effect::info("this batch was refused; nothing can be signed from it")
                    }
                    BatchState::Checking | BatchState::Signed { .. } => Effect::None,
                })
            }
            _ => {}
        }
        BatchKey::Effect(Effect::None)
    }

    /// Signs the checked batch on a worker with the unlocked session; `typed` goes to ceremony
    /// as the operator's answer, and ceremony decides whether it matches.
    pub fn start_sign(&mut self, typed: String, operator: Operator) -> Effect {
        let BatchState::Checked {
            sha256,
            lines,
            batch,
            failed,
        } = &mut self.state
        else {
            return Effect::None;
        };
        let Some(checked) = batch.take() else {
            return Effect::None;
        };
        *failed = None;
        let (spec, sha256, lines) = (self.spec.clone(), sha256.clone(), lines.clone());
        Effect::Run(Job::with_session(
            "signing the batch",
            Screen::Inbox,
            move |vault, session, _| {
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
            },
        ))
    }

    /// The view after `check_batch`, and what to say.
    pub fn checked(spec: BatchSpec, r: crate::error::Result<CheckedBatch>) -> (BatchView, Effect) {
        let (state, effect) = match r {
            Ok(batch) => (
                BatchState::Checked {
                    sha256: batch.manifest_sha256.clone(),
                    lines: batch.lines.clone(),
                    failed: None,
                    batch: Some(Box::new(batch)),
                },
                None,
            ),
            Err(e) => {
                let text = e.to_string();
                let mut first = text.lines().next().unwrap_or("").to_owned();
                if text.lines().nth(1).is_some() {
                    first = format!(
                        "{}; every problem is listed above",
                        first.trim_end_matches(':')
                    );
                }
                (
                    BatchState::Refused(text),
                    Some(Effect::error_line(format!("error: {first}"))),
                )
            }
        };
        let effect = effect.unwrap_or_else(|| match &state {
            BatchState::Checked { lines, .. } => Effect::info(format!(
                "checked: {} requests, all acceptable; s signs them after one confirmation",
                lines.len()
            )),
            _ => Effect::None,
        });
        (BatchView::new(spec, state), effect)
    }

    /// The view after `sign_batch`, and what to say.
    pub fn signed(done: BatchSigned) -> (BatchView, Effect) {
        let BatchSigned {
            spec,
            sha256,
            lines,
            result,
        } = done;
        let (effect, state) = match result {
            Ok(issued) => (
                Effect::success(format!(
                    "signed {} certificates into {}",
                    issued.len(),
                    spec.out_dir.display()
                )),
                BatchState::Signed {
                    sha256,
                    lines,
                    certs: issued.into_iter().map(|i| i.certificate).collect(),
                },
            ),
            Err(e) => {
                let failed = e.to_string();
                (
                    Effect::error("Not signed", &e),
                    BatchState::Checked {
                        sha256,
                        lines,
                        batch: None,
                        failed: Some(failed),
                    },
                )
            }
        };
        (BatchView::new(spec, state), effect)
    }

    /// The batch view's keys, in order of importance.
    pub fn footer_keys(&self) -> Vec<Key> {
        match &self.state {
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

impl BatchView {
    /// Draws the view in place of the inbox list.
    pub fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        let view = self;
        let t = ctx.theme;
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
        if let BatchState::Checked { sha256, .. } | BatchState::Signed { sha256, .. } = &view.state
        {
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
}
