//! CRL: the last CRL the vault issued, the revocations the next one will list, and issuing it.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, Widget};

use super::super::app::App;
use super::super::ui::{days_until, group_hex, kv_lines};

pub(crate) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let block = Block::new()
        .borders(Borders::TOP)
        .title(Line::from(Span::styled(" CRL ", t.title())));
    let inner = block.inner(area);
    block.render(area, buf);
    let [top, bottom] = Layout::vertical([Constraint::Length(8), Constraint::Min(2)]).areas(inner);

    let mut pairs: Vec<(String, String)> = Vec::new();
    match &app.data.last_crl {
        Ok(Some(c)) => {
            pairs.push(("last CRL".into(), format!("number {}", c.number)));
            pairs.push(("this update".into(), c.this_update.clone()));
            let left = days_until(&c.next_update)
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

    match &app.data.revocations {
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
            let rows: Vec<Row> = revs
                .iter()
                .rev()
                .map(|r| {
                    Row::new(vec![
                        r.serial.clone(),
                        r.reason.clone(),
                        r.revoked_at.clone(),
                    ])
                })
                .collect();
            Table::new(
                rows,
                [
                    Constraint::Length(33),
                    Constraint::Length(21),
                    Constraint::Fill(1),
                ],
            )
            .header(Row::new(vec!["SERIAL", "REASON", "REVOKED AT"]).style(t.dim()))
            .render(table_area, buf);
        }
        Err(e) => Paragraph::new(Line::styled(e.clone(), t.error())).render(bottom, buf),
    }
}
