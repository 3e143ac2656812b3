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
use super::super::widgets::{
    column_widths, days_until, fitted_row, fixed_columns, group_hex, kv_lines,
};

/// The CRL screen: which root generation's CRLs it shows (←→ picks; the active one until
/// the operator picks another). Everything else is what the app read.
#[derive(Debug, Default)]
pub(crate) struct Crl {
    picked: Option<u32>,
}

impl Crl {
    /// The generations that have a certificate (a pending one signs nothing), oldest first.
    fn signing(ctx: &Ctx) -> Vec<u32> {
        ctx.data
            .generations()
            .iter()
            .filter(|g| g.sha256.is_some())
            .map(|g| g.generation)
            .collect()
    }

    /// The generation shown: the one picked, else the active one.
    fn generation(&self, ctx: &Ctx) -> Option<u32> {
        let gens = Self::signing(ctx);
        self.picked
            .filter(|g| gens.contains(g))
            .or_else(|| ctx.data.active().map(|g| g.generation))
            .or_else(|| gens.last().copied())
    }
}

impl ScreenView for Crl {
    fn handle(&mut self, action: Action, ctx: &Ctx) -> Effect {
        let generation = self.generation(ctx);
        match action {
            Action::Left | Action::Right => {
                let gens = Self::signing(ctx);
                if let Some(at) = generation.and_then(|g| gens.iter().position(|x| *x == g)) {
                    let n = gens.len();
                    let to = if action == Action::Left {
                        (at + n - 1) % n
                    } else {
                        (at + 1) % n
                    };
                    self.picked = Some(gens[to]);
                }
                Effect::None
            }
            Action::IssueCrl if !ctx.unlocked() => Effect::locked(),
            Action::IssueCrl => match generation {
                None => Effect::failed("No root", &crate::error::Refusal::NoRoot.into()),
                Some(g) => Effect::open(IssueCrl::new(g)),
            },
            Action::WriteCrl => {
                match generation.and_then(|g| ctx.data.last_crl_of(g).map(|c| (g, c))) {
                    Some((g, c)) => Effect::open(Prompt::new(
                        PromptKind::CrlOut(c.number, c.der.clone()),
                        &crl_file_name(g, c.number),
                    )),
                    None => Effect::info("this generation has issued no CRL yet; i issues one"),
                }
            }
            _ => Effect::None,
        }
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        render(self.generation(ctx), ctx, area, buf)
    }

    fn footer(&self, ctx: &Ctx) -> Footer {
        let mut keys = vec![("i", "issue next CRL"), ("w", "write last CRL")];
        if Self::signing(ctx).len() > 1 {
            keys.push(("←→", "generation"));
        }
        Footer::with_global(keys)
    }

    fn on_outcome(&mut self, outcome: Outcome, _ctx: &Ctx) -> Effect {
        match outcome {
            Outcome::Crl(Ok(crl)) => {
                self.picked = Some(crl.generation);
                Effect::success(format!(
                    "CRL {} issued: {} revoked, next update {} (root generation {}); w writes it to a file",
                    crl.number, crl.entries, crl.next_update, crl.generation
                ))
            }
            Outcome::Crl(Err(e)) => Effect::failed("No CRL issued", &e),
            _ => Effect::None,
        }
    }
}

/// The file name suggested for a CRL: `crl-N.pem` for the first generation (as before
/// generations), `crl-gG-N.pem` for later ones.
fn crl_file_name(generation: u32, number: i64) -> String {
    if generation == 1 {
        format!("crl-{number}.pem")
    } else {
        format!("crl-g{generation}-{number}.pem")
    }
}

fn render(generation: Option<u32>, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let block = Block::new()
        .borders(Borders::TOP)
        .title(Line::from(Span::styled(" CRL ", t.title())));
    let inner = block.inner(area);
    block.render(area, buf);
    let [top, bottom] = Layout::vertical([Constraint::Length(8), Constraint::Min(2)]).areas(inner);

    let mut pairs: Vec<(String, String)> = Vec::new();
    let info = generation.and_then(|g| ctx.data.generations().iter().find(|x| x.generation == g));
    pairs.push((
        "generation".into(),
        match info {
            Some(g) => format!(
                "{} ({}{}): its CRLs list the revocations of its intermediates",
                g.generation,
                g.status,
                if g.key_destroyed {
                    ", key destroyed"
                } else {
                    ""
                }
            ),
            None => "none yet".into(),
        },
    ));
    match (
        &ctx.data.last_crl,
        generation.and_then(|g| ctx.data.last_crl_of(g)),
    ) {
        (Err(e), _) => pairs.push(("last CRL".into(), format!("error: {e}"))),
        (Ok(_), Some(c)) => {
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
        (Ok(_), None) => pairs.push(("last CRL".into(), "none issued yet".into())),
    }
    Paragraph::new(kv_lines(&pairs, top.width, t)).render(top, buf);

    match &ctx.data.revocations {
        Ok(all) => {
            let of_generation = |serial: &str| {
                ctx.data
                    .certs()
                    .iter()
                    .find(|c| c.serial == serial)
                    .is_none_or(|c| c.generation.is_none() || c.generation == generation)
            };
            let revs: Vec<_> = all.iter().filter(|r| of_generation(&r.serial)).collect();
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
            Table::new(rows, fixed_columns(&widths))
                .header(Row::new(vec!["SERIAL", "REASON", "REVOKED AT"]).style(t.dim()))
                .render(table_area, buf);
        }
        Err(e) => Paragraph::new(Line::styled(e.clone(), t.error())).render(bottom, buf),
    }
}
