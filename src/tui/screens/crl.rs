//! CRL: the last CRL the vault issued, the revocations the next one will list, issuing it
//! (`i`) and writing it to a file (`w`).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, Widget};

use super::super::job::Outcome;
use super::super::keys::Action;
use super::super::modals::crl::IssueCrl;
use super::super::modals::prompt::{Prompt, PromptKind};
use super::super::view::{Ctx, Effect, Footer, ScreenView};
use super::super::widgets::{column_widths, days_until, fitted_row, group_hex, kv_lines};

/// The CRL screen shows what the app read; it has no state of its own.
#[derive(Debug, Default)]
pub(crate) struct Crl;

impl ScreenView for Crl {
    fn handle(&mut self, action: Action, ctx: &Ctx) -> Effect {
        match action {
            Action::IssueCrl if !ctx.unlocked() => Effect::locked(),
            Action::IssueCrl if !ctx.data.has_root => {
                Effect::failed("No root", &crate::error::Refusal::NoRoot.into())
            }
            Action::IssueCrl => Effect::open(IssueCrl::new()),
            Action::WriteCrl => match &ctx.data.last_crl {
                Ok(Some(c)) => Effect::open(Prompt::new(
                    PromptKind::CrlOut(c.number, c.der.clone()),
                    &format!("crl-{}.pem", c.number),
                )),
                _ => Effect::info("no CRL has been issued yet; i issues one"),
            },
            _ => Effect::None,
        }
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        render(ctx, area, buf)
    }

    fn footer(&self, _ctx: &Ctx) -> Footer {
        Footer::with_global(vec![("i", "issue next CRL"), ("w", "write last CRL")])
    }

    fn on_outcome(&mut self, outcome: Outcome, _ctx: &Ctx) -> Effect {
        match outcome {
            Outcome::Crl(Ok(crl)) => Effect::success(format!(
                "CRL {} issued: {} revoked, next update {}; w writes it to a file",
                crl.number, crl.entries, crl.next_update
            )),
            Outcome::Crl(Err(e)) => Effect::failed("No CRL issued", &e),
            _ => Effect::None,
        }
    }
}

fn render(ctx: &Ctx, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let block = Block::new()
        .borders(Borders::TOP)
        .title(Line::from(Span::styled(" CRL ", t.title())));
    let inner = block.inner(area);
    block.render(area, buf);
    let [top, bottom] = Layout::vertical([Constraint::Length(8), Constraint::Min(2)]).areas(inner);

    let mut pairs: Vec<(String, String)> = Vec::new();
    match &ctx.data.last_crl {
        Ok(Some(c)) => {
            pairs.push(("last CRL".into(), format!("number {}", c.number)));
            pairs.push(("this update".into(), c.this_update.clone()));
            let left = days_until(&c.next_update, ctx.now)
                .map(|d| {
                    if d < 0 {
                        format!(" (EXPIRED {} days ago)", -d)
                    } else {
                        format!(" (in {d} days)")
                    }
                })
                .unwrap_or_default();
            pairs.push(("next update".into(), format!("{}{left}", c.next_update)));
            pairs.push(("entries".into(), c.entries.to_string()));
            pairs.push(("SHA-256".into(), group_hex(&c.sha256)));
            pairs.push(("ledger event".into(), c.event_seq.to_string()));
        }
        Ok(None) => pairs.push(("last CRL".into(), "none issued yet".into())),
        Err(e) => pairs.push(("last CRL".into(), format!("error: {e}"))),
    }
    Paragraph::new(kv_lines(&pairs, top.width, t)).render(top, buf);

    match &ctx.data.revocations {
        Ok(revs) => {
            let title = Line::styled(
                format!(
                    "Revocations ({}): the next CRL lists all of them",
                    revs.len()
                ),
                t.title(),
            );
            let [head, table_area] =
                Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(bottom);
            Paragraph::new(title).render(head, buf);
            let constraints = [
                Constraint::Length(33),
                Constraint::Length(21),
                Constraint::Fill(1),
            ];
            let widths = column_widths(table_area.width, &constraints);
            let rows: Vec<Row> = revs
                .iter()
                .rev()
                .map(|r| {
                    fitted_row(
                        vec![
                            (r.serial.clone(), t.text()),
                            (r.reason.clone(), t.text()),
                            (r.revoked_at.clone(), t.text()),
                        ],
                        &widths,
                    )
                })
                .collect();
            Table::new(rows, constraints)
                .header(Row::new(vec!["SERIAL", "REASON", "REVOKED AT"]).style(t.dim()))
                .render(table_area, buf);
        }
        Err(e) => Paragraph::new(Line::styled(e.clone(), t.error())).render(bottom, buf),
    }
}
