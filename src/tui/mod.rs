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

/// Draws and handles events until the app quits. Input is read with a short timeout, so the
/// screen keeps moving (progress, results from workers) while nothing is typed.
pub fn run_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    events: &mut dyn EventSource,
) -> std::io::Result<()> {
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
            Some(Event::Key(key)) if key.kind != KeyEventKind::Release => app.handle_key(key),
            // A resize is picked up by the next draw (the terminal measures itself).
            Some(_) | None => {}
        }
        app.update(Action::Tick);
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
/// then runs the TUI on the terminal.
pub fn run(vault_dir: &Path, options: Options) -> Result<ExitCode> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(Error::Usage(
            "the TUI needs a terminal; in scripts use the commands (rootvault --help)".into(),
        ));
    }
    let vault = Vault::open(vault_dir)?;
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
