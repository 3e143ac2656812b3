//! Unlock: the token, its PIN state, and the masked PIN field.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget, Wrap};

use crate::pin::PIN_ENV;

use super::super::app::App;
use super::super::ui::{kv_lines, pin_words};

pub(crate) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let block = Block::new()
        .borders(Borders::TOP)
        .title(Line::from(Span::styled(" Unlock the token ", t.title())));
    let inner = block.inner(area);
    block.render(area, buf);

    let mut pairs: Vec<(String, String)> = Vec::new();
    match (&app.unlocked, &app.token) {
        (Some(u), _) => {
            let s = u.token();
            pairs.push(("token".into(), format!("{:?}", s.label)));
            pairs.push(("serial".into(), s.serial.clone()));
            pairs.push(("model".into(), format!("{} ({})", s.model, s.manufacturer)));
        }
        (None, Some(Ok(r))) => {
            pairs.push(("token".into(), format!("{:?}", r.label)));
            pairs.push(("serial".into(), r.serial.clone()));
            pairs.push(("model".into(), format!("{} ({})", r.model, r.manufacturer)));
            pairs.push(("module".into(), r.module.clone()));
            pairs.push(("user PIN".into(), pin_words(&r.pin).to_owned()));
            for k in &r.keys {
                pairs.push((
                    "key".into(),
                    format!(
                        "{} {} ({}): {}",
                        k.purpose,
                        k.label,
                        k.key_type,
                        if k.present {
                            "present"
                        } else {
                            "MISSING from the token"
                        }
                    ),
                ));
            }
        }
        (None, Some(Err(e))) => pairs.push(("token".into(), format!("error: {e}"))),
        (None, None) => pairs.push(("token".into(), "…".into())),
    }
    pairs.push((
        "session".into(),
        if app.unlocked.is_some() {
            "LOGGED IN: every action uses this session; l logs out".into()
        } else if app.unlocked_lent {
            "LOGGED IN (in use by the running job)".into()
        } else {
            "not logged in".into()
        },
    ));
    let info = kv_lines(&pairs, inner.width, t);
    let [info_area, pin_area] = Layout::vertical([
        Constraint::Length(info.len() as u16 + 1),
        Constraint::Min(3),
    ])
    .areas(inner);
    Paragraph::new(info).render(info_area, buf);

    if app.is_unlocked() {
        return;
    }
    let mut lines = Vec::new();
    let masked: String = "•".repeat(app.pin.chars().count());
    if app.pin_focus {
        lines.push(Line::from(vec![
            Span::styled("User PIN: ", t.title()),
            Span::styled(format!(" {masked}"), t.input()),
            Span::styled(" ", t.cursor()),
        ]));
        lines.push(Line::styled(
            "type the PIN, Enter logs in, Esc stops; the PIN is wiped right after login",
            t.dim(),
        ));
    } else {
        lines.push(Line::from(vec![
            Span::styled("User PIN: ", t.title()),
            Span::styled("press Enter to type it", t.dim()),
        ]));
    }
    let source = match (&app.pin_file, app.pin_env) {
        (Some(f), _) => Some(format!(
            "or leave it empty: Enter logs in with the PIN in --pin-file {}",
            f.display()
        )),
        (None, true) => Some(format!(
            "or leave it empty: Enter logs in with the PIN in {PIN_ENV}"
        )),
        _ => None,
    };
    if let Some(s) = source {
        lines.push(Line::styled(s, t.dim()));
    }
    if let Some(e) = &app.unlock_error {
        lines.push(Line::raw(""));
        lines.push(Line::styled(e.clone(), t.error()));
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(pin_area, buf);
}
