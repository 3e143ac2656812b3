//! `init`: a new vault bound to an existing, initialised token.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{audit, Operator};
use crate::error::{Error, Refusal, Result, VaultError};
use crate::fsio::{self, StagedDir};
use crate::hsm::{Module, TokenSelector};
use crate::ledger::{Event, Ledger, VaultInitialised};
use crate::pin::PinSource;
use crate::policy::TrustDomain;
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
    /// The SPIFFE trust domain every intermediate is name-constrained to by default.
    pub trust_domain: String,
}

/// Creates the vault at `dir`: logs in to the token (so a wrong PIN creates nothing),
/// generates the audit key there, and signs the first checkpoint. The directory is assembled
/// beside its final place and renamed in one step, so a failure leaves nothing behind.
/// `trust_domain` goes into the policy and the first event: every intermediate is
/// name-constrained to it unless a cluster's policy says otherwise (docs/policy.md).
pub fn init(
    dir: &Path,
    module_path: &Path,
    token: &str,
    trust_domain: &TrustDomain,
    pins: &PinSource,
    operator: &Operator,
) -> Result<InitReport> {
    refuse_existing(dir)?;
    let selector = TokenSelector::parse(token)?;
    let module_file = crate::hsm::ModuleFile::inspect(module_path)?;
    let module = Module::load(module_path)?;
    let token_handle = module.open_token(&selector)?;
    let summary = token_handle.summary().clone();
    if !summary.pin.initialized {
        return Err(VaultError::TokenUninitialised(summary.label).into());
    }
    let pin = pins.read()?;
    let session = token_handle.login(&pin)?;
    drop(pin);
    // Before anything is made: a token holding an audit key serves another vault already.
    if let Some(key) = session
        .public_keys_labelled(crate::keys::KeyType::EcdsaP256, audit::AUDIT_KEY_LABEL)?
        .first()
    {
        return Err(Refusal::TokenHasVault {
            token: summary.label,
            audit_key_sha256: key.spki_sha256_hex(),
        }
        .into());
    }
    let module_path =
        fs::canonicalize(module_path).map_err(|e| Error::io("cannot resolve", module_path, e))?;

    let parent = fsio::parent_dir(dir);
    fs::create_dir_all(&parent).map_err(|e| Error::io("cannot create", &parent, e))?;
    let staging = StagedDir::new(dir, "init", fsio::PRIVATE_DIR_MODE)?;

    let config = Config {
        format: CONFIG_FORMAT,
        token: TokenConfig {
            module: module_path.clone(),
            selector: token.to_owned(),
            serial: summary.serial.clone(),
        },
        policy: crate::policy::Policy {
            trust_domain: Some(trust_domain.clone()),
            ..crate::policy::Policy::default()
        },
    };
    let text = toml::to_string(&config).expect("a vault configuration serializes");
    let text = format!(
        "# rootvault vault configuration. The token serial binds this vault to its token.\n{text}"
    );
    fsio::write_file(&staging.path().join(CONFIG_FILE), text.as_bytes(), false)?;
    fsio::write_file(&staging.path().join(vault::TOKEN_LOCK_FILE), b"", false)?;

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
                module_sha256: Some(module_file.sha256.clone()),
                trust_domain: Some(trust_domain.to_string()),
                software: Some(crate::software::current()?.clone()),
            }),
        )?;
        tx.commit()?;
        event.hash
    };

    let staged_vault = Vault::open(staging.path())?;
    audit::attestor(&staged_vault, &session, operator)?;
    vault::make_private(staging.path())?;
    refuse_existing(dir)?;
    staging.commit()?;
    Ok(InitReport {
        vault: dir.to_owned(),
        token_label: summary.label,
        token_serial: summary.serial,
        ledger_head: head,
        trust_domain: trust_domain.to_string(),
    })
}

/// Refuses a target that holds a vault, anything else, or is not a directory; a missing or
/// empty directory is fine (`rename(2)` replaces an empty directory in one step). Shared by
/// `init` and `restore`.
pub(super) fn refuse_existing(dir: &Path) -> Result<()> {
    if dir.join(CONFIG_FILE).exists() {
        return Err(VaultError::Exists(dir.to_owned()).into());
    }
    match fs::read_dir(dir).map(|mut entries| entries.next().is_some()) {
        Ok(true) => Err(VaultError::NotEmpty(dir.to_owned()).into()),
        Ok(false) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            Err(VaultError::NotADirectory(dir.to_owned()).into())
        }
        Err(e) => Err(Error::io("cannot inspect", dir, e)),
    }
}
