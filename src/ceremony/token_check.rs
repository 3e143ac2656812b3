//! `token check`: before a ceremony, what a PKCS#11 module can do for a vault. Works without
//! a vault: for every key type it generates a throwaway key pair, signs with it, verifies the
//! signature in software and reads back the private key's protection; it stores, reads,
//! changes and removes a private data object and checks that the object is hidden without
//! login. Everything it makes is destroyed again, also when a step fails.

use std::path::Path;

use serde::{Serialize, Serializer};

use crate::error::Result;
use crate::hsm::{
    HsmError, KeyProtection, Module, Token, TokenSelector, TokenSummary, UserSession,
};
use crate::keys::{sha256_hex, KeyType, RawSigner};
use crate::pin::PinSource;

/// The key type every vault needs whatever its root: the audit key, which signs each ledger
/// checkpoint, is ECDSA P-256.
pub const AUDIT_KEY_TYPE: KeyType = KeyType::EcdsaP256;

/// What a module can do for a vault (`token check --json`).
#[derive(Debug, Clone, Serialize)]
pub struct TokenCheckReport {
    /// The module can host a vault in full (`hosting` is `full`), with a root of the key
    /// type asked for, if one was.
    pub ok: bool,
    /// The root key type the operator plans (`--key-type`), if given.
    #[serde(serialize_with = "opt_name")]
    pub wanted_key_type: Option<KeyType>,
    /// `full`: every capability a vault needs is there. `weaker`: keys work, but the token
    /// cannot keep private data objects, so it cannot protect the ledger's head; a vault on
    /// it is possible only in an explicitly weaker mode. `none`: it cannot host a vault.
    pub hosting: Hosting,
    /// What keeps the module from hosting a vault in full (empty when `ok`).
    pub missing: Vec<String>,
    /// The key types a root could have on this token, in the CLI's order.
    #[serde(serialize_with = "names")]
    pub root_key_types: Vec<KeyType>,
    /// The module's path.
    pub module: String,
    /// SHA-256 of the module file (what an operator approves).
    pub module_sha256: String,
    /// The token, as it describes itself.
    pub token: TokenSummary,
    /// Per key type, in the CLI's order.
    #[serde(serialize_with = "as_map")]
    pub key_types: Vec<(KeyType, KeyTypeCheck)>,
    /// Private data objects (the token-held ledger state).
    pub data_objects: DataObjectCheck,
}

/// How far a module can host a vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Hosting {
    /// Everything a vault needs.
    Full,
    /// Keys, but no private data objects.
    Weaker,
    /// Not at all.
    None,
}

/// One key type on this module.
#[derive(Debug, Clone, Serialize)]
pub struct KeyTypeCheck {
    /// Generation, signing and protection all work.
    pub ok: bool,
    /// Capabilities that are missing: `generate`, `sign`, `sensitive`, `never-extractable`,
    /// `private`, `local`, `destroy`.
    pub missing: Vec<&'static str>,
    /// What the module said, one line per problem.
    pub details: Vec<String>,
    /// The signing mechanism the vault uses on this module, when a key was generated.
    pub mechanism: Option<&'static str>,
    /// The throwaway private key's protection, as the token reported it.
    pub protection: Option<KeyProtection>,
}

/// Private data objects on this module.
#[derive(Debug, Clone, Serialize)]
pub struct DataObjectCheck {
    /// Every step worked.
    pub ok: bool,
    /// Capabilities that are missing: `create`, `read`, `modify`, `hidden-without-login`,
    /// `destroy`.
    pub missing: Vec<&'static str>,
    /// What the module said, one line per problem.
    pub details: Vec<String>,
}

// Key types by their CLI names (`rsa-4096`), as everywhere in the CLI's JSON.
fn opt_name<S: Serializer>(k: &Option<KeyType>, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_some(&k.map(KeyType::name))
}

fn names<S: Serializer>(ks: &[KeyType], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(ks.iter().map(|k| k.name()))
}

fn as_map<S: Serializer>(
    entries: &[(KeyType, KeyTypeCheck)],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_map(entries.iter().map(|(k, v)| (k.name(), v)))
}

/// Checks what the module at `module` can do for a vault on the token `token` (a label or a
/// `pkcs11:` URI), logging in with the PIN from `pins`; with `wanted`, also whether a root of
/// that key type can be made there. `progress` is told each step.
pub fn token_check(
    module: &Path,
    token: &str,
    pins: &PinSource,
    wanted: Option<KeyType>,
    mut progress: impl FnMut(&str),
) -> Result<TokenCheckReport> {
    let selector = TokenSelector::parse(token)?;
    let loaded = Module::load(module)?;
    let module_sha256 = std::fs::read(module)
        .map(|b| sha256_hex(&b))
        .map_err(|e| crate::Error::io("cannot read the PKCS#11 module", module, e))?;
    let pin = pins.read()?;
    let token = loaded.open_token(&selector)?;
    let session = token.login(&pin)?;

    let mut key_types = Vec::new();
    for key_type in KeyType::ALL {
        progress(&format!("checking {key_type} keys"));
        key_types.push((key_type, check_key_type(&session, key_type)?));
    }
    progress("checking private data objects");
    let data_objects = check_data_objects(&token, session, &pin)?;
    drop(pin);

    let root_key_types: Vec<KeyType> = key_types
        .iter()
        .filter(|(_, c)| c.ok)
        .map(|(k, _)| *k)
        .collect();
    let mut missing = Vec::new();
    let keys_ok = root_key_types.contains(&AUDIT_KEY_TYPE);
    if !keys_ok {
        missing.push(format!(
            "{AUDIT_KEY_TYPE} keys (every vault's audit key, which signs the ledger's checkpoints, is {AUDIT_KEY_TYPE})"
        ));
    }
    if let Some(w) = wanted.filter(|w| !root_key_types.contains(w)) {
        let missing_of_w = key_types
            .iter()
            .find(|(k, _)| *k == w)
            .map(|(_, c)| c.missing.join(", "))
            .unwrap_or_default();
        missing.push(format!(
            "{w} keys, the root key type asked for ({missing_of_w})"
        ));
    }
    if !data_objects.ok {
        missing.push(format!(
            "private data objects ({}): the token cannot keep the ledger's attested head",
            data_objects.missing.join(", ")
        ));
    }
    let hosting = match (keys_ok, data_objects.ok) {
        (true, true) => Hosting::Full,
        (true, false) => Hosting::Weaker,
        (false, _) => Hosting::None,
    };
    Ok(TokenCheckReport {
        ok: hosting == Hosting::Full && wanted.is_none_or(|w| root_key_types.contains(&w)),
        wanted_key_type: wanted,
        hosting,
        missing,
        root_key_types,
        module: loaded.path().display().to_string(),
        module_sha256,
        token: token.summary().clone(),
        key_types,
        data_objects,
    })
}

/// A label no vault uses, so the check never touches an existing object.
fn throwaway_label(session: &UserSession) -> Result<String> {
    Ok(format!(
        "rootvault-check-{}",
        hex::encode(session.random(8)?)
    ))
}

fn check_key_type(session: &UserSession, key_type: KeyType) -> Result<KeyTypeCheck> {
    let mut c = KeyTypeCheck {
        ok: false,
        missing: Vec::new(),
        details: Vec::new(),
        mechanism: None,
        protection: None,
    };
    let gaps = session.missing_mechanisms(key_type)?;
    if !gaps.is_empty() {
        for g in gaps {
            if !c.missing.contains(&g.capability) {
                c.missing.push(g.capability);
            }
            c.details
                .push(format!("{}: {} not offered", g.capability, g.detail));
        }
        return Ok(c);
    }
    let label = throwaway_label(session)?;
    let key = match session.generate_key_pair(key_type, &label) {
        Ok(key) => key,
        Err(e @ HsmError::KeyTypeUnsupported { .. }) | Err(e @ HsmError::Pkcs11 { .. }) => {
            c.missing.push("generate");
            c.details.push(format!("generate: {e}"));
            return Ok(c);
        }
        Err(e) => return Err(e.into()),
    };
    c.mechanism = Some(key.mechanism());

    // Whatever happens below, the key is destroyed afterwards.
    let probe = (|| -> std::result::Result<(), HsmError> {
        let p = session.protection(&key)?;
        c.protection = Some(p);
        let mut lacks = |ok: bool, name: &'static str, what: String| {
            if !ok {
                c.missing.push(name);
                c.details.push(format!("{name}: {what}"));
            }
        };
        lacks(
            p.sensitive && p.always_sensitive,
            "sensitive",
            format!(
                "CKA_SENSITIVE is {}, CKA_ALWAYS_SENSITIVE is {}",
                p.sensitive, p.always_sensitive
            ),
        );
        lacks(
            !p.extractable && p.never_extractable,
            "never-extractable",
            format!(
                "CKA_EXTRACTABLE is {}, CKA_NEVER_EXTRACTABLE is {}",
                p.extractable, p.never_extractable
            ),
        );
        lacks(
            p.private && p.token,
            "private",
            format!("CKA_PRIVATE is {}, CKA_TOKEN is {}", p.private, p.token),
        );
        lacks(
            p.local,
            "local",
            "CKA_LOCAL is false: the token does not say it generated the key".into(),
        );
        let msg = b"rootvault token check: a throwaway signature";
        match key.sign(msg) {
            Ok(sig) if key.public_key().verifies(msg, &sig) => {}
            Ok(_) => {
                c.missing.push("sign");
                c.details.push(format!(
                    "sign: the signature made with {} does not verify with the key's public half",
                    key.mechanism()
                ));
            }
            Err(e) => {
                c.missing.push("sign");
                c.details.push(format!("sign: {e}"));
            }
        }
        Ok(())
    })();
    if let Err(e) = session.destroy_key_pair(key) {
        c.missing.push("destroy");
        c.details.push(format!(
            "destroy: the throwaway key pair labelled {label:?} could not be removed ({e}); delete it with pkcs11-tool --delete-object"
        ));
    }
    probe?;
    c.ok = c.missing.is_empty();
    Ok(c)
}

/// Takes the session: the check logs out (to look without login) and in again.
fn check_data_objects(
    token: &Token,
    session: UserSession,
    pin: &secrecy::SecretString,
) -> Result<DataObjectCheck> {
    let mut c = DataObjectCheck {
        ok: false,
        missing: Vec::new(),
        details: Vec::new(),
    };
    let label = throwaway_label(&session)?;
    let first = session.random(32)?;
    let second = session.random(48)?;
    let lacks = |c: &mut DataObjectCheck, name: &'static str, what: String| {
        c.missing.push(name);
        c.details.push(format!("{name}: {what}"));
    };

    if let Err(e) = session.write_data_object(&label, &first) {
        lacks(&mut c, "create", e.to_string());
        let _ = session.destroy_data_object(&label);
        return Ok(c);
    }
    match session.read_data_object(&label) {
        Ok(Some(v)) if v == first => {}
        Ok(Some(_)) => lacks(&mut c, "read", "the value read back differs".into()),
        Ok(None) => lacks(&mut c, "read", "the object is not found again".into()),
        Err(e) => lacks(&mut c, "read", e.to_string()),
    }
    match session
        .write_data_object(&label, &second)
        .and_then(|()| session.read_data_object(&label))
    {
        Ok(Some(v)) if v == second => {}
        Ok(_) => lacks(
            &mut c,
            "modify",
            "the new value is not what is read back".into(),
        ),
        Err(e) => lacks(&mut c, "modify", e.to_string()),
    }

    // Without login a module must not show the object at all. Logging out ends the login
    // of every session, so the check logs in again afterwards.
    session.logout()?;
    let visible = token.public_session()?.sees_data_object(&label);
    let session = token.login(pin)?;
    match visible {
        Ok(false) => {}
        Ok(true) => lacks(
            &mut c,
            "hidden-without-login",
            "a session without login finds the object".into(),
        ),
        Err(e) => lacks(&mut c, "hidden-without-login", e.to_string()),
    }

    match session.destroy_data_object(&label) {
        Ok(true) => match session.read_data_object(&label) {
            Ok(None) => {}
            _ => lacks(&mut c, "destroy", "the object is still there".into()),
        },
        Ok(false) => lacks(&mut c, "destroy", "the object was gone before".into()),
        Err(e) => lacks(&mut c, "destroy", e.to_string()),
    }
    c.ok = c.missing.is_empty();
    Ok(c)
}
