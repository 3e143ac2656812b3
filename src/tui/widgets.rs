//! Drawing helpers every screen and modal uses: wrapping, key-value lines, boxes, fields,
//! bars. Pure functions of their arguments.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row, Widget};

use super::field::TextField;
use super::theme::Theme;

/// Width of the label column of key-value lines (as the CLI's text output).
pub(crate) const LABEL: usize = 21;

/// Blanks the rows of `area` that `r` spans, edge to edge, so no text of the screen behind
/// shows beside a box.
pub(crate) fn clear_rows(area: Rect, r: Rect, buf: &mut Buffer) {
    Clear.render(
        Rect {
            x: area.x,
            width: area.width,
            ..r
        },
        buf,
    );
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

/// Whole days from `now` until an RFC 3339 time (negative when past).
pub(crate) fn days_until(rfc3339: &str, now: DateTime<Utc>) -> Option<i64> {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339).ok()?;
    let secs = (t.with_timezone(&chrono::Utc) - now).num_seconds();
    // Rounded to the nearest day: a 180-day CRL issued a second ago has 180 days left.
    Some((secs + secs.signum() * 43_200) / 86_400)
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
    let height = (lines.len() as u16 + 2).min(area.height);
    let r = centered(area, width, height);
    clear_rows(area, r, buf);
    Paragraph::new(lines)
        .block(modal_block(title, t))
        .render(r, buf);
}

/// Draws a box whose `tail` (the question and its field) is always shown: `body` scrolls
/// by `scroll` lines and, cut short, says how many lines are left above and below.
pub(crate) fn boxed_pinned(
    title: String,
    body: Vec<Line<'static>>,
    tail: Vec<Line<'static>>,
    scroll: u16,
    area: Rect,
    buf: &mut Buffer,
    t: Theme,
) {
    let width = area.width.saturating_sub(4).min(78);
    let height = (body.len() as u16 + tail.len() as u16 + 2).min(area.height);
    let room = (height as usize).saturating_sub(2 + tail.len());
    let mut lines: Vec<Line<'static>> = if body.len() <= room {
        body
    } else {
        // One line says what is hidden; the rest show the body from `scroll`.
        let shown = room.saturating_sub(1);
        let start = (scroll as usize).min(body.len() - shown);
        let below = body.len() - start - shown;
        let mut v: Vec<Line<'static>> = body.into_iter().skip(start).take(shown).collect();
        v.push(Line::styled(
            format!("… {start} line(s) above, {below} below: ↑↓ scroll"),
            t.dim(),
        ));
        v
    };
    lines.extend(tail);
    let r = centered(area, width, height);
    clear_rows(area, r, buf);
    Paragraph::new(lines)
        .block(modal_block(title, t))
        .render(r, buf);
}

/// `text` cut to `width` characters, with an ellipsis when something was cut.
pub(crate) fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut s: String = text.chars().take(width - 1).collect();
    s.push('…');
    s
}

/// The widths a [`ratatui::widgets::Table`] without a highlight symbol gives its columns
/// in `width` columns, so cells can be cut to them with an ellipsis.
pub(crate) fn column_widths(width: u16, constraints: &[ratatui::layout::Constraint]) -> Vec<usize> {
    ratatui::layout::Layout::horizontal(constraints.iter().copied())
        .flex(ratatui::layout::Flex::Start)
        .spacing(1)
        .split(Rect::new(0, 0, width, 1))
        .iter()
        .map(|r| r.width as usize)
        .collect()
}

/// The table's own constraints for columns [`column_widths`] already laid out: all fixed, so
/// the table cannot solve a `Fill` differently from the cells' cut (the solver's answer for a
/// `Fill` next to `Length`s is not unique, and differed between otherwise equal screens).
pub(crate) fn fixed_columns(widths: &[usize]) -> Vec<ratatui::layout::Constraint> {
    widths
        .iter()
        .map(|w| ratatui::layout::Constraint::Length(*w as u16))
        .collect()
}

/// A table row whose cells are cut to `widths` (from [`column_widths`]) with an ellipsis.
pub(crate) fn fitted_row(cells: Vec<(String, Style)>, widths: &[usize]) -> Row<'static> {
    Row::new(
        cells
            .into_iter()
            .zip(widths)
            .map(|((text, style), w)| Cell::from(Span::styled(fit(&text, *w), style))),
    )
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
    fn cut_text_ends_in_an_ellipsis_and_uncut_text_does_not() {
        assert_eq!(
            fit("REFUSED: this is not a certificate request", 26),
            "REFUSED: this is not a ce…"
        );
        assert_eq!(fit("acceptable", 10), "acceptable");
        assert_eq!(fit("acceptable", 0), "");
        let w = column_widths(
            80,
            &[
                ratatui::layout::Constraint::Length(10),
                ratatui::layout::Constraint::Fill(1),
            ],
        );
        assert_eq!(w, vec![10, 69]);
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
