//! The app: all state in [`App`], keys turned into [`Action`]s, and [`App::update`], the one
//! place state changes. Rendering (`ui.rs`, `screens/`) only reads.
//!
//! Every rule lives in `ceremony`: the app gathers what the operator typed, calls a use case
//! (on a worker thread), and shows the result or the error's `Display` text, the same words
//! the CLI prints.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use secrecy::SecretString;
use zeroize::{Zeroize, Zeroizing};

use crate::ceremony::{
    self, Answer, Auth, CertInfo, Ctx, ExportReport, Operator, RootInfo, Scripted, TokenReport,
    Unlocked,
};
use crate::export::Format;
use crate::keys::KeyType;
use crate::ledger::{CrlRow, RevocationRow, VerifyReport};
use crate::pin::{PinSource, PIN_ENV};
use crate::policy::ClusterName;
use crate::vault::Vault;
use crate::x509::{Dn, RevocationReason};

use super::screens::batch::BatchForm;
use super::screens::certs::CertsView;
use super::screens::generate::{GenerateForm, GenerateSpec};
use super::screens::inbox::Inbox;
use super::screens::ledger::LedgerView;
use super::theme::Theme;
use super::worker::{Job, Msg, Outcome, Progress, Work};

/// The screens, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Vault, token, root, ledger, counts and warnings.
    Overview,
    /// The token and its PIN.
    Unlock,
    /// CSRs waiting to be reviewed and signed.
    Inbox,
    /// Issued intermediates: filter, details, revoke, export.
    Certificates,
    /// The last CRL and the next one.
    Crl,
    /// The events, and verification.
    Ledger,
}

impl Screen {
    /// Every screen, in tab order (key `1` is the first).
    pub const ALL: [Screen; 6] = [
        Screen::Overview,
        Screen::Unlock,
        Screen::Inbox,
        Screen::Certificates,
        Screen::Crl,
        Screen::Ledger,
    ];

    /// The tab title.
    pub fn title(self) -> &'static str {
        match self {
            Screen::Overview => "Overview",
            Screen::Unlock => "Unlock",
            Screen::Inbox => "Inbox",
            Screen::Certificates => "Certificates",
            Screen::Crl => "CRL",
            Screen::Ledger => "Ledger",
        }
    }

    /// Position in [`Screen::ALL`].
    pub fn index(self) -> usize {
        Screen::ALL
            .iter()
            .position(|s| *s == self)
            .expect("every screen is listed")
    }
}

/// What a key means. Keys are mapped by [`App::action_for`], which knows whether a text
/// field has the focus; [`App::update`] applies the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `q` (or Ctrl-C anywhere): quit, asking first in the middle of a flow.
    Quit,
    /// `y` to a question.
    Yes,
    /// `n` or Esc to a question.
    No,
    /// Tab.
    NextScreen,
    /// Shift-Tab.
    PrevScreen,
    /// A number key.
    Go(Screen),
    /// `?`.
    Help,
    /// Up arrow or `k`.
    Up,
    /// Down arrow or `j`.
    Down,
    /// Page Up.
    PageUp,
    /// Page Down.
    PageDown,
    /// Home or `g`.
    Home,
    /// End or `G`.
    End,
    /// Left arrow (pickers).
    Left,
    /// Right arrow (pickers).
    Right,
    /// Enter: open, submit.
    Enter,
    /// Esc: close, cancel, go back.
    Back,
    /// A character typed into the focused text field.
    Type(char),
    /// Backspace in the focused text field.
    Erase,
    /// Tab inside a form.
    NextField,
    /// Shift-Tab inside a form.
    PrevField,
    /// `R` or F5: read the vault again.
    Reload,
    /// `u`: go to the PIN field.
    Unlock,
    /// `l`: log out of the token.
    Lock,
    /// `n`: create the root (only when the vault has none).
    CreateRoot,
    /// `o`: add a path (a USB stick) to the inbox.
    OpenPath,
    /// `c`: set the cluster of the selected request.
    SetCluster,
    /// `d`: set the validity (days) asked for the selected request.
    SetDays,
    /// `s`: sign the selected request.
    Sign,
    /// `/`: filter the certificates by text.
    Filter,
    /// `f`: cycle the certificates' status filter.
    CycleStatus,
    /// `r`: revoke the selected certificate.
    Revoke,
    /// `e`: export the selected certificate's cluster.
    Export,
    /// `i`: issue the next CRL.
    IssueCrl,
    /// `w`: write the last CRL to a file.
    WriteCrl,
    /// `v`: verify the ledger.
    Verify,
    /// `b`: open a batch (a manifest of CSRs) to sign, or change the open one's paths.
    Batch,
    /// `n` on the inbox: sign a key the vault generates (`sign --generate-key`).
    Generate,
    /// Time passes: collect results from the worker.
    Tick,
}

/// A line in the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub text: String,
    pub kind: MessageKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MessageKind {
    Info,
    Success,
    Error,
}

/// A one-line prompt and what its answer is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PromptKind {
    /// The cluster of the inbox request at this path.
    Cluster(PathBuf),
    /// Days of validity asked for the request at this path.
    Days(PathBuf),
    /// A file or directory to add to the inbox.
    InboxPath,
    /// Where to write the last CRL.
    CrlOut(i64),
}

impl PromptKind {
    pub fn title(&self) -> &'static str {
        match self {
            PromptKind::Cluster(_) => "Cluster",
            PromptKind::Days(_) => "Validity",
            PromptKind::InboxPath => "Add to the inbox",
            PromptKind::CrlOut(_) => "Write the CRL",
        }
    }

    pub fn question(&self) -> &'static str {
        match self {
            PromptKind::Cluster(_) => "The cluster this request is for (a DNS label):",
            PromptKind::Days(_) => "Days of validity to ask for (empty: the policy's default):",
            PromptKind::InboxPath => "A CSR file, or a directory of them (e.g. a USB stick):",
            PromptKind::CrlOut(_) => "Write the last CRL (PEM) to:",
        }
    }
}

/// The export form: format picker, output path, optional age recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExportForm {
    pub cluster: ClusterName,
    pub format: usize,
    pub out: String,
    pub out_edited: bool,
    pub recipient: String,
    pub recipients: Vec<String>,
    /// 0 format, 1 path, 2 recipient.
    pub focus: usize,
}

impl ExportForm {
    pub const FIELDS: usize = 3;

    fn new(cluster: ClusterName) -> ExportForm {
        let mut f = ExportForm {
            cluster,
            format: 0,
            out: String::new(),
            out_edited: false,
            recipient: String::new(),
            recipients: Vec::new(),
            focus: 0,
        };
        f.default_out();
        f
    }

    pub fn format(&self) -> Format {
        Format::ALL[self.format]
    }

    /// The suggested output path, relative to the current directory, until the operator
    /// edits it.
    fn default_out(&mut self) {
        if self.out_edited {
            return;
        }
        let encrypted = !self.recipients.is_empty() || !self.recipient.trim().is_empty();
        self.out = default_export_name(self.cluster.as_str(), self.format(), encrypted);
    }
}

/// The output path suggested for an export of `cluster` in `format` (relative to the current
/// directory): `.age` on a one-file export that is encrypted.
pub(crate) fn default_export_name(cluster: &str, format: Format, encrypted: bool) -> String {
    let c = cluster;
    let base = match format {
        Format::Istio => format!("{c}-cacerts"),
        Format::IstioSecret => format!("{c}-cacerts.yaml"),
        Format::TlsSecret => format!("{c}-tls-secret.yaml"),
        Format::PemBundle => format!("{c}-chain.pem"),
    };
    if encrypted && !format.is_directory() {
        format!("{base}.age")
    } else {
        base
    }
}

/// The root creation form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RootForm {
    pub subject: String,
    pub key_type: usize,
    pub days: String,
    pub path_len: String,
    pub key_label: String,
    /// 0 subject, 1 key type, 2 days, 3 path length, 4 key label.
    pub focus: usize,
    pub problem: Option<String>,
}

impl RootForm {
    pub const FIELDS: usize = 5;

    fn new() -> RootForm {
        RootForm {
            subject: String::new(),
            key_type: KeyType::ALL
                .iter()
                .position(|k| *k == KeyType::EcdsaP384)
                .unwrap_or(0),
            days: ceremony::DEFAULT_ROOT_DAYS.to_string(),
            path_len: String::new(),
            key_label: ceremony::DEFAULT_ROOT_LABEL.to_owned(),
            focus: 0,
            problem: None,
        }
    }
}

/// What covers the screen until it is answered.
#[derive(Debug, Clone)]
pub(crate) enum Modal {
    /// A failure, in ceremony's words, until dismissed.
    Error { title: String, text: String },
    /// A one-line question.
    Prompt { kind: PromptKind, field: String },
    /// The fingerprint typed to confirm signing the request at `path`.
    ConfirmSign { path: PathBuf, typed: String },
    /// Which RFC 5280 reason.
    RevokeReason { serial: String, selected: usize },
    /// The serial typed to confirm the revocation.
    ConfirmRevoke {
        serial: String,
        reason: RevocationReason,
        typed: String,
    },
    /// Export: format, path, recipients.
    Export(ExportForm),
    /// The next CRL's validity in days.
    IssueCrl { days: String },
    /// A new root.
    CreateRoot(RootForm),
    /// A signature was made: serial, fingerprint, and the export on offer.
    Signed(CertInfo),
    /// A batch: manifest, output directory, days.
    BatchForm(BatchForm),
    /// The manifest's SHA-256 typed to confirm signing the checked batch.
    ConfirmBatch { typed: String },
    /// `sign --generate-key`: cluster, key type, days, format, output, recipients.
    GenerateForm(GenerateForm),
    /// The recipients' SHA-256 typed to confirm generating, signing and writing.
    ConfirmGenerate {
        spec: Box<GenerateSpec>,
        typed: String,
    },
    /// A generated key was signed and written encrypted.
    Generated {
        spec: Box<GenerateSpec>,
        report: Box<ExportReport>,
    },
    /// Read-only details (a certificate, an event), scrollable.
    Details {
        title: String,
        lines: Vec<(String, String)>,
        scroll: u16,
    },
}

impl Modal {
    /// Whether keys go to a text field.
    fn takes_text(&self) -> bool {
        match self {
            Modal::Prompt { .. }
            | Modal::ConfirmSign { .. }
            | Modal::ConfirmRevoke { .. }
            | Modal::IssueCrl { .. }
            | Modal::BatchForm(_)
            | Modal::ConfirmBatch { .. }
            | Modal::ConfirmGenerate { .. } => true,
            Modal::GenerateForm(f) => f.takes_text(),
            Modal::Export(f) => f.focus != 0,
            Modal::CreateRoot(f) => f.focus != 1,
            Modal::Error { .. }
            | Modal::RevokeReason { .. }
            | Modal::Signed(_)
            | Modal::Generated { .. }
            | Modal::Details { .. } => false,
        }
    }

    /// What the operator is in the middle of, if closing this modal abandons something.
    fn flow(&self) -> Option<&'static str> {
        match self {
            Modal::Error { .. }
            | Modal::Details { .. }
            | Modal::Signed(_)
            | Modal::Generated { .. } => None,
            Modal::Prompt { .. } => Some("answering a question"),
            Modal::ConfirmSign { .. } => Some("confirming a signature"),
            Modal::RevokeReason { .. } | Modal::ConfirmRevoke { .. } => {
                Some("revoking a certificate")
            }
            Modal::Export(_) => Some("an export"),
            Modal::IssueCrl { .. } => Some("issuing a CRL"),
            Modal::CreateRoot(_) => Some("creating the root"),
            Modal::BatchForm(_) => Some("opening a batch"),
            Modal::ConfirmBatch { .. } => Some("confirming a batch"),
            Modal::GenerateForm(_) => Some("generating a key for a cluster"),
            Modal::ConfirmGenerate { .. } => Some("confirming a generated key"),
        }
    }
}

/// What the app read from the vault the last time it looked.
pub(crate) struct Data {
    pub root: Option<Result<RootInfo, String>>,
    pub has_root: bool,
    pub certs: Result<Vec<CertInfo>, String>,
    pub head: Result<(i64, String), String>,
    pub last_crl: Result<Option<CrlRow>, String>,
    pub revocations: Result<Vec<RevocationRow>, String>,
}

impl Data {
    fn empty() -> Data {
        Data {
            root: None,
            has_root: false,
            certs: Ok(Vec::new()),
            head: Ok((0, String::new())),
            last_crl: Ok(None),
            revocations: Ok(Vec::new()),
        }
    }
}

/// Options of one TUI session.
#[derive(Debug, Clone)]
pub struct Options {
    /// Recorded as the actor of every event.
    pub operator: Operator,
    /// `--pin-file`, used when the PIN field is left empty.
    pub pin_file: Option<PathBuf>,
    /// Colours (false under `NO_COLOR`).
    pub theme: Theme,
}

/// The whole state of the TUI.
pub struct App {
    pub(crate) vault: Arc<Vault>,
    pub(crate) operator: Operator,
    pub(crate) pin_file: Option<PathBuf>,
    pub(crate) pin_env: bool,
    pub(crate) theme: Theme,
    pub(crate) screen: Screen,

    pub(crate) unlocked: Option<Unlocked>,
    /// The session is lent to the running job.
    pub(crate) unlocked_lent: bool,
    pub(crate) pin: Zeroizing<String>,
    pub(crate) pin_focus: bool,
    pub(crate) unlock_error: Option<String>,
    pub(crate) token: Option<Result<TokenReport, String>>,

    pub(crate) data: Box<Data>,
    pub(crate) last_verify: Option<(VerifyReport, String)>,
    pub(crate) inbox: Inbox,
    pub(crate) certs: CertsView,
    pub(crate) ledger: LedgerView,

    pub(crate) modal: Option<Modal>,
    pub(crate) help: bool,
    pub(crate) quit_ask: Option<&'static str>,
    pub(crate) quit: bool,
    pub(crate) quit_after_job: bool,
    pub(crate) job: Option<Job>,
    pub(crate) message: Option<Message>,
    pub(crate) fatal: Option<String>,
}

impl App {
    /// An app over `vault`. Starts reading the token (on a worker) and the vault.
    pub fn new(vault: Vault, options: Options) -> App {
        let inbox_dir = vault.dir().join("inbox");
        let mut app = App {
            vault: Arc::new(vault),
            operator: options.operator,
            pin_file: options.pin_file,
            pin_env: std::env::var_os(PIN_ENV).is_some(),
            theme: options.theme,
            screen: Screen::Overview,
            unlocked: None,
            unlocked_lent: false,
            pin: Zeroizing::new(String::new()),
            pin_focus: false,
            unlock_error: None,
            token: None,
            data: Box::new(Data::empty()),
            last_verify: None,
            inbox: Inbox::new(inbox_dir),
            certs: CertsView::default(),
            ledger: LedgerView::default(),
            modal: None,
            help: false,
            quit_ask: None,
            quit: false,
            quit_after_job: false,
            job: None,
            message: None,
            fatal: None,
        };
        app.reload();
        app.read_token();
        app
    }

    /// The screen shown.
    pub fn screen(&self) -> Screen {
        self.screen
    }

    /// Whether the loop should end: quit was asked and no job is running.
    pub fn should_quit(&self) -> bool {
        (self.quit || self.fatal.is_some()) && self.job.is_none()
    }

    /// Whether a job is running.
    pub fn busy(&self) -> bool {
        self.job.is_some()
    }

    /// Whether the token is logged in (the session may be lent to a running job).
    pub fn is_unlocked(&self) -> bool {
        self.unlocked.is_some() || self.unlocked_lent
    }

    /// How many characters are in the PIN field (the PIN itself is never shown).
    pub fn typed_pin_len(&self) -> usize {
        self.pin.chars().count()
    }

    /// A failure that ended the app (a worker thread died).
    pub fn fatal(&self) -> Option<&str> {
        self.fatal.as_deref()
    }

    /// The status line's text, if any.
    pub fn message(&self) -> Option<&str> {
        self.message.as_ref().map(|m| m.text.as_str())
    }

    /// The text of the error shown in a modal, if one is shown.
    pub fn error_shown(&self) -> Option<&str> {
        match &self.modal {
            Some(Modal::Error { text, .. }) => Some(text),
            _ => None,
        }
    }

    /// Maps a key and applies it.
    pub fn handle_key(&mut self, key: KeyEvent) {
        if let Some(action) = self.action_for(key) {
            self.update(action);
        }
    }

    /// Waits (at most `limit`) for the running job to finish and applies its outcome.
    /// Returns false if it was still running at the limit. For tests and for quitting.
    pub fn wait_for_job(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while let Some(job) = self.job.as_mut() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match job.next_within(left.min(Duration::from_millis(50))) {
                Ok(Some(msg)) => self.on_job_message(msg),
                Ok(None) => {}
                Err(()) => self.job_died(),
            }
        }
        true
    }

    /// Whether a text field has the keys.
    pub(crate) fn text_mode(&self) -> bool {
        match &self.modal {
            Some(m) => m.takes_text(),
            None => {
                (self.screen == Screen::Unlock && self.pin_focus)
                    || (self.screen == Screen::Certificates && self.certs.editing_filter)
            }
        }
    }

    /// What the operator is in the middle of, if quitting now abandons something.
    pub(crate) fn mid_flow(&self) -> Option<&'static str> {
        if let Some(job) = &self.job {
            return Some(job.label);
        }
        if let Some(flow) = self.modal.as_ref().and_then(Modal::flow) {
            return Some(flow);
        }
        if !self.pin.is_empty() {
            return Some("typing the PIN");
        }
        if self.screen == Screen::Inbox && self.inbox.batch.as_ref().is_some_and(|b| b.ready()) {
            return Some("reviewing a batch");
        }
        if self.screen == Screen::Inbox && self.inbox.reviewing {
            return Some("reviewing a request");
        }
        None
    }

    /// The action a key stands for in the current state, if any.
    pub fn action_for(&self, key: KeyEvent) -> Option<Action> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('q')) {
            return Some(Action::Quit);
        }
        if self.quit_ask.is_some() {
            return match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => Some(Action::Yes),
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => Some(Action::No),
                _ => None,
            };
        }
        if self.help {
            return Some(Action::Help);
        }
        if self.text_mode() {
            return match key.code {
                KeyCode::Char(c) if !ctrl => Some(Action::Type(c)),
                KeyCode::Backspace => Some(Action::Erase),
                KeyCode::Enter => Some(Action::Enter),
                KeyCode::Esc => Some(Action::Back),
                KeyCode::Tab => Some(Action::NextField),
                KeyCode::BackTab => Some(Action::PrevField),
                KeyCode::Up => Some(Action::Up),
                KeyCode::Down => Some(Action::Down),
                KeyCode::Left => Some(Action::Left),
                KeyCode::Right => Some(Action::Right),
                _ => None,
            };
        }
        let common = match key.code {
            KeyCode::Up | KeyCode::Char('k') => Some(Action::Up),
            KeyCode::Down | KeyCode::Char('j') => Some(Action::Down),
            KeyCode::PageUp => Some(Action::PageUp),
            KeyCode::PageDown => Some(Action::PageDown),
            KeyCode::Home | KeyCode::Char('g') => Some(Action::Home),
            KeyCode::End | KeyCode::Char('G') => Some(Action::End),
            KeyCode::Left => Some(Action::Left),
            KeyCode::Right => Some(Action::Right),
            KeyCode::Enter => Some(Action::Enter),
            KeyCode::Esc => Some(Action::Back),
            KeyCode::Char('q') => Some(Action::Quit),
            KeyCode::Char('?') => Some(Action::Help),
            _ => None,
        };
        if let Some(modal) = &self.modal {
            // Pickers, errors, details: only navigation, and the export offered after signing.
            return common.or(match (modal, key.code) {
                (Modal::Signed(_), KeyCode::Char('e')) => Some(Action::Export),
                (Modal::Export(_), KeyCode::Tab) => Some(Action::NextField),
                (Modal::Export(_), KeyCode::BackTab) => Some(Action::PrevField),
                (Modal::CreateRoot(_), KeyCode::Tab) => Some(Action::NextField),
                (Modal::CreateRoot(_), KeyCode::BackTab) => Some(Action::PrevField),
                (Modal::GenerateForm(_), KeyCode::Tab) => Some(Action::NextField),
                (Modal::GenerateForm(_), KeyCode::BackTab) => Some(Action::PrevField),
                _ => None,
            });
        }
        common.or(match key.code {
            KeyCode::Tab => Some(Action::NextScreen),
            KeyCode::BackTab => Some(Action::PrevScreen),
            KeyCode::F(5) | KeyCode::Char('R') => Some(Action::Reload),
            KeyCode::Char(c @ '1'..='6') => {
                Some(Action::Go(Screen::ALL[c as usize - '1' as usize]))
            }
            KeyCode::Char('u') => Some(Action::Unlock),
            KeyCode::Char('l') => Some(Action::Lock),
            KeyCode::Char('n') if self.screen == Screen::Inbox => Some(Action::Generate),
            KeyCode::Char('n') => Some(Action::CreateRoot),
            KeyCode::Char('o') => Some(Action::OpenPath),
            KeyCode::Char('c') => Some(Action::SetCluster),
            KeyCode::Char('d') => Some(Action::SetDays),
            KeyCode::Char('s') => Some(Action::Sign),
            KeyCode::Char('/') => Some(Action::Filter),
            KeyCode::Char('f') => Some(Action::CycleStatus),
            KeyCode::Char('r') => Some(Action::Revoke),
            KeyCode::Char('e') => Some(Action::Export),
            KeyCode::Char('i') => Some(Action::IssueCrl),
            KeyCode::Char('w') => Some(Action::WriteCrl),
            KeyCode::Char('v') => Some(Action::Verify),
            KeyCode::Char('b') => Some(Action::Batch),
            _ => None,
        })
    }

    /// Applies one action.
    pub fn update(&mut self, action: Action) {
        if action == Action::Tick {
            self.poll_job();
            return;
        }
        if action == Action::Quit {
            self.ask_quit();
            return;
        }
        if let Some(what) = self.quit_ask {
            match action {
                Action::Yes => {
                    self.quit_ask = None;
                    self.modal = None;
                    self.pin.zeroize();
                    self.pin_focus = false;
                    if self.job.is_some() {
                        self.quit_after_job = true;
                        self.quit = true;
                        self.info(format!("quitting when {what} is done"));
                    } else {
                        self.quit = true;
                    }
                }
                Action::No => self.quit_ask = None,
                _ => {}
            }
            return;
        }
        if action == Action::Help {
            self.help = !self.help;
            return;
        }
        if self.modal.is_some() {
            self.modal_action(action);
            return;
        }
        match action {
            Action::NextScreen => self.go((self.screen.index() + 1) % Screen::ALL.len()),
            Action::PrevScreen => {
                self.go((self.screen.index() + Screen::ALL.len() - 1) % Screen::ALL.len())
            }
            Action::Go(s) => self.go(s.index()),
            Action::Reload => {
                self.reload();
                if self.screen == Screen::Inbox {
                    self.inbox.scan(&self.vault);
                }
                if !self.is_unlocked() {
                    self.read_token();
                }
                self.info("read the vault again".to_owned());
            }
            Action::Unlock => {
                self.go(Screen::Unlock.index());
            }
            _ => match self.screen {
                Screen::Overview => self.overview_action(action),
                Screen::Unlock => self.unlock_action(action),
                Screen::Inbox => self.inbox_action(action),
                Screen::Certificates => self.certs_action(action),
                Screen::Crl => self.crl_action(action),
                Screen::Ledger => self.ledger_action(action),
            },
        }
    }

    fn ask_quit(&mut self) {
        if self.quit_ask.is_some() {
            return;
        }
        self.help = false;
        match self.mid_flow() {
            Some(what) => self.quit_ask = Some(what),
            None => {
                self.pin.zeroize();
                self.quit = true;
            }
        }
    }

    fn go(&mut self, index: usize) {
        let to = Screen::ALL[index];
        if self.screen == Screen::Unlock && to != Screen::Unlock {
            // Never leave a half-typed PIN behind a tab.
            self.pin.zeroize();
            self.pin_focus = false;
        }
        self.screen = to;
        self.certs.editing_filter = false;
        match to {
            Screen::Unlock => self.pin_focus = !self.is_unlocked(),
            Screen::Inbox => self.inbox.scan(&self.vault),
            Screen::Ledger => self.ledger.load(&self.vault),
            _ => {}
        }
    }

    // ---- status line ----

    pub(crate) fn info(&mut self, text: String) {
        self.message = Some(Message {
            text,
            kind: MessageKind::Info,
        });
    }

    pub(crate) fn success(&mut self, text: String) {
        self.message = Some(Message {
            text,
            kind: MessageKind::Success,
        });
    }

    /// Shows a failure in full, in ceremony's words.
    pub(crate) fn show_error(&mut self, title: &str, e: &dyn std::fmt::Display) {
        let text = e.to_string();
        self.message = Some(Message {
            text: format!("error: {text}"),
            kind: MessageKind::Error,
        });
        self.modal = Some(Modal::Error {
            title: title.to_owned(),
            text,
        });
    }

    // ---- reading the vault ----

    /// Reads root, certificates, ledger head, CRL and revocations again.
    pub(crate) fn reload(&mut self) {
        let v = &self.vault;
        let ledger = v.ledger();
        let d = &mut self.data;
        d.root = Some(ceremony::root_info(v).map_err(|e| e.to_string()));
        d.has_root = matches!(d.root, Some(Ok(_)));
        d.certs = ceremony::list_certificates(v, None).map_err(|e| e.to_string());
        match ledger {
            Ok(l) => {
                d.head = l.head().map_err(|e| e.to_string());
                d.last_crl = l.last_crl().map_err(|e| e.to_string());
                d.revocations = l.revocations().map_err(|e| e.to_string());
            }
            Err(e) => {
                let e = e.to_string();
                d.head = Err(e.clone());
                d.last_crl = Err(e.clone());
                d.revocations = Err(e);
            }
        }
        self.certs.clamp(self.data.certs.as_deref().unwrap_or(&[]));
        if self.screen == Screen::Ledger {
            self.ledger.load(&self.vault);
        } else {
            self.ledger.stale = true;
        }
    }

    /// Reads the token (no PIN needed) on a worker. Never while logged in: the session holds
    /// the vault's token lock.
    pub(crate) fn read_token(&mut self) {
        if self.is_unlocked() || self.job.is_some() {
            return;
        }
        self.start(
            "reading the token",
            false,
            Box::new(|vault, _, _| Outcome::Token(ceremony::token_report(vault))),
        );
    }

    // ---- jobs ----

    /// Starts a job, lending it the session if `needs_session`. Refuses while another runs.
    pub(crate) fn start(&mut self, label: &'static str, needs_session: bool, work: Work) -> bool {
        if let Some(job) = &self.job {
            self.info(format!("wait: {} is still running", job.label));
            return false;
        }
        let session = if needs_session {
            match self.unlocked.take() {
                Some(u) => {
                    self.unlocked_lent = true;
                    Some(u)
                }
                None => {
                    self.locked_refusal();
                    return false;
                }
            }
        } else {
            None
        };
        self.job = Some(Job::spawn(label, Arc::clone(&self.vault), session, work));
        true
    }

    /// Says that the token must be unlocked first, and where.
    pub(crate) fn locked_refusal(&mut self) {
        self.message = Some(Message {
            text: "the token is locked: unlock it first on screen 2 (Unlock)".to_owned(),
            kind: MessageKind::Error,
        });
    }

    fn poll_job(&mut self) {
        loop {
            let Some(job) = self.job.as_mut() else { return };
            match job.try_next() {
                Ok(Some(msg)) => self.on_job_message(msg),
                Ok(None) => return,
                Err(()) => {
                    self.job_died();
                    return;
                }
            }
        }
    }

    fn job_died(&mut self) {
        let label = self.job.take().map_or("a job", |j| j.label);
        self.unlocked_lent = false;
        self.fatal = Some(format!(
            "internal error: the worker thread stopped while {label}; the vault is as the ledger says (`rootvault ledger verify`)"
        ));
    }

    fn on_job_message(&mut self, msg: Msg) {
        match msg {
            Msg::Total(n) => {
                if let Some(job) = self.job.as_mut() {
                    job.total = Some(n);
                }
            }
            Msg::Progress(n) => {
                if let Some(job) = self.job.as_mut() {
                    job.done = n;
                }
            }
            Msg::Done(outcome, session) => {
                self.job = None;
                self.unlocked_lent = false;
                if session.is_some() {
                    self.unlocked = session;
                }
                self.on_outcome(*outcome);
                if self.quit_after_job {
                    self.quit = true;
                }
            }
        }
    }

    fn on_outcome(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Token(r) => self.token = Some(r.map_err(|e| e.to_string())),
            Outcome::Unlock(Ok(u)) => {
                let t = u.token();
                let text = format!(
                    "logged in to token {:?} (serial {}); PIN wiped",
                    t.label, t.serial
                );
                self.unlocked = Some(u);
                self.unlock_error = None;
                self.pin_focus = false;
                self.success(text);
            }
            Outcome::Unlock(Err(e)) => {
                self.unlock_error = Some(e.to_string());
                self.message = Some(Message {
                    text: format!("error: {e}"),
                    kind: MessageKind::Error,
                });
                self.pin_focus = true;
                // The token's PIN flags (tries left, locked) changed: read them again.
                self.read_token();
            }
            Outcome::Sign(path, r) => {
                self.reload();
                self.inbox.rejudge(&self.vault, &path);
                match r {
                    Ok(issued) => {
                        let c = issued.certificate;
                        self.inbox.mark_signed(&path, &c.serial);
                        // The review is done; the result (and the export) is in the modal.
                        self.inbox.reviewing = false;
                        self.success(format!(
                            "signed: cluster {} serial {} SHA-256 {}",
                            c.cluster.as_deref().unwrap_or(""),
                            c.serial,
                            c.sha256
                        ));
                        self.modal = Some(Modal::Signed(c));
                    }
                    Err(e) => self.show_error("Not signed", &e),
                }
            }
            Outcome::Revoke(reason, r) => {
                self.reload();
                match r {
                    Ok(revoked) => {
                        let text = revoked
                            .iter()
                            .map(|c| {
                                format!(
                                    "revoked: cluster {} serial {} ({})",
                                    c.cluster.as_deref().unwrap_or("-"),
                                    c.serial,
                                    reason.name()
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("; ");
                        self.success(format!("{text}; issue a new CRL on screen 5 (CRL)"));
                    }
                    Err(e) => self.show_error("Not revoked", &e),
                }
            }
            Outcome::Crl(r) => {
                self.reload();
                match r {
                    Ok(crl) => self.success(format!(
                        "CRL {} issued: {} revoked, next update {}; w writes it to a file",
                        crl.number, crl.entries, crl.next_update
                    )),
                    Err(e) => self.show_error("No CRL issued", &e),
                }
            }
            Outcome::Export(r) => {
                self.reload();
                match r {
                    Ok(report) => self.success(format!(
                        "exported cluster {} serial {} as {} to {}{}",
                        report.certificate.cluster.as_deref().unwrap_or("-"),
                        report.certificate.serial,
                        report.format,
                        report.path.display(),
                        if report.recipients.is_empty() {
                            ""
                        } else {
                            " (age-encrypted)"
                        }
                    )),
                    Err(e) => self.show_error("Not exported", &e),
                }
            }
            Outcome::Verify(r) => match r {
                Ok(report) => {
                    let when = ceremony::rfc3339(chrono::Utc::now());
                    if report.ok {
                        self.success(format!(
                            "ledger intact: {} events, head {}",
                            report.events, report.head
                        ));
                    } else {
                        self.message = Some(Message {
                            text: format!(
                                "ledger integrity FAILED{}",
                                report
                                    .first_bad_seq
                                    .map(|s| format!(" at event {s}"))
                                    .unwrap_or_default()
                            ),
                            kind: MessageKind::Error,
                        });
                    }
                    self.last_verify = Some((report, when));
                }
                Err(e) => self.show_error("Verification failed", &e),
            },
            Outcome::CheckBatch(spec, r) => self.on_batch_checked(spec, r),
            Outcome::SignBatch(done) => self.on_batch_signed(*done),
            Outcome::Generate(spec, r) => self.on_generated(spec, r),
            Outcome::CreateRoot(r) => {
                self.reload();
                match r {
                    Ok(_) => self.success("root created; its key stays on the token".to_owned()),
                    Err(e) => self.show_error("No root created", &e),
                }
            }
        }
    }

    // ---- modals ----

    fn modal_action(&mut self, action: Action) {
        let Some(modal) = self.modal.take() else {
            return;
        };
        let next = match modal {
            Modal::Error { .. } => match action {
                Action::Enter | Action::Back => None,
                _ => Some(modal),
            },
            Modal::Details {
                title,
                lines,
                scroll,
            } => match action {
                Action::Enter | Action::Back => None,
                Action::Up => Some(Modal::Details {
                    title,
                    lines,
                    scroll: scroll.saturating_sub(1),
                }),
                Action::Down => Some(Modal::Details {
                    title,
                    lines,
                    scroll: scroll.saturating_add(1),
                }),
                Action::PageUp => Some(Modal::Details {
                    title,
                    lines,
                    scroll: scroll.saturating_sub(10),
                }),
                Action::PageDown => Some(Modal::Details {
                    title,
                    lines,
                    scroll: scroll.saturating_add(10),
                }),
                Action::Home => Some(Modal::Details {
                    title,
                    lines,
                    scroll: 0,
                }),
                _ => Some(Modal::Details {
                    title,
                    lines,
                    scroll,
                }),
            },
            Modal::Signed(cert) => match action {
                Action::Enter | Action::Back => None,
                Action::Export => match cert.cluster.as_deref().map(str::parse::<ClusterName>) {
                    Some(Ok(c)) => Some(Modal::Export(ExportForm::new(c))),
                    _ => None,
                },
                _ => Some(Modal::Signed(cert)),
            },
            Modal::Prompt { kind, mut field } => match action {
                Action::Type(c) => {
                    field.push(c);
                    Some(Modal::Prompt { kind, field })
                }
                Action::Erase => {
                    field.pop();
                    Some(Modal::Prompt { kind, field })
                }
                Action::Back => {
                    self.info("cancelled".to_owned());
                    None
                }
                Action::Enter => self.answer_prompt(kind, field),
                _ => Some(Modal::Prompt { kind, field }),
            },
            Modal::ConfirmSign { path, mut typed } => match action {
                Action::Type(c) => {
                    typed.push(c);
                    Some(Modal::ConfirmSign { path, typed })
                }
                Action::Erase => {
                    typed.pop();
                    Some(Modal::ConfirmSign { path, typed })
                }
                Action::Back => {
                    self.info("not confirmed; nothing was signed".to_owned());
                    None
                }
                Action::Enter => {
                    self.start_sign(&path, typed);
                    None
                }
                _ => Some(Modal::ConfirmSign { path, typed }),
            },
            Modal::RevokeReason { serial, selected } => match action {
                Action::Up => Some(Modal::RevokeReason {
                    serial,
                    selected: selected.saturating_sub(1),
                }),
                Action::Down => Some(Modal::RevokeReason {
                    serial,
                    selected: (selected + 1).min(RevocationReason::ALL.len() - 1),
                }),
                Action::Enter => Some(Modal::ConfirmRevoke {
                    serial,
                    reason: RevocationReason::ALL[selected],
                    typed: String::new(),
                }),
                Action::Back => {
                    self.info("cancelled; nothing was revoked".to_owned());
                    None
                }
                _ => Some(Modal::RevokeReason { serial, selected }),
            },
            Modal::ConfirmRevoke {
                serial,
                reason,
                mut typed,
            } => match action {
                Action::Type(c) => {
                    typed.push(c);
                    Some(Modal::ConfirmRevoke {
                        serial,
                        reason,
                        typed,
                    })
                }
                Action::Erase => {
                    typed.pop();
                    Some(Modal::ConfirmRevoke {
                        serial,
                        reason,
                        typed,
                    })
                }
                Action::Back => {
                    self.info("not confirmed; nothing was revoked".to_owned());
                    None
                }
                Action::Enter => {
                    self.start_revoke(serial, reason, typed);
                    None
                }
                _ => Some(Modal::ConfirmRevoke {
                    serial,
                    reason,
                    typed,
                }),
            },
            Modal::IssueCrl { mut days } => match action {
                Action::Type(c) => {
                    days.push(c);
                    Some(Modal::IssueCrl { days })
                }
                Action::Erase => {
                    days.pop();
                    Some(Modal::IssueCrl { days })
                }
                Action::Back => {
                    self.info("cancelled; no CRL was issued".to_owned());
                    None
                }
                Action::Enter => self.start_crl(days),
                _ => Some(Modal::IssueCrl { days }),
            },
            Modal::Export(form) => self.export_form_action(form, action),
            Modal::CreateRoot(form) => self.root_form_action(form, action),
            Modal::BatchForm(form) => self.batch_form_action(form, action),
            Modal::GenerateForm(form) => self.generate_form_action(form, action),
            Modal::ConfirmGenerate { spec, typed } => {
                self.confirm_generate_action(spec, typed, action)
            }
            Modal::Generated { spec, report } => match action {
                Action::Enter | Action::Back => None,
                _ => Some(Modal::Generated { spec, report }),
            },
            Modal::ConfirmBatch { mut typed } => match action {
                Action::Type(c) => {
                    typed.push(c);
                    Some(Modal::ConfirmBatch { typed })
                }
                Action::Erase => {
                    typed.pop();
                    Some(Modal::ConfirmBatch { typed })
                }
                Action::Back => {
                    self.info("not confirmed; nothing was signed".to_owned());
                    None
                }
                Action::Enter => {
                    self.start_batch_sign(typed);
                    None
                }
                _ => Some(Modal::ConfirmBatch { typed }),
            },
        };
        // A handler that failed has put up its error; that wins.
        if self.modal.is_none() {
            self.modal = next;
        }
    }

    fn answer_prompt(&mut self, kind: PromptKind, field: String) -> Option<Modal> {
        let text = field.trim().to_owned();
        match kind {
            PromptKind::Cluster(path) => match text.parse::<ClusterName>() {
                Ok(c) => {
                    self.inbox.set_cluster(&self.vault, &path, c);
                    None
                }
                Err(e) => {
                    self.show_error("Not a cluster name", &e);
                    None
                }
            },
            PromptKind::Days(path) => {
                if text.is_empty() {
                    self.inbox.set_days(&self.vault, &path, None);
                    return None;
                }
                match text.parse::<u32>() {
                    Ok(d) => self.inbox.set_days(&self.vault, &path, Some(d)),
                    Err(_) => self.show_error(
                        "Not a number of days",
                        &format!("{text:?} is not a whole number of days"),
                    ),
                }
                None
            }
            PromptKind::InboxPath => {
                if !text.is_empty() {
                    if let Err(e) = self.inbox.add_path(&self.vault, Path::new(&text)) {
                        self.show_error("Not added", &e);
                    }
                }
                None
            }
            PromptKind::CrlOut(number) => {
                if text.is_empty() {
                    return None;
                }
                self.write_crl(number, Path::new(&text));
                None
            }
        }
    }

    // ---- the use cases ----

    pub(crate) fn start_sign(&mut self, path: &Path, typed: String) {
        let Some(entry) = self.inbox.entry(path) else {
            return;
        };
        let (Ok(input), Some(cluster)) = (entry.input.clone(), entry.cluster.clone()) else {
            return;
        };
        let days = entry.days;
        let operator = self.operator.clone();
        let path = path.to_owned();
        self.start(
            "signing",
            true,
            Box::new(move |vault, session, _| {
                let session = session.expect("signing is started only with the session");
                let req = ceremony::SignRequest {
                    input: &input,
                    cluster,
                    days,
                    out: None,
                    allow_key_reuse: false,
                };
                // Exactly what the operator typed: ceremony decides whether it matches.
                let mut confirm = Scripted(Answer::Typed(typed));
                Outcome::Sign(
                    path,
                    ceremony::sign_csr(
                        &Ctx {
                            vault,
                            auth: Auth::Unlocked(session),
                            operator: &operator,
                        },
                        &req,
                        &mut confirm,
                    ),
                )
            }),
        );
    }

    fn start_revoke(&mut self, serial: String, reason: RevocationReason, typed: String) {
        let operator = self.operator.clone();
        self.start(
            "revoking",
            true,
            Box::new(move |vault, session, _| {
                let session = session.expect("revocation is started only with the session");
                let mut confirm = Scripted(Answer::Typed(typed));
                Outcome::Revoke(
                    reason,
                    ceremony::revoke(
                        &Ctx {
                            vault,
                            auth: Auth::Unlocked(session),
                            operator: &operator,
                        },
                        &ceremony::RevokeTarget::Serial(serial),
                        reason,
                        &mut confirm,
                    ),
                )
            }),
        );
    }

    fn start_crl(&mut self, days: String) -> Option<Modal> {
        let days = days.trim();
        let days = if days.is_empty() {
            None
        } else {
            match days.parse::<u32>() {
                Ok(d) => Some(d),
                Err(_) => {
                    self.show_error(
                        "Not a number of days",
                        &format!("{days:?} is not a whole number of days"),
                    );
                    return None;
                }
            }
        };
        let operator = self.operator.clone();
        self.start(
            "issuing the CRL",
            true,
            Box::new(move |vault, session, _| {
                let session = session.expect("the CRL is started only with the session");
                Outcome::Crl(ceremony::issue_crl(
                    &Ctx {
                        vault,
                        auth: Auth::Unlocked(session),
                        operator: &operator,
                    },
                    days,
                    None,
                ))
            }),
        );
        None
    }

    fn write_crl(&mut self, number: i64, path: &Path) {
        let crl = match &self.data.last_crl {
            Ok(Some(c)) if c.number == number => c,
            _ => return,
        };
        let pem = crate::x509::to_pem("X509 CRL", &crl.der);
        match crate::fsio::write_file(path, pem.as_bytes(), false) {
            Ok(()) => self.success(format!("wrote CRL {number} to {}", path.display())),
            Err(e) => self.show_error("Not written", &e),
        }
    }

    fn export_form_action(&mut self, mut f: ExportForm, action: Action) -> Option<Modal> {
        match action {
            Action::Back => {
                self.info("cancelled; nothing was exported".to_owned());
                return None;
            }
            Action::NextField | Action::Down => f.focus = (f.focus + 1) % ExportForm::FIELDS,
            Action::PrevField | Action::Up => {
                f.focus = (f.focus + ExportForm::FIELDS - 1) % ExportForm::FIELDS
            }
            Action::Left if f.focus == 0 => {
                f.format = (f.format + Format::ALL.len() - 1) % Format::ALL.len();
                f.default_out();
            }
            Action::Right if f.focus == 0 => {
                f.format = (f.format + 1) % Format::ALL.len();
                f.default_out();
            }
            Action::Type(c) if f.focus == 1 => {
                f.out.push(c);
                f.out_edited = true;
            }
            Action::Erase if f.focus == 1 => {
                f.out.pop();
                f.out_edited = true;
            }
            Action::Type(c) if f.focus == 2 => {
                f.recipient.push(c);
                f.default_out();
            }
            Action::Erase if f.focus == 2 => {
                if f.recipient.pop().is_none() {
                    f.recipients.pop();
                }
                f.default_out();
            }
            Action::Enter if f.focus == 2 && !f.recipient.trim().is_empty() => {
                f.recipients.push(f.recipient.trim().to_owned());
                f.recipient.clear();
            }
            Action::Enter => {
                self.start_export(f);
                return None;
            }
            _ => {}
        }
        Some(Modal::Export(f))
    }

    fn start_export(&mut self, mut f: ExportForm) {
        if !f.recipient.trim().is_empty() {
            f.recipients.push(f.recipient.trim().to_owned());
        }
        let recipients = if f.recipients.is_empty() {
            None
        } else {
            match crate::recipients::Recipients::parse(&f.recipients) {
                Ok(r) => Some(r),
                Err(e) => {
                    self.show_error("Not exported", &crate::Error::from(e));
                    return;
                }
            }
        };
        let operator = self.operator.clone();
        let format = f.format();
        let out = PathBuf::from(f.out.trim());
        let cluster = f.cluster;
        self.start(
            "exporting",
            true,
            Box::new(move |vault, session, _| {
                let session = session.expect("the export is started only with the session");
                let req = ceremony::ExportRequest {
                    cluster,
                    format,
                    out,
                    recipients,
                    force: false,
                };
                Outcome::Export(ceremony::export_cluster(
                    &Ctx {
                        vault,
                        auth: Auth::Unlocked(session),
                        operator: &operator,
                    },
                    &req,
                ))
            }),
        );
    }

    fn root_form_action(&mut self, mut f: RootForm, action: Action) -> Option<Modal> {
        match action {
            Action::Back => {
                self.info("cancelled; no root was created".to_owned());
                return None;
            }
            Action::NextField | Action::Down => f.focus = (f.focus + 1) % RootForm::FIELDS,
            Action::PrevField | Action::Up => {
                f.focus = (f.focus + RootForm::FIELDS - 1) % RootForm::FIELDS
            }
            Action::Left if f.focus == 1 => {
                f.key_type = (f.key_type + KeyType::ALL.len() - 1) % KeyType::ALL.len()
            }
            Action::Right if f.focus == 1 => f.key_type = (f.key_type + 1) % KeyType::ALL.len(),
            Action::Type(_) | Action::Erase => {
                let field = match f.focus {
                    0 => &mut f.subject,
                    2 => &mut f.days,
                    3 => &mut f.path_len,
                    4 => &mut f.key_label,
                    _ => return Some(Modal::CreateRoot(f)),
                };
                if let Action::Type(c) = action {
                    field.push(c);
                } else {
                    field.pop();
                }
            }
            Action::Enter => match self.root_request(&f) {
                Ok(req) => {
                    self.start_create_root(req);
                    return None;
                }
                Err(problem) => f.problem = Some(problem),
            },
            _ => {}
        }
        Some(Modal::CreateRoot(f))
    }

    /// The form's values as the request, parsed as the command line parses its flags.
    fn root_request(&self, f: &RootForm) -> Result<ceremony::RootRequest, String> {
        let subject = Dn::parse(f.subject.trim()).map_err(|e| format!("subject: {e}"))?;
        let days = f
            .days
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=36500).contains(d))
            .ok_or_else(|| format!("days: {:?} is not a number from 1 to 36500", f.days))?;
        let path_len = match f.path_len.trim() {
            "" => None,
            s => Some(
                s.parse::<u8>()
                    .map_err(|_| format!("path length: {s:?} is not a number from 0 to 255"))?,
            ),
        };
        let key_label = f.key_label.trim().to_owned();
        if key_label.is_empty() {
            return Err("key label: must not be empty".to_owned());
        }
        Ok(ceremony::RootRequest {
            subject,
            key_type: KeyType::ALL[f.key_type],
            days,
            path_len,
            key_label,
        })
    }

    fn start_create_root(&mut self, req: ceremony::RootRequest) {
        let operator = self.operator.clone();
        let label = if req.key_type.name().starts_with("rsa") {
            "generating the root key (RSA takes a while)"
        } else {
            "generating the root key"
        };
        self.start(
            label,
            true,
            Box::new(move |vault, session, _| {
                let session = session.expect("root creation is started only with the session");
                Outcome::CreateRoot(ceremony::create_root(
                    &Ctx {
                        vault,
                        auth: Auth::Unlocked(session),
                        operator: &operator,
                    },
                    &req,
                ))
            }),
        );
    }

    // ---- per screen ----

    fn overview_action(&mut self, action: Action) {
        if action == Action::CreateRoot {
            if self.data.has_root {
                self.info("this vault already has a root".to_owned());
            } else if !self.is_unlocked() {
                self.locked_refusal();
            } else {
                self.modal = Some(Modal::CreateRoot(RootForm::new()));
            }
        }
    }

    fn unlock_action(&mut self, action: Action) {
        if self.pin_focus {
            match action {
                Action::Type(c) => self.pin.push(c),
                Action::Erase => {
                    self.pin.pop();
                }
                Action::Back => {
                    self.pin.zeroize();
                    self.pin_focus = false;
                }
                Action::NextField => {
                    self.pin.zeroize();
                    self.pin_focus = false;
                    self.go(Screen::Inbox.index());
                }
                Action::PrevField => {
                    self.pin.zeroize();
                    self.pin_focus = false;
                    self.go(Screen::Overview.index());
                }
                Action::Enter => self.start_unlock(),
                _ => {}
            }
            return;
        }
        match action {
            Action::Enter if !self.is_unlocked() => self.pin_focus = true,
            Action::Lock => {
                if self.unlocked_lent {
                    self.info("wait: the session is in use".to_owned());
                } else if self.unlocked.take().is_some() {
                    self.info("logged out of the token".to_owned());
                    self.read_token();
                }
            }
            _ => {}
        }
    }

    /// Logs in with the typed PIN, or (field left empty) the `--pin-file` or `ROOTVAULT_PIN`.
    /// The typed buffer is wiped as soon as the PIN has been handed over.
    fn start_unlock(&mut self) {
        if self.is_unlocked() {
            return;
        }
        if self.job.is_some() {
            self.info("wait: the token is busy".to_owned());
            return;
        }
        let pins = if self.pin.is_empty() && (self.pin_file.is_some() || self.pin_env) {
            PinSource {
                typed: None,
                file: self.pin_file.clone(),
                allow_prompt: false,
            }
        } else {
            PinSource {
                typed: Some(SecretString::from(self.pin.as_str())),
                file: None,
                allow_prompt: false,
            }
        };
        self.pin.zeroize();
        self.pin_focus = false;
        self.unlock_error = None;
        self.start(
            "logging in",
            false,
            Box::new(move |vault, _, _| {
                let r = ceremony::unlock(vault, &pins);
                drop(pins);
                Outcome::Unlock(r)
            }),
        );
    }

    fn crl_action(&mut self, action: Action) {
        match action {
            Action::IssueCrl => {
                if !self.is_unlocked() {
                    self.locked_refusal();
                } else {
                    self.modal = Some(Modal::IssueCrl {
                        days: ceremony::DEFAULT_CRL_DAYS.to_string(),
                    });
                }
            }
            Action::WriteCrl => match &self.data.last_crl {
                Ok(Some(c)) => {
                    self.modal = Some(Modal::Prompt {
                        kind: PromptKind::CrlOut(c.number),
                        field: format!("crl-{}.pem", c.number),
                    })
                }
                _ => self.info("no CRL has been issued yet; i issues one".to_owned()),
            },
            _ => {}
        }
    }

    fn ledger_action(&mut self, action: Action) {
        match action {
            Action::Verify => {
                self.start(
                    "verifying the ledger",
                    false,
                    Box::new(|vault, _, progress: &Progress| {
                        Outcome::Verify(ceremony::verify_ledger_with_progress(
                            vault,
                            |n| progress.total(n),
                            |n| progress.done(n),
                        ))
                    }),
                );
            }
            Action::Enter => {
                if let Some(modal) = self.ledger.details(&self.vault) {
                    self.modal = Some(modal);
                }
            }
            other => self.ledger.navigate(other),
        }
    }

    pub(crate) fn open_export(&mut self, cluster: Option<&str>) {
        match cluster.map(str::parse::<ClusterName>) {
            Some(Ok(c)) => self.modal = Some(Modal::Export(ExportForm::new(c))),
            _ => self.info("select a certificate of a cluster to export".to_owned()),
        }
    }

    pub(crate) fn open_revoke(&mut self, serial: &str) {
        self.modal = Some(Modal::RevokeReason {
            serial: serial.to_owned(),
            selected: 0,
        });
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.pin.zeroize();
        // A running job finishes (and logs out) on its own thread.
    }
}
