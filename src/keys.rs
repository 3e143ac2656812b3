//! Key types, public keys and the signer trait shared by the token layer and the certificate
//! layer, so that neither has to know the other.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// A key type the root (and the vault's other token keys) can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyType {
    /// ECDSA on NIST P-256, signing with SHA-256.
    EcdsaP256,
    /// ECDSA on NIST P-384, signing with SHA-384.
    EcdsaP384,
    /// RSA with a 3072-bit modulus, PKCS#1 v1.5 with SHA-256.
    Rsa3072,
    /// RSA with a 4096-bit modulus, PKCS#1 v1.5 with SHA-256.
    Rsa4096,
}

impl KeyType {
    /// Every key type, in the order the CLI lists them.
    pub const ALL: [KeyType; 4] = [
        KeyType::EcdsaP384,
        KeyType::EcdsaP256,
        KeyType::Rsa3072,
        KeyType::Rsa4096,
    ];

    /// The name used on the command line, in JSON and in the ledger.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::EcdsaP384 => "ecdsa-p384",
            KeyType::Rsa3072 => "rsa-3072",
            KeyType::Rsa4096 => "rsa-4096",
        }
    }

    /// RSA modulus size in bits, or `None` for an EC key.
    pub fn rsa_bits(self) -> Option<usize> {
        match self {
            KeyType::Rsa3072 => Some(3072),
            KeyType::Rsa4096 => Some(4096),
            KeyType::EcdsaP256 | KeyType::EcdsaP384 => None,
        }
    }

    /// DER encoding of the named curve's OID (for `CKA_EC_PARAMS`), or `None` for RSA.
    pub fn ec_params_der(self) -> Option<&'static [u8]> {
        match self {
            // 1.2.840.10045.3.1.7
            KeyType::EcdsaP256 => {
                Some(&[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07])
            }
            // 1.3.132.0.34
            KeyType::EcdsaP384 => Some(&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22]),
            KeyType::Rsa3072 | KeyType::Rsa4096 => None,
        }
    }

    /// Length in bytes of one ECDSA signature half (`r` or `s`), or `None` for RSA.
    pub fn ec_field_len(self) -> Option<usize> {
        match self {
            KeyType::EcdsaP256 => Some(32),
            KeyType::EcdsaP384 => Some(48),
            KeyType::Rsa3072 | KeyType::Rsa4096 => None,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyType::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = KeyType::ALL.iter().map(|k| k.name()).collect();
                format!("unknown key type {s:?}; choose one of {}", names.join(", "))
            })
    }
}

impl KeyType {
    /// The algorithm and size of a key of this type.
    pub fn alg(self) -> KeyAlg {
        match self {
            KeyType::EcdsaP256 => KeyAlg::EcP256,
            KeyType::EcdsaP384 => KeyAlg::EcP384,
            KeyType::Rsa3072 => KeyAlg::Rsa { bits: 3072 },
            KeyType::Rsa4096 => KeyAlg::Rsa { bits: 4096 },
        }
    }
}

/// The algorithm and size of any public key the vault handles: a token key, or the subject
/// key of a request (which may be, say, RSA-2048, a size the root itself never uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlg {
    /// ECDSA on NIST P-256.
    EcP256,
    /// ECDSA on NIST P-384.
    EcP384,
    /// RSA with a modulus of `bits` bits.
    Rsa {
        /// Modulus length in bits.
        bits: u32,
    },
}

impl KeyAlg {
    /// The name shown to operators and written to JSON: `ecdsa-p384`, `rsa-2048`.
    pub fn name(self) -> String {
        match self {
            KeyAlg::EcP256 => "ecdsa-p256".into(),
            KeyAlg::EcP384 => "ecdsa-p384".into(),
            KeyAlg::Rsa { bits } => format!("rsa-{bits}"),
        }
    }

    /// The signature algorithm whose key OIDs describe this key in a SubjectPublicKeyInfo,
    /// and with which a key of this kind signs.
    pub fn signature_algorithm(self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            KeyAlg::EcP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyAlg::EcP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            KeyAlg::Rsa { .. } => &rcgen::PKCS_RSA_SHA256,
        }
    }
}

impl FromStr for KeyAlg {
    type Err = String;

    /// `ecdsa-p256`, `ecdsa-p384` or `rsa-BITS`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ecdsa-p256" => Ok(KeyAlg::EcP256),
            "ecdsa-p384" => Ok(KeyAlg::EcP384),
            _ => s
                .strip_prefix("rsa-")
                .and_then(|b| b.parse().ok())
                .filter(|bits| (1024..=16384).contains(bits))
                .map(|bits| KeyAlg::Rsa { bits })
                .ok_or_else(|| format!("unknown key type {s:?}; use ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072 or rsa-4096")),
        }
    }
}

impl fmt::Display for KeyAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A public key as X.509 carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    alg: KeyAlg,
    /// Contents of the subjectPublicKey BIT STRING: the EC point, or the RSAPublicKey DER.
    raw: Vec<u8>,
}

impl PublicKey {
    /// A public key from its algorithm and the contents of its subjectPublicKey BIT STRING.
    pub fn new(alg: KeyAlg, raw: Vec<u8>) -> Self {
        PublicKey { alg, raw }
    }

    /// The key's algorithm and size.
    pub fn alg(&self) -> KeyAlg {
        self.alg
    }

    /// The subjectPublicKey bits (EC point or RSAPublicKey DER).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Vec<u8> {
        rcgen::PublicKeyData::subject_public_key_info(self)
    }

    /// SHA-256 of the DER SubjectPublicKeyInfo, lowercase hex: the fingerprint operators
    /// compare (`openssl pkey -pubin -outform DER | sha256sum`).
    pub fn spki_sha256_hex(&self) -> String {
        hex::encode(Sha256::digest(self.spki_der()))
    }

    /// Whether `sig` (an X.509 signature value, as [`RawSigner::sign`] returns it) is this
    /// key's signature over `msg`: ECDSA with the curve's hash, or RSA PKCS#1 v1.5 with
    /// SHA-256.
    pub fn verifies(&self, msg: &[u8], sig: &[u8]) -> bool {
        use ring::signature as rs;
        let alg: &dyn rs::VerificationAlgorithm = match self.alg {
            KeyAlg::EcP256 => &rs::ECDSA_P256_SHA256_ASN1,
            KeyAlg::EcP384 => &rs::ECDSA_P384_SHA384_ASN1,
            KeyAlg::Rsa { .. } => &rs::RSA_PKCS1_2048_8192_SHA256,
        };
        rs::UnparsedPublicKey::new(alg, &self.raw)
            .verify(msg, sig)
            .is_ok()
    }

    /// The key identifier of RFC 7093 section 2, method 1: the leftmost 160 bits of the
    /// SHA-256 hash of the subjectPublicKey BIT STRING value.
    pub fn key_identifier(&self) -> Vec<u8> {
        Sha256::digest(&self.raw)[..20].to_vec()
    }
}

impl rcgen::PublicKeyData for PublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.raw
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.alg.signature_algorithm()
    }
}

/// Something that holds a private key and signs with it: the token, or a throwaway key.
///
/// `sign` returns the final X.509 signature value over `msg`, hashing with the key type's
/// digest: DER `SEQUENCE { r, s }` for ECDSA, the PKCS#1 v1.5 block for RSA.
pub trait RawSigner {
    /// The public half of the signing key.
    fn public_key(&self) -> &PublicKey;
    /// Signs `msg`.
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignFailure>;
}

/// A signature that could not be made, with the signer's own explanation.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct SignFailure(pub String);

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
