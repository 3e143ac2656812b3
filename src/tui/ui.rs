//! Drawing: `impl Widget for &App` lays out the tab bar, the current screen, the status line
//! and the footer of keys, then any modal, the help or the quit question on top. It only
//! reads the app.

use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use crate::export::Format;
use crate::hsm::PinState;
use crate::keys::KeyType;
use crate::x509::RevocationReason;

use super::app::{App, MessageKind, Modal, Screen};
use super::screens;
use super::theme::Theme;

/// Below this size the app asks for a larger terminal instead of drawing a broken screen.
pub const MIN_WIDTH: u16 = 50;
/// See [`MIN_WIDTH`].
pub const MIN_HEIGHT: u16 = 12;

/// Width of the label column of key-value lines (as the CLI's text output).
const LABEL: usize = 21;

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
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
        let status_height = match (&self.job, &self.message) {
            (None, Some(m)) if m.text.chars().count() > area.width as usize => 2,
            _ => 1,
        };
        let [tabs, body, status, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(1),
            Constraint::Length(status_height),
            Constraint::Length(1),
        ])
        .areas(area);
        render_tabs(self, tabs, buf);
        match self.screen {
            Screen::Overview => screens::overview::render(self, body, buf),
            Screen::Unlock => screens::unlock::render(self, body, buf),
            Screen::Inbox => screens::inbox::render(self, body, buf),
            Screen::Certificates => screens::certs::render(self, body, buf),
            Screen::Crl => screens::crl::render(self, body, buf),
            Screen::Ledger => screens::ledger::render(self, body, buf),
        }
        render_status(self, status, buf);
        render_footer(self, footer, buf);
        if let Some(m) = &self.modal {
            render_modal(self, m, area, buf);
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
    let t = app.theme;
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
    let t = app.theme;
    let line = if let Some(job) = &app.job {
        let el = job.started.elapsed();
        let frame = SPINNER[(el.as_millis() / 150) as usize % SPINNER.len()];
        Line::from(vec![
            Span::styled(format!("{frame} "), t.title()),
            Span::styled(format!("{}… {}s", job.label, el.as_secs()), t.title()),
            Span::styled("  (keys still work)", t.dim()),
        ])
    } else if let Some(m) = &app.message {
        let style = match m.kind {
            MessageKind::Info => t.text(),
            MessageKind::Success => t.ok(),
            MessageKind::Error => t.error(),
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
pub(crate) fn footer_keys(app: &App) -> Vec<(&'static str, &'static str)> {
    if app.quit_ask.is_some() {
        return vec![("y", "quit"), ("n", "stay")];
    }
    if app.help {
        return vec![("any key", "closes the help")];
    }
    if let Some(m) = &app.modal {
        return match m {
            Modal::Error { .. } => vec![("Enter/Esc", "close")],
            Modal::Prompt { .. } => vec![("Enter", "OK"), ("Esc", "cancel"), ("Ctrl-C", "quit")],
            Modal::ConfirmSign { .. } => vec![
                ("hex digits", "of the fingerprint"),
                ("Enter", "sign"),
                ("Esc", "cancel"),
                ("Ctrl-C", "quit"),
            ],
            Modal::RevokeReason { .. } => {
                vec![("↑↓", "reason"), ("Enter", "next"), ("Esc", "cancel")]
            }
            Modal::ConfirmRevoke { .. } => vec![
                ("hex digits", "of the serial"),
                ("Enter", "revoke"),
                ("Esc", "cancel"),
                ("Ctrl-C", "quit"),
            ],
            Modal::Export(_) => vec![
                ("Tab", "field"),
                ("←→", "format"),
                ("Enter", "add recipient / export"),
                ("Esc", "cancel"),
            ],
            Modal::IssueCrl { .. } => vec![("Enter", "issue"), ("Esc", "cancel")],
            Modal::CreateRoot(_) => vec![
                ("Tab", "field"),
                ("←→", "key type"),
                ("Enter", "create"),
                ("Esc", "cancel"),
            ],
            Modal::Signed(_) => vec![("e", "export"), ("Enter", "close")],
            Modal::BatchForm(_) => vec![
                ("Tab", "field"),
                ("Enter", "check"),
                ("Esc", "cancel"),
                ("Ctrl-C", "quit"),
            ],
            Modal::ConfirmBatch { .. } => vec![
                ("hex digits", "of the manifest's SHA-256"),
                ("Enter", "sign all"),
                ("Esc", "cancel"),
                ("Ctrl-C", "quit"),
            ],
            Modal::GenerateForm(_) => vec![
                ("Tab", "field"),
                ("←→", "pick"),
                ("Enter", "add recipient / review"),
                ("Esc", "cancel"),
            ],
            Modal::ConfirmGenerate { .. } => vec![
                ("hex digits", "of the recipients' SHA-256"),
                ("Enter", "generate and sign"),
                ("Esc", "cancel"),
                ("Ctrl-C", "quit"),
            ],
            Modal::Generated { .. } => vec![("Enter", "close")],
            Modal::Details { .. } => vec![("↑↓ PgUp PgDn", "scroll"), ("Enter/Esc", "close")],
        };
    }
    let mut keys: Vec<(&'static str, &'static str)> = match app.screen {
        Screen::Overview => vec![("u", "unlock"), ("n", "new root"), ("R", "reload")],
        Screen::Unlock if app.pin_focus => {
            return vec![
                ("Enter", "log in"),
                ("Esc", "stop typing"),
                ("Tab", "next screen"),
                ("Ctrl-C", "quit"),
            ]
        }
        Screen::Unlock if app.is_unlocked() => vec![("l", "log out")],
        Screen::Unlock => vec![("Enter", "type the PIN")],
        Screen::Inbox if app.inbox.batch.is_some() => {
            screens::batch::footer_keys(app.inbox.batch.as_ref().expect("a batch is open"))
        }
        Screen::Inbox if app.inbox.reviewing => vec![
            ("s", "sign"),
            ("c", "cluster"),
            ("d", "days"),
            ("↑↓", "scroll"),
            ("Esc", "back"),
        ],
        Screen::Inbox => vec![
            ("Enter", "review"),
            ("s", "sign"),
            ("c", "cluster"),
            ("o", "add path"),
        ],
        Screen::Certificates if app.certs.editing_filter => {
            return vec![
                ("Enter", "keep filter"),
                ("Esc", "clear"),
                ("Ctrl-C", "quit"),
            ]
        }
        Screen::Certificates => vec![
            ("Enter", "details"),
            ("/", "filter"),
            ("f", "status"),
            ("r", "revoke"),
            ("e", "export"),
        ],
        Screen::Crl => vec![("i", "issue next CRL"), ("w", "write last CRL")],
        Screen::Ledger => vec![("Enter", "details"), ("v", "verify")],
    };
    keys.extend([("q", "quit"), ("?", "help"), ("Tab", "screens")]);
    if app.screen == Screen::Inbox && app.inbox.batch.is_none() && !app.inbox.reviewing {
        // Last, where they fit (a wider terminal; the help lists them at any size).
        keys.push(("b", "batch"));
        keys.push(("n", "generate a key"));
    }
    keys
}

/// The footer: as many whole "key what" pairs as fit, in order of importance.
fn render_footer(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
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

/// A box of `width`×`height` in the middle of `area` (clipped to it).
pub(crate) fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Splits `text` into pieces of at most `width` characters, at spaces when it can.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut out = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split(' ') {
            let mut word = word.to_owned();
            loop {
                let len = line.chars().count();
                let wlen = word.chars().count();
                let sep = usize::from(len > 0);
                if len + sep + wlen <= width {
                    if sep == 1 {
                        line.push(' ');
                    }
                    line.push_str(&word);
                    break;
                }
                if len > 0 {
                    out.push(std::mem::take(&mut line));
                    continue;
                }
                // A word longer than the line: cut it.
                let head: String = word.chars().take(width).collect();
                word = word.chars().skip(width).collect();
                out.push(head);
                if word.is_empty() {
                    break;
                }
            }
        }
        out.push(line);
    }
    out
}

/// Cuts `text` into pieces of `width` characters, keeping its leading spaces on every piece.
fn wrap_raw(text: &str, width: usize) -> Vec<String> {
    let indent: String = text.chars().take_while(|c| *c == ' ').collect();
    let body: Vec<char> = text.chars().skip(indent.len()).collect();
    let room = width.saturating_sub(indent.len()).max(8);
    if body.is_empty() {
        return vec![text.to_owned()];
    }
    body.chunks(room)
        .map(|c| format!("{indent}{}", c.iter().collect::<String>()))
        .collect()
}

/// Key-value lines with the label column of the CLI's text output, values wrapped under
/// themselves.
pub(crate) fn kv_lines(pairs: &[(String, String)], width: u16, t: Theme) -> Vec<Line<'static>> {
    let value_width = (width as usize).saturating_sub(LABEL + 1).max(16);
    let mut lines = Vec::new();
    for (k, v) in pairs {
        // A line without a label is preformatted (JSON): keep its indentation, cut it hard.
        let pieces = if k.is_empty() {
            wrap_raw(v, value_width)
        } else {
            wrap(v, value_width)
        };
        for (i, piece) in pieces.into_iter().enumerate() {
            let label = if i == 0 { k.as_str() } else { "" };
            lines.push(Line::from(vec![
                Span::styled(format!("{label:<LABEL$} "), t.dim()),
                Span::raw(piece),
            ]));
        }
    }
    lines
}

/// A hex string in groups of eight, easier to read out and compare.
pub(crate) fn group_hex(hex: &str) -> String {
    hex.as_bytes()
        .chunks(8)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whole days from now until an RFC 3339 time (negative when past).
pub(crate) fn days_until(rfc3339: &str) -> Option<i64> {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339).ok()?;
    let secs = (t.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds();
    // Rounded to the nearest day: a 180-day CRL issued a second ago has 180 days left.
    Some((secs + secs.signum() * 43_200) / 86_400)
}

/// The user PIN flags in the words of `rootvault token`.
pub(crate) fn pin_words(p: &PinState) -> &'static str {
    if p.locked {
        "LOCKED"
    } else if p.final_try {
        "one try left"
    } else if p.count_low {
        "wrong PIN entered recently"
    } else {
        "ok"
    }
}

/// A bar for work whose end cannot be measured from outside: a block that sweeps across.
pub(crate) fn progress_bar(elapsed: Duration, width: u16, t: Theme) -> Line<'static> {
    let w = (width as usize).clamp(10, 200);
    let block = (w / 6).max(3);
    let span = w - block;
    let step = (elapsed.as_millis() / 60) as usize % (2 * span);
    let pos = if step < span { step } else { 2 * span - step };
    let bar: String = (0..w)
        .map(|i| {
            if i >= pos && i < pos + block {
                '█'
            } else {
                '░'
            }
        })
        .collect();
    Line::styled(bar, t.title())
}

/// A bar filled to `done / total` of `width`.
pub(crate) fn fraction_bar(done: u64, total: u64, width: u16, t: Theme) -> Line<'static> {
    let w = (width as usize).clamp(10, 200);
    let filled = if total == 0 {
        w
    } else {
        ((done.min(total) as u128 * w as u128) / total as u128) as usize
    };
    let bar: String = (0..w).map(|i| if i < filled { '█' } else { '░' }).collect();
    Line::styled(bar, t.title())
}

fn modal_block(title: String, t: Theme) -> Block<'static> {
    Block::bordered().title(Line::styled(format!(" {title} "), t.title()))
}

/// Draws `lines` in a centred box sized to them.
fn boxed(title: String, lines: Vec<Line<'static>>, area: Rect, buf: &mut Buffer, t: Theme) {
    let width = area.width.saturating_sub(4).min(78);
    let height = (lines.len() as u16 + 2).min(area.height.saturating_sub(2));
    let r = centered(area, width, height);
    Clear.render(r, buf);
    Paragraph::new(lines)
        .block(modal_block(title, t))
        .render(r, buf);
}

fn field_line(label: &str, value: &str, focused: bool, t: Theme) -> Line<'static> {
    let mut spans = vec![Span::styled(
        format!("{label:<16}"),
        if focused { t.key() } else { t.dim() },
    )];
    spans.push(Span::raw(" "));
    if focused {
        spans.push(Span::styled(value.to_owned(), t.input()));
        spans.push(Span::styled(" ", t.cursor()));
    } else {
        spans.push(Span::raw(value.to_owned()));
    }
    Line::from(spans)
}

fn input_line(value: &str, t: Theme) -> Line<'static> {
    Line::from(vec![
        Span::styled("> ", t.title()),
        Span::styled(value.to_owned(), t.input()),
        Span::styled(" ", t.cursor()),
    ])
}

fn text_lines(text: &str, width: u16, style: ratatui::style::Style) -> Vec<Line<'static>> {
    wrap(text, width as usize)
        .into_iter()
        .map(|l| Line::styled(l, style))
        .collect()
}

fn render_modal(app: &App, modal: &Modal, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let inner_w = area.width.saturating_sub(6).min(76);
    match modal {
        Modal::Error { title, text } => {
            let mut lines = text_lines(text, inner_w, t.error());
            lines.push(Line::raw(""));
            lines.push(Line::styled("Enter or Esc closes this.", t.dim()));
            boxed(title.clone(), lines, area, buf, t);
        }
        Modal::Prompt { kind, field } => {
            let mut lines = text_lines(kind.question(), inner_w, t.text());
            lines.push(input_line(field, t));
            if matches!(kind, super::app::PromptKind::CrlOut(_)) {
                if let Ok(cwd) = std::env::current_dir() {
                    lines.push(Line::styled(
                        format!("relative to {}", cwd.display()),
                        t.dim(),
                    ));
                }
            }
            boxed(kind.title().to_owned(), lines, area, buf, t);
        }
        Modal::ConfirmSign { path, typed } => {
            let mut lines = Vec::new();
            if let Some(e) = app.inbox.entry(path) {
                if let Ok(i) = &e.inspection {
                    let mut pairs = vec![(
                        "cluster".to_owned(),
                        e.cluster
                            .as_ref()
                            .map(|c| c.to_string())
                            .unwrap_or_default(),
                    )];
                    if let Some(p) = &i.profile {
                        pairs.push(("subject".into(), p.subject.to_string()));
                        pairs.push((
                            "validity".into(),
                            format!(
                                "{} days, until {}",
                                p.days,
                                crate::ceremony::rfc3339(p.not_after)
                            ),
                        ));
                        pairs.push(("pathlen".into(), p.path_len.to_string()));
                    }
                    pairs.push(("key".into(), i.key_type.clone().unwrap_or_default()));
                    pairs.push((
                        "SPKI SHA-256".into(),
                        i.spki_sha256.as_deref().map(group_hex).unwrap_or_default(),
                    ));
                    pairs.push(("policy verdict".into(), "acceptable".into()));
                    lines.extend(kv_lines(&pairs, inner_w, t));
                }
            }
            lines.push(Line::raw(""));
            lines.extend(text_lines(
                "Have the cluster team read out their key's SPKI SHA-256. Type at least 8 hex digits of it to sign (colons, spaces and case are ignored):",
                inner_w,
                t.text(),
            ));
            lines.push(input_line(typed, t));
            boxed("Confirm: sign".into(), lines, area, buf, t);
        }
        Modal::BatchForm(f) => {
            let mut lines = text_lines(
                "Sign a batch, as `rootvault sign-batch`: every line of the manifest (cluster  spki-sha256  csr-path) is checked before anything is signed.",
                inner_w,
                t.text(),
            );
            lines.extend([
                Line::raw(""),
                field_line("manifest", &f.manifest, f.focus == 0, t),
                Line::styled(
                    format!("{:<17}CSR paths in it are relative to its directory", ""),
                    t.dim(),
                ),
                field_line("write to", &f.out_dir, f.focus == 1, t),
                Line::styled(
                    format!(
                        "{:<17}a directory: one CLUSTER.pem each, never overwritten",
                        ""
                    ),
                    t.dim(),
                ),
                field_line("days", &f.days, f.focus == 2, t),
                Line::styled(format!("{:<17}empty: the policy's default", ""), t.dim()),
            ]);
            if let Ok(cwd) = std::env::current_dir() {
                lines.push(Line::styled(
                    format!("{:<17}paths relative to {}", "", cwd.display()),
                    t.dim(),
                ));
            }
            if let Some(p) = &f.problem {
                lines.push(Line::raw(""));
                lines.extend(text_lines(p, inner_w, t.error()));
            }
            boxed("Sign a batch".into(), lines, area, buf, t);
        }
        Modal::ConfirmBatch { typed } => {
            let mut lines = Vec::new();
            if let Some(view) = &app.inbox.batch {
                lines.extend(kv_lines(&screens::batch::confirm_pairs(view), inner_w, t));
            }
            lines.push(Line::raw(""));
            lines.extend(text_lines(
                "Compare the manifest's SHA-256 with the one its author computed (sha256sum). Type at least 8 hex digits of it to sign every request in it (colons, spaces and case are ignored):",
                inner_w,
                t.text(),
            ));
            lines.push(input_line(typed, t));
            boxed("Confirm: sign the batch".into(), lines, area, buf, t);
        }
        Modal::GenerateForm(f) => {
            let picker = |label: &str, names: &[&str], selected: usize, focused: bool| {
                let mut spans = vec![Span::styled(
                    format!("{label:<16}"),
                    if focused { t.key() } else { t.dim() },
                )];
                for (i, name) in names.iter().enumerate() {
                    if i > 0 {
                        spans.push(Span::raw(" "));
                    }
                    let style = if i == selected {
                        t.selected()
                    } else {
                        t.text()
                    };
                    spans.push(Span::styled(format!(" {name} "), style));
                }
                Line::from(spans)
            };
            let formats: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
            let mut lines = text_lines(
                "For a cluster without a CSR: the vault generates the key in memory, the token signs, and key and chain are written only age-encrypted.",
                inner_w,
                t.text(),
            );
            lines.extend([
                Line::raw(""),
                field_line("cluster", &f.cluster, f.focus == 0, t),
                picker(
                    "key type",
                    &screens::generate::KEY_TYPES,
                    f.key_type,
                    f.focus == 1,
                ),
                field_line("days", &f.days, f.focus == 2, t),
                Line::styled(format!("{:<17}empty: the policy's default", ""), t.dim()),
                picker("format", &formats, f.format, f.focus == 3),
                field_line("write to", &f.out, f.focus == 4, t),
            ]);
            if !std::path::Path::new(f.out.trim()).is_absolute() {
                if let Ok(cwd) = std::env::current_dir() {
                    lines.push(Line::styled(
                        format!("{:<17}relative to {}", "", cwd.display()),
                        t.dim(),
                    ));
                }
            }
            lines.push(field_line("age recipient", &f.recipient, f.focus == 5, t));
            for r in &f.recipients {
                for piece in wrap(r, (inner_w as usize).saturating_sub(17)) {
                    lines.push(Line::raw(format!("{:<17}{piece}", "")));
                }
            }
            lines.push(Line::raw(""));
            // The problem, in its words, in place of the hint.
            match &f.problem {
                Some(p) => lines.extend(text_lines(p, inner_w, t.error())),
                None => lines.extend(text_lines(
                    "age1… or an SSH public key line. Enter on a recipient adds it, Backspace on an empty field removes the last; Enter elsewhere shows what to confirm.",
                    inner_w,
                    t.dim(),
                )),
            }
            boxed("Generate a key and sign".into(), lines, area, buf, t);
        }
        Modal::ConfirmGenerate { spec, typed } => {
            let mut lines = text_lines(
                "The vault generates the key in memory and the token signs; key and chain are written only encrypted to these recipients.",
                inner_w,
                t.text(),
            );
            lines.push(Line::raw(""));
            lines.extend(kv_lines(
                &screens::generate::confirm_pairs(spec),
                inner_w,
                t,
            ));
            lines.push(Line::raw(""));
            lines.extend(text_lines(
                "Check it with the cluster team: printf '%s\\n' RECIPIENTS | sort | sha256sum. Type at least 8 hex digits of it to generate and sign:",
                inner_w,
                t.text(),
            ));
            lines.push(input_line(typed, t));
            boxed(
                "Confirm: generate a key and sign".into(),
                lines,
                area,
                buf,
                t,
            );
        }
        Modal::Generated { spec, report } => {
            let mut lines = text_lines(
                "The token signed the generated key's certificate; it is in the ledger. The key is only in the encrypted file: send it to the cluster team.",
                inner_w,
                t.ok(),
            );
            lines.push(Line::raw(""));
            lines.extend(kv_lines(
                &screens::generate::result_pairs(spec, report),
                inner_w,
                t,
            ));
            lines.push(Line::raw(""));
            lines.push(Line::from(vec![
                Span::styled("Enter", t.key()),
                Span::raw(" closes."),
            ]));
            boxed("Generated and signed".into(), lines, area, buf, t);
        }
        Modal::RevokeReason { serial, selected } => {
            let mut lines = vec![
                Line::raw(format!("Revoke certificate {serial}")),
                Line::styled("Why (RFC 5280 reason):", t.dim()),
            ];
            for (i, r) in RevocationReason::ALL.iter().enumerate() {
                let style = if i == *selected {
                    t.selected()
                } else {
                    t.text()
                };
                lines.push(Line::styled(format!("  {}  ", r.name()), style));
            }
            boxed("Revoke: reason".into(), lines, area, buf, t);
        }
        Modal::ConfirmRevoke {
            serial,
            reason,
            typed,
        } => {
            let cert = app
                .data
                .certs
                .as_deref()
                .unwrap_or(&[])
                .iter()
                .find(|c| c.serial == *serial);
            let mut pairs = vec![
                ("serial".to_owned(), serial.clone()),
                ("reason".to_owned(), reason.name().to_owned()),
            ];
            if let Some(c) = cert {
                pairs.push((
                    "cluster".into(),
                    c.cluster.clone().unwrap_or_else(|| "-".into()),
                ));
                pairs.push(("subject".into(), c.subject.clone()));
                pairs.push(("not after".into(), c.not_after.clone()));
            }
            let mut lines = kv_lines(&pairs, inner_w, t);
            lines.push(Line::raw(""));
            lines.extend(text_lines(
                "Type at least 8 hex digits of the certificate's serial to revoke it:",
                inner_w,
                t.text(),
            ));
            lines.push(input_line(typed, t));
            boxed("Confirm: revoke".into(), lines, area, buf, t);
        }
        Modal::Export(f) => {
            let formats: Vec<Span> = Format::ALL
                .iter()
                .enumerate()
                .flat_map(|(i, fmt)| {
                    let style = if i == f.format {
                        t.selected()
                    } else {
                        t.text()
                    };
                    [
                        Span::styled(format!(" {} ", fmt.name()), style),
                        Span::raw(" "),
                    ]
                })
                .collect();
            let mut first = vec![Span::styled(
                format!("{:<16}", "format"),
                if f.focus == 0 { t.key() } else { t.dim() },
            )];
            first.extend(formats);
            let mut lines = text_lines(
                &format!(
                    "The current intermediate of cluster {}, in the form its software loads.",
                    f.cluster
                ),
                inner_w,
                t.text(),
            );
            lines.extend([
                Line::raw(""),
                Line::from(first),
                field_line("write to", &f.out, f.focus == 1, t),
            ]);
            if let Ok(cwd) = std::env::current_dir() {
                lines.push(Line::styled(
                    format!("{:<17}relative to {}", "", cwd.display()),
                    t.dim(),
                ));
            }
            lines.push(field_line("age recipient", &f.recipient, f.focus == 2, t));
            for r in &f.recipients {
                lines.push(Line::raw(format!("{:<17}{r}", "")));
            }
            lines.push(Line::raw(""));
            lines.extend(text_lines(
                if f.recipients.is_empty() && f.recipient.is_empty() {
                    "No recipients: written unencrypted (it holds no key). Enter on a recipient adds it; Enter elsewhere exports."
                } else {
                    "Encrypted with age to the recipients. Enter on a recipient adds it; Enter elsewhere exports."
                },
                inner_w,
                t.dim(),
            ));
            boxed(format!("Export {}", f.cluster), lines, area, buf, t);
        }
        Modal::IssueCrl { days } => {
            let next = match &app.data.last_crl {
                Ok(Some(c)) => c.number + 1,
                _ => 1,
            };
            let revs = app.data.revocations.as_ref().map_or(0, Vec::len);
            let mut lines = text_lines(
                &format!(
                    "Issue CRL {next}, listing {revs} revoked certificate(s), signed by the root key on the token."
                ),
                inner_w,
                t.text(),
            );
            lines.extend([
                Line::raw(""),
                Line::styled("Days until nextUpdate (1 to 365):", t.dim()),
                input_line(days, t),
            ]);
            boxed("Issue the next CRL".into(), lines, area, buf, t);
        }
        Modal::CreateRoot(f) => {
            let mut kt: Vec<Span> = vec![Span::styled(
                format!("{:<16}", "key type"),
                if f.focus == 1 { t.key() } else { t.dim() },
            )];
            for (i, k) in KeyType::ALL.iter().enumerate() {
                let style = if i == f.key_type {
                    t.selected()
                } else {
                    t.text()
                };
                kt.push(Span::styled(format!(" {} ", k.name()), style));
                kt.push(Span::raw(" "));
            }
            let mut lines = vec![
                Line::raw("Generate the root key on the token and self-sign the root."),
                Line::raw(""),
                field_line("subject", &f.subject, f.focus == 0, t),
                Line::styled(
                    format!("{:<17}e.g. CN=Example Root CA,O=Example,C=GB", ""),
                    t.dim(),
                ),
                Line::from(kt),
                field_line("days", &f.days, f.focus == 2, t),
                field_line("path length", &f.path_len, f.focus == 3, t),
                field_line("key label", &f.key_label, f.focus == 4, t),
            ];
            if let Some(p) = &f.problem {
                lines.push(Line::raw(""));
                lines.extend(text_lines(p, inner_w, t.error()));
            }
            boxed("Create the root".into(), lines, area, buf, t);
        }
        Modal::Signed(c) => {
            let pairs = vec![
                (
                    "cluster".to_owned(),
                    c.cluster.clone().unwrap_or_else(|| "-".into()),
                ),
                ("serial".to_owned(), c.serial.clone()),
                ("SHA-256".to_owned(), group_hex(&c.sha256)),
                ("subject".to_owned(), c.subject.clone()),
                ("not after".to_owned(), c.not_after.clone()),
            ];
            let mut lines = vec![Line::styled(
                "The root key on the token signed the intermediate; it is in the ledger.",
                t.ok(),
            )];
            lines.push(Line::raw(""));
            lines.extend(kv_lines(&pairs, inner_w, t));
            lines.push(Line::raw(""));
            lines.push(Line::from(vec![
                Span::styled("e", t.key()),
                Span::raw(" exports it for the cluster now; "),
                Span::styled("Enter", t.key()),
                Span::raw(" closes."),
            ]));
            boxed("Signed".into(), lines, area, buf, t);
        }
        Modal::Details {
            title,
            lines,
            scroll,
        } => {
            let body = kv_lines(lines, inner_w, t);
            let width = area.width.saturating_sub(4).min(78);
            let height = area.height.saturating_sub(2);
            let r = centered(area, width, height);
            Clear.render(r, buf);
            let max_scroll = (body.len() as u16).saturating_sub(height.saturating_sub(2));
            Paragraph::new(body)
                .block(modal_block(title.clone(), t))
                .scroll(((*scroll).min(max_scroll), 0))
                .render(r, buf);
        }
    }
}

fn render_help(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
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
    let t = app.theme;
    let text = if app.job.is_some() {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(line: &Line<'_>) -> usize {
        line.spans
            .iter()
            .map(|s| s.content.matches('█').count())
            .sum()
    }

    #[test]
    fn the_fraction_bar_fills_in_proportion_and_never_overflows() {
        let t = Theme::new(false);
        assert_eq!(filled(&fraction_bar(0, 100, 20, t)), 0);
        assert_eq!(filled(&fraction_bar(50, 100, 20, t)), 10);
        assert_eq!(filled(&fraction_bar(100, 100, 20, t)), 20);
        assert_eq!(filled(&fraction_bar(250, 100, 20, t)), 20);
        assert_eq!(filled(&fraction_bar(0, 0, 20, t)), 20);
    }
}
