//! Which mechanisms a module offers for each key type, asked with C_GetMechanismInfo before
//! anything is generated, and how the token will sign: modules differ, and the difference is
//! handled here, never in a caller.

use cryptoki::context::Pkcs11;
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::MechanismType;
use cryptoki::slot::Slot;

use super::HsmError;
use crate::keys::KeyType;

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
pub(super) enum SignMech {
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
    pub(super) fn describe(self) -> &'static str {
        match self {
            SignMech::EcdsaPrehashed => "CKM_ECDSA (hashed by rootvault)",
            SignMech::EcdsaHashing => "CKM_ECDSA_SHA256/384",
            SignMech::Sha256RsaPkcs => "CKM_SHA256_RSA_PKCS",
            SignMech::RsaPkcsDigestInfo => "CKM_RSA_PKCS (DigestInfo by rootvault)",
        }
    }
}

/// The mechanisms to generate and sign with, or what is missing.
pub(super) fn plan(
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
