//! What can go wrong with the module, the token or a key on it, and how each is worded.

use std::path::PathBuf;

use cryptoki::error::Error as CkError;

use super::PinState;
use crate::keys::KeyType;

/// What went wrong with the module, the token or a key on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HsmError {
    /// The PKCS#11 module could not be loaded or initialised.
    #[error("cannot load the PKCS#11 module {}: {detail}; check the --module path (SoftHSM2 on Debian/Ubuntu: /usr/lib/softhsm/libsofthsm2.so)", path.display())]
    ModuleLoad {
        /// The path given.
        path: PathBuf,
        /// The loader's explanation.
        detail: String,
    },
    /// The module file could be changed by someone other than root or the vault's owner: it
    /// receives the PIN, so it is not loaded.
    #[error("refusing the PKCS#11 module {}: {why}. The module receives the PIN, so only root (or the vault's owner) may be able to change it: fix its permissions (chmod go-w) or install it where only root can write", path.display())]
    ModuleUnsafe {
        /// The module path.
        path: PathBuf,
        /// What is loose.
        why: String,
    },
    /// No token matches the selector.
    #[error(
        "no {wanted} on this module; tokens present: {}",
        list_or_none(available)
    )]
    TokenNotFound {
        /// What was asked for.
        wanted: String,
        /// Labels of the tokens that exist.
        available: Vec<String>,
    },
    /// More than one token matches the selector.
    #[error("{wanted} matches {} tokens ({}); select one by serial with a pkcs11: URI", matches.len(), matches.join(", "))]
    TokenAmbiguous {
        /// What was asked for.
        wanted: String,
        /// `label (serial)` of each match.
        matches: Vec<String>,
    },
    /// The token found is not the one the vault was created on.
    #[error("the token labelled {label:?} has serial {found}, but this vault is bound to serial {expected}; insert the vault's own token")]
    WrongToken {
        /// Label of the token found.
        label: String,
        /// Serial recorded in the vault.
        expected: String,
        /// Serial of the token found.
        found: String,
    },
    /// A `pkcs11:` URI or label is malformed.
    #[error("invalid token selector: {0}")]
    InvalidUri(String),
    /// The PIN was wrong.
    #[error("login failed: the token rejected the PIN{}", pin_state_hint(*.state))]
    PinIncorrect {
        /// The token's PIN flags after the attempt.
        state: PinState,
    },
    /// The PIN is locked.
    #[error("login failed: the user PIN of this token is locked; the security officer must unlock it (for SoftHSM2: softhsm2-util cannot unlock, re-initialise the PIN with the SO PIN)")]
    PinLocked,
    /// No PIN could be obtained.
    #[error("no PIN available: {0}")]
    NoPin(String),
    /// A key with the requested label is already on the token.
    #[error("the token already holds an object labelled {0:?}; choose another --key-label, or remove the leftover object with pkcs11-tool --delete-object if an earlier attempt was interrupted")]
    LabelExists(String),
    /// The vault's key is not on the token.
    #[error("the token has no key labelled {label:?} with id {id}; is this the vault's token?")]
    KeyNotFound {
        /// The key label.
        label: String,
        /// The key id, hex.
        id: String,
    },
    /// The token does not offer a mechanism the vault needs.
    #[error("the token does not support {0}")]
    Unsupported(String),
    /// The token cannot generate or sign with keys of this type; found before any key was
    /// generated (or when the generation was refused), so nothing was changed.
    #[error("the token cannot hold {key_type} keys: {}; choose a key type it supports (`rootvault token check` lists them)", missing.join(", "))]
    KeyTypeUnsupported {
        /// The key type asked for.
        key_type: KeyType,
        /// What the module lacks, e.g. `CKM_RSA_PKCS_KEY_PAIR_GEN for 4096-bit keys`.
        missing: Vec<String>,
    },
    /// The module refused to store a private data object (the vault's token-held state).
    #[error("the token cannot store private data objects: {detail}; without them the token cannot protect the ledger's head (see `rootvault token check`)")]
    DataObjectsUnsupported {
        /// What the module answered.
        detail: String,
    },
    /// More than one of the vault's private data objects carries this label: a replacement
    /// was interrupted, or someone with the PIN added one.
    #[error("the token holds {count} private data objects labelled {label:?} (application \"rootvault\"), where there must be one; an interrupted update leaves two. Inspect them with `pkcs11-tool --login --list-objects --type data` and delete the stale one")]
    DataObjectDuplicate {
        /// The label.
        label: String,
        /// How many there are.
        count: usize,
    },
    /// A PKCS#11 call failed.
    #[error("token operation {op} failed: {detail}")]
    Pkcs11 {
        /// What was being done.
        op: &'static str,
        /// The module's return value.
        detail: String,
    },
}

pub(super) fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none (initialise one with softhsm2-util --init-token, or hsm-test/make-token.sh)".into()
    } else {
        v.join(", ")
    }
}

pub(super) fn pin_state_hint(s: PinState) -> &'static str {
    if s.locked {
        "; the PIN is now locked"
    } else if s.final_try {
        "; one attempt is left before the PIN locks"
    } else if s.count_low {
        "; the token reports that few attempts are left"
    } else {
        ""
    }
}

impl HsmError {
    /// Whether this failure is about logging in (exit code 5).
    pub fn is_login_failure(&self) -> bool {
        matches!(
            self,
            HsmError::PinIncorrect { .. } | HsmError::PinLocked | HsmError::NoPin(_)
        )
    }

    /// Whether this is a request the token cannot fulfil, found before anything changed
    /// (exit code 3, like a request the vault's state forbids).
    pub fn is_unsupported_request(&self) -> bool {
        matches!(self, HsmError::KeyTypeUnsupported { .. })
    }

    pub(super) fn call(op: &'static str) -> impl FnOnce(CkError) -> HsmError {
        move |e| HsmError::Pkcs11 {
            op,
            detail: describe(&e),
        }
    }
}

/// A short description of a cryptoki error: the return value's name, not its paragraph.
pub(super) fn describe(e: &CkError) -> String {
    use cryptoki::error::RvError as Rv;
    match e {
        CkError::Pkcs11(rv, _) => {
            let hint = match rv {
                Rv::ObjectHandleInvalid | Rv::KeyHandleInvalid => {
                    " (the key is no longer on the token: it was removed, or the token's storage changed while rootvault was using it)"
                }
                Rv::DeviceRemoved | Rv::TokenNotPresent => " (the token was removed)",
                Rv::SessionHandleInvalid | Rv::SessionClosed => {
                    " (the session with the token was closed)"
                }
                Rv::DeviceError | Rv::GeneralError | Rv::DeviceMemory => " (the token failed)",
                _ => "",
            };
            format!("{rv:?}{hint}")
        }
        other => other.to_string(),
    }
}
