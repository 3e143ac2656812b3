//! Drawing helpers every screen and modal uses: wrapping, key-value lines, boxes, fields,
//! bars. Pure functions of their arguments.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use crate::hsm::PinState;

use super::field::TextField;
use super::theme::Theme;

/// Width of the label column of key-value lines (as the CLI's text output).
pub(crate) const LABEL: usize = 21;

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

/// Whole days from `now` until an RFC 3339 time (negative when past).
pub(crate) fn days_until(rfc3339: &str, now: DateTime<Utc>) -> Option<i64> {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339).ok()?;
    let secs = (t.with_timezone(&chrono::Utc) - now).num_seconds();
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

/// The frame of a modal, with its title.
pub(crate) fn modal_block(title: String, t: Theme) -> Block<'static> {
    Block::bordered().title(Line::styled(format!(" {title} "), t.title()))
}

/// Draws `lines` in a centred box sized to them.
pub(crate) fn boxed(
    title: String,
    lines: Vec<Line<'static>>,
    area: Rect,
    buf: &mut Buffer,
    t: Theme,
) {
    let width = area.width.saturating_sub(4).min(78);
    let height = (lines.len() as u16 + 2).min(area.height.saturating_sub(2));
    let r = centered(area, width, height);
    Clear.render(r, buf);
    Paragraph::new(lines)
        .block(modal_block(title, t))
        .render(r, buf);
}

/// The width of text inside a modal on `area`.
pub(crate) fn inner_width(area: Rect) -> u16 {
    area.width.saturating_sub(6).min(76)
}

/// A labelled form field; the focused one shows its cursor.
pub(crate) fn field_line(label: &str, field: &TextField, focused: bool, t: Theme) -> Line<'static> {
    let mut spans = vec![Span::styled(
        format!("{label:<16}"),
        if focused { t.key() } else { t.dim() },
    )];
    spans.push(Span::raw(" "));
    spans.extend(field.spans(focused, t));
    Line::from(spans)
}

/// A one-line input with its prompt and cursor.
pub(crate) fn input_line(field: &TextField, t: Theme) -> Line<'static> {
    let mut spans = vec![Span::styled("> ", t.title())];
    spans.extend(field.spans(true, t));
    Line::from(spans)
}

/// `text` wrapped to `width`, every line in `style`.
pub(crate) fn text_lines(text: &str, width: u16, style: Style) -> Vec<Line<'static>> {
    wrap(text, width as usize)
        .into_iter()
        .map(|l| Line::styled(l, style))
        .collect()
}

/// A row of choices with the selected one highlighted, after a label.
pub(crate) fn picker(
    label: &str,
    names: &[&str],
    selected: usize,
    focused: bool,
    t: Theme,
) -> Line<'static> {
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
