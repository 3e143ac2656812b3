//! Inbox and review: CSRs in `<vault>/inbox/` and any path the operator adds, each judged by
//! `ceremony::inspect_csr` for its cluster; the review shows everything `csr inspect` shows,
//! and `s` opens the fingerprint confirmation. A batch (`b`) is shown in place of the list
//! while it is open.

mod draw;
mod sign;

use std::path::{Path, PathBuf};

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use crate::ceremony::{self, CertInfo, Inspection};
use crate::error::{Error, NotConfirmed, Refusal, Result};
use crate::policy::ClusterName;
use crate::vault::Vault;

use super::super::job::{Job, Outcome};
use super::super::keys::{Action, Screen};
use super::super::modals::batch_form::BatchForm;
use super::super::modals::export::export_outcome;
use super::super::modals::generate::GenerateForm;
use super::super::modals::prompt::{Prompt, PromptKind};
use super::super::view::{Ctx, Effect, Footer, Msg, ScreenView};
use super::batch::{BatchKey, BatchSpec, BatchView};

/// The file in the vault directory where the paths the operator added are remembered, one
/// absolute path a line.
pub(crate) const REMEMBERED_PATHS: &str = "tui-inbox-paths";

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
    /// The valid certificates (any cluster) that already hold this request's key.
    pub existing: Vec<CertInfo>,
}

impl Entry {
    fn judge(&mut self, vault: &Vault) {
        self.inspection = match &self.input {
            // Reuse of a key is flagged by the TUI and acknowledged before signing (the CLI's
            // --allow-key-reuse); a compromised key is refused here whatever.
            Ok(bytes) => {
                ceremony::inspect_csr(vault, bytes, self.cluster.as_ref(), self.days, true)
                    .map_err(|e| super::super::words::say(&e))
            }
            Err(e) => Err(e.clone()),
        };
        self.existing = match &self.inspection {
            Ok(Inspection {
                spki_sha256: Some(spki),
                ..
            }) => ceremony::valid_certificates_for_key(vault, spki).unwrap_or_default(),
            _ => Vec::new(),
        };
    }

    /// The verdict at a glance.
    pub fn verdict(&self) -> (bool, String) {
        match &self.inspection {
            Ok(i) if i.acceptable && !self.existing.is_empty() => {
                (true, "acceptable (signed before)".to_owned())
            }
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

/// What other screens and modals tell the inbox.
pub(crate) enum InboxMsg {
    /// The cluster typed for the request at this path.
    SetCluster(PathBuf, ClusterName),
    /// The days typed for the request at this path (`None`: the policy's default).
    SetDays(PathBuf, Option<u32>),
    /// A file or directory to add (checked by the prompt; absolute).
    AddPath(PathBuf),
    /// Sign the request at this path (any warning about it acknowledged).
    Sign(PathBuf),
    /// Check this manifest (the batch form was submitted).
    CheckBatch(BatchSpec),
    /// Sign the checked batch (any warning about it acknowledged).
    SignBatch,
}

/// The inbox screen's state.
pub(crate) struct Inbox {
    pub dir: PathBuf,
    /// Where the added paths are remembered.
    remembered: PathBuf,
    /// Paths the operator added (files or directories), this session or before.
    pub extra: Vec<PathBuf>,
    pub entries: Vec<Entry>,
    pub selected: usize,
    pub reviewing: bool,
    pub scroll: u16,
    /// Why the inbox directory could not be read, if it could not.
    pub problem: Option<String>,
    /// The batch being checked or signed, shown instead of the list while open.
    pub batch: Option<BatchView>,
    /// What to say with the next check's result (a declined batch is checked again).
    recheck_note: Option<String>,
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

/// Whether `path` can be added to the inbox: it must be there to read.
pub(crate) fn check_path(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(_) => Ok(()),
        Err(source) => Err(Refusal::Unreadable {
            what: "request",
            path: path.to_owned(),
            source,
        }
        .into()),
    }
}

impl Inbox {
    /// The inbox of the vault in `vault_dir`, with the paths remembered there.
    pub fn new(vault_dir: &Path) -> Inbox {
        let remembered = vault_dir.join(REMEMBERED_PATHS);
        let extra = std::fs::read_to_string(&remembered)
            .map(|text| {
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(PathBuf::from)
                    .collect()
            })
            .unwrap_or_default();
        Inbox {
            dir: vault_dir.join("inbox"),
            remembered,
            extra,
            entries: Vec::new(),
            selected: 0,
            reviewing: false,
            scroll: 0,
            problem: None,
            batch: None,
            recheck_note: None,
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
            } else if p.exists() {
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
                    e.input = ceremony::read_request(&path).map_err(|e| e.to_string());
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
            input: ceremony::read_request(&path).map_err(|e| e.to_string()),
            cluster_from: if cluster.is_some() {
                ClusterFrom::FileName
            } else {
                ClusterFrom::Unknown
            },
            cluster,
            days: None,
            inspection: Err(String::new()),
            signed: None,
            existing: Vec::new(),
            path,
        };
        e.judge(vault);
        e
    }

    /// Adds a file or a directory the operator typed, and remembers it in the vault (one
    /// file, replaced atomically). Not being able to remember it is said, not fatal.
    fn add_path(&mut self, vault: &Vault, path: &Path) -> Effect {
        if let Err(e) = check_path(path) {
            return Effect::failed("Not added", &e);
        }
        let mut effect = Effect::None;
        if !self.extra.iter().any(|p| p == path) {
            self.extra.push(path.to_owned());
            let text: String = self
                .extra
                .iter()
                .map(|p| format!("{}\n", p.display()))
                .collect();
            if let Err(e) = crate::fsio::write_file(&self.remembered, text.as_bytes(), true) {
                effect = Effect::error_line(format!(
                    "added for this session only: it could not be remembered in the vault ({})",
                    super::super::words::say(&e.into())
                ));
            }
        }
        self.scan(vault);
        if let Some(i) = self
            .entries
            .iter()
            .position(|e| e.path == path || e.path.starts_with(path))
        {
            self.selected = i;
        }
        effect
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

    /// Applies what a prompt or form sent.
    pub fn receive(&mut self, msg: InboxMsg, ctx: &Ctx) -> Effect {
        match msg {
            InboxMsg::SetCluster(path, cluster) => {
                if let Some(e) = self.entry_mut(&path) {
                    e.cluster = Some(cluster);
                    e.cluster_from = ClusterFrom::Typed;
                    e.judge(ctx.vault);
                }
                Effect::None
            }
            InboxMsg::SetDays(path, days) => {
                if let Some(e) = self.entry_mut(&path) {
                    e.days = days;
                    e.judge(ctx.vault);
                }
                Effect::None
            }
            InboxMsg::AddPath(path) => self.add_path(ctx.vault, &path),
            InboxMsg::Sign(path) => self.start_sign(&path, ctx),
            InboxMsg::CheckBatch(spec) => self.start_batch_check(spec, ctx),
            InboxMsg::SignBatch => match self.batch.as_mut() {
                Some(view) => view.start_sign(ctx),
                None => Effect::None,
            },
        }
    }

    /// Checks the manifest on a worker (`ceremony::check_batch`; no token needed).
    fn start_batch_check(&mut self, spec: BatchSpec, ctx: &Ctx) -> Effect {
        if let Some(job) = ctx.job {
            return Effect::info(format!("wait: {} is still running", job.label));
        }
        let s = spec.clone();
        self.batch = Some(BatchView::checking(spec));
        self.reviewing = false;
        Effect::Run(Job::plain(
            "checking the batch",
            Screen::Inbox,
            move |vault, _| {
                let r = ceremony::check_batch(vault, &s.manifest, s.days, true);
                Outcome::CheckBatch(s, r)
            },
        ))
    }

    fn list_action(&mut self, action: Action, ctx: &Ctx) -> Effect {
        let n = self.entries.len();
        let path = self.selected_entry().map(|e| e.path.clone());
        match action {
            Action::Up if self.reviewing => self.scroll = self.scroll.saturating_sub(1),
            Action::Down if self.reviewing => self.scroll = self.scroll.saturating_add(1),
            Action::PageUp if self.reviewing => self.scroll = self.scroll.saturating_sub(10),
            Action::PageDown if self.reviewing => self.scroll = self.scroll.saturating_add(10),
            Action::Home if self.reviewing => self.scroll = 0,
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => self.selected = (self.selected + 1).min(n.max(1) - 1),
            Action::PageUp => self.selected = self.selected.saturating_sub(10),
            Action::PageDown => self.selected = (self.selected + 10).min(n.max(1) - 1),
            Action::Home => self.selected = 0,
            Action::End => self.selected = n.saturating_sub(1),
            Action::Enter if n > 0 && !self.reviewing => {
                self.reviewing = true;
                self.scroll = 0;
            }
            Action::Back if self.reviewing => self.reviewing = false,
            Action::Batch => return Effect::open(BatchForm::new()),
            Action::OpenPath => return Effect::open(Prompt::new(PromptKind::InboxPath, "")),
            Action::SetCluster | Action::SetDays => {
                let Some(path) = path else {
                    return Effect::info("the inbox is empty; o adds a file or directory");
                };
                if action == Action::SetDays {
                    let field = self
                        .entry(&path)
                        .and_then(|e| e.days.map(|d| d.to_string()))
                        .unwrap_or_default();
                    return Effect::open(Prompt::new(PromptKind::Days(path), &field));
                }
                let field = self
                    .entry(&path)
                    .and_then(|e| e.cluster.as_ref().map(ToString::to_string))
                    .unwrap_or_default();
                return Effect::open(Prompt::new(PromptKind::Cluster(path), &field));
            }
            Action::Sign => return self.open_sign(ctx),
            _ => {}
        }
        Effect::None
    }
}

impl ScreenView for Inbox {
    fn handle(&mut self, action: Action, ctx: &Ctx) -> Effect {
        if action == Action::Generate {
            if !ctx.unlocked() {
                return Effect::locked();
            }
            if !ctx.data.has_root {
                return Effect::failed("No root", &Refusal::NoRoot.into());
            }
            return Effect::open(GenerateForm::new());
        }
        if let Some(view) = self.batch.as_mut() {
            return match view.handle(action, ctx) {
                BatchKey::Effect(e) => e,
                BatchKey::Close(e) => {
                    self.batch = None;
                    e
                }
                BatchKey::Check(spec) => self.start_batch_check(spec, ctx),
            };
        }
        self.list_action(action, ctx)
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        match &self.batch {
            Some(view) => view.render(ctx, area, buf),
            None => draw::render(self, ctx, area, buf),
        }
    }

    fn footer(&self, ctx: &Ctx) -> Footer {
        if let Some(view) = &self.batch {
            return Footer::with_global(view.footer_keys(ctx));
        }
        if self.entries.is_empty() {
            return Footer::with_global(vec![
                ("o", "add a path"),
                ("b", "batch"),
                ("n", "new key"),
                ("R", "reload"),
            ]);
        }
        if self.reviewing {
            return Footer::with_global(vec![
                ("s", "sign"),
                ("c", "cluster"),
                ("d", "days"),
                ("↑↓", "scroll"),
                ("Esc", "back"),
            ]);
        }
        Footer::with_global(vec![
            ("Enter", "review"),
            ("s", "sign"),
            ("c", "cluster"),
            ("d", "days"),
            ("o", "add path"),
            ("b", "batch"),
            ("n", "new key"),
        ])
    }

    fn flow(&self) -> Option<&'static str> {
        if self.batch.as_ref().is_some_and(BatchView::ready) {
            return Some("reviewing a batch");
        }
        if self.reviewing {
            return Some("reviewing a request");
        }
        None
    }

    fn item(&self) -> Option<String> {
        match &self.batch {
            Some(view) => Some(view.spec.manifest.display().to_string()),
            None => self.selected_entry().map(|e| e.path.display().to_string()),
        }
    }

    fn on_enter(&mut self, ctx: &Ctx) {
        self.scan(ctx.vault);
    }

    fn on_outcome(&mut self, outcome: Outcome, ctx: &Ctx) -> Effect {
        match outcome {
            Outcome::Sign(path, r) => self.on_signed(&path, r, ctx),
            Outcome::Recorded(path, r) => self.on_recorded(&path, r, ctx),
            Outcome::CheckBatch(spec, r) => {
                let ready = r.is_ok();
                let (view, effect) = BatchView::checked(spec, r, ctx);
                self.batch = Some(view);
                match self.recheck_note.take() {
                    Some(note) if ready => Effect::info(format!(
                        "{note}; the manifest was checked again: s signs it after one confirmation"
                    )),
                    _ => effect,
                }
            }
            Outcome::SignBatch(done) => {
                if let Err(Error::NotConfirmed(NotConfirmed::Declined { nothing })) = &done.result {
                    // Declining spends the check; the same manifest is checked again so it
                    // can be signed without retyping anything.
                    self.recheck_note = Some(format!("not confirmed; {nothing}"));
                    return self.start_batch_check(done.spec, ctx);
                }
                let (view, effect) = BatchView::signed(*done);
                self.batch = Some(view);
                effect
            }
            Outcome::Generate(spec, r) => super::super::modals::generate::outcome(spec, r),
            Outcome::Export(r) => export_outcome(r),
            _ => Effect::None,
        }
    }
}

impl From<InboxMsg> for Msg {
    fn from(m: InboxMsg) -> Msg {
        Msg::Inbox(m)
    }
}
