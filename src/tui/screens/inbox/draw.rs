//! Drawing the inbox: the list of requests, and the review of one.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, TableState, Widget};

use crate::ceremony;

use super::super::super::view::Ctx;
use super::super::super::widgets::{
    column_widths, fit, fitted_row, fixed_columns, group_hex, kv_lines,
};
use super::{ClusterFrom, Entry, Inbox};

/// The review lines: everything `csr inspect` shows, then the profile that would be signed.
pub(crate) fn review_lines(e: &Entry, template: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut kv = |k: &str, v: String| out.push((k.to_owned(), v));
    kv("file", e.path.display().to_string());
    let i = match &e.inspection {
        Ok(i) => i,
        Err(err) => {
            kv("error", err.clone());
            return out;
        }
    };
    kv(
        "verdict",
        if i.acceptable {
            "acceptable".into()
        } else {
            "REFUSED".into()
        },
    );
    for r in &i.reasons {
        kv("  reason", r.clone());
    }
    for line in super::sign::existing_lines(e) {
        kv(
            "  ALREADY SIGNED",
            format!("this key's certificate for {line}; signing it again makes a second valid one"),
        );
    }
    for n in &i.notes {
        kv("  note", n.clone());
    }
    kv(
        "cluster",
        match (&e.cluster, e.cluster_from) {
            (Some(c), ClusterFrom::FileName) => format!("{c} (from the file name)"),
            (Some(c), _) => format!("{c} (typed)"),
            (None, _) => "(none: press c to name it)".into(),
        },
    );
    kv("key", i.key_type.clone().unwrap_or_else(|| "-".into()));
    kv(
        "SPKI SHA-256",
        i.spki_sha256
            .as_deref()
            .map(group_hex)
            .unwrap_or_else(|| "-".into()),
    );
    kv(
        "CSR SHA-256",
        i.csr_sha256
            .as_deref()
            .map(group_hex)
            .unwrap_or_else(|| "-".into()),
    );
    kv(
        "requested subject",
        i.subject
            .as_deref()
            .map(|s| format!("{s} (not copied)"))
            .unwrap_or_else(|| "-".into()),
    );
    kv(
        "signature algorithm",
        i.signature_algorithm.clone().unwrap_or_else(|| "-".into()),
    );
    for x in &i.requested_extensions {
        kv(
            "requested extension",
            format!(
                "{}{} = {} (not copied)",
                x.name,
                if x.critical { " (critical)" } else { "" },
                x.value
            ),
        );
    }
    if let Some(p) = &i.profile {
        kv("would sign: subject", p.subject.to_string());
        kv(
            "  why this subject",
            format!(
                "the policy's subject template [{}] names every intermediate, whatever the request asks ({{org}}: the policy's organisation, else the root's O=); RFC 4514 writes it most specific first",
                template.join(", ")
            ),
        );
        kv(
            "  validity",
            format!(
                "{} days, {} .. {}{}",
                p.days,
                ceremony::rfc3339(p.not_before),
                ceremony::rfc3339(p.not_after),
                if p.not_after_capped_by_root {
                    " (capped at the root's notAfter)"
                } else {
                    ""
                }
            ),
        );
        kv(
            "  basic constraints",
            format!("CA:TRUE, pathlen:{} (critical)", p.path_len),
        );
        kv(
            "  key usage",
            if p.digital_signature {
                "keyCertSign, cRLSign, digitalSignature (critical)".into()
            } else {
                "keyCertSign, cRLSign (critical)".into()
            },
        );
        kv("  subject alt names", list_or_none(&p.san_dns));
        kv(
            "  name constraints",
            ceremony::describe_name_constraints(p).unwrap_or_else(|| "none".into()),
        );
    }
    for u in &i.key_reuse {
        kv(
            "key certified before",
            format!(
                "cluster {} serial {}: {}",
                u.cluster,
                u.serial,
                match (&u.revocation_reason, &u.revoked_at) {
                    (Some(reason), Some(at)) => format!("revoked ({reason}) at {at}"),
                    (Some(reason), None) => format!("revoked ({reason})"),
                    _ => u.status.to_string(),
                }
            ),
        );
    }
    if let Some(d) = e.days {
        kv("days asked", d.to_string());
    }
    if let Some(s) = &e.signed {
        kv("signed", format!("serial {s} (this session)"));
    }
    out
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

pub(crate) fn render(inbox: &Inbox, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    if inbox.reviewing {
        if let Some(e) = inbox.selected_entry() {
            let (ok, _) = e.verdict();
            let room = (area.width as usize).saturating_sub(22);
            let title = Line::from(vec![
                Span::styled(" Review ", t.title()),
                Span::raw(format!("{} ", fit(&e.name, room))),
                Span::styled(
                    if ok { "acceptable " } else { "REFUSED " },
                    if ok { t.ok() } else { t.error() },
                ),
            ]);
            let block = Block::new().borders(Borders::TOP).title(title);
            let inner = block.inner(area);
            block.render(area, buf);
            let template = &ctx.vault.config().policy.subject_template;
            let lines = kv_lines(&review_lines(e, template), inner.width, t);
            Paragraph::new(lines)
                .scroll((inbox.scroll, 0))
                .render(inner, buf);
            return;
        }
    }
    let room = (area.width as usize).saturating_sub(10);
    let block = Block::new().borders(Borders::TOP).title(Line::from(vec![
        Span::styled(" Inbox ", t.title()),
        Span::styled(
            format!("{} ", fit(&inbox.dir.display().to_string(), room)),
            t.dim(),
        ),
    ]));
    let inner = block.inner(area);
    block.render(area, buf);
    let [list_area, extra_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(2)]).areas(inner);
    if inbox.entries.is_empty() {
        let mut lines = vec![Line::from(
            "No requests. Put CSR files in the inbox directory,",
        )];
        lines.push(Line::from(
            "or press o to add a file or a directory (a USB stick).",
        ));
        lines.push(Line::from(
            "b signs a batch: a manifest of CSRs, confirmed once.",
        ));
        if let Some(p) = &inbox.problem {
            lines.push(Line::styled(p.clone(), t.error()));
        }
        Paragraph::new(lines).render(list_area, buf);
    } else {
        let constraints = [
            Constraint::Percentage(30),
            Constraint::Percentage(20),
            Constraint::Length(11),
            Constraint::Fill(1),
        ];
        let widths = column_widths(list_area.width, &constraints);
        let rows: Vec<Row> = inbox
            .entries
            .iter()
            .map(|e| {
                let (ok, verdict) = e.verdict();
                let key = e
                    .inspection
                    .as_ref()
                    .ok()
                    .and_then(|i| i.key_type.clone())
                    .unwrap_or_else(|| "-".into());
                let cluster = match (&e.cluster, e.cluster_from) {
                    (Some(c), ClusterFrom::Typed) => format!("{c}*"),
                    (Some(c), _) => c.to_string(),
                    (None, _) => "?".into(),
                };
                let (verdict, style) = match &e.signed {
                    Some(s) => (format!("signed {}", &s[..s.len().min(12)]), t.ok()),
                    None if ok && !e.existing.is_empty() => (verdict, t.warn()),
                    None if ok => (verdict, t.ok()),
                    None => (verdict, t.error()),
                };
                fitted_row(
                    vec![
                        (e.name.clone(), t.text()),
                        (cluster, t.text()),
                        (key, t.text()),
                        (verdict, style),
                    ],
                    &widths,
                )
            })
            .collect();
        let table = Table::new(rows, fixed_columns(&widths))
            .header(Row::new(vec!["FILE", "CLUSTER", "KEY", "VERDICT"]).style(t.title()))
            .row_highlight_style(t.selected());
        let mut state = TableState::default().with_selected(Some(inbox.selected));
        ratatui::widgets::StatefulWidget::render(table, list_area, buf, &mut state);
    }
    let mut notes = vec![Line::styled(
        "cluster from the file name, or typed (*) with c",
        t.dim(),
    )];
    if !inbox.extra.is_empty() {
        notes.push(Line::styled(
            fit(
                &format!(
                    "also (remembered in the vault): {}",
                    inbox
                        .extra
                        .iter()
                        .map(|p| if p.exists() {
                            p.display().to_string()
                        } else {
                            format!("{} (not there now)", p.display())
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                extra_area.width as usize,
            ),
            t.dim(),
        ));
    }
    Paragraph::new(notes).render(extra_area, buf);
}
