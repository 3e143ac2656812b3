//! Ledger: the events, scrollable, with details, and verification with a progress bar on a
//! worker thread.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Widget};

use crate::vault::Vault;

use super::super::app::{Action, App, Modal};
use super::super::ui::{fraction_bar, progress_bar};

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
    pub stale: bool,
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
        self.stale = false;
    }

    pub fn navigate(&mut self, action: Action) {
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
    pub fn details(&self, vault: &Vault) -> Option<Modal> {
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
            return Some(Modal::Error {
                title: "Cannot read the event".into(),
                text: e.to_string(),
            });
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
            ("prev hash".to_owned(), e.prev_hash),
            ("hash".to_owned(), e.hash),
            ("payload".to_owned(), String::new()),
        ];
        for l in payload.lines() {
            lines.push((String::new(), l.to_owned()));
        }
        Some(Modal::Details {
            title: format!("Event {seq}"),
            lines,
            scroll: 0,
        })
    }
}

pub(crate) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let view = &app.ledger;
    let block = Block::new().borders(Borders::TOP).title(Line::from(vec![
        Span::styled(" Ledger ", t.title()),
        Span::styled(format!("{} events ", view.events.len()), t.dim()),
    ]));
    let inner = block.inner(area);
    block.render(area, buf);
    let [verify_area, table_area] =
        Layout::vertical([Constraint::Length(3), Constraint::Min(2)]).areas(inner);

    // Verification: running (with the bar), or the last result.
    let verifying = app
        .job
        .as_ref()
        .filter(|j| j.label == "verifying the ledger");
    let lines: Vec<Line> = if let Some(job) = verifying {
        let secs = job.started.elapsed().as_secs();
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
                progress_bar(job.started.elapsed(), verify_area.width, t),
            ],
        }
    } else {
        match &app.last_verify {
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
    let rows: Vec<Row> = view
        .events
        .iter()
        .map(|e| {
            Row::new(vec![
                Cell::from(format!("{:>6}", e.seq)),
                Cell::from(short_time(&e.time)),
                Cell::from(e.kind.clone()),
                Cell::from(e.actor.clone()),
                Cell::from(e.hash.chars().take(12).collect::<String>()),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(6),
            Constraint::Length(20),
            Constraint::Length(19),
            Constraint::Fill(1),
            Constraint::Length(12),
        ],
    )
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
