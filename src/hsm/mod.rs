//! The PKCS#11 token: loading the module, finding the token, logging in, generating keys that
//! never leave it, signing with them and drawing random bytes from its RNG.
//!
//! Nothing outside this module touches cryptoki. The rest of the vault sees a [`TokenKey`]
//! through the [`RawSigner`] trait.

mod module_file;
mod uri;

use std::path::{Path, PathBuf};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType as CkKeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use secrecy::SecretString;
use sha2::{Digest, Sha256, Sha384};

use crate::keys::{KeyAlg, KeyType, PublicKey, RawSigner, SignFailure};

pub use module_file::ModuleFile;
pub use uri::{TokenSelector, TokenUri};

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

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none (initialise one with softhsm2-util --init-token, or hsm-test/make-token.sh)".into()
    } else {
        v.join(", ")
    }
}

fn pin_state_hint(s: PinState) -> &'static str {
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

    fn call(op: &'static str) -> impl FnOnce(CkError) -> HsmError {
        move |e| HsmError::Pkcs11 {
            op,
            detail: describe(&e),
        }
    }
}

/// A short description of a cryptoki error: the return value's name, not its paragraph.
fn describe(e: &CkError) -> String {
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

/// The user PIN flags a token reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PinState {
    /// The user PIN has been set.
    pub initialized: bool,
    /// An incorrect PIN has been entered at least once since the last success.
    pub count_low: bool,
    /// One more wrong PIN locks it.
    pub final_try: bool,
    /// The PIN is locked.
    pub locked: bool,
    /// The PIN must be changed before use.
    pub to_be_changed: bool,
}

/// What the token says about itself.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenSummary {
    /// The slot holding the token.
    pub slot_id: u64,
    /// The token label.
    pub label: String,
    /// The token serial number.
    pub serial: String,
    /// The token model.
    pub model: String,
    /// The token manufacturer.
    pub manufacturer: String,
    /// User PIN flags.
    pub pin: PinState,
}

/// A loaded PKCS#11 module.
pub struct Module {
    ctx: Pkcs11,
    path: PathBuf,
}

impl Module {
    /// Loads and initialises the module at `path`.
    pub fn load(path: &Path) -> Result<Module, HsmError> {
        let fail = |detail: String| HsmError::ModuleLoad {
            path: path.to_owned(),
            detail,
        };
        if !path.is_file() {
            return Err(fail("no such file".into()));
        }
        let ctx = Pkcs11::new(path).map_err(|e| fail(e.to_string()))?;
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(|e| fail(format!("C_Initialize failed: {}", describe(&e))))?;
        Ok(Module {
            ctx,
            path: path.to_owned(),
        })
    }

    /// The path the module was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn slots(&self) -> Result<Vec<(Slot, TokenSummary)>, HsmError> {
        let slots = self
            .ctx
            .get_slots_with_token()
            .map_err(HsmError::call("C_GetSlotList"))?;
        slots
            .into_iter()
            .map(|slot| Ok((slot, summarize(&self.ctx, slot)?)))
            .collect()
    }

    /// Every token the module offers.
    pub fn tokens(&self) -> Result<Vec<TokenSummary>, HsmError> {
        Ok(self.slots()?.into_iter().map(|(_, s)| s).collect())
    }

    /// The one token matching `selector`.
    pub fn open_token(&self, selector: &TokenSelector) -> Result<Token, HsmError> {
        let all = self.slots()?;
        let available = all
            .iter()
            .map(|(_, s)| format!("{:?} (serial {})", s.label, s.serial))
            .collect();
        let mut found: Vec<_> = all
            .into_iter()
            .filter(|(_, s)| {
                selector.matches(s.slot_id, &s.label, &s.serial, &s.model, &s.manufacturer)
            })
            .collect();
        match found.len() {
            0 => Err(HsmError::TokenNotFound {
                wanted: selector.to_string(),
                available,
            }),
            1 => {
                let (slot, summary) = found.remove(0);
                Ok(Token {
                    ctx: self.ctx.clone(),
                    slot,
                    summary,
                })
            }
            _ => Err(HsmError::TokenAmbiguous {
                wanted: selector.to_string(),
                matches: found
                    .iter()
                    .map(|(_, s)| format!("{:?} (serial {})", s.label, s.serial))
                    .collect(),
            }),
        }
    }
}

fn summarize(ctx: &Pkcs11, slot: Slot) -> Result<TokenSummary, HsmError> {
    let info = ctx
        .get_token_info(slot)
        .map_err(HsmError::call("C_GetTokenInfo"))?;
    Ok(TokenSummary {
        slot_id: slot.id(),
        label: padded(info.label()),
        serial: padded(info.serial_number()),
        model: padded(info.model()),
        manufacturer: padded(info.manufacturer_id()),
        pin: PinState {
            initialized: info.user_pin_initialized(),
            count_low: info.user_pin_count_low(),
            final_try: info.user_pin_final_try(),
            locked: info.user_pin_locked(),
            to_be_changed: info.user_pin_to_be_changed(),
        },
    })
}

/// A fixed-width CK_UTF8CHAR field without its padding: the standard pads with spaces, some
/// modules (tpm2-pkcs11's model) with NUL bytes.
fn padded(field: &str) -> String {
    field.trim_end_matches([' ', '\0']).to_owned()
}

/// A token found on a module.
pub struct Token {
    ctx: Pkcs11,
    slot: Slot,
    summary: TokenSummary,
}

impl Token {
    /// What the token said about itself when it was found.
    pub fn summary(&self) -> &TokenSummary {
        &self.summary
    }

    /// Refuses a token whose serial is not `expected`.
    pub fn require_serial(&self, expected: &str) -> Result<(), HsmError> {
        if self.summary.serial == expected {
            Ok(())
        } else {
            Err(HsmError::WrongToken {
                label: self.summary.label.clone(),
                expected: expected.to_owned(),
                found: self.summary.serial.clone(),
            })
        }
    }

    /// A read-only session without login: enough to see public objects.
    pub fn public_session(&self) -> Result<PublicSession, HsmError> {
        let session = self
            .ctx
            .open_ro_session(self.slot)
            .map_err(HsmError::call("C_OpenSession"))?;
        Ok(PublicSession { session })
    }

    /// Opens a read-write session and logs the user in. The PIN is not kept.
    pub fn login(&self, pin: &SecretString) -> Result<UserSession, HsmError> {
        let session = self
            .ctx
            .open_rw_session(self.slot)
            .map_err(HsmError::call("C_OpenSession"))?;
        match session.login(UserType::User, Some(pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(CkError::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange, _)) => {
                let state = summarize(&self.ctx, self.slot)
                    .map(|s| s.pin)
                    .unwrap_or_default();
                return Err(if state.locked {
                    HsmError::PinLocked
                } else {
                    HsmError::PinIncorrect { state }
                });
            }
            Err(CkError::Pkcs11(RvError::PinLocked, _)) => return Err(HsmError::PinLocked),
            Err(e) => return Err(HsmError::call("C_Login")(e)),
        }
        Ok(UserSession {
            session,
            token: Box::new((self.ctx.clone(), self.slot)),
        })
    }
}

/// A mechanism the vault needs for a key type and the module does not offer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MechanismGap {
    /// What it would be used for: `generate` or `sign`.
    pub capability: &'static str,
    /// What is missing, e.g. `CKM_RSA_PKCS_KEY_PAIR_GEN for 4096-bit keys (...)`.
    pub detail: String,
}

impl MechanismGap {
    fn new(capability: &'static str, detail: impl Into<String>) -> Self {
        MechanismGap {
            capability,
            detail: detail.into(),
        }
    }
}

/// How the token signs for one key type, chosen from what the module offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignMech {
    /// CKM_ECDSA over a digest made here (SoftHSM 2.6 has no CKM_ECDSA_SHA256).
    EcdsaPrehashed,
    /// CKM_ECDSA_SHA256 / CKM_ECDSA_SHA384: the token hashes.
    EcdsaHashing,
    /// CKM_SHA256_RSA_PKCS: the token hashes and pads.
    Sha256RsaPkcs,
    /// CKM_RSA_PKCS over a DigestInfo made here (modules that only offer the raw mechanism).
    RsaPkcsDigestInfo,
}

impl SignMech {
    fn describe(self) -> &'static str {
        match self {
            SignMech::EcdsaPrehashed => "CKM_ECDSA (hashed by rootvault)",
            SignMech::EcdsaHashing => "CKM_ECDSA_SHA256/384",
            SignMech::Sha256RsaPkcs => "CKM_SHA256_RSA_PKCS",
            SignMech::RsaPkcsDigestInfo => "CKM_RSA_PKCS (DigestInfo by rootvault)",
        }
    }
}

/// The mechanisms to generate and sign with, or what is missing.
fn plan(
    ctx: &Pkcs11,
    slot: Slot,
    key_type: KeyType,
) -> Result<Result<SignMech, Vec<MechanismGap>>, HsmError> {
    let offered = ctx
        .get_mechanism_list(slot)
        .map_err(HsmError::call("C_GetMechanismList"))?;
    let info = |m: MechanismType| -> Result<Option<cryptoki::mechanism::MechanismInfo>, HsmError> {
        if !offered.contains(&m) {
            return Ok(None);
        }
        match ctx.get_mechanism_info(slot, m) {
            Ok(i) => Ok(Some(i)),
            Err(CkError::Pkcs11(RvError::MechanismInvalid, _)) => Ok(None),
            Err(e) => Err(HsmError::call("C_GetMechanismInfo")(e)),
        }
    };
    let can_sign = |m| -> Result<bool, HsmError> { Ok(info(m)?.is_some_and(|i| i.sign())) };
    let mut missing = Vec::new();
    let sign = match key_type.rsa_bits() {
        None => {
            match info(MechanismType::ECC_KEY_PAIR_GEN)? {
                Some(i) if i.generate_key_pair() => {}
                _ => missing.push(MechanismGap::new("generate", "CKM_EC_KEY_PAIR_GEN")),
            }
            let hashing = if key_type == KeyType::EcdsaP384 {
                MechanismType::ECDSA_SHA384
            } else {
                MechanismType::ECDSA_SHA256
            };
            if can_sign(MechanismType::ECDSA)? {
                Some(SignMech::EcdsaPrehashed)
            } else if can_sign(hashing)? {
                Some(SignMech::EcdsaHashing)
            } else {
                missing.push(MechanismGap::new("sign", format!("CKM_ECDSA or {hashing}")));
                None
            }
        }
        Some(bits) => {
            match info(MechanismType::RSA_PKCS_KEY_PAIR_GEN)? {
                Some(i)
                    if i.generate_key_pair()
                        && (i.max_key_size() == 0
                            || (i.min_key_size()..=i.max_key_size()).contains(&bits)) => {}
                Some(i) if i.generate_key_pair() => missing.push(MechanismGap::new(
                    "generate",
                    format!(
                        "CKM_RSA_PKCS_KEY_PAIR_GEN for {bits}-bit keys (the module makes {} to {} bits)",
                        i.min_key_size(),
                        i.max_key_size()
                    ),
                )),
                _ => missing.push(MechanismGap::new("generate", "CKM_RSA_PKCS_KEY_PAIR_GEN")),
            }
            if can_sign(MechanismType::SHA256_RSA_PKCS)? {
                Some(SignMech::Sha256RsaPkcs)
            } else if can_sign(MechanismType::RSA_PKCS)? {
                Some(SignMech::RsaPkcsDigestInfo)
            } else {
                missing.push(MechanismGap::new(
                    "sign",
                    "CKM_SHA256_RSA_PKCS or CKM_RSA_PKCS",
                ));
                None
            }
        }
    };
    Ok(match sign {
        Some(m) if missing.is_empty() => Ok(m),
        _ => Err(missing),
    })
}

/// A session without login.
pub struct PublicSession {
    session: Session,
}

impl PublicSession {
    /// Whether any data object labelled `label` is visible in this session (without login a
    /// module must hide private objects).
    pub fn sees_data_object(&self, label: &str) -> Result<bool, HsmError> {
        let found = self
            .session
            .find_objects(&[
                Attribute::Class(ObjectClass::DATA),
                Attribute::Label(label.as_bytes().to_vec()),
            ])
            .map_err(HsmError::call("C_FindObjects"))?;
        Ok(!found.is_empty())
    }

    /// The public half of the key pair labelled `label` with CKA_ID `id`, readable without
    /// login (the vault's public keys are public objects).
    pub fn public_key(
        &self,
        key_type: KeyType,
        label: &str,
        id: &[u8],
    ) -> Result<PublicKey, HsmError> {
        let found = self
            .session
            .find_objects(&[
                Attribute::Class(ObjectClass::PUBLIC_KEY),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Id(id.to_vec()),
            ])
            .map_err(HsmError::call("C_FindObjects"))?;
        match found.as_slice() {
            [one] => read_public_key(&self.session, *one, key_type),
            _ => Err(HsmError::KeyNotFound {
                label: label.to_owned(),
                id: hex::encode(id),
            }),
        }
    }

    /// Whether a public key with this id is on the token.
    pub fn has_public_key(&self, id: &[u8]) -> Result<bool, HsmError> {
        let found = self
            .session
            .find_objects(&[
                Attribute::Class(ObjectClass::PUBLIC_KEY),
                Attribute::Id(id.to_vec()),
            ])
            .map_err(HsmError::call("C_FindObjects"))?;
        Ok(!found.is_empty())
    }
}

/// A logged-in session.
pub struct UserSession {
    session: Session,
    // Boxed: sessions travel inside the TUI's messages, which stay small.
    token: Box<(Pkcs11, Slot)>,
}

/// CKA_APPLICATION of every data object the vault keeps on a token.
pub const DATA_APPLICATION: &str = "rootvault";

/// The attributes that identify one of the vault's data objects. CKA_PRIVATE is part of the
/// search: anyone can create a *public* object with the same label without the PIN, and such
/// a look-alike must never be read as the vault's state.
fn data_object_template(label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Application(DATA_APPLICATION.as_bytes().to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
    ]
}

/// How a private key on the token is protected, as the token reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct KeyProtection {
    /// CKA_TOKEN: stored on the token, not only in the session.
    pub token: bool,
    /// CKA_PRIVATE: usable only after login.
    pub private: bool,
    /// CKA_SENSITIVE: the value can never be read.
    pub sensitive: bool,
    /// CKA_EXTRACTABLE: the value can be wrapped out (must be false).
    pub extractable: bool,
    /// CKA_ALWAYS_SENSITIVE: sensitive since creation.
    pub always_sensitive: bool,
    /// CKA_NEVER_EXTRACTABLE: never extractable since creation.
    pub never_extractable: bool,
    /// CKA_LOCAL: generated on the token (not imported). Reported, not required by
    /// [`KeyProtection::is_locked_in`].
    pub local: bool,
}

impl KeyProtection {
    /// Whether the key is held the way a root key must be.
    pub fn is_locked_in(&self) -> bool {
        self.token
            && self.private
            && self.sensitive
            && !self.extractable
            && self.always_sensitive
            && self.never_extractable
    }
}

impl UserSession {
    /// `len` random bytes from the token's RNG.
    pub fn random(&self, len: usize) -> Result<Vec<u8>, HsmError> {
        let mut buf = vec![0u8; len];
        self.session
            .generate_random_slice(&mut buf)
            .map_err(HsmError::call("C_GenerateRandom"))?;
        Ok(buf)
    }

    fn find(&self, template: &[Attribute]) -> Result<Vec<ObjectHandle>, HsmError> {
        self.session
            .find_objects(template)
            .map_err(HsmError::call("C_FindObjects"))
    }

    /// Generates a key pair on the token: sensitive, never extractable, usable only for
    /// signing, labelled `label` with a random 16-byte id. Refuses a label already in use.
    pub fn generate_key_pair(
        &self,
        key_type: KeyType,
        label: &str,
    ) -> Result<TokenKey<'_>, HsmError> {
        if !self
            .find(&[Attribute::Label(label.as_bytes().to_vec())])?
            .is_empty()
        {
            return Err(HsmError::LabelExists(label.to_owned()));
        }
        let id = self.random(16)?;
        let mech = self.plan(key_type)?;
        // No CKA_VERIFY or CKA_ENCRYPT: the vault verifies in software, and tpm2-pkcs11 maps
        // them onto the TPM key's own flags and refuses a template that disagrees with them
        // ("attr mismatch"). The private half's protection is what matters, and is checked.
        let common_pub = vec![
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Wrap(false),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.clone()),
        ];
        let priv_template = vec![
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Decrypt(false),
            Attribute::Unwrap(false),
            Attribute::Derive(false),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.clone()),
        ];
        let (mechanism, pub_template) = match (key_type.ec_params_der(), key_type.rsa_bits()) {
            (Some(params), _) => {
                let mut t = common_pub;
                t.push(Attribute::EcParams(params.to_vec()));
                (Mechanism::EccKeyPairGen, t)
            }
            (None, Some(bits)) => {
                let mut t = common_pub;
                t.push(Attribute::ModulusBits((bits as u64).into()));
                t.push(Attribute::PublicExponent(vec![0x01, 0x00, 0x01]));
                (Mechanism::RsaPkcsKeyPairGen, t)
            }
            (None, None) => unreachable!("every key type is EC or RSA"),
        };
        let (public, private) = self
            .session
            .generate_key_pair(&mechanism, &pub_template, &priv_template)
            .map_err(|e| match e {
                // What modules answer for a curve or size they lack (nothing was made).
                CkError::Pkcs11(
                    rv @ (RvError::CurveNotSupported
                    | RvError::DomainParamsInvalid
                    | RvError::KeySizeRange
                    | RvError::MechanismInvalid
                    | RvError::AttributeValueInvalid),
                    _,
                ) => HsmError::KeyTypeUnsupported {
                    key_type,
                    missing: vec![format!("C_GenerateKeyPair refused the key ({rv:?})")],
                },
                e => HsmError::call("C_GenerateKeyPair")(e),
            })?;
        let key = TokenKey {
            session: &self.session,
            private,
            public,
            label: label.to_owned(),
            id,
            key_type,
            mech,
            public_key: PublicKey::new(key_type.alg(), Vec::new()),
        };
        match self.read_public_key(public, key_type) {
            Ok(public_key) => Ok(TokenKey { public_key, ..key }),
            Err(e) => {
                // Leave nothing behind: a key pair the vault cannot use is no use to anyone.
                let _ = self.destroy_key_pair(key);
                Err(e)
            }
        }
    }

    /// The public keys of type `key_type` labelled `label` on the token, whatever their id:
    /// how `init` finds another vault's audit key before making anything.
    pub fn public_keys_labelled(
        &self,
        key_type: KeyType,
        label: &str,
    ) -> Result<Vec<PublicKey>, HsmError> {
        self.find(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::Label(label.as_bytes().to_vec()),
        ])?
        .into_iter()
        .map(|public| self.read_public_key(public, key_type))
        .collect()
    }

    /// Finds the vault's key pair by label and id.
    pub fn find_key_pair(
        &self,
        key_type: KeyType,
        label: &str,
        id: &[u8],
    ) -> Result<TokenKey<'_>, HsmError> {
        let not_found = || HsmError::KeyNotFound {
            label: label.to_owned(),
            id: hex::encode(id),
        };
        let pick = |class| -> Result<ObjectHandle, HsmError> {
            let found = self.find(&[
                Attribute::Class(class),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Id(id.to_vec()),
            ])?;
            match found.as_slice() {
                [one] => Ok(*one),
                _ => Err(not_found()),
            }
        };
        let private = pick(ObjectClass::PRIVATE_KEY)?;
        let public = pick(ObjectClass::PUBLIC_KEY)?;
        let public_key = self.read_public_key(public, key_type)?;
        let mech = self.plan(key_type)?;
        Ok(TokenKey {
            session: &self.session,
            private,
            public,
            label: label.to_owned(),
            id: id.to_vec(),
            key_type,
            mech,
            public_key,
        })
    }

    /// What is missing, according to the module's own mechanism list (C_GetMechanismInfo), for
    /// the vault to generate and sign with keys of `key_type` here; empty when nothing is.
    /// A curve the module lacks shows only when a generation is tried (PKCS#11 lists no
    /// curves), which [`UserSession::generate_key_pair`] reports as
    /// [`HsmError::KeyTypeUnsupported`].
    pub fn missing_mechanisms(&self, key_type: KeyType) -> Result<Vec<MechanismGap>, HsmError> {
        let (ctx, slot) = &*self.token;
        Ok(plan(ctx, *slot, key_type)?.err().unwrap_or_default())
    }

    /// The signing mechanism for `key_type`, or [`HsmError::KeyTypeUnsupported`] naming what
    /// the module lacks.
    fn plan(&self, key_type: KeyType) -> Result<SignMech, HsmError> {
        let (ctx, slot) = &*self.token;
        plan(ctx, *slot, key_type)?.map_err(|gaps| HsmError::KeyTypeUnsupported {
            key_type,
            missing: gaps
                .into_iter()
                .map(|g| format!("{} to {}", g.detail, g.capability))
                .collect(),
        })
    }

    /// Logs the user out of the token (every session of this process loses its login).
    pub fn logout(self) -> Result<(), HsmError> {
        self.session.logout().map_err(HsmError::call("C_Logout"))
    }

    /// The value of the vault's private data object labelled `label` (CKO_DATA, CKA_TOKEN,
    /// CKA_PRIVATE, CKA_APPLICATION "rootvault"), or `None` if the token has none. Public
    /// objects with the same label are ignored; two private ones are an error.
    pub fn read_data_object(&self, label: &str) -> Result<Option<Vec<u8>>, HsmError> {
        let Some(handle) = self.find_data_object(label)? else {
            return Ok(None);
        };
        self.data_value(handle).map(Some)
    }

    /// Stores `value` in the private data object labelled `label`: creates it if absent,
    /// else replaces its CKA_VALUE. A module that refuses to modify the value gets a new
    /// object first and the old one destroyed after, so an interruption leaves two objects
    /// (reported as [`HsmError::DataObjectDuplicate`]) and never none. The value is read
    /// back before this returns.
    pub fn write_data_object(&self, label: &str, value: &[u8]) -> Result<(), HsmError> {
        let handle = match self.find_data_object(label)? {
            None => self.create_data_object(label, value)?,
            // In tests, an injected failure at `hsm.set_value` stands in for a module that
            // refuses (none tested here does).
            Some(old) => match if crate::fault::check("hsm.set_value").is_err() {
                Err(CkError::Pkcs11(
                    RvError::ActionProhibited,
                    cryptoki::context::Function::SetAttributeValue,
                ))
            } else {
                self.session
                    .update_attributes(old, &[Attribute::Value(value.to_vec())])
            } {
                Ok(()) => old,
                Err(CkError::Pkcs11(
                    RvError::AttributeReadOnly
                    | RvError::ActionProhibited
                    | RvError::FunctionNotSupported
                    | RvError::TemplateInconsistent,
                    _,
                )) => {
                    let new = self.create_data_object(label, value)?;
                    if let Err(e) = self.session.destroy_object(old) {
                        let _ = self.session.destroy_object(new);
                        return Err(HsmError::call("C_DestroyObject")(e));
                    }
                    new
                }
                Err(e) => return Err(HsmError::call("C_SetAttributeValue")(e)),
            },
        };
        if self.data_value(handle)? != value {
            return Err(HsmError::Pkcs11 {
                op: "writing a data object",
                detail: format!("the token kept another value than was written to {label:?}"),
            });
        }
        Ok(())
    }

    /// Destroys the private data object(s) labelled `label`; whether there was any.
    pub fn destroy_data_object(&self, label: &str) -> Result<bool, HsmError> {
        let found = self.find(&data_object_template(label))?;
        for handle in &found {
            self.session
                .destroy_object(*handle)
                .map_err(HsmError::call("C_DestroyObject"))?;
        }
        Ok(!found.is_empty())
    }

    fn find_data_object(&self, label: &str) -> Result<Option<ObjectHandle>, HsmError> {
        match self.find(&data_object_template(label))?.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            many => Err(HsmError::DataObjectDuplicate {
                label: label.to_owned(),
                count: many.len(),
            }),
        }
    }

    fn create_data_object(&self, label: &str, value: &[u8]) -> Result<ObjectHandle, HsmError> {
        let mut template = data_object_template(label);
        template.push(Attribute::Modifiable(true));
        template.push(Attribute::Value(value.to_vec()));
        // In tests, an injected failure at `hsm.create_object` stands in for a module without
        // private data objects (none tested here lacks them).
        let created = if crate::fault::check("hsm.create_object").is_err() {
            Err(CkError::Pkcs11(
                RvError::TemplateInconsistent,
                cryptoki::context::Function::CreateObject,
            ))
        } else {
            self.session.create_object(&template)
        };
        created.map_err(|e| match e {
            CkError::Pkcs11(
                rv @ (RvError::TemplateInconsistent
                | RvError::TemplateIncomplete
                | RvError::AttributeTypeInvalid
                | RvError::AttributeValueInvalid
                | RvError::FunctionNotSupported),
                _,
            ) => HsmError::DataObjectsUnsupported {
                detail: format!("C_CreateObject of a private CKO_DATA object answered {rv:?}"),
            },
            e => HsmError::call("C_CreateObject")(e),
        })
    }

    fn data_value(&self, handle: ObjectHandle) -> Result<Vec<u8>, HsmError> {
        let attrs = self
            .session
            .get_attributes(handle, &[AttributeType::Value])
            .map_err(HsmError::call("C_GetAttributeValue"))?;
        attrs
            .into_iter()
            .find_map(|a| match a {
                Attribute::Value(v) => Some(v),
                _ => None,
            })
            .ok_or_else(|| HsmError::Pkcs11 {
                op: "reading a data object",
                detail: "the module returned no CKA_VALUE".into(),
            })
    }

    /// Removes a key pair from the token (used to undo a key generation whose ceremony failed).
    pub fn destroy_key_pair(&self, key: TokenKey<'_>) -> Result<(), HsmError> {
        let a = self.session.destroy_object(key.private);
        let b = self.session.destroy_object(key.public);
        a.and(b).map_err(HsmError::call("C_DestroyObject"))
    }

    /// The protection attributes of a key's private half.
    pub fn protection(&self, key: &TokenKey<'_>) -> Result<KeyProtection, HsmError> {
        let attrs = self
            .session
            .get_attributes(
                key.private,
                &[
                    AttributeType::Token,
                    AttributeType::Private,
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::AlwaysSensitive,
                    AttributeType::NeverExtractable,
                    AttributeType::Local,
                ],
            )
            .map_err(HsmError::call("C_GetAttributeValue"))?;
        let mut p = KeyProtection {
            token: false,
            private: false,
            sensitive: false,
            extractable: true,
            always_sensitive: false,
            never_extractable: false,
            local: false,
        };
        for a in attrs {
            match a {
                Attribute::Token(v) => p.token = v,
                Attribute::Private(v) => p.private = v,
                Attribute::Sensitive(v) => p.sensitive = v,
                Attribute::Extractable(v) => p.extractable = v,
                Attribute::AlwaysSensitive(v) => p.always_sensitive = v,
                Attribute::NeverExtractable(v) => p.never_extractable = v,
                Attribute::Local(v) => p.local = v,
                _ => {}
            }
        }
        Ok(p)
    }

    fn read_public_key(
        &self,
        public: ObjectHandle,
        key_type: KeyType,
    ) -> Result<PublicKey, HsmError> {
        read_public_key(&self.session, public, key_type)
    }
}

/// The public key of the object `public`, which must be a `key_type` key.
fn read_public_key(
    session: &Session,
    public: ObjectHandle,
    key_type: KeyType,
) -> Result<PublicKey, HsmError> {
    let bad = |detail: String| HsmError::Pkcs11 {
        op: "reading the public key",
        detail,
    };
    let wanted = [
        AttributeType::KeyType,
        AttributeType::EcParams,
        AttributeType::EcPoint,
        AttributeType::Modulus,
        AttributeType::PublicExponent,
    ];
    // Ask only for the attributes of the expected kind, so the module never answers
    // "attribute type invalid".
    let wanted: Vec<_> = match key_type.ec_params_der() {
        Some(_) => wanted[..3].to_vec(),
        None => vec![wanted[0], wanted[3], wanted[4]],
    };
    let attrs = session
        .get_attributes(public, &wanted)
        .map_err(HsmError::call("C_GetAttributeValue"))?;
    let (mut ck_type, mut params, mut point, mut modulus, mut exponent) =
        (None, None, None, None, None);
    for a in attrs {
        match a {
            Attribute::KeyType(t) => ck_type = Some(t),
            Attribute::EcParams(v) => params = Some(v),
            Attribute::EcPoint(v) => point = Some(v),
            Attribute::Modulus(v) => modulus = Some(v),
            Attribute::PublicExponent(v) => exponent = Some(v),
            _ => {}
        }
    }
    match key_type.ec_params_der() {
        Some(expected_params) => {
            if ck_type != Some(CkKeyType::EC) || params.as_deref() != Some(expected_params) {
                return Err(bad(format!("the key is not a {key_type} key")));
            }
            let point = point.ok_or_else(|| bad("no CKA_EC_POINT".into()))?;
            let field = key_type.ec_field_len().unwrap_or_default();
            Ok(PublicKey::new(
                key_type.alg(),
                unwrap_ec_point(&point, field).map_err(bad)?,
            ))
        }
        None => {
            let (Some(n), Some(e)) = (modulus, exponent) else {
                return Err(bad("no CKA_MODULUS / CKA_PUBLIC_EXPONENT".into()));
            };
            if ck_type != Some(CkKeyType::RSA) {
                return Err(bad(format!("the key is not a {key_type} key")));
            }
            let bits = significant_bits(&n);
            if Some(bits) != key_type.rsa_bits() {
                return Err(bad(format!(
                    "the modulus has {bits} bits, not the {key_type} expected"
                )));
            }
            let der = yasna::construct_der(|w| {
                w.write_sequence(|w| {
                    w.next().write_bigint_bytes(&n, true);
                    w.next().write_bigint_bytes(&e, true);
                })
            });
            Ok(PublicKey::new(KeyAlg::Rsa { bits: bits as u32 }, der))
        }
    }
}

fn significant_bits(be: &[u8]) -> usize {
    let first = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    match be.get(first) {
        Some(b) => (be.len() - first - 1) * 8 + (8 - b.leading_zeros() as usize),
        None => 0,
    }
}

/// `CKA_EC_POINT` is a DER OCTET STRING around the uncompressed point (PKCS#11 v2.40 §2.3.3);
/// some modules hand back the bare point. Accept either, check the point's shape.
fn unwrap_ec_point(value: &[u8], field_len: usize) -> Result<Vec<u8>, String> {
    let expected = 1 + 2 * field_len;
    let point = if value.len() == expected && value[0] == 0x04 {
        value.to_vec()
    } else {
        yasna::parse_der(value, |r| r.read_bytes())
            .map_err(|e| format!("CKA_EC_POINT is neither a point nor an OCTET STRING: {e}"))?
    };
    if point.len() != expected || point[0] != 0x04 {
        return Err(format!(
            "CKA_EC_POINT holds {} bytes, not an uncompressed point of {expected}",
            point.len()
        ));
    }
    Ok(point)
}

/// A key pair on the token, usable for signing in the session that found it.
pub struct TokenKey<'s> {
    session: &'s Session,
    private: ObjectHandle,
    public: ObjectHandle,
    label: String,
    id: Vec<u8>,
    key_type: KeyType,
    mech: SignMech,
    public_key: PublicKey,
}

impl TokenKey<'_> {
    /// The key's CKA_LABEL.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The key's CKA_ID.
    pub fn id(&self) -> &[u8] {
        &self.id
    }

    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The signing mechanism chosen for this module, e.g. `CKM_ECDSA (hashed by rootvault)`.
    pub fn mechanism(&self) -> &'static str {
        self.mech.describe()
    }
}

impl RawSigner for TokenKey<'_> {
    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignFailure> {
        let fail = |e: CkError| SignFailure(format!("the token could not sign: {}", describe(&e)));
        let p384 = self.key_type == KeyType::EcdsaP384;
        let sign = |mechanism: &Mechanism, data: &[u8]| {
            self.session
                .sign(mechanism, self.private, data)
                .map_err(fail)
        };
        let ecdsa = |rs: Vec<u8>| {
            let half = self.key_type.ec_field_len().unwrap_or_default();
            ecdsa_rs_to_der(&rs, half)
        };
        match self.mech {
            SignMech::EcdsaPrehashed => {
                let digest = if p384 {
                    Sha384::digest(msg).to_vec()
                } else {
                    Sha256::digest(msg).to_vec()
                };
                ecdsa(sign(&Mechanism::Ecdsa, &digest)?)
            }
            SignMech::EcdsaHashing => {
                let mechanism = if p384 {
                    Mechanism::EcdsaSha384
                } else {
                    Mechanism::EcdsaSha256
                };
                ecdsa(sign(&mechanism, msg)?)
            }
            SignMech::Sha256RsaPkcs => sign(&Mechanism::Sha256RsaPkcs, msg),
            SignMech::RsaPkcsDigestInfo => {
                let mut info = SHA256_DIGEST_INFO_PREFIX.to_vec();
                info.extend_from_slice(&Sha256::digest(msg));
                sign(&Mechanism::RsaPkcs, &info)
            }
        }
    }
}

/// DER `DigestInfo { sha256, NULL }` up to the digest (RFC 8017 §9.2 note 1).
const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// PKCS#11 returns ECDSA signatures as fixed-width `r || s` (v2.40 §2.3.1); X.509 wants
/// `Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (RFC 3279 §2.2.3). Some modules
/// hand back that DER already: accepted too, once its integers are checked against the curve,
/// and re-encoded minimally.
fn ecdsa_rs_to_der(sig: &[u8], half: usize) -> Result<Vec<u8>, SignFailure> {
    let (r, s) = if sig.len() == 2 * half {
        let (r, s) = sig.split_at(half);
        (r.to_vec(), s.to_vec())
    } else {
        let parsed = yasna::parse_der(sig, |rd| {
            rd.read_sequence(|rd| {
                let r = rd.next().read_bigint_bytes()?;
                let s = rd.next().read_bigint_bytes()?;
                Ok((r, s))
            })
        });
        let fits = |(v, positive): &(Vec<u8>, bool)| {
            *positive && v.iter().skip_while(|&&b| b == 0).count() <= half
        };
        match parsed {
            Ok((r, s)) if fits(&r) && fits(&s) => (r.0, s.0),
            _ => {
                return Err(SignFailure(format!(
                    "the token returned a {}-byte ECDSA signature that is neither r||s ({} bytes) nor a DER SEQUENCE of two {half}-byte integers",
                    sig.len(),
                    2 * half
                )))
            }
        }
    };
    Ok(yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_bigint_bytes(&r, true);
            w.next().write_bigint_bytes(&s, true);
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_halves_become_minimal_der_integers() {
        let mut rs = vec![0u8; 64];
        rs[31] = 1; // r = 1
        rs[32] = 0x80; // s has its top bit set: needs a leading zero
        let der = ecdsa_rs_to_der(&rs, 32).unwrap();
        assert_eq!(&der[..5], &[0x30, 0x26, 0x02, 0x01, 0x01]);
        assert_eq!(&der[5..8], &[0x02, 0x21, 0x00]);
        assert!(ecdsa_rs_to_der(&rs[..63], 32).is_err());
    }

    #[test]
    fn an_ecdsa_signature_already_in_der_is_accepted_and_made_minimal() {
        let mut rs = vec![0u8; 64];
        rs[31] = 1;
        rs[32] = 0x80;
        let minimal = ecdsa_rs_to_der(&rs, 32).unwrap();
        // As a module might send it: the same SEQUENCE, already DER.
        assert_eq!(ecdsa_rs_to_der(&minimal, 32).unwrap(), minimal);
        // Non-minimal leading zeros are not DER: refused by the parser.
        let padded = [0x30, 0x08, 0x02, 0x02, 0x00, 0x01, 0x02, 0x02, 0x00, 0x01];
        assert!(ecdsa_rs_to_der(&padded, 32).is_err());
        // Integers wider than the curve, or negative, are refused.
        let wide = yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next().write_bigint_bytes(&[0x7f; 33], true);
                w.next().write_bigint_bytes(&[1], true);
            })
        });
        let e = ecdsa_rs_to_der(&wide, 32).unwrap_err();
        assert_eq!(
            e.0,
            format!(
                "the token returned a {}-byte ECDSA signature that is neither r||s (64 bytes) nor a DER SEQUENCE of two 32-byte integers",
                wide.len()
            )
        );
        let negative = [0x30, 0x06, 0x02, 0x01, 0xff, 0x02, 0x01, 0x01];
        assert!(ecdsa_rs_to_der(&negative, 32).is_err());
    }

    #[test]
    fn ec_point_is_unwrapped_from_its_octet_string() {
        let point: Vec<u8> = std::iter::once(4)
            .chain(std::iter::repeat_n(7, 64))
            .collect();
        let wrapped = yasna::construct_der(|w| w.write_bytes(&point));
        assert_eq!(unwrap_ec_point(&wrapped, 32).unwrap(), point);
        assert_eq!(unwrap_ec_point(&point, 32).unwrap(), point);
        assert!(unwrap_ec_point(&point[..40], 32).is_err());
    }

    #[test]
    fn modulus_bits_ignore_leading_zero_bytes() {
        assert_eq!(significant_bits(&[0, 0x80, 0]), 16);
        assert_eq!(significant_bits(&[0x01]), 1);
        assert_eq!(significant_bits(&[]), 0);
    }
}
