//! Drawing the frame: `impl Widget for &App` lays out the tab bar, the current screen, the
//! status line and the footer of keys, then any modal, the help or the quit question on top.
//! It only reads the app.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};

use super::app::App;
use super::keys::Screen;
use super::view::{Key, StatusKind};
use super::widgets::{boxed, centered, modal_block, text_lines};

/// Below this size the app asks for a larger terminal instead of drawing a broken screen.
pub const MIN_WIDTH: u16 = 50;
/// See [`MIN_WIDTH`].
pub const MIN_HEIGHT: u16 = 12;

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.shared_theme();
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            Paragraph::new(vec![
                Line::styled("rootvault", t.title()),
                Line::raw(format!(
                    "The terminal is {}×{}; make it at least {MIN_WIDTH}×{MIN_HEIGHT}.",
                    area.width, area.height
                )),
                Line::raw("q quits."),
            ])
            .wrap(Wrap { trim: false })
            .render(area, buf);
            return;
        }
        // A long message gets a second line rather than being cut.
        let status_height = match (self.busy(), &self.message) {
            (false, Some(m)) if m.text.chars().count() > area.width as usize => 2,
            _ => 1,
        };
        let [tabs, body, status, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(1),
            Constraint::Length(status_height),
            Constraint::Length(1),
        ])
        .areas(area);
        let ctx = self.ctx();
        render_tabs(self, tabs, buf);
        self.screens.get(self.screen).render(&ctx, body, buf);
        render_status(self, status, buf);
        render_footer(self, footer, buf);
        if let Some(m) = &self.modal {
            m.render(&ctx, area, buf);
        }
        if self.help {
            render_help(self, area, buf);
        }
        if let Some(what) = self.quit_ask {
            render_quit(self, what, area, buf);
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
    let line = if let Some(job) = app.ctx().job {
        let el = job.elapsed;
        let frame = SPINNER[(el.as_millis() / 150) as usize % SPINNER.len()];
        Line::from(vec![
            Span::styled(format!("{frame} "), t.title()),
            Span::styled(format!("{}… {}s", job.label, el.as_secs()), t.title()),
            Span::styled("  (keys still work)", t.dim()),
        ])
    } else if let Some(m) = &app.message {
        let style = match m.kind {
            StatusKind::Info => t.text(),
            StatusKind::Success => t.ok(),
            StatusKind::Error => t.error(),
        };
        Line::styled(m.text.clone(), style)
    } else {
        Line::raw("")
    };
    Paragraph::new(line)
        .wrap(Wrap { trim: false })
        .render(area, buf);
}

/// The keys of the current state, as (key, what) pairs.
pub(crate) fn footer_keys(app: &App) -> Vec<Key> {
    if app.quit_ask.is_some() {
        return vec![("y", "quit"), ("n", "stay")];
    }
    if app.help {
        return vec![("any key", "closes the help")];
    }
    if let Some(m) = &app.modal {
        return m.footer();
    }
    let footer = app.screens.get(app.screen).footer(&app.ctx());
    let mut keys = footer.keys;
    if footer.global {
        keys.extend([("q", "quit"), ("?", "help"), ("Tab", "screens")]);
    }
    keys.extend(footer.last);
    keys
}

/// The footer: as many whole "key what" pairs as fit, in order of importance.
fn render_footer(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.shared_theme();
    let mut spans = Vec::new();
    let mut used = 0;
    for (k, what) in footer_keys(app) {
        let sep = if used == 0 { 0 } else { 2 };
        let width = sep + k.chars().count() + 1 + what.chars().count();
        if used + width > area.width as usize {
            continue;
        }
        if sep > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(k, t.key()));
        spans.push(Span::styled(format!(" {what}"), t.dim()));
        used += width;
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

fn render_help(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.shared_theme();
    let rows: [(&str, &str); 19] = [
        ("Tab / Shift-Tab", "next / previous screen"),
        (
            "1 … 6",
            "Overview, Unlock, Inbox, Certificates, CRL, Ledger",
        ),
        ("↑↓ j k PgUp PgDn", "move; Home/g and End/G: first and last"),
        ("Enter / Esc", "open or confirm / close, cancel, go back"),
        ("q", "quit (asks first in the middle of a flow)"),
        ("Ctrl-C", "quit, also from a text field"),
        ("R or F5", "read the vault again"),
        ("? ", "this help"),
        ("Overview", "n create the root (none yet; unlock first)"),
        ("Unlock", "u or Enter type the PIN, Enter log in; l log out"),
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
            "i issue the next CRL, w write the last CRL to a file",
        ),
        ("Ledger", "Enter event details, v verify the hash chain"),
        ("Forms", "Tab next field, ←→ pick, Enter submit, Esc cancel"),
        (
            "Confirming",
            "type 8+ hex digits of the fingerprint or serial",
        ),
        (
            "",
            "(what you type is checked by the vault, not the screen)",
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
    let text = if app.busy() {
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
    Clear.render(r, buf);
    Paragraph::new(lines)
        .block(modal_block("Quit?".into(), t))
        .render(r, buf);
}

impl App {
    fn shared_theme(&self) -> super::theme::Theme {
        self.ctx().theme
    }
}
