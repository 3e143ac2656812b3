//! Overview: the vault and its trust domain, the software running, the token, the
//! witnesses, every root generation (↑↓ selects one), the ledger, the certificates and what
//! needs attention soon. Root steps start here: `n` creates the first root, `r` rotates, `x`
//! retires and `D` destroys the key of the selected generation, `c` makes a key and request
//! for an enterprise root and `i` imports its certificate.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, Widget};

use crate::ceremony::{CertStatus, GenerationInfo};

use super::super::job::Outcome;
use super::super::keys::Action;
use super::super::modals::generations::{self, CsrForm, ImportForm, RotateForm};
use super::super::modals::root::RootForm;
use super::super::view::{Ctx, Effect, Footer, ScreenView, Session};
use super::super::widgets::{
    column_widths, days_until, fitted_row, fixed_columns, group_hex, kv_lines,
};
use super::super::words;

/// How close an expiry must be to be listed.
const SOON_DAYS: i64 = 30;
/// How close the root's expiry must be to be listed.
const ROOT_SOON_DAYS: i64 = 365;

/// The overview's state: which root generation is selected (newest first).
#[derive(Debug, Default)]
pub(crate) struct Overview {
    selected: usize,
}

impl Overview {
    /// The generations, newest first, as the table lists them.
    fn listed<'a>(ctx: &'a Ctx) -> Vec<&'a GenerationInfo> {
        ctx.data.generations().iter().rev().collect()
    }

    fn selected_generation(&self, ctx: &Ctx) -> Option<u32> {
        Self::listed(ctx).get(self.selected).map(|g| g.generation)
    }
}

impl ScreenView for Overview {
    fn handle(&mut self, action: Action, ctx: &Ctx) -> Effect {
        let n = ctx.data.generations().len();
        match action {
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => self.selected = (self.selected + 1).min(n.max(1) - 1),
            Action::Home => self.selected = 0,
            Action::End => self.selected = n.saturating_sub(1),
            Action::CreateRoot => {
                return if !ctx.data.generations().is_empty() {
                    Effect::info("this vault already has a root; r rotates to a new generation")
                } else if !ctx.unlocked() {
                    Effect::locked()
                } else {
                    Effect::open(RootForm::new())
                }
            }
            Action::Rotate => {
                let check = match ctx.data.active() {
                    None => Some(crate::error::Refusal::NoRoot.into()),
                    Some(_) => ctx
                        .data
                        .pending()
                        .map(|p| crate::error::Refusal::PendingExists(p.generation).into()),
                };
                return match check {
                    Some(e) => Effect::failed("Cannot rotate", &e),
                    None if !ctx.unlocked() => Effect::locked(),
                    None => Effect::open(RotateForm::new(ctx)),
                };
            }
            Action::RootCsr => {
                return match ctx.data.pending() {
                    Some(p) => Effect::failed(
                        "Cannot make another root key",
                        &crate::error::Refusal::PendingExists(p.generation).into(),
                    ),
                    None if !ctx.unlocked() => Effect::locked(),
                    None => Effect::open(CsrForm::new(ctx)),
                };
            }
            Action::ImportRoot => {
                return match ctx.data.pending() {
                    None => Effect::failed(
                        "Nothing to import",
                        &crate::error::Refusal::NoPending.into(),
                    ),
                    Some(_) if !ctx.unlocked() => Effect::locked(),
                    Some(_) => Effect::open(ImportForm::new()),
                };
            }
            Action::Retire | Action::DestroyKey => {
                let Some(g) = self.selected_generation(ctx) else {
                    return Effect::info("this vault has no root generation yet");
                };
                return if action == Action::Retire {
                    generations::retire(g, ctx)
                } else {
                    generations::destroy_key(g, ctx)
                };
            }
            _ => {}
        }
        Effect::None
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        render(self, ctx, area, buf)
    }

    fn footer(&self, ctx: &Ctx) -> Footer {
        let mut keys = Vec::new();
        if !ctx.unlocked() {
            keys.push(("u", "unlock"));
        }
        let data = ctx.data;
        if data.generations().is_empty() {
            if ctx.unlocked() {
                keys.push(("n", "new root"));
            }
            keys.push(("c", "root CSR"));
        } else {
            let gens = data.generations();
            if gens.len() > 1 {
                keys.push(("↑↓", "generation"));
            }
            if data.pending().is_some() {
                keys.push(("i", "import"));
            } else {
                keys.push(("r", "rotate"));
                keys.push(("c", "root CSR"));
            }
            if gens.iter().any(|g| g.status == "trusted") {
                keys.push(("x", "retire"));
            }
            if gens
                .iter()
                .any(|g| g.status == "retired" && !g.key_destroyed)
            {
                keys.push(("D", "destroy key"));
            }
        }
        keys.push(("R", "reload"));
        Footer::with_global(keys)
    }

    fn on_reload(&mut self, ctx: &Ctx, _shown: bool) {
        let n = ctx.data.generations().len();
        self.selected = self.selected.min(n.saturating_sub(1));
    }

    fn on_outcome(&mut self, outcome: Outcome, _ctx: &Ctx) -> Effect {
        match outcome {
            Outcome::CreateRoot(Ok(_)) => {
                Effect::success("root created; its key stays on the token")
            }
            Outcome::CreateRoot(Err(e)) => Effect::failed("No root created", &e),
            Outcome::Retire(g, Ok(_)) => Effect::success(format!(
                "generation {g} retired: it is in no trust bundle and signs only its own CRLs; export every cluster again (4, e)"
            )),
            Outcome::Retire(_, Err(e)) => not_done(&e, "Not retired"),
            Outcome::DestroyKey(g, Ok(_)) => Effect::success(format!(
                "the key of generation {g} was destroyed on the token; it signs nothing any more"
            )),
            Outcome::DestroyKey(_, Err(e)) => not_done(&e, "No key destroyed"),
            _ => Effect::None,
        }
    }
}

/// A declined confirmation is said in the status line; anything else in full.
fn not_done(e: &crate::Error, title: &str) -> Effect {
    match e {
        crate::Error::NotConfirmed(_) => Effect::info(words::say(e)),
        _ => Effect::failed(title, e),
    }
}

/// What needs attention: expiries within 30 days (CRL, intermediates), the active root
/// within a year, a pending generation, exports stale for the phase, a PIN close to locking,
/// a failed verification.
pub(crate) fn warnings(ctx: &Ctx) -> Vec<String> {
    let data = ctx.data;
    let mut w = Vec::new();
    match (&data.generations, data.active()) {
        (Err(e), _) => w.push(format!("the root generations cannot be read: {e}")),
        (Ok(_), Some(g)) => {
            if let Some(d) = g.not_after.as_deref().and_then(|t| days_until(t, ctx.now)) {
                if d < 0 {
                    w.push(format!("the active root EXPIRED {} days ago", -d));
                } else if d <= ROOT_SOON_DAYS {
                    w.push(format!(
                        "the active root expires in {d} days: rotate to a new root (r)"
                    ));
                }
            }
        }
        (Ok(gens), None) if gens.is_empty() => {
            w.push("no root yet: unlock the token (2, then u), then press n to create it".into())
        }
        (Ok(_), None) => {}
    }
    if let Some(p) = data.pending() {
        w.push(format!(
            "generation {} is pending: import the certificate the enterprise root issues for it (i)",
            p.generation
        ));
    }
    match &data.freshness {
        Ok(exports) => {
            for e in exports.iter().filter(|e| e.stale) {
                w.push(format!(
                    "cluster {}: its last export ({}, {}) is stale for this phase: {}; export it again (4, e)",
                    e.cluster,
                    e.format,
                    e.path,
                    e.reasons
                        .iter()
                        .map(|r| r.trim_end_matches(": export it again"))
                        .collect::<Vec<_>>()
                        .join("; ")
                ));
            }
        }
        Err(e) => w.push(format!("the exports cannot be judged: {e}")),
    }
    for c in data
        .certs()
        .iter()
        .filter(|c| c.status == CertStatus::Valid)
    {
        if let Some(d) = days_until(&c.not_after, ctx.now) {
            if d <= SOON_DAYS {
                w.push(format!(
                    "cluster {}: intermediate {} expires in {d} days",
                    c.cluster.as_deref().unwrap_or("-"),
                    &c.serial[..c.serial.len().min(12)]
                ));
            }
        }
    }
    match (&data.last_crl, &data.revocations) {
        (Ok(Some(crl)), _) => {
            if let Some(d) = days_until(&crl.next_update, ctx.now) {
                if d < 0 {
                    w.push(format!(
                        "CRL {} is past its next update ({} days ago): issue the next CRL (5)",
                        crl.number, -d
                    ));
                } else if d <= SOON_DAYS {
                    w.push(format!(
                        "CRL {} reaches its next update in {d} days: issue the next CRL (5)",
                        crl.number
                    ));
                }
            }
        }
        (Ok(None), Ok(revs)) if !revs.is_empty() => w.push(format!(
            "{} revocation(s) and no CRL issued yet: issue one (5)",
            revs.len()
        )),
        _ => {}
    }
    if let Some(Ok(t)) = &data.token {
        if !ctx.unlocked() && (t.pin.locked || t.pin.final_try || t.pin.count_low) {
            w.push(format!("token user PIN: {}", words::pin_state(&t.pin)));
        }
    }
    if let Some((r, _)) = &data.last_verify {
        if !r.ok {
            w.push("the ledger FAILED verification: see screen 6 (Ledger)".into());
        }
    }
    w
}

/// The witnesses line: M of N, and who.
fn witnesses_line(ctx: &Ctx) -> String {
    match &ctx.data.witnesses {
        Ok(w) if w.required == 0 => format!("none required ({} registered)", w.registered.len()),
        Ok(w) => {
            let names: Vec<&str> = w.registered.iter().map(|w| w.name.as_str()).collect();
            format!(
                "{} of {} must sign every trust-changing action: {}",
                w.required,
                w.registered.len(),
                names.join(", ")
            )
        }
        Err(e) => format!("error: {e}"),
    }
}

fn render(overview: &Overview, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let data = ctx.data;
    let block = Block::new()
        .borders(Borders::TOP)
        .title(Line::from(Span::styled(" Overview ", t.title())));
    let inner = block.inner(area);
    block.render(area, buf);

    let mut pairs: Vec<(String, String)> = Vec::new();
    pairs.push((
        "vault".into(),
        format!(
            "{} · trust domain {}",
            ctx.vault.dir().display(),
            data.trust_domain
                .as_deref()
                .unwrap_or("none (intermediates are not name-constrained by default)")
        ),
    ));
    match &data.software {
        Ok(s) => {
            pairs.push((
                "software".into(),
                format!("{} · commit {}", s.version, s.commit),
            ));
            pairs.push(("  SHA-256".into(), group_hex(&s.sha256)));
        }
        Err(e) => pairs.push(("software".into(), format!("error: {e}"))),
    }
    pairs.push((
        "operator".into(),
        format!(
            "{} ({}; recorded with every action)",
            ctx.operator.0,
            if ctx.operator_typed {
                "typed at the start of this session"
            } else {
                "from the system"
            }
        ),
    ));
    let login = if ctx.unlocked() {
        "LOGGED IN"
    } else {
        "not logged in"
    };
    let token = match (ctx.session, &data.token) {
        (Session::Unlocked(s), _) => format!("{:?} serial {} · {login}", s.label, s.serial),
        (_, Some(Ok(r))) => format!(
            "{:?} serial {} · {login} · PIN {}",
            r.label,
            r.serial,
            words::pin_state(&r.pin)
        ),
        (_, Some(Err(e))) => format!("error: {e}"),
        (Session::Lent, None) => format!("in use · {login}"),
        (Session::Locked, None) => "reading…".into(),
    };
    pairs.push(("token".into(), token));
    pairs.push(("witnesses".into(), witnesses_line(ctx)));
    let verified = match &data.last_verify {
        None => "not verified in this session".to_owned(),
        Some((r, when)) if r.ok => format!("intact at {when}"),
        Some((r, when)) => format!(
            "FAILED{} at {when}",
            r.first_bad_seq
                .map(|s| format!(" (event {s})"))
                .unwrap_or_default()
        ),
    };
    pairs.push((
        "ledger".into(),
        match &data.head {
            Ok((n, head)) => format!(
                "{n} events · head {} · {verified}",
                head.chars().take(16).collect::<String>()
            ),
            Err(e) => format!("error: {e}"),
        },
    ));
    pairs.push((
        "intermediates".into(),
        match &data.certs {
            Ok(certs) => {
                let count = |s: CertStatus| certs.iter().filter(|c| c.status == s).count();
                format!(
                    "{} valid · {} revoked · {} expired",
                    count(CertStatus::Valid),
                    count(CertStatus::Revoked),
                    count(CertStatus::Expired)
                )
            }
            Err(e) => format!("error: {e}"),
        },
    ));
    pairs.push((
        "CRL".into(),
        match &data.last_crl {
            Ok(Some(c)) => format!(
                "generation {} number {} · next update {} · {} entries",
                c.generation, c.number, c.next_update, c.entries
            ),
            Ok(None) => "none issued yet".into(),
            Err(e) => format!("error: {e}"),
        },
    ));
    if data.generations.as_ref().is_ok_and(Vec::is_empty) {
        pairs.push((
            "root".into(),
            words::say(&crate::error::Refusal::NoRoot.into()),
        ));
    }
    let lines = kv_lines(&pairs, inner.width, t);
    let listed = Overview::listed(ctx);
    let table_rows = if listed.is_empty() {
        0
    } else {
        listed.len() as u16 + 1
    };
    let warnings = warnings(ctx);
    let [top, gens, bottom] = Layout::vertical([
        Constraint::Length(lines.len() as u16),
        Constraint::Length(table_rows + 1),
        Constraint::Min(1),
    ])
    .areas(inner);
    Paragraph::new(lines).render(top, buf);
    if !listed.is_empty() {
        let constraints = [
            Constraint::Length(3),
            Constraint::Length(7),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Length(9),
            Constraint::Fill(1),
        ];
        let widths = column_widths(gens.width, &constraints);
        let rows: Vec<Row> = listed
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let style = if i == overview.selected {
                    t.selected()
                } else if g.status == "active" {
                    t.ok()
                } else {
                    t.text()
                };
                let key = if g.key_destroyed {
                    "destroyed".to_owned()
                } else {
                    g.key_type.clone()
                };
                let sha = g
                    .sha256
                    .as_deref()
                    .map_or_else(|| "-".to_owned(), |h| format!("{}…", &h[..h.len().min(8)]));
                let until = g
                    .not_after
                    .as_deref()
                    .map_or_else(|| "-".to_owned(), |d| d.chars().take(10).collect());
                let mark = if i == overview.selected { "›" } else { " " };
                fitted_row(
                    vec![
                        (format!("{mark}{}", g.generation), style),
                        (g.status.clone(), style),
                        (key, style),
                        (until, style),
                        (sha, style),
                        (g.subject.clone(), style),
                    ],
                    &widths,
                )
            })
            .collect();
        Table::new(rows, fixed_columns(&widths))
            .header(
                Row::new(vec![
                    "GEN",
                    "STATUS",
                    "KEY",
                    "UNTIL",
                    "SHA-256",
                    "ROOT SUBJECT",
                ])
                .style(t.dim()),
            )
            .render(
                Rect {
                    y: gens.y + 1,
                    height: gens.height.saturating_sub(1),
                    ..gens
                },
                buf,
            );
    }
    let mut w: Vec<Line> = vec![Line::styled(
        if warnings.is_empty() {
            "Warnings: none"
        } else {
            "Warnings"
        },
        t.title(),
    )];
    for text in warnings {
        w.push(Line::from(vec![
            Span::styled(" ! ", t.warn()),
            Span::styled(text, t.warn()),
        ]));
    }
    Paragraph::new(w)
        .wrap(ratatui::widgets::Wrap { trim: false })
        .render(bottom, buf);
}
