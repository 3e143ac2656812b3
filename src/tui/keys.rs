//! Screens, actions, and the one map from keys to actions. What a key means depends only on
//! the [`Mode`] the app is in (a question, the help, a text field, a modal, a screen).

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// The screens, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Vault, software, token, witnesses, root generations, ledger, counts and warnings.
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

    /// The screen `step` tabs on (negative: back), wrapping around.
    pub fn step(self, step: isize) -> Screen {
        let n = Screen::ALL.len() as isize;
        Screen::ALL[(self.index() as isize + step).rem_euclid(n) as usize]
    }
}

/// What a key means.
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
    /// Delete in the focused text field.
    Delete,
    /// Ctrl-U in the focused text field: erase to its start.
    KillLine,
    /// Ctrl-W in the focused text field: erase the word before the cursor.
    KillWord,
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
    /// `r` on the Overview: rotate the root (a new generation).
    Rotate,
    /// `x` on the Overview: retire the selected generation.
    Retire,
    /// `D` on the Overview: destroy the selected retired generation's key.
    DestroyKey,
    /// `c` on the Overview: a root key and its request for an enterprise root.
    RootCsr,
    /// `i` on the Overview: import the pending generation's certificate.
    ImportRoot,
    /// Time passes: collect results from the worker.
    Tick,
}

/// Which keys are live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// "Quit?" is asked.
    Quitting,
    /// The help is shown.
    Help,
    /// A text field has the keys.
    Text,
    /// A modal without a text field in focus.
    Modal,
    /// This screen, without a modal.
    Screen(Screen),
}

/// The action `key` stands for in `mode`, if any.
pub(crate) fn action_for(key: KeyEvent, mode: Mode) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('q')) {
        return Some(Action::Quit);
    }
    match mode {
        Mode::Quitting => {
            return match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => Some(Action::Yes),
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => Some(Action::No),
                _ => None,
            }
        }
        Mode::Help => return Some(Action::Help),
        Mode::Text => {
            return match key.code {
                KeyCode::Char('u') if ctrl => Some(Action::KillLine),
                KeyCode::Char('w') if ctrl => Some(Action::KillWord),
                KeyCode::Char('a') if ctrl => Some(Action::Home),
                KeyCode::Char('e') if ctrl => Some(Action::End),
                KeyCode::Char(c) if !ctrl => Some(Action::Type(c)),
                KeyCode::Backspace => Some(Action::Erase),
                KeyCode::Delete => Some(Action::Delete),
                KeyCode::Home => Some(Action::Home),
                KeyCode::End => Some(Action::End),
                KeyCode::Enter => Some(Action::Enter),
                KeyCode::Esc => Some(Action::Back),
                KeyCode::Tab => Some(Action::NextField),
                KeyCode::BackTab => Some(Action::PrevField),
                KeyCode::Up => Some(Action::Up),
                KeyCode::Down => Some(Action::Down),
                KeyCode::Left => Some(Action::Left),
                KeyCode::Right => Some(Action::Right),
                _ => None,
            }
        }
        Mode::Modal | Mode::Screen(_) => {}
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
    let screen = match mode {
        Mode::Screen(s) => s,
        // Pickers, errors, details: navigation, fields, and the export offered after signing.
        _ => {
            return common.or(match key.code {
                KeyCode::Char('e') => Some(Action::Export),
                KeyCode::Char('y') | KeyCode::Char('Y') => Some(Action::Yes),
                KeyCode::Tab => Some(Action::NextField),
                KeyCode::BackTab => Some(Action::PrevField),
                _ => None,
            })
        }
    };
    if screen == Screen::Overview {
        let root_step = match key.code {
            KeyCode::Char('r') => Some(Action::Rotate),
            KeyCode::Char('x') => Some(Action::Retire),
            KeyCode::Char('D') => Some(Action::DestroyKey),
            KeyCode::Char('c') => Some(Action::RootCsr),
            KeyCode::Char('i') => Some(Action::ImportRoot),
            _ => None,
        };
        if root_step.is_some() {
            return root_step;
        }
    }
    common.or(match key.code {
        KeyCode::Tab => Some(Action::NextScreen),
        KeyCode::BackTab => Some(Action::PrevScreen),
        KeyCode::F(5) | KeyCode::Char('R') => Some(Action::Reload),
        KeyCode::Char(c @ '1'..='6') => Some(Action::Go(Screen::ALL[c as usize - '1' as usize])),
        KeyCode::Char('u') => Some(Action::Unlock),
        KeyCode::Char('l') => Some(Action::Lock),
        KeyCode::Char('n') if screen == Screen::Inbox => Some(Action::Generate),
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
