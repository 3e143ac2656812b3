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
    Block, Borders, Paragraph, Row, StatefulWidget, Table, TableState, Widget, Wrap,
};

use crate::ceremony::{
    self, Auth, BatchLine, CertInfo, CheckedBatch, WitnessedAction, MIN_CONFIRM_DIGITS,
};

use super::super::job::{Job, Outcome};
use super::super::keys::{Action, Screen};
use super::super::modals::batch_form::BatchForm;
use super::super::modals::message::Acknowledge;
use super::super::modals::witness::{self, TrustChange};
use super::super::view::{Ctx, Effect, Key};
use super::super::widgets::{
    column_widths, fit, fitted_row, fixed_columns, group_hex, kv_lines, wrap,
};
use super::super::words;
use super::inbox::InboxMsg;

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
        /// Lines whose key already has a valid certificate, and which.
        reissued: Vec<String>,
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
                    BatchState::Checked { batch: Some(_), .. } if !ctx.unlocked() => {
                        Effect::locked()
                    }
                    BatchState::Checked {
                        batch: Some(_),
                        reissued,
                        ..
                    } if !reissued.is_empty() => {
                        let mut lines =
                            vec!["These keys already have a valid certificate:".to_owned()];
                        lines.extend(reissued.iter().cloned());
                        lines.push("Signing the batch makes another valid certificate for each. Do it only for a planned renewal, and revoke the old ones afterwards.".to_owned());
                        Effect::open(Acknowledge::new(
                            "Signed before",
                            lines,
                            "sign the batch anyway",
                            "not signed: nothing was signed",
                            InboxMsg::SignBatch.into(),
                        ))
                    }
                    BatchState::Checked { batch: Some(_), .. } => self.start_sign(ctx),
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
    pub fn start_sign(&mut self, ctx: &Ctx) -> Effect {
        if let Some(job) = ctx.job {
            return Effect::info(format!("wait: {} is still running", job.label));
        }
        if !ctx.unlocked() {
            return Effect::locked();
        }
        let BatchState::Checked {
            sha256,
            lines,
            batch,
            failed,
            reissued,
        } = &mut self.state
        else {
            return Effect::None;
        };
        let Some(checked) = batch.take() else {
            return Effect::None;
        };
        *failed = None;
        let warning = if reissued.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "ACKNOWLEDGED: keys that already have a valid certificate get another: {}",
                reissued.join("; ")
            )]
        };
        let (spec, sha256, lines) = (self.spec.clone(), sha256.clone(), lines.clone());
        let extra = vec![(
            "write to".to_owned(),
            format!(
                "{}/CLUSTER.pem, never over a file",
                self.spec.out_dir.display()
            ),
        )];
        let operator = ctx.operator.clone();
        let for_statement = (*checked).clone();
        witness::run(
            ctx,
            TrustChange::new(
                "sign the batch",
                move |vault, operator| {
                    ceremony::statement(
                        vault,
                        operator,
                        &WitnessedAction::SignBatch(&for_statement),
                    )
                },
                move |sigs| {
                    Job::with_session(
                        "signing the batch",
                        Screen::Inbox,
                        move |vault, session, progress| {
                            let mut confirm = progress.asker(
                                "Compare the manifest's SHA-256 with the one its author computed (sha256sum).",
                                extra,
                                warning,
                            );
                            let ctx = ceremony::Ctx {
                                vault,
                                auth: Auth::Unlocked(session),
                                operator: &operator,
                            };
                            let r = ceremony::sign_batch_witnessed(
                                &ctx,
                                *checked,
                                &spec.out_dir,
                                &sigs,
                                &mut confirm,
                            );
                            Outcome::SignBatch(Box::new(BatchSigned {
                                spec,
                                sha256,
                                lines,
                                result: r,
                            }))
                        },
                    )
                },
            ),
        )
    }

    /// The view after `check_batch`, and what to say.
    pub fn checked(
        spec: BatchSpec,
        r: crate::error::Result<CheckedBatch>,
        ctx: &Ctx,
    ) -> (BatchView, Effect) {
        let (state, effect) = match r {
            Ok(batch) => (
                BatchState::Checked {
                    sha256: batch.manifest_sha256.clone(),
                    lines: batch.lines.clone(),
                    failed: None,
                    reissued: reissued(&batch.lines, ctx),
                    batch: Some(Box::new(batch)),
                },
                None,
            ),
            Err(e) => {
                let text = words::say(&e);
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
                let failed = words::say(&e);
                (
                    Effect::failed("Not signed", &e),
                    BatchState::Checked {
                        sha256,
                        lines,
                        batch: None,
                        failed: Some(failed),
                        reissued: Vec::new(),
                    },
                )
            }
        };
        (BatchView::new(spec, state), effect)
    }

    /// The batch view's keys, in order of importance.
    pub fn footer_keys(&self, _ctx: &Ctx) -> Vec<Key> {
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

/// The lines of a checked batch whose key already has a valid certificate, and which.
fn reissued(lines: &[BatchLine], ctx: &Ctx) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| {
            let certs = ceremony::valid_certificates_for_key(ctx.vault, &l.spki_sha256).ok()?;
            let first = certs.first()?;
            Some(format!(
                "line {} ({}): cluster {} serial {}",
                l.line,
                l.cluster,
                first.cluster.as_deref().unwrap_or("-"),
                first.serial
            ))
        })
        .collect()
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
            Span::raw(format!(
                "{} ",
                fit(&name, (area.width as usize).saturating_sub(40))
            )),
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
            reissued,
            ..
        } => {
            let mut v = vec![Line::from(vec![
                Span::styled("s", t.key()),
                Span::raw(format!(
                    " signs all {} once you type {MIN_CONFIRM_DIGITS}+ hex digits of the manifest's SHA-256. ",
                    lines.len()
                )),
                Span::styled("Esc", t.key()),
                Span::raw(" closes; nothing is signed before."),
            ])];
            if !reissued.is_empty() {
                v.insert(
                    0,
                    Line::styled(
                        format!(
                            "! keys that already have a valid certificate: {}",
                            reissued.join("; ")
                        ),
                        t.error(),
                    ),
                );
            }
            v
        }
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
        let hint_height = hint
            .iter()
            .map(|l| (l.width() as u16).div_ceil(inner.width.max(1)))
            .sum::<u16>()
            .clamp(2, 4);
        let [head_area, body_area, hint_area] = Layout::vertical([
            Constraint::Length(header.len() as u16 + 1),
            Constraint::Min(3),
            Constraint::Length(hint_height),
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
                let constraints = [
                    Constraint::Length(4),
                    Constraint::Length(cluster_w),
                    Constraint::Length(11),
                    Constraint::Length(17),
                    Constraint::Length(5),
                    Constraint::Fill(1),
                ];
                let widths = column_widths(body_area.width, &constraints);
                let rows: Vec<Row> = lines
                    .iter()
                    .map(|l| {
                        // As the manifest names it (relative to the manifest's directory).
                        let csr = view
                            .spec
                            .manifest
                            .parent()
                            .and_then(|d| l.csr.strip_prefix(d).ok())
                            .unwrap_or(&l.csr)
                            .display()
                            .to_string();
                        fitted_row(
                            vec![
                                (l.line.to_string(), t.text()),
                                (l.cluster.clone(), t.text()),
                                (l.key_type.clone(), t.text()),
                                (
                                    group_hex(&l.spki_sha256[..l.spki_sha256.len().min(16)]),
                                    t.text(),
                                ),
                                (l.days.to_string(), t.text()),
                                (csr, t.text()),
                            ],
                            &widths,
                        )
                    })
                    .collect();
                let table = Table::new(rows, fixed_columns(&widths))
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
                let constraints = [
                    Constraint::Length(4),
                    Constraint::Length(cluster_w),
                    Constraint::Length(32),
                    Constraint::Fill(1),
                ];
                let widths = column_widths(body_area.width, &constraints);
                let rows: Vec<Row> = lines
                    .iter()
                    .zip(certs)
                    .map(|(l, c)| {
                        fitted_row(
                            vec![
                                (l.line.to_string(), t.text()),
                                (l.cluster.clone(), t.text()),
                                (c.serial.clone(), t.text()),
                                (format!("{}.pem", l.cluster), t.text()),
                            ],
                            &widths,
                        )
                    })
                    .collect();
                let table = Table::new(rows, fixed_columns(&widths))
                    .header(Row::new(vec!["LINE", "CLUSTER", "SERIAL", "FILE"]).style(t.title()))
                    .row_highlight_style(t.selected());
                let mut state = TableState::default().with_selected(Some(view.selected));
                StatefulWidget::render(table, body_area, buf, &mut state);
            }
        }
    }
}
