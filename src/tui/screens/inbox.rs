//! Inbox and review: CSRs in `<vault>/inbox/` and any path the operator adds, each judged by
//! `ceremony::inspect_csr` for its cluster; the review shows everything `csr inspect` shows,
//! and `s` opens the fingerprint confirmation.

use std::path::{Path, PathBuf};

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Widget};

use crate::ceremony::{self, Inspection};
use crate::error::Result;
use crate::policy::ClusterName;
use crate::vault::Vault;

use super::super::app::{Action, App, Modal, PromptKind};
use super::super::ui::{group_hex, kv_lines};
use super::batch::{self, BatchView};

/// Where a request's cluster name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClusterFrom {
    /// The file's stem is a valid cluster name.
    FileName,
    /// The operator typed it.
    Typed,
    /// Not known yet.
    Unknown,
}

/// One request in the inbox.
pub(crate) struct Entry {
    pub path: PathBuf,
    pub name: String,
    /// The file's bytes (read once, so what is signed is what was reviewed), or why not.
    pub input: std::result::Result<Vec<u8>, String>,
    pub cluster: Option<ClusterName>,
    pub cluster_from: ClusterFrom,
    pub days: Option<u32>,
    pub inspection: std::result::Result<Inspection, String>,
    /// Serial of the certificate signed from it in this session.
    pub signed: Option<String>,
}

impl Entry {
    fn judge(&mut self, vault: &Vault) {
        self.inspection = match &self.input {
            Ok(bytes) => {
                ceremony::inspect_csr(vault, bytes, self.cluster.as_ref(), self.days, false)
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(e.clone()),
        };
    }

    /// The verdict at a glance.
    pub fn verdict(&self) -> (bool, String) {
        match &self.inspection {
            Ok(i) if i.acceptable => (true, "acceptable".to_owned()),
            Ok(i) => (
                false,
                format!(
                    "REFUSED: {}",
                    i.reasons.first().map(String::as_str).unwrap_or("")
                ),
            ),
            Err(e) => (false, format!("error: {e}")),
        }
    }
}

/// The inbox screen's state.
pub(crate) struct Inbox {
    pub dir: PathBuf,
    /// Paths the operator added (files or directories).
    pub extra: Vec<PathBuf>,
    pub entries: Vec<Entry>,
    pub selected: usize,
    pub reviewing: bool,
    pub scroll: u16,
    /// Why the inbox directory could not be read, if it could not.
    pub problem: Option<String>,
    /// The batch being checked or signed, shown instead of the list while open.
    pub batch: Option<BatchView>,
}

/// Regular, non-hidden files of `dir`, by name.
fn files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && !p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    files.sort();
    Ok(files)
}

impl Inbox {
    pub fn new(dir: PathBuf) -> Inbox {
        Inbox {
            dir,
            extra: Vec::new(),
            entries: Vec::new(),
            selected: 0,
            reviewing: false,
            scroll: 0,
            problem: None,
            batch: None,
        }
    }

    /// Lists the inbox directory (creating it if missing) and the added paths again,
    /// keeping what the operator typed for requests already listed.
    pub fn scan(&mut self, vault: &Vault) {
        self.problem = None;
        let mut paths = Vec::new();
        match std::fs::create_dir_all(&self.dir).and_then(|()| files_in(&self.dir)) {
            Ok(files) => paths.extend(files),
            Err(e) => {
                self.problem = Some(format!("cannot read the inbox {}: {e}", self.dir.display()))
            }
        }
        for p in &self.extra {
            if p.is_dir() {
                paths.extend(files_in(p).unwrap_or_default());
            } else {
                paths.push(p.clone());
            }
        }
        let mut old: Vec<Entry> = std::mem::take(&mut self.entries);
        let mut seen = std::collections::HashSet::new();
        for path in paths {
            if !seen.insert(path.clone()) {
                continue;
            }
            let entry = match old.iter().position(|e| e.path == path) {
                Some(i) => {
                    let mut e = old.swap_remove(i);
                    e.input = crate::ceremony::read_request(&path).map_err(|e| e.to_string());
                    e.judge(vault);
                    e
                }
                None => Self::fresh(vault, path),
            };
            self.entries.push(entry);
        }
        self.selected = self.selected.min(self.entries.len().saturating_sub(1));
        if self.entries.is_empty() {
            self.reviewing = false;
        }
    }

    fn fresh(vault: &Vault, path: PathBuf) -> Entry {
        let cluster: Option<ClusterName> = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse().ok());
        let mut e = Entry {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string()),
            input: crate::ceremony::read_request(&path).map_err(|e| e.to_string()),
            cluster_from: if cluster.is_some() {
                ClusterFrom::FileName
            } else {
                ClusterFrom::Unknown
            },
            cluster,
            days: None,
            inspection: Err(String::new()),
            signed: None,
            path,
        };
        e.judge(vault);
        e
    }

    /// Adds a file or a directory the operator typed.
    pub fn add_path(&mut self, vault: &Vault, path: &Path) -> Result<()> {
        if let Err(source) = std::fs::metadata(path) {
            return Err(crate::error::Refusal::Unreadable {
                what: "request",
                path: path.to_owned(),
                source,
            }
            .into());
        }
        if !self.extra.iter().any(|p| p == path) {
            self.extra.push(path.to_owned());
        }
        self.scan(vault);
        if let Some(i) = self
            .entries
            .iter()
            .position(|e| e.path == path || e.path.starts_with(path))
        {
            self.selected = i;
        }
        Ok(())
    }

    pub fn entry(&self, path: &Path) -> Option<&Entry> {
        self.entries.iter().find(|e| e.path == path)
    }

    fn entry_mut(&mut self, path: &Path) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.path == path)
    }

    pub fn selected_entry(&self) -> Option<&Entry> {
        self.entries.get(self.selected)
    }

    pub fn set_cluster(&mut self, vault: &Vault, path: &Path, cluster: ClusterName) {
        if let Some(e) = self.entry_mut(path) {
            e.cluster = Some(cluster);
            e.cluster_from = ClusterFrom::Typed;
            e.judge(vault);
        }
    }

    pub fn set_days(&mut self, vault: &Vault, path: &Path, days: Option<u32>) {
        if let Some(e) = self.entry_mut(path) {
            e.days = days;
            e.judge(vault);
        }
    }

    /// Judges the request again (after a signing attempt, the vault changed).
    pub fn rejudge(&mut self, vault: &Vault, path: &Path) {
        if let Some(e) = self.entry_mut(path) {
            e.judge(vault);
        }
    }

    pub fn mark_signed(&mut self, path: &Path, serial: &str) {
        if let Some(e) = self.entry_mut(path) {
            e.signed = Some(serial.to_owned());
        }
    }
}

impl App {
    pub(crate) fn inbox_action(&mut self, action: Action) {
        if action == Action::Generate {
            self.open_generate_form();
            return;
        }
        if self.inbox.batch.is_some() {
            self.batch_action(action);
            return;
        }
        let n = self.inbox.entries.len();
        let path = self.inbox.selected_entry().map(|e| e.path.clone());
        match action {
            Action::Up if self.inbox.reviewing => {
                self.inbox.scroll = self.inbox.scroll.saturating_sub(1)
            }
            Action::Down if self.inbox.reviewing => {
                self.inbox.scroll = self.inbox.scroll.saturating_add(1)
            }
            Action::PageUp if self.inbox.reviewing => {
                self.inbox.scroll = self.inbox.scroll.saturating_sub(10)
            }
            Action::PageDown if self.inbox.reviewing => {
                self.inbox.scroll = self.inbox.scroll.saturating_add(10)
            }
            Action::Home if self.inbox.reviewing => self.inbox.scroll = 0,
            Action::Up => self.inbox.selected = self.inbox.selected.saturating_sub(1),
            Action::Down => self.inbox.selected = (self.inbox.selected + 1).min(n.max(1) - 1),
            Action::PageUp => self.inbox.selected = self.inbox.selected.saturating_sub(10),
            Action::PageDown => self.inbox.selected = (self.inbox.selected + 10).min(n.max(1) - 1),
            Action::Home => self.inbox.selected = 0,
            Action::End => self.inbox.selected = n.saturating_sub(1),
            Action::Enter if n > 0 && !self.inbox.reviewing => {
                self.inbox.reviewing = true;
                self.inbox.scroll = 0;
            }
            Action::Back if self.inbox.reviewing => self.inbox.reviewing = false,
            Action::Batch => self.open_batch_form(),
            Action::OpenPath => {
                self.modal = Some(Modal::Prompt {
                    kind: PromptKind::InboxPath,
                    field: String::new(),
                })
            }
            Action::SetCluster => {
                if let Some(path) = path {
                    let field = self
                        .inbox
                        .entry(&path)
                        .and_then(|e| e.cluster.as_ref().map(ToString::to_string))
                        .unwrap_or_default();
                    self.modal = Some(Modal::Prompt {
                        kind: PromptKind::Cluster(path),
                        field,
                    });
                }
            }
            Action::SetDays => {
                if let Some(path) = path {
                    let field = self
                        .inbox
                        .entry(&path)
                        .and_then(|e| e.days.map(|d| d.to_string()))
                        .unwrap_or_default();
                    self.modal = Some(Modal::Prompt {
                        kind: PromptKind::Days(path),
                        field,
                    });
                }
            }
            Action::Sign => {
                let Some(entry) = self.inbox.selected_entry() else {
                    self.info("the inbox is empty; o adds a file or directory".to_owned());
                    return;
                };
                let path = entry.path.clone();
                let verdict = entry
                    .inspection
                    .as_ref()
                    .map(|i| i.acceptable)
                    .map_err(Clone::clone);
                match verdict {
                    Ok(true) => {
                        if !self.is_unlocked() {
                            self.locked_refusal();
                            return;
                        }
                        self.inbox.reviewing = true;
                        self.modal = Some(Modal::ConfirmSign {
                            path,
                            typed: String::new(),
                        });
                    }
                    Ok(false) => {
                        self.inbox.reviewing = true;
                        self.info(
                            "this request is refused (see the reasons); c sets its cluster"
                                .to_owned(),
                        );
                    }
                    Err(e) => self.show_error("Cannot judge this request", &e),
                }
            }
            _ => {}
        }
    }
}

/// The review lines: everything `csr inspect` shows, then the profile that would be signed.
pub(crate) fn review_lines(e: &Entry) -> Vec<(String, String)> {
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
        if !(p.permitted_dns.is_empty()
            && p.permitted_uri.is_empty()
            && p.excluded_dns.is_empty()
            && p.excluded_uri.is_empty())
        {
            kv(
                "  name constraints",
                format!(
                    "permitted DNS {}, URI {}; excluded DNS {}, URI {} (critical)",
                    list_or_none(&p.permitted_dns),
                    list_or_none(&p.permitted_uri),
                    list_or_none(&p.excluded_dns),
                    list_or_none(&p.excluded_uri)
                ),
            );
        }
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

pub(crate) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let inbox = &app.inbox;
    if let Some(view) = &inbox.batch {
        batch::render(app, view, area, buf);
        return;
    }
    if inbox.reviewing {
        if let Some(e) = inbox.selected_entry() {
            let (ok, _) = e.verdict();
            let title = Line::from(vec![
                Span::styled(" Review ", t.title()),
                Span::raw(format!("{} ", e.name)),
                Span::styled(
                    if ok { "acceptable " } else { "REFUSED " },
                    if ok { t.ok() } else { t.error() },
                ),
            ]);
            let block = Block::new().borders(Borders::TOP).title(title);
            let inner = block.inner(area);
            block.render(area, buf);
            let lines = kv_lines(&review_lines(e), inner.width, t);
            Paragraph::new(lines)
                .scroll((inbox.scroll, 0))
                .render(inner, buf);
            return;
        }
    }
    let block = Block::new().borders(Borders::TOP).title(Line::from(vec![
        Span::styled(" Inbox ", t.title()),
        Span::styled(format!("{} ", inbox.dir.display()), t.dim()),
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
                let verdict = match &e.signed {
                    Some(s) => format!("signed {}", &s[..s.len().min(12)]),
                    None => verdict,
                };
                Row::new(vec![
                    Cell::from(e.name.clone()),
                    Cell::from(cluster),
                    Cell::from(key),
                    Cell::from(Span::styled(
                        verdict,
                        if e.signed.is_some() || ok {
                            t.ok()
                        } else {
                            t.error()
                        },
                    )),
                ])
            })
            .collect();
        let table = Table::new(
            rows,
            [
                Constraint::Percentage(30),
                Constraint::Percentage(20),
                Constraint::Length(11),
                Constraint::Fill(1),
            ],
        )
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
            format!(
                "also: {}",
                inbox
                    .extra
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            t.dim(),
        ));
    }
    Paragraph::new(notes).render(extra_area, buf);
}
