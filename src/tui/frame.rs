//! Drawing the frame: `impl Widget for &App` lays out the tab bar, the current screen, the
//! status line and the footer of keys, then any modal, the help or the quit question on top.
//! It only reads the app.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::app::App;
use super::keys::Screen;
use super::view::{Key, StatusKind};
use super::widgets::{boxed, centered, clear_rows, fit, modal_block, text_lines};

/// Below this size the app says the terminal is too small instead of drawing a screen whose
/// dialogs, tab bar or lock indicator would be cut off.
pub const MIN_WIDTH: u16 = 80;
/// See [`MIN_WIDTH`].
pub const MIN_HEIGHT: u16 = 24;

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.shared_theme();
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            Paragraph::new(vec![
                Line::styled("rootvault", t.title()),
                Line::raw(""),
                Line::styled(
                    format!("terminal too small (needs {MIN_WIDTH}×{MIN_HEIGHT})"),
                    t.error(),
                ),
                Line::raw(format!(
                    "This one is {}×{}: enlarge the window (or make the font smaller). Nothing is lost meanwhile; q quits.",
                    area.width, area.height
                )),
            ])
            .wrap(Wrap { trim: false })
            .render(area, buf);
            return;
        }
        let ctx = self.ctx();
        // A long message gets a second line rather than being cut.
        let status_height = match (self.busy(), self.message()) {
            (false, Some(m)) if m.chars().count() > area.width as usize => 2,
            _ => 1,
        };
        let footer = footer_lines(self, area.width);
        let [tabs, body, status, footer_area] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(1),
            Constraint::Length(status_height),
            Constraint::Length(footer.len() as u16),
        ])
        .areas(area);
        render_tabs(self, tabs, buf);
        if !self.modals.iter().any(|m| m.hides_screen()) {
            self.screens.get(self.screen).render(&ctx, body, buf);
        }
        render_status(self, status, buf);
        Paragraph::new(footer).render(footer_area, buf);
        // Over the body only: the tab bar, the status line and the keys stay in view.
        let over = body;
        for m in &self.modals {
            m.render(&ctx, over, buf);
        }
        if self.help {
            render_help(self, over, buf);
        }
        if let Some(what) = self.quit_ask {
            render_quit(self, what, over, buf);
        }
    }
}

fn render_tabs(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.shared_theme();
    let mut spans = Vec::new();
    for (i, s) in Screen::ALL.iter().enumerate() {
        let label = format!(" {} {} ", i + 1, s.title());
        if *s == app.screen {
            spans.push(Span::styled(label, t.selected()));
        } else {
            spans.push(Span::raw(label));
        }
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
    let (text, style) = if app.is_unlocked() {
        ("UNLOCKED ", t.ok())
    } else {
        ("locked ", t.dim())
    };
    let w = text.len() as u16;
    if area.width > 66 + w {
        Paragraph::new(Line::styled(text, style)).render(
            Rect {
                x: area.x + area.width - w,
                width: w,
                ..area
            },
            buf,
        );
    }
}

const SPINNER: [&str; 4] = ["|", "/", "-", "\\"];

fn render_status(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.shared_theme();
    let line = match (app.ctx().job, app.status()) {
        (Some(job), _) if job.asking => Line::styled(
            format!("{}: waiting for your confirmation", job.label),
            t.title(),
        ),
        (Some(job), _) => {
            let el = job.elapsed;
            let frame = SPINNER[(el.as_millis() / 150) as usize % SPINNER.len()];
            Line::from(vec![
                Span::styled(format!("{frame} "), t.title()),
                Span::styled(format!("{}… {}s", job.label, el.as_secs()), t.title()),
                Span::styled("  (keys still work)", t.dim()),
            ])
        }
        (None, Some(m)) => {
            let style = match m.kind {
                StatusKind::Info => t.text(),
                StatusKind::Success => t.ok(),
                StatusKind::Error => t.error(),
            };
            // Two lines at most, and an ellipsis if even that is too short.
            let room = area.width as usize * area.height as usize;
            Line::styled(fit(&m.text, room), style)
        }
        (None, None) => Line::raw(""),
    };
    Paragraph::new(line)
        .wrap(Wrap { trim: false })
        .render(area, buf);
}

/// The keys of the current state, most important first, and whether the app's own keys
/// (help, quit, screens) follow them.
pub(crate) fn footer_keys(app: &App) -> (Vec<Key>, bool) {
    if app.quit_ask.is_some() {
        return (vec![("y", "quit"), ("n", "stay")], false);
    }
    if app.help {
        return (vec![("any key", "closes the help")], false);
    }
    if let Some(m) = app.modals.last() {
        return (m.footer(), false);
    }
    let footer = app.screens.get(app.screen).footer(&app.ctx());
    (footer.keys, footer.global)
}

/// The footer: every "key what" pair of the state, on one line or, where they do not fit,
/// two; the app's keys last, so `? help` and `q quit` are always on the bottom line.
fn footer_lines(app: &App, width: u16) -> Vec<Line<'static>> {
    let t = app.shared_theme();
    let (mut keys, global) = footer_keys(app);
    let width = width as usize;
    let len = |k: &[Key]| -> usize {
        k.iter()
            .map(|(a, b)| a.chars().count() + 1 + b.chars().count())
            .sum::<usize>()
            + 2 * k.len().saturating_sub(1)
    };
    let tail: Vec<Key> = if global {
        let all = [("Tab", "screens"), ("?", "help"), ("q", "quit")];
        let with_tab = {
            let mut v = keys.clone();
            v.extend(all);
            v
        };
        if len(&with_tab) <= width {
            all.to_vec()
        } else {
            all[1..].to_vec()
        }
    } else {
        Vec::new()
    };
    let mut rows: Vec<Vec<Key>> = Vec::new();
    let mut all = std::mem::take(&mut keys);
    all.extend(tail.iter().copied());
    if len(&all) <= width {
        rows.push(all);
    } else {
        // Two lines: the screen's keys that fit above, the rest and the app's keys below.
        let mut top: Vec<Key> = Vec::new();
        let mut rest: Vec<Key> = Vec::new();
        let n_tail = tail.len();
        let (own, app_keys) = all.split_at(all.len() - n_tail);
        for k in own {
            let mut candidate = top.clone();
            candidate.push(*k);
            if rest.is_empty() && len(&candidate) <= width {
                top = candidate;
            } else {
                rest.push(*k);
            }
        }
        let mut bottom = rest;
        bottom.extend(app_keys.iter().copied());
        while len(&bottom) > width && bottom.len() > n_tail {
            bottom.remove(bottom.len() - n_tail - 1);
        }
        rows.push(top);
        rows.push(bottom);
    }
    rows.into_iter()
        .map(|row| {
            let mut spans = Vec::new();
            for (i, (k, what)) in row.into_iter().enumerate() {
                if i > 0 {
                    spans.push(Span::raw("  "));
                }
                spans.push(Span::styled(k, t.key()));
                spans.push(Span::styled(format!(" {what}"), t.dim()));
            }
            Line::from(spans)
        })
        .collect()
}

fn render_help(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.shared_theme();
    let digits = format!(
        "type {}+ hex digits of the fingerprint or serial",
        crate::ceremony::MIN_CONFIRM_DIGITS
    );
    let rows: [(&str, &str); 19] = [
        ("Tab / Shift-Tab", "next / previous screen"),
        (
            "1 … 6",
            "Overview, Unlock, Inbox, Certificates, CRL, Ledger",
        ),
        ("↑↓ j k PgUp PgDn", "move; Home/g and End/G: first and last"),
        ("Enter / Esc", "open or confirm / close, cancel, go back"),
        (
            "q or Ctrl-C",
            "quit, text fields included; mid-flow it asks",
        ),
        ("R or F5", "read the vault again; ? this help"),
        (
            "Overview",
            "n create the root (none yet), ↑↓ pick a generation",
        ),
        (
            "",
            "r rotate, x retire, D destroy key, c root CSR, i import",
        ),
        (
            "Unlock",
            "u/Enter open the PIN field, Enter logs in, l logs out",
        ),
        (
            "Inbox",
            "Enter review, s sign, c cluster, d days, o add a path",
        ),
        ("", "b sign a batch: a manifest of CSRs, confirmed once"),
        ("", "n generate a cluster's key and sign it (no CSR)"),
        (
            "Certificates",
            "/ filter, f status, Enter details, r revoke, e export",
        ),
        (
            "CRL",
            "←→ generation, i issue its next CRL, w write its last",
        ),
        ("Ledger", "Enter event details, v verify the hash chain"),
        ("Forms", "Tab/↑↓ next field (Tab completes a path), ←→ pick"),
        (
            "Text fields",
            "←→ Home End move, Ctrl-U clears, Ctrl-W erases a word",
        ),
        ("Confirming", &digits),
        (
            "",
            "from elsewhere: the value is never shown with its field",
        ),
    ];
    let lines: Vec<Line> = rows
        .iter()
        .map(|(k, v)| {
            Line::from(vec![
                Span::styled(format!("{k:<18}"), t.key()),
                Span::raw(v.to_string()),
            ])
        })
        .collect();
    boxed("Keys".into(), lines, area, buf, t);
}

fn render_quit(app: &App, what: &str, area: Rect, buf: &mut Buffer) {
    let t = app.shared_theme();
    let text = if app.busy() && !app.asking() {
        format!("Quit? {what} is running; rootvault quits when it is done.")
    } else {
        format!(
            "Quit in the middle of {what}? Nothing of it has been done: the vault stays as it is."
        )
    };
    let mut lines = text_lines(&text, area.width.saturating_sub(10).min(56), t.text());
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled("y", t.key()),
        Span::raw(" quit   "),
        Span::styled("n", t.key()),
        Span::raw(" stay"),
    ]));
    let width = area.width.saturating_sub(4).min(62);
    let r = centered(area, width, lines.len() as u16 + 2);
    clear_rows(area, r, buf);
    Paragraph::new(lines)
        .block(modal_block("Quit?".into(), t))
        .render(r, buf);
}

impl App {
    fn shared_theme(&self) -> super::theme::Theme {
        self.ctx().theme
    }
}
