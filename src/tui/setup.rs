//! Before a vault exists: `rootvault tui` on a directory without `vault.toml` shows this
//! instead of the ceremony screens. The operator types a module path, a token (label or
//! `pkcs11:` URI), the PIN (masked) and optionally the root key type planned, and sees the
//! report `rootvault token check` prints (`ceremony::token_check`, run on a worker with its
//! progress shown as it goes): per key type what works and what is missing, private data
//! objects, and whether the token can host a vault. Nothing is created: the check removes
//! its throwaway keys and data object again. Creating the vault itself is the command line's
//! `init` (not in the TUI).

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget, Wrap};
use secrecy::SecretString;
use zeroize::{Zeroize, Zeroizing};

use crate::ceremony::{self, Hosting, TokenCheckReport};
use crate::keys::KeyType;
use crate::pin::{PinSource, PIN_ENV};

use super::field::{Completion, TextField};
use super::frame::{MIN_HEIGHT, MIN_WIDTH};
use super::keys::{self, Action, Mode};
use super::theme::Theme;
use super::widgets::{group_hex, kv_lines, picker, text_lines};
use super::words;
use super::Options;

/// What the check's worker sends.
enum Msg {
    /// A step began ("checking ecdsa-p384 keys").
    Step(String),
    /// The report, or why there is none.
    Done(Box<Result<TokenCheckReport, String>>),
}

/// The TUI of a directory that holds no vault yet: the token check.
pub struct Setup {
    dir: PathBuf,
    cwd: PathBuf,
    theme: Theme,
    pin_file: Option<PathBuf>,
    pin_env: bool,
    module: TextField,
    token: TextField,
    pin: Zeroizing<String>,
    /// 0 none, then `KeyType::ALL` from 1.
    key_type: usize,
    /// 0 module, 1 token, 2 PIN, 3 key type.
    focus: usize,
    choices: Vec<String>,
    problem: Option<String>,
    running: Option<(Receiver<Msg>, Instant)>,
    steps: Vec<String>,
    report: Option<Result<TokenCheckReport, String>>,
    scroll: u16,
    quit: bool,
    quit_when_done: bool,
}

impl Setup {
    const FIELDS: usize = 4;

    /// The token check for a vault to be made in `dir`.
    pub fn new(dir: &Path, options: Options) -> Setup {
        Setup {
            dir: dir.to_owned(),
            cwd: std::env::current_dir().unwrap_or_default(),
            theme: options.theme,
            pin_file: options.pin_file,
            pin_env: std::env::var_os(PIN_ENV).is_some(),
            module: TextField::default(),
            token: TextField::default(),
            pin: Zeroizing::new(String::new()),
            key_type: 0,
            focus: 0,
            choices: Vec::new(),
            problem: None,
            running: None,
            steps: Vec::new(),
            report: None,
            scroll: 0,
            quit: false,
            quit_when_done: false,
        }
    }

    /// Whether the loop should end.
    pub fn should_quit(&self) -> bool {
        self.quit && self.running.is_none()
    }

    /// Whether the check is running.
    pub fn busy(&self) -> bool {
        self.running.is_some()
    }

    /// The report shown, if a check finished: `Ok` with the report, or why it failed.
    pub fn report(&self) -> Option<Result<&TokenCheckReport, &str>> {
        self.report
            .as_ref()
            .map(|r| r.as_ref().map_err(String::as_str))
    }

    /// How many characters are in the PIN field (the PIN itself is never shown).
    pub fn typed_pin_len(&self) -> usize {
        self.pin.chars().count()
    }

    /// Waits (at most `limit`) for the running check; false if it still runs. For tests.
    pub fn wait_for_check(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.running.is_some() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
            self.tick();
        }
        true
    }

    /// Collects what the worker sent.
    pub fn tick(&mut self) {
        let Some((rx, _)) = &self.running else {
            return;
        };
        loop {
            match rx.try_recv() {
                Ok(Msg::Step(s)) => self.steps.push(s),
                Ok(Msg::Done(r)) => {
                    self.report = Some(*r);
                    self.running = None;
                    self.scroll = 0;
                    if self.quit_when_done {
                        self.quit = true;
                    }
                    return;
                }
                Err(mpsc::TryRecvError::Empty) => return,
                Err(mpsc::TryRecvError::Disconnected) => {
                    self.report = Some(Err(
                        "internal error: the check's worker thread stopped".to_owned()
                    ));
                    self.running = None;
                    return;
                }
            }
        }
    }

    /// Handles a key.
    pub fn handle_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if (ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('q')))
            || key.code == KeyCode::Esc
        {
            self.pin.zeroize();
            if self.running.is_some() {
                // A check stopped halfway would leave its throwaway keys on the token.
                self.quit_when_done = true;
                self.problem =
                    Some("quitting when the check is done (it removes what it made)".into());
            } else {
                self.quit = true;
            }
            return;
        }
        match key.code {
            KeyCode::PageUp => return self.scroll = self.scroll.saturating_sub(5),
            KeyCode::PageDown => return self.scroll = self.scroll.saturating_add(5),
            _ => {}
        }
        let Some(action) = keys::action_for(key, Mode::Text) else {
            return;
        };
        let n = KeyType::ALL.len() + 1;
        match action {
            Action::Enter => self.start(),
            Action::Down => self.focus = (self.focus + 1) % Self::FIELDS,
            Action::NextField => {
                self.choices.clear();
                let cwd = self.cwd.clone();
                if self.focus == 0 {
                    match self.module.complete_path(&cwd) {
                        Completion::Completed => return,
                        Completion::Choices(c) => {
                            self.choices = c;
                            return;
                        }
                        Completion::Nothing => {}
                    }
                }
                self.focus = (self.focus + 1) % Self::FIELDS;
            }
            Action::Up | Action::PrevField => {
                self.focus = (self.focus + Self::FIELDS - 1) % Self::FIELDS
            }
            Action::Left if self.focus == 3 => self.key_type = (self.key_type + n - 1) % n,
            Action::Right if self.focus == 3 => self.key_type = (self.key_type + 1) % n,
            other => match self.focus {
                0 if self.module.edit(other) => self.choices.clear(),
                1 => {
                    self.token.edit(other);
                }
                2 => match other {
                    Action::Type(c) => self.pin.push(c),
                    Action::Erase => {
                        self.pin.pop();
                    }
                    Action::KillLine | Action::KillWord => self.pin.zeroize(),
                    _ => {}
                },
                _ => {}
            },
        }
    }

    /// Starts the check on a worker with what was typed; the typed PIN is handed over and
    /// wiped.
    fn start(&mut self) {
        if self.running.is_some() {
            self.problem = Some("wait: the check is still running".into());
            return;
        }
        let module = self.module.text().trim().to_owned();
        let token = self.token.text().trim().to_owned();
        if module.is_empty() {
            self.problem = Some("module: type the path of the PKCS#11 module (.so)".into());
            self.focus = 0;
            return;
        }
        if token.is_empty() {
            self.problem = Some("token: type its label, or a pkcs11: URI".into());
            self.focus = 1;
            return;
        }
        let module = {
            let p = PathBuf::from(module);
            if p.is_absolute() {
                p
            } else {
                self.cwd.join(p)
            }
        };
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
        let wanted = self.key_type.checked_sub(1).map(|i| KeyType::ALL[i]);
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("rootvault-token-check".into())
            .spawn(move || {
                let step = tx.clone();
                let r = ceremony::token_check(&module, &token, &pins, wanted, |s| {
                    let _ = step.send(Msg::Step(s.to_owned()));
                });
                drop(pins);
                let _ = tx.send(Msg::Done(Box::new(r.map_err(|e| words::say(&e)))));
            })
            .expect("the system can start a thread");
        self.problem = None;
        self.steps.clear();
        self.report = None;
        self.running = Some((rx, Instant::now()));
    }

    fn footer(&self) -> Line<'static> {
        let t = self.theme;
        let keys: &[(&str, &str)] = if self.focus == 3 {
            &[
                ("Enter", "check"),
                ("←→", "key type"),
                ("Tab", "field"),
                ("PgUp/PgDn", "scroll"),
                ("Esc", "quit"),
            ]
        } else {
            &[
                ("Enter", "check"),
                ("Tab", "complete / field"),
                ("PgUp/PgDn", "scroll"),
                ("Esc", "quit"),
            ]
        };
        let mut spans = Vec::new();
        for (i, (k, what)) in keys.iter().enumerate() {
            if i > 0 {
                spans.push(Span::raw("  "));
            }
            spans.push(Span::styled(k.to_string(), t.key()));
            spans.push(Span::styled(format!(" {what}"), t.dim()));
        }
        Line::from(spans)
    }

    /// The report in the TUI's words: the same facts as `token check`.
    fn report_lines(&self, width: u16) -> Vec<Line<'static>> {
        let t = self.theme;
        let mut lines = Vec::new();
        if let Some((_, started)) = &self.running {
            lines.push(Line::styled(
                format!(
                    "checking… {}s (the screen stays live)",
                    started.elapsed().as_secs()
                ),
                t.title(),
            ));
            for s in &self.steps {
                lines.push(Line::styled(format!("  {s}…"), t.dim()));
            }
            return lines;
        }
        let r = match &self.report {
            None => return lines,
            Some(Err(e)) => {
                lines.extend(text_lines(
                    &format!("The check failed: {e}"),
                    width,
                    t.error(),
                ));
                return lines;
            }
            Some(Ok(r)) => r,
        };
        let tok = &r.token;
        let mut pairs: Vec<(String, String)> = vec![
            ("module".into(), r.module.clone()),
            ("  SHA-256".into(), group_hex(&r.module_sha256)),
            (
                "token".into(),
                format!(
                    "{} (serial {}, model {}, {})",
                    tok.label, tok.serial, tok.model, tok.manufacturer
                ),
            ),
        ];
        for (key_type, c) in &r.key_types {
            if c.ok {
                pairs.push((
                    key_type.name().into(),
                    format!(
                        "ok: generated, signed with {}, sensitive, never extractable, local",
                        c.mechanism.unwrap_or("-")
                    ),
                ));
            } else {
                pairs.push((
                    key_type.name().into(),
                    format!("MISSING {}", c.missing.join(", ")),
                ));
                for d in &c.details {
                    pairs.push((String::new(), format!("  {d}")));
                }
            }
        }
        let d = &r.data_objects;
        if d.ok {
            pairs.push((
                "data objects".into(),
                "ok: private, hidden without login, modifiable, removed again".into(),
            ));
        } else {
            pairs.push((
                "data objects".into(),
                format!("MISSING {}", d.missing.join(", ")),
            ));
            for line in &d.details {
                pairs.push((String::new(), format!("  {line}")));
            }
        }
        let names: Vec<_> = r.root_key_types.iter().map(|k| k.name()).collect();
        pairs.push((
            "hosting".into(),
            match r.hosting {
                Hosting::Full => "full",
                Hosting::Weaker => "weaker only (no private data objects)",
                Hosting::None => "none",
            }
            .into(),
        ));
        pairs.push((
            "root keys".into(),
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            },
        ));
        lines.extend(kv_lines(&pairs, width, t));
        let missing = r.missing.join("; ");
        let (verdict, style) = match (r.ok, r.hosting, r.wanted_key_type) {
            (true, _, _) => ("this token can host a vault".to_owned(), t.ok()),
            (false, Hosting::Full, Some(w)) => (
                format!("this token can host a vault, but not with a {w} root: missing {missing}"),
                t.error(),
            ),
            (false, Hosting::Weaker, _) => (
                format!("this token cannot host a vault, except in a weaker mode where the ledger's head is not held by the token: missing {missing}"),
                t.error(),
            ),
            (false, _, _) => (
                format!("this token cannot host a vault: missing {missing}"),
                t.error(),
            ),
        };
        lines.extend(text_lines(&verdict, width, style));
        lines
    }
}

impl Widget for &Setup {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            Paragraph::new(vec![
                Line::styled("rootvault", t.title()),
                Line::raw(""),
                Line::styled(
                    format!("terminal too small (needs {MIN_WIDTH}×{MIN_HEIGHT})"),
                    t.error(),
                ),
                Line::raw(format!(
                    "This one is {}×{}: enlarge the window (or make the font smaller). Nothing is lost meanwhile; Esc quits.",
                    area.width, area.height
                )),
            ])
            .wrap(Wrap { trim: false })
            .render(area, buf);
            return;
        }
        let [title, body, status, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(1),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(area);
        Paragraph::new(Line::styled(
            format!(" rootvault · no vault at {} yet", self.dir.display()),
            t.title(),
        ))
        .render(title, buf);
        let block = Block::new()
            .borders(Borders::TOP)
            .title(Line::styled(" Token check ", t.title()));
        let inner = block.inner(body);
        block.render(body, buf);
        let w = inner.width;
        let mut lines = text_lines(
            "Before a vault is made on a token, check what its PKCS#11 module can do for one: the report the command line's token check prints. Nothing stays on the token. Creating the vault is not in the TUI: the command line's init does it.",
            w,
            t.text(),
        );
        lines.push(Line::raw(""));
        let focus = |i: usize| self.focus == i;
        lines.push(super::widgets::field_line(
            "module",
            &self.module,
            focus(0),
            t,
        ));
        if !self.choices.is_empty() {
            lines.extend(text_lines(&self.choices.join("  "), w, t.dim()));
        }
        lines.push(super::widgets::field_line(
            "token",
            &self.token,
            focus(1),
            t,
        ));
        let pin_hint = if self.pin.is_empty() && (self.pin_file.is_some() || self.pin_env) {
            "(empty: the PIN file given at start, or ROOTVAULT_PIN)".to_owned()
        } else {
            String::new()
        };
        let mask: String = "•".repeat(self.pin.chars().count());
        lines.push(Line::from(vec![
            Span::styled(
                format!("{:<16} ", "user PIN"),
                if focus(2) { t.key() } else { t.dim() },
            ),
            Span::styled(mask, t.input()),
            Span::styled(if focus(2) { "_" } else { "" }, t.cursor()),
            Span::styled(format!(" {pin_hint}"), t.dim()),
        ]));
        let mut names = vec!["any"];
        names.extend(KeyType::ALL.iter().map(|k| k.name()));
        lines.push(picker("root key type", &names, self.key_type, focus(3), t));
        lines.push(Line::raw(""));
        let [form, report] =
            Layout::vertical([Constraint::Length(lines.len() as u16), Constraint::Min(1)])
                .areas(inner);
        Paragraph::new(lines).render(form, buf);
        Paragraph::new(self.report_lines(w))
            .scroll((self.scroll, 0))
            .render(report, buf);
        if let Some(p) = &self.problem {
            Paragraph::new(Line::styled(p.clone(), t.error())).render(status, buf);
        }
        Paragraph::new(self.footer()).render(footer, buf);
    }
}
