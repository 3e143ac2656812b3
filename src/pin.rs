//! Where the user PIN comes from: `--pin-file`, then `ROOTVAULT_PIN`, then a no-echo prompt.
//!
//! The PIN is held only as a [`SecretString`] (zeroized on drop) and is never formatted,
//! logged, or passed on the command line.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use secrecy::SecretString;
use zeroize::Zeroizing;

/// The environment variable that may hold the PIN.
pub const PIN_ENV: &str = "ROOTVAULT_PIN";

/// The permission bits a PIN file may not have: any access for group or others, as ssh
/// refuses a private key file that others could read.
pub const PIN_FILE_FORBIDDEN_BITS: u32 = 0o077;

/// Why no PIN was obtained (exit 5, like a failed login). The PIN itself is never in it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PinError {
    /// No source gave a PIN: the file is unreadable or empty, the variable is empty, there is
    /// no terminal to ask on.
    #[error("no PIN available: {0}")]
    Unavailable(String),
    /// The PIN file is open to group or others; refused before it is read, as ssh refuses a
    /// private key file others could read.
    #[error("the PIN file {} is accessible by group or others (mode {mode:04o}), so its PIN may already be known to others; refusing to use it. Make it private with `chmod 600 {}` (and consider changing the PIN)", path.display(), path.display())]
    FileNotPrivate {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// How to obtain the PIN when it is needed.
#[derive(Debug, Default)]
pub struct PinSource {
    /// A PIN already typed (the TUI's masked field); used first.
    pub typed: Option<SecretString>,
    /// `--pin-file`: a file whose first line is the PIN.
    pub file: Option<PathBuf>,
    /// Whether a terminal prompt may be shown when neither file nor environment gives one.
    pub allow_prompt: bool,
}

impl PinSource {
    /// Obtains the PIN, in the contract's order.
    pub fn read(&self) -> Result<SecretString, PinError> {
        if let Some(typed) = &self.typed {
            use secrecy::ExposeSecret;
            return non_empty(typed.expose_secret(), "no PIN was typed");
        }
        if let Some(path) = &self.file {
            let unreadable = |e: std::io::Error| {
                PinError::Unavailable(format!("cannot read the PIN file {}: {e}", path.display()))
            };
            let mut file = std::fs::File::open(path).map_err(unreadable)?;
            // The mode of the file opened, not of the path: no race with a swapped file.
            let meta = file.metadata().map_err(unreadable)?;
            let mode = {
                use std::os::unix::fs::PermissionsExt;
                meta.permissions().mode() & 0o7777
            };
            if mode & PIN_FILE_FORBIDDEN_BITS != 0 {
                return Err(PinError::FileNotPrivate {
                    path: path.clone(),
                    mode,
                });
            }
            // Sized up front, so that no reallocation leaves a copy of the PIN behind.
            let cap = usize::try_from(meta.len()).unwrap_or(0).saturating_add(1);
            let mut raw = Zeroizing::new(Vec::with_capacity(cap));
            file.read_to_end(&mut raw).map_err(unreadable)?;
            let text = std::str::from_utf8(&raw).map_err(|_| {
                PinError::Unavailable(format!("the PIN file {} is not UTF-8", path.display()))
            })?;
            let line = text.lines().next().unwrap_or("");
            return non_empty(line, &format!("the PIN file {} is empty", path.display()));
        }
        if let Some(value) = std::env::var_os(PIN_ENV) {
            let value = Zeroizing::new(
                value
                    .into_string()
                    .map_err(|_| PinError::Unavailable(format!("{PIN_ENV} is not UTF-8")))?,
            );
            return non_empty(&value, &format!("{PIN_ENV} is set but empty"));
        }
        if self.allow_prompt && std::io::stdin().is_terminal() {
            let typed = Zeroizing::new(rpassword::prompt_password("User PIN: ").map_err(|e| {
                PinError::Unavailable(format!("cannot read the PIN from the terminal: {e}"))
            })?);
            return non_empty(&typed, "no PIN was typed");
        }
        Err(PinError::Unavailable(format!(
            "no terminal to ask on; give --pin-file FILE or set {PIN_ENV}"
        )))
    }
}

fn non_empty(pin: &str, why_empty: &str) -> Result<SecretString, PinError> {
    if pin.is_empty() {
        Err(PinError::Unavailable(why_empty.to_owned()))
    } else {
        Ok(SecretString::from(pin))
    }
}
