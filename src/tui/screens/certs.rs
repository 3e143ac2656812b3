//! Certificates: the issued intermediates, filtered by text and status, with details,
//! revocation and export.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Widget};

use crate::ceremony::CertInfo;

use super::super::app::{Action, App, Modal};

/// Which statuses are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum StatusFilter {
    #[default]
    All,
    Valid,
    Revoked,
    Expired,
}

impl StatusFilter {
    fn next(self) -> StatusFilter {
        match self {
            StatusFilter::All => StatusFilter::Valid,
            StatusFilter::Valid => StatusFilter::Revoked,
            StatusFilter::Revoked => StatusFilter::Expired,
            StatusFilter::Expired => StatusFilter::All,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StatusFilter::All => "all",
            StatusFilter::Valid => "valid",
            StatusFilter::Revoked => "revoked",
            StatusFilter::Expired => "expired",
        }
    }

    fn admits(self, status: &str) -> bool {
        self == StatusFilter::All || self.name() == status
    }
}

/// The certificates screen's state.
#[derive(Debug, Default)]
pub(crate) struct CertsView {
    pub selected: usize,
    pub filter: String,
    pub editing_filter: bool,
    pub status: StatusFilter,
}

impl CertsView {
    /// The certificates the filters let through, newest first.
    pub fn visible<'c>(&self, all: &'c [CertInfo]) -> Vec<&'c CertInfo> {
        let needle = self.filter.to_lowercase();
        all.iter()
            .rev()
            .filter(|c| self.status.admits(c.status))
            .filter(|c| {
                needle.is_empty()
                    || c.cluster
                        .as_deref()
                        .unwrap_or("")
                        .to_lowercase()
                        .contains(&needle)
                    || c.serial.contains(&needle)
                    || c.subject.to_lowercase().contains(&needle)
            })
            .collect()
    }

    pub fn clamp(&mut self, all: &[CertInfo]) {
        let n = self.visible(all).len();
        self.selected = self.selected.min(n.saturating_sub(1));
    }
}

impl App {
    pub(crate) fn certs_action(&mut self, action: Action) {
        let all: &[CertInfo] = self.data.certs.as_deref().unwrap_or(&[]);
        if self.certs.editing_filter {
            match action {
                Action::Type(c) => self.certs.filter.push(c),
                Action::Erase => {
                    self.certs.filter.pop();
                }
                Action::Enter => self.certs.editing_filter = false,
                Action::Back => {
                    self.certs.filter.clear();
                    self.certs.editing_filter = false;
                }
                _ => {}
            }
            let all: &[CertInfo] = self.data.certs.as_deref().unwrap_or(&[]);
            self.certs.clamp(all);
            return;
        }
        let visible = self.certs.visible(all);
        let n = visible.len();
        let selected = visible.get(self.certs.selected).map(|c| (*c).clone());
        match action {
            Action::Up => self.certs.selected = self.certs.selected.saturating_sub(1),
            Action::Down => self.certs.selected = (self.certs.selected + 1).min(n.max(1) - 1),
            Action::PageUp => self.certs.selected = self.certs.selected.saturating_sub(10),
            Action::PageDown => self.certs.selected = (self.certs.selected + 10).min(n.max(1) - 1),
            Action::Home => self.certs.selected = 0,
            Action::End => self.certs.selected = n.saturating_sub(1),
            Action::Filter => self.certs.editing_filter = true,
            Action::CycleStatus => {
                self.certs.status = self.certs.status.next();
                self.certs.selected = 0;
            }
            Action::Back => {
                self.certs.filter.clear();
                self.certs.status = StatusFilter::All;
            }
            Action::Enter => {
                if let Some(c) = selected {
                    self.modal = Some(Modal::Details {
                        title: format!("Certificate {}", c.serial),
                        lines: details(&c),
                        scroll: 0,
                    });
                }
            }
            Action::Revoke => match selected {
                Some(c) => self.open_revoke(&c.serial),
                None => self.info("no certificate selected".to_owned()),
            },
            Action::Export => {
                self.open_export(selected.as_ref().and_then(|c| c.cluster.as_deref()))
            }
            _ => {}
        }
    }
}

fn details(c: &CertInfo) -> Vec<(String, String)> {
    let mut v = vec![
        (
            "cluster".to_owned(),
            c.cluster.clone().unwrap_or_else(|| "-".into()),
        ),
        ("serial".to_owned(), c.serial.clone()),
        ("status".to_owned(), c.status.to_owned()),
        ("subject".to_owned(), c.subject.clone()),
        ("not before".to_owned(), c.not_before.clone()),
        ("not after".to_owned(), c.not_after.clone()),
        ("key".to_owned(), c.key_type.clone()),
        ("SHA-256".to_owned(), c.sha256.clone()),
    ];
    if let Some(t) = &c.revoked_at {
        v.push(("revoked at".to_owned(), t.clone()));
    }
    v
}

pub(crate) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let view = &app.certs;
    let filter = if view.editing_filter {
        Span::styled(format!("/{}_", view.filter), t.input())
    } else if view.filter.is_empty() {
        Span::styled("/ to filter", t.dim())
    } else {
        Span::raw(format!("filter {:?}", view.filter))
    };
    let block = Block::new().borders(Borders::TOP).title(Line::from(vec![
        Span::styled(" Certificates ", t.title()),
        Span::raw(format!("status: {} ", view.status.name())),
        filter,
        Span::raw(" "),
    ]));
    let inner = block.inner(area);
    block.render(area, buf);
    let all = match &app.data.certs {
        Ok(c) => c.as_slice(),
        Err(e) => {
            Paragraph::new(Line::styled(e.clone(), t.error())).render(inner, buf);
            return;
        }
    };
    let visible = view.visible(all);
    let [table_area, count_area] =
        Layout::vertical([Constraint::Min(2), Constraint::Length(1)]).areas(inner);
    let wide = inner.width >= 100;
    let rows: Vec<Row> = visible
        .iter()
        .map(|c| {
            let style = match c.status {
                "valid" => t.ok(),
                "revoked" => t.error(),
                _ => t.warn(),
            };
            let not_after = if wide {
                c.not_after.clone()
            } else {
                c.not_after.chars().take(10).collect()
            };
            Row::new(vec![
                Cell::from(c.cluster.clone().unwrap_or_else(|| "-".into())),
                Cell::from(c.serial.clone()),
                Cell::from(Span::styled(c.status, style)),
                Cell::from(not_after),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Fill(1),
            Constraint::Length(33),
            Constraint::Length(8),
            Constraint::Length(if wide { 20 } else { 10 }),
        ],
    )
    .header(Row::new(vec!["CLUSTER", "SERIAL", "STATUS", "NOT AFTER"]).style(t.title()))
    .row_highlight_style(t.selected());
    let mut state = TableState::default().with_selected(if visible.is_empty() {
        None
    } else {
        Some(view.selected)
    });
    ratatui::widgets::StatefulWidget::render(table, table_area, buf, &mut state);
    Paragraph::new(Line::styled(
        format!("{} of {} certificates", visible.len(), all.len()),
        t.dim(),
    ))
    .render(count_area, buf);
}
