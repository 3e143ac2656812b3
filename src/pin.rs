//! Where the user PIN comes from: `--pin-file`, then `ROOTVAULT_PIN`, then a no-echo prompt.
//!
//! The PIN is held only as a [`SecretString`] (zeroized on drop) and is never formatted,
//! logged, or passed on the command line.

use std::io::IsTerminal;
use std::path::PathBuf;

use secrecy::SecretString;
use zeroize::Zeroizing;

use crate::hsm::HsmError;

/// The environment variable that may hold the PIN.
pub const PIN_ENV: &str = "ROOTVAULT_PIN";

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
    pub fn read(&self) -> Result<SecretString, HsmError> {
        if let Some(typed) = &self.typed {
            use secrecy::ExposeSecret;
            return non_empty(typed.expose_secret(), "no PIN was typed");
        }
        if let Some(path) = &self.file {
            let raw = Zeroizing::new(std::fs::read(path).map_err(|e| {
                HsmError::NoPin(format!("cannot read the PIN file {}: {e}", path.display()))
            })?);
            let text = std::str::from_utf8(&raw).map_err(|_| {
                HsmError::NoPin(format!("the PIN file {} is not UTF-8", path.display()))
            })?;
            let line = text.lines().next().unwrap_or("");
            return non_empty(line, &format!("the PIN file {} is empty", path.display()));
        }
        if let Some(value) = std::env::var_os(PIN_ENV) {
            let value = Zeroizing::new(
                value
                    .into_string()
                    .map_err(|_| HsmError::NoPin(format!("{PIN_ENV} is not UTF-8")))?,
            );
            return non_empty(&value, &format!("{PIN_ENV} is set but empty"));
        }
        if self.allow_prompt && std::io::stdin().is_terminal() {
            let typed = Zeroizing::new(rpassword::prompt_password("User PIN: ").map_err(|e| {
                HsmError::NoPin(format!("cannot read the PIN from the terminal: {e}"))
            })?);
            return non_empty(&typed, "no PIN was typed");
        }
        Err(HsmError::NoPin(format!(
            "no terminal to ask on; give --pin-file FILE or set {PIN_ENV}"
        )))
    }
}

fn non_empty(pin: &str, why_empty: &str) -> Result<SecretString, HsmError> {
    if pin.is_empty() {
        Err(HsmError::NoPin(why_empty.to_owned()))
    } else {
        Ok(SecretString::from(pin))
    }
}
