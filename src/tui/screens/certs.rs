//! Certificates: the issued intermediates, filtered by text and status, with details,
//! revocation and export.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, TableState, Widget};

use crate::ceremony::{CertInfo, CertStatus};
use crate::error::{Error, NotConfirmed, Refusal};
use crate::policy::ClusterName;

use super::super::field::TextField;
use super::super::job::Outcome;
use super::super::keys::{Action, Screen};
use super::super::modals::export::{export_outcome, ExportForm};
use super::super::modals::message::Details;
use super::super::modals::revoke::RevokeReason;
use super::super::view::{Ctx, Effect, Footer, ScreenView};
use super::super::widgets::{column_widths, fitted_row, fixed_columns, group_hex};
use super::super::words;

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

    fn admits(self, status: CertStatus) -> bool {
        self == StatusFilter::All || self.name() == status.as_str()
    }
}

/// The certificates screen's state.
#[derive(Debug, Default)]
pub(crate) struct Certs {
    selected: usize,
    filter: TextField,
    editing_filter: bool,
    status: StatusFilter,
    /// The serial of the selected certificate (what a status line is about).
    selected_serial: String,
}

impl Certs {
    /// The certificates the filters let through, newest first.
    fn visible<'c>(&self, all: &'c [CertInfo]) -> Vec<&'c CertInfo> {
        let needle = self.filter.text().to_lowercase();
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

    fn clamp(&mut self, all: &[CertInfo]) {
        let visible = self.visible(all);
        self.selected = self.selected.min(visible.len().saturating_sub(1));
        self.selected_serial = visible
            .get(self.selected)
            .map(|c| c.serial.clone())
            .unwrap_or_default();
    }

    fn filter_action(&mut self, action: Action, ctx: &Ctx) -> Effect {
        match action {
            Action::Enter => self.editing_filter = false,
            Action::Back => {
                self.filter.clear();
                self.editing_filter = false;
            }
            other => {
                self.filter.edit(other);
            }
        }
        self.clamp(ctx.data.certs());
        Effect::None
    }

    fn keys(&mut self, action: Action, ctx: &Ctx) -> Effect {
        if self.editing_filter {
            return self.filter_action(action, ctx);
        }
        let visible = self.visible(ctx.data.certs());
        let n = visible.len();
        let selected = visible.get(self.selected).map(|c| (*c).clone());
        match action {
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => self.selected = (self.selected + 1).min(n.max(1) - 1),
            Action::PageUp => self.selected = self.selected.saturating_sub(10),
            Action::PageDown => self.selected = (self.selected + 10).min(n.max(1) - 1),
            Action::Home => self.selected = 0,
            Action::End => self.selected = n.saturating_sub(1),
            Action::Filter => self.editing_filter = true,
            Action::CycleStatus => {
                self.status = self.status.next();
                self.selected = 0;
            }
            Action::Back => {
                self.filter.clear();
                self.status = StatusFilter::All;
            }
            Action::Enter => {
                if let Some(c) = selected {
                    return Effect::open(Details::new(
                        format!("Certificate {}", c.serial),
                        details(&c),
                    ));
                }
            }
            Action::Revoke => {
                // Checked before anything opens: the locked token, a certificate already
                // revoked.
                return match selected {
                    None => Effect::info("no certificate selected"),
                    Some(_) if !ctx.unlocked() => Effect::locked(),
                    Some(c) if c.status == CertStatus::Revoked => Effect::error_line(format!(
                        "error: certificate {} of cluster {} was already revoked at {}",
                        c.serial,
                        c.cluster.as_deref().unwrap_or("-"),
                        c.revoked_at.as_deref().unwrap_or("-")
                    )),
                    Some(c) => Effect::open(RevokeReason::new(&c)),
                };
            }
            Action::Export => {
                let cluster = match selected
                    .as_ref()
                    .and_then(|c| c.cluster.as_deref())
                    .map(str::parse::<ClusterName>)
                {
                    Some(Ok(c)) => c,
                    _ => return Effect::info("select a certificate of a cluster to export"),
                };
                if !ctx.unlocked() {
                    return Effect::locked();
                }
                let valid = ctx.data.certs().iter().any(|c| {
                    c.cluster.as_deref() == Some(cluster.as_str()) && c.status == CertStatus::Valid
                });
                if !valid {
                    let e: crate::error::Error =
                        Refusal::NoValidCertificate(cluster.to_string()).into();
                    return Effect::error_line(format!("error: {}", words::say(&e)));
                }
                return Effect::open(ExportForm::new(cluster, Screen::Certificates));
            }
            _ => {}
        }
        Effect::None
    }
}

impl ScreenView for Certs {
    fn handle(&mut self, action: Action, ctx: &Ctx) -> Effect {
        let effect = self.keys(action, ctx);
        self.clamp(ctx.data.certs());
        effect
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        render(self, ctx, area, buf)
    }

    fn footer(&self, _ctx: &Ctx) -> Footer {
        if self.editing_filter {
            return Footer::only(vec![
                ("Enter", "keep filter"),
                ("Esc", "clear"),
                ("Ctrl-C", "quit"),
            ]);
        }
        Footer::with_global(vec![
            ("Enter", "details"),
            ("/", "filter"),
            ("f", "status"),
            ("r", "revoke"),
            ("e", "export"),
        ])
    }

    fn takes_text(&self) -> bool {
        self.editing_filter
    }

    fn item(&self) -> Option<String> {
        Some(self.selected_serial.clone())
    }

    fn on_leave(&mut self) {
        self.editing_filter = false;
    }

    fn on_reload(&mut self, ctx: &Ctx, _shown: bool) {
        self.clamp(ctx.data.certs());
    }

    fn on_outcome(&mut self, outcome: Outcome, _ctx: &Ctx) -> Effect {
        match outcome {
            Outcome::Revoke(reason, Ok(revoked)) => {
                let text = revoked
                    .iter()
                    .map(|c| {
                        format!(
                            "revoked: cluster {} serial {} ({})",
                            c.cluster.as_deref().unwrap_or("-"),
                            c.serial,
                            reason.name()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                Effect::success(format!("{text}; issue a new CRL on screen 5 (CRL)"))
            }
            Outcome::Revoke(_, Err(Error::NotConfirmed(NotConfirmed::Declined { nothing }))) => {
                Effect::info(format!("not confirmed; {nothing}"))
            }
            Outcome::Revoke(_, Err(e)) => Effect::failed("Not revoked", &e),
            Outcome::Export(r) => export_outcome(r),
            _ => Effect::None,
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
        ("status".to_owned(), c.status.to_string()),
        ("subject".to_owned(), c.subject.clone()),
        ("not before".to_owned(), c.not_before.clone()),
        ("not after".to_owned(), c.not_after.clone()),
        ("key".to_owned(), c.key_type.clone()),
        ("SHA-256".to_owned(), group_hex(&c.sha256)),
    ];
    if let Some(t) = &c.revoked_at {
        v.push(("revoked at".to_owned(), t.clone()));
    }
    v
}

fn render(view: &Certs, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let filter = if view.editing_filter {
        Span::styled(format!("/{}_", view.filter.text()), t.input())
    } else if view.filter.is_empty() {
        Span::styled("/ to filter", t.dim())
    } else {
        Span::raw(format!("filter {:?}", view.filter.text()))
    };
    let block = Block::new().borders(Borders::TOP).title(Line::from(vec![
        Span::styled(" Certificates ", t.title()),
        Span::raw(format!("status: {} ", view.status.name())),
        filter,
        Span::raw(" "),
    ]));
    let inner = block.inner(area);
    block.render(area, buf);
    let all = match &ctx.data.certs {
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
    let constraints = [
        Constraint::Fill(1),
        Constraint::Length(33),
        Constraint::Length(8),
        Constraint::Length(if wide { 20 } else { 10 }),
    ];
    let widths = column_widths(table_area.width, &constraints);
    let rows: Vec<Row> = visible
        .iter()
        .map(|c| {
            let style = match c.status {
                CertStatus::Valid => t.ok(),
                CertStatus::Revoked => t.error(),
                CertStatus::Expired => t.warn(),
            };
            let not_after = if wide {
                c.not_after.clone()
            } else {
                c.not_after.chars().take(10).collect()
            };
            fitted_row(
                vec![
                    (c.cluster.clone().unwrap_or_else(|| "-".into()), t.text()),
                    (c.serial.clone(), t.text()),
                    (c.status.to_string(), style),
                    (not_after, t.text()),
                ],
                &widths,
            )
        })
        .collect();
    let table = Table::new(rows, fixed_columns(&widths))
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
