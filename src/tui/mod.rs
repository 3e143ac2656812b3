//! The ceremony terminal UI: a second thin face over [`crate::ceremony`], like the CLI.
//!
//! Keys become [`Action`]s; each screen and modal owns its state, handles its actions,
//! draws itself and names its footer keys, and asks for anything beyond itself with an
//! `Effect` that only [`App`] applies (`view.rs`). Drawing is `impl Widget for &App` and never
//! mutates; it reads the clock and the working directory only as the app passes them in.
//! [`run_loop`] is generic over the ratatui backend, so tests drive it with `TestBackend`;
//! [`run`] sets up the real terminal, and a panic hook and a `Drop` guard restore it
//! whatever happens.
//!
//! Use cases run on worker threads as typed jobs (`job.rs`: plain, or with the session);
//! [`App::wait_for_job`] waits for one. The token session from the Unlock screen is kept in
//! the app and lent to each job that needs it.

mod app;
mod data;
mod field;
mod frame;
mod job;
mod keys;
mod modals;
mod screens;
mod setup;
#[cfg(test)]
mod tests;
mod theme;
mod view;
mod widgets;
mod words;

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use ratatui::backend::Backend;
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use ratatui::Terminal;

pub use app::{App, Options};
pub use frame::{MIN_HEIGHT, MIN_WIDTH};
pub use keys::{Action, Screen};
pub use setup::Setup;
pub use theme::Theme;

use crate::error::{Error, ExitCode, Result};
use crate::vault::Vault;

/// Where the loop gets terminal events from: the real terminal, or a test's script.
pub trait EventSource {
    /// The next event, waiting at most `timeout`; `None` when none came.
    fn next(&mut self, timeout: Duration) -> std::io::Result<Option<Event>>;
}

/// Events from the terminal (crossterm).
#[derive(Debug, Default)]
pub struct TerminalEvents;

impl EventSource for TerminalEvents {
    fn next(&mut self, timeout: Duration) -> std::io::Result<Option<Event>> {
        if event::poll(timeout)? {
            event::read().map(Some)
        } else {
            Ok(None)
        }
    }
}

/// What the loop drives: the ceremony [`App`], or the [`Setup`] of a directory without a
/// vault.
pub trait Face {
    /// Whether the loop should end.
    fn should_quit(&self) -> bool;
    /// Whether work runs (the screen then redraws more often).
    fn busy(&self) -> bool;
    /// A key.
    fn key(&mut self, key: ratatui::crossterm::event::KeyEvent);
    /// Time passed.
    fn tick(&mut self);
}

impl Face for App {
    fn should_quit(&self) -> bool {
        App::should_quit(self)
    }
    fn busy(&self) -> bool {
        App::busy(self)
    }
    fn key(&mut self, key: ratatui::crossterm::event::KeyEvent) {
        self.handle_key(key)
    }
    fn tick(&mut self) {
        self.update(Action::Tick)
    }
}

impl Face for Setup {
    fn should_quit(&self) -> bool {
        Setup::should_quit(self)
    }
    fn busy(&self) -> bool {
        Setup::busy(self)
    }
    fn key(&mut self, key: ratatui::crossterm::event::KeyEvent) {
        self.handle_key(key)
    }
    fn tick(&mut self) {
        Setup::tick(self)
    }
}

/// Draws and handles events until the app quits. Input is read with a short timeout, so the
/// screen keeps moving (progress, results from workers) while nothing is typed.
pub fn run_loop<B: Backend, F: Face>(
    terminal: &mut Terminal<B>,
    app: &mut F,
    events: &mut dyn EventSource,
) -> std::io::Result<()>
where
    for<'a> &'a F: ratatui::widgets::Widget,
{
    loop {
        // Checked before drawing: after a worker's panic the hook has already restored the
        // terminal, and nothing more may be drawn on it.
        if app.should_quit() {
            return Ok(());
        }
        terminal
            .draw(|frame| frame.render_widget(&*app, frame.area()))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let timeout = if app.busy() {
            Duration::from_millis(60)
        } else {
            Duration::from_millis(250)
        };
        match events.next(timeout)? {
            Some(Event::Key(key)) if key.kind != KeyEventKind::Release => app.key(key),
            // A resize is picked up by the next draw (the terminal measures itself).
            Some(_) | None => {}
        }
        app.tick();
    }
}

/// The terminal in raw mode on the alternate screen, restored when dropped. Entering also
/// installs a panic hook that restores it before the panic message is printed.
struct TerminalGuard {
    terminal: ratatui::DefaultTerminal,
}

impl TerminalGuard {
    fn enter() -> std::io::Result<TerminalGuard> {
        // try_init installs the restoring panic hook before it touches the terminal.
        let terminal = ratatui::try_init()?;
        Ok(TerminalGuard { terminal })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// `rootvault tui`: opens the vault (errors before the screen changes are printed as usual),
/// then runs the TUI on the terminal; a directory without a vault gets the token check
/// ([`Setup`]).
pub fn run(vault_dir: &Path, options: Options) -> Result<ExitCode> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(Error::Usage(
            "the TUI needs a terminal; in scripts use the commands (rootvault --help)".into(),
        ));
    }
    let vault = match Vault::open(vault_dir) {
        Ok(v) => v,
        // No vault yet: what can be done before one is made (the token check).
        Err(Error::Vault(crate::error::VaultError::Missing(_))) => {
            let mut setup = Setup::new(vault_dir, options);
            let result = {
                let mut guard = TerminalGuard::enter().map_err(Error::Terminal)?;
                run_loop(&mut guard.terminal, &mut setup, &mut TerminalEvents)
            };
            result.map_err(Error::Terminal)?;
            return Ok(ExitCode::Ok);
        }
        Err(e) => return Err(e),
    };
    let mut app = App::new(vault, options);
    let result = {
        let mut guard = TerminalGuard::enter().map_err(Error::Terminal)?;
        run_loop(&mut guard.terminal, &mut app, &mut TerminalEvents)
    };
    result.map_err(Error::Terminal)?;
    if let Some(fatal) = app.fatal() {
        return Err(Error::Terminal(std::io::Error::other(fatal.to_owned())));
    }
    Ok(ExitCode::Ok)
}
