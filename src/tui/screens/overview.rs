//! Overview: the vault, the token, the root, the ledger, the certificates and what needs
//! attention soon; `n` opens the root form while the vault has none.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};

use super::super::job::Outcome;
use super::super::keys::Action;
use super::super::modals::root::RootForm;
use super::super::view::{Ctx, Effect, Footer, ScreenView, Session};
use super::super::widgets::{days_until, group_hex, kv_lines};
use super::super::words;

/// How close an expiry must be to be listed.
const SOON_DAYS: i64 = 30;
/// How close the root's expiry must be to be listed.
const ROOT_SOON_DAYS: i64 = 365;

/// The overview has no state of its own: it shows what the app read.
#[derive(Debug, Default)]
pub(crate) struct Overview;

impl ScreenView for Overview {
    fn handle(&mut self, action: Action, ctx: &Ctx) -> Effect {
        if action != Action::CreateRoot {
            return Effect::None;
        }
        if ctx.data.has_root {
            Effect::info("this vault already has a root")
        } else if !ctx.unlocked() {
            Effect::locked()
        } else {
            Effect::open(RootForm::new())
        }
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        render(ctx, area, buf)
    }

    fn footer(&self, ctx: &Ctx) -> Footer {
        let mut keys = Vec::new();
        if !ctx.unlocked() {
            keys.push(("u", "unlock"));
        } else if !ctx.data.has_root {
            keys.push(("n", "new root"));
        }
        keys.push(("R", "reload"));
        Footer::with_global(keys)
    }

    fn on_outcome(&mut self, outcome: Outcome, _ctx: &Ctx) -> Effect {
        match outcome {
            Outcome::CreateRoot(Ok(_)) => {
                Effect::success("root created; its key stays on the token")
            }
            Outcome::CreateRoot(Err(e)) => Effect::failed("No root created", &e),
            _ => Effect::None,
        }
    }
}

/// What needs attention: expiries within 30 days (CRL, intermediates), the root within a
/// year, a PIN close to locking, a failed verification.
pub(crate) fn warnings(ctx: &Ctx) -> Vec<String> {
    let data = ctx.data;
    let mut w = Vec::new();
    match &data.root {
        Some(Ok(root)) => {
            if let Some(d) = days_until(&root.certificate.not_after, ctx.now) {
                if d < 0 {
                    w.push(format!("the root EXPIRED {} days ago", -d));
                } else if d <= ROOT_SOON_DAYS {
                    w.push(format!(
                        "the root expires in {d} days: plan the rotation to a new root"
                    ));
                }
            }
        }
        Some(Err(_)) if !data.has_root => {
            w.push("no root yet: unlock the token (2, then u), then press n to create it".into())
        }
        _ => {}
    }
    for c in data.certs().iter().filter(|c| c.status == "valid") {
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

fn render(ctx: &Ctx, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let data = ctx.data;
    let block = Block::new()
        .borders(Borders::TOP)
        .title(Line::from(Span::styled(" Overview ", t.title())));
    let inner = block.inner(area);
    block.render(area, buf);

    let mut pairs: Vec<(String, String)> = Vec::new();
    pairs.push(("vault".into(), ctx.vault.dir().display().to_string()));
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
    match &data.root {
        Some(Ok(root)) => {
            let c = &root.certificate;
            pairs.push(("root".into(), c.subject.clone()));
            pairs.push(("  SHA-256".into(), group_hex(&c.sha256)));
            let left = days_until(&c.not_after, ctx.now)
                .map(|d| format!(" ({d} days left)"))
                .unwrap_or_default();
            pairs.push((
                "  expires".into(),
                format!("{}{left} · {}", c.not_after, c.key_type),
            ));
        }
        Some(Err(e)) => pairs.push(("root".into(), e.clone())),
        None => {}
    }
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
                let count = |s: &str| certs.iter().filter(|c| c.status == s).count();
                format!(
                    "{} valid · {} revoked · {} expired",
                    count("valid"),
                    count("revoked"),
                    count("expired")
                )
            }
            Err(e) => format!("error: {e}"),
        },
    ));
    pairs.push((
        "CRL".into(),
        match &data.last_crl {
            Ok(Some(c)) => format!(
                "number {} · next update {} · {} entries",
                c.number, c.next_update, c.entries
            ),
            Ok(None) => "none issued yet".into(),
            Err(e) => format!("error: {e}"),
        },
    ));
    let lines = kv_lines(&pairs, inner.width, t);
    let warnings = warnings(ctx);
    let [top, bottom] = Layout::vertical([
        Constraint::Length(lines.len() as u16 + 1),
        Constraint::Min(1),
    ])
    .areas(inner);
    Paragraph::new(lines).render(top, buf);
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
