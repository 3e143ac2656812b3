//! A key pair on the token as the rest of the vault sees it: a [`RawSigner`] whose public key
//! was read from the token, and the encodings between PKCS#11 and X.509.

use cryptoki::error::Error as CkError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType as CkKeyType, ObjectHandle};
use cryptoki::session::Session;
use sha2::{Digest, Sha256, Sha384};

use super::{describe, HsmError, SignMech};
use crate::keys::{KeyAlg, KeyType, PublicKey, RawSigner, SignFailure};

/// The public key of the object `public`, which must be a `key_type` key.
pub(super) fn read_public_key(
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

pub(super) fn significant_bits(be: &[u8]) -> usize {
    let first = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    match be.get(first) {
        Some(b) => (be.len() - first - 1) * 8 + (8 - b.leading_zeros() as usize),
        None => 0,
    }
}

/// `CKA_EC_POINT` is a DER OCTET STRING around the uncompressed point (PKCS#11 v2.40 §2.3.3);
/// some modules hand back the bare point. Accept either, check the point's shape.
pub(super) fn unwrap_ec_point(value: &[u8], field_len: usize) -> Result<Vec<u8>, String> {
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
    pub(super) session: &'s Session,
    pub(super) private: ObjectHandle,
    pub(super) public: ObjectHandle,
    pub(super) label: String,
    pub(super) id: Vec<u8>,
    pub(super) key_type: KeyType,
    pub(super) mech: SignMech,
    pub(super) public_key: PublicKey,
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
pub(super) const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// PKCS#11 returns ECDSA signatures as fixed-width `r || s` (v2.40 §2.3.1); X.509 wants
/// `Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (RFC 3279 §2.2.3). Some modules
/// hand back that DER already: accepted too, once its integers are checked against the curve,
/// and re-encoded minimally.
pub(super) fn ecdsa_rs_to_der(sig: &[u8], half: usize) -> Result<Vec<u8>, SignFailure> {
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
