//! `init`: a new vault bound to an existing, initialised token.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{audit, Operator};
use crate::error::{Error, Result};
use crate::hsm::{Module, TokenSelector};
use crate::ledger::{Event, Ledger, VaultInitialised};
use crate::pin::PinSource;
use crate::vault::{self, Config, TokenConfig, Vault, CONFIG_FILE, CONFIG_FORMAT, LEDGER_FILE};

/// What `init` created.
#[derive(Debug, Clone, Serialize)]
pub struct InitReport {
    /// The vault directory.
    pub vault: PathBuf,
    /// Token label.
    pub token_label: String,
    /// Token serial, which binds the vault.
    pub token_serial: String,
    /// Hash of the first ledger event.
    pub ledger_head: String,
}

/// Creates the vault at `dir`: logs in to the token (so a wrong PIN creates nothing),
/// generates the audit key there, and signs the first checkpoint. The directory is assembled
/// beside its final place and renamed in one step, so a failure leaves nothing behind.
pub fn init(
    dir: &Path,
    module_path: &Path,
    token: &str,
    pins: &PinSource,
    operator: &Operator,
) -> Result<InitReport> {
    refuse_existing(dir)?;
    let selector = TokenSelector::parse(token)?;
    let module = Module::load(module_path)?;
    let token_handle = module.open_token(&selector)?;
    let summary = token_handle.summary().clone();
    if !summary.pin.initialized {
        return Err(Error::Config(format!(
            "the token {:?} has no user PIN yet; initialise it first (softhsm2-util --init-token, or hsm-test/make-token.sh)",
            summary.label
        )));
    }
    let pin = pins.read()?;
    let session = token_handle.login(&pin)?;
    drop(pin);
    let module_path =
        fs::canonicalize(module_path).map_err(|e| Error::io("cannot resolve", module_path, e))?;

    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(|e| Error::io("cannot create", &parent, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".rootvault-init-")
        .tempdir_in(&parent)
        .map_err(|e| Error::io("cannot create a staging directory in", &parent, e))?;

    let config = Config {
        format: CONFIG_FORMAT,
        token: TokenConfig {
            module: module_path.clone(),
            selector: token.to_owned(),
            serial: summary.serial.clone(),
        },
        policy: crate::policy::Policy::default(),
    };
    let text = toml::to_string(&config).map_err(|e| Error::Config(e.to_string()))?;
    let text = format!(
        "# rootvault vault configuration. The token serial binds this vault to its token.\n{text}"
    );
    vault::write_file_atomic(&staging.path().join(CONFIG_FILE), text.as_bytes(), false)?;
    vault::write_file_atomic(&staging.path().join(vault::TOKEN_LOCK_FILE), b"", false)?;

    let head = {
        let mut ledger = Ledger::create(&staging.path().join(LEDGER_FILE))?;
        let tx = ledger.begin()?;
        let event = tx.append(
            &operator.0,
            &Event::VaultInitialised(VaultInitialised {
                module: module_path.display().to_string(),
                token: token.to_owned(),
                token_label: summary.label.clone(),
                token_serial: summary.serial.clone(),
                token_model: summary.model.clone(),
                rootvault_version: env!("CARGO_PKG_VERSION").to_owned(),
            }),
        )?;
        tx.commit()?;
        event.hash
    };

    let staged_vault = Vault::open(staging.path())?;
    audit::attestor(&staged_vault, &session, operator)?;
    vault::sync_dir(staging.path())?;
    refuse_existing(dir)?;
    let staged = staging.keep();
    if let Err(e) = fs::rename(&staged, dir) {
        let _ = fs::remove_dir_all(&staged);
        return Err(Error::io("cannot move the new vault into", dir, e));
    }
    vault::sync_dir(&parent)?;
    Ok(InitReport {
        vault: dir.to_owned(),
        token_label: summary.label,
        token_serial: summary.serial,
        ledger_head: head,
    })
}

fn refuse_existing(dir: &Path) -> Result<()> {
    if dir.join(CONFIG_FILE).exists() {
        return Err(Error::Config(format!(
            "a vault already exists at {}; init never overwrites one (choose another --vault)",
            dir.display()
        )));
    }
    match fs::read_dir(dir).map(|mut entries| entries.next().is_some()) {
        Ok(true) => Err(Error::Config(format!(
            "{} exists and is not empty; init creates a vault only in a new or empty directory",
            dir.display()
        ))),
        // rename(2) replaces an empty directory in one step.
        Ok(false) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => Err(Error::Config(format!(
            "{} exists and is not a directory",
            dir.display()
        ))),
        Err(e) => Err(Error::io("cannot inspect", dir, e)),
    }
}
