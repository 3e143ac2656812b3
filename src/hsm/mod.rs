//! The PKCS#11 token: loading the module, finding the token, logging in, generating keys that
//! never leave it, signing with them and drawing random bytes from its RNG.
//!
//! Nothing outside this module touches cryptoki. The rest of the vault sees a [`TokenKey`]
//! through the [`crate::keys::RawSigner`] trait.

mod data;
mod error;
mod key;
mod mechanism;
mod module_file;
mod uri;

use std::path::{Path, PathBuf};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use secrecy::SecretString;

use crate::keys::{KeyType, PublicKey};

pub use data::DATA_APPLICATION;
use error::describe;
pub use error::HsmError;
use key::read_public_key;
pub use key::TokenKey;
pub use mechanism::MechanismGap;
use mechanism::{plan, SignMech};
pub use module_file::ModuleFile;
pub use uri::{TokenSelector, TokenUri};

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
