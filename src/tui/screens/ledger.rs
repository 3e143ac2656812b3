//! Ledger: the events, scrollable, with details, and verification with a progress bar on a
//! worker thread.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, TableState, Widget};

use crate::ceremony;
use crate::vault::Vault;

use super::super::job::{Job, Outcome};
use super::super::keys::{Action, Screen};
use super::super::modals::message::{Details, ErrorBox};
use super::super::view::{Ctx, Effect, Footer, Modal, ScreenView};
use super::super::widgets::{
    column_widths, fitted_row, fixed_columns, fraction_bar, group_hex, progress_bar,
};

/// The verification job's label (the screen draws its progress).
const VERIFYING: &str = "verifying the ledger";

/// One event, without its payload (read on demand for the details).
#[derive(Debug, Clone)]
pub(crate) struct EventRow {
    pub seq: i64,
    pub time: String,
    pub kind: String,
    pub actor: String,
    pub hash: String,
}

/// The ledger screen's state.
#[derive(Debug, Default)]
pub(crate) struct LedgerView {
    pub events: Vec<EventRow>,
    pub selected: usize,
    pub problem: Option<String>,
}

impl LedgerView {
    /// Reads the events again, keeping the selection (new events appear at the end).
    pub fn load(&mut self, vault: &Vault) {
        let mut events = Vec::new();
        let r = vault.ledger().and_then(|l| {
            Ok(l.for_each_event(1, |e| {
                events.push(EventRow {
                    seq: e.seq,
                    time: e.time,
                    kind: e.kind,
                    actor: e.actor,
                    hash: e.hash,
                });
                Ok(())
            })?)
        });
        self.problem = r.err().map(|e| e.to_string());
        let was_at_end = self.selected + 1 >= self.events.len();
        self.events = events;
        if was_at_end || self.selected >= self.events.len() {
            self.selected = self.events.len().saturating_sub(1);
        }
    }

    fn navigate(&mut self, action: Action) {
        let n = self.events.len();
        let last = n.saturating_sub(1);
        self.selected = match action {
            Action::Up => self.selected.saturating_sub(1),
            Action::Down => (self.selected + 1).min(last),
            Action::PageUp => self.selected.saturating_sub(15),
            Action::PageDown => (self.selected + 15).min(last),
            Action::Home => 0,
            Action::End => last,
            _ => self.selected,
        };
    }

    /// The selected event in full.
    fn details(&self, vault: &Vault) -> Option<Box<dyn Modal>> {
        let seq = self.events.get(self.selected)?.seq;
        let mut found = None;
        let r = vault.ledger().and_then(|l| {
            Ok(l.for_each_event(seq, |e| {
                if found.is_none() {
                    found = Some(e);
                }
                Ok(())
            })?)
        });
        if let Err(e) = r {
            return Some(Box::new(ErrorBox::new(
                "Cannot read the event",
                e.to_string(),
            )));
        }
        let e = found?;
        let payload = serde_json::from_str::<serde_json::Value>(&e.payload)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or(e.payload);
        let mut lines = vec![
            ("seq".to_owned(), e.seq.to_string()),
            ("time".to_owned(), e.time),
            ("kind".to_owned(), e.kind),
            ("actor".to_owned(), e.actor),
            ("prev hash".to_owned(), group_hex(&e.prev_hash)),
            ("hash".to_owned(), group_hex(&e.hash)),
            ("payload".to_owned(), String::new()),
        ];
        for l in payload.lines() {
            lines.push((String::new(), l.to_owned()));
        }
        Some(Box::new(Details::new(format!("Event {seq}"), lines)))
    }
}

impl ScreenView for LedgerView {
    fn handle(&mut self, action: Action, ctx: &Ctx) -> Effect {
        match action {
            Action::Verify => {
                Effect::Run(Job::plain(VERIFYING, Screen::Ledger, |vault, progress| {
                    Outcome::Verify(ceremony::verify_ledger_with_progress(
                        vault,
                        |n| progress.total(n),
                        |n| progress.done(n),
                    ))
                }))
            }
            Action::Enter => match self.details(ctx.vault) {
                Some(modal) => Effect::Open(modal),
                None => Effect::None,
            },
            other => {
                self.navigate(other);
                Effect::None
            }
        }
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        render(self, ctx, area, buf)
    }

    fn footer(&self, _ctx: &Ctx) -> Footer {
        Footer::with_global(vec![("Enter", "details"), ("v", "verify")])
    }

    fn on_enter(&mut self, ctx: &Ctx) {
        self.load(ctx.vault);
    }

    fn on_reload(&mut self, ctx: &Ctx, shown: bool) {
        // Elsewhere it is read again when switched to.
        if shown {
            self.load(ctx.vault);
        }
    }

    fn on_outcome(&mut self, outcome: Outcome, _ctx: &Ctx) -> Effect {
        match outcome {
            Outcome::Verify(Ok(report)) if report.ok => Effect::success(format!(
                "ledger intact: {} events, head {}",
                report.events, report.head
            )),
            Outcome::Verify(Ok(report)) => Effect::error_line(format!(
                "ledger integrity FAILED{}",
                report
                    .first_bad_seq
                    .map(|s| format!(" at event {s}"))
                    .unwrap_or_default()
            )),
            Outcome::Verify(Err(e)) => Effect::error("Verification failed", &e),
            _ => Effect::None,
        }
    }
}

fn render(view: &LedgerView, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let block = Block::new().borders(Borders::TOP).title(Line::from(vec![
        Span::styled(" Ledger ", t.title()),
        Span::styled(format!("{} events ", view.events.len()), t.dim()),
    ]));
    let inner = block.inner(area);
    block.render(area, buf);
    let [verify_area, table_area] =
        Layout::vertical([Constraint::Length(3), Constraint::Min(2)]).areas(inner);

    // Verification: running (with the bar), or the last result.
    let verifying = ctx.job.filter(|j| j.label == VERIFYING);
    let lines: Vec<Line> = if let Some(job) = verifying {
        let secs = job.elapsed.as_secs();
        match job.total {
            Some(n) => vec![
                Line::styled(
                    format!("verifying: {} of {n} events… {secs}s", job.done.min(n)),
                    t.title(),
                ),
                fraction_bar(job.done, n, verify_area.width, t),
            ],
            None => vec![
                Line::styled(format!("counting events… {secs}s"), t.title()),
                progress_bar(job.elapsed, verify_area.width, t),
            ],
        }
    } else {
        match &ctx.data.last_verify {
            None => vec![Line::styled(
                "not verified in this session: press v to recompute the hash chain",
                t.dim(),
            )],
            Some((r, when)) if r.ok => vec![
                Line::styled(
                    format!("intact: {} events, verified {when}", r.events),
                    t.ok(),
                ),
                Line::styled(format!("head {}", r.head), t.dim()),
            ],
            Some((r, when)) => {
                let mut v = vec![Line::styled(
                    format!(
                        "integrity FAILED{} (verified {when})",
                        r.first_bad_seq
                            .map(|s| format!(" at event {s}"))
                            .unwrap_or_default()
                    ),
                    t.error(),
                )];
                for p in r.problems.iter().take(2) {
                    v.push(Line::styled(format!("- {p}"), t.error()));
                }
                v
            }
        }
    };
    Paragraph::new(lines).render(verify_area, buf);

    if let Some(p) = &view.problem {
        Paragraph::new(Line::styled(p.clone(), t.error())).render(table_area, buf);
        return;
    }
    let constraints = [
        Constraint::Length(6),
        Constraint::Length(20),
        Constraint::Length(19),
        Constraint::Fill(1),
        Constraint::Length(12),
    ];
    let widths = column_widths(table_area.width, &constraints);
    let rows: Vec<Row> = view
        .events
        .iter()
        .map(|e| {
            fitted_row(
                vec![
                    (format!("{:>6}", e.seq), t.text()),
                    (short_time(&e.time), t.text()),
                    (e.kind.clone(), t.text()),
                    (e.actor.clone(), t.text()),
                    (e.hash.chars().take(12).collect::<String>(), t.text()),
                ],
                &widths,
            )
        })
        .collect();
    let table = Table::new(rows, fixed_columns(&widths))
        .header(Row::new(vec!["   SEQ", "TIME (UTC)", "KIND", "ACTOR", "HASH"]).style(t.title()))
        .row_highlight_style(t.selected());
    let mut state = TableState::default().with_selected(if view.events.is_empty() {
        None
    } else {
        Some(view.selected)
    });
    ratatui::widgets::StatefulWidget::render(table, table_area, buf, &mut state);
}

/// `2026-01-02T03:04:05.678Z` as `2026-01-02 03:04:05` (UTC, whole seconds).
fn short_time(t: &str) -> String {
    t.chars()
        .take(19)
        .map(|c| if c == 'T' { ' ' } else { c })
        .collect()
}
