//! A certificate signing request for a key the vault holds (`root csr`): the subject and the
//! token key's public half, signed by the token, then read back through the same intake every
//! CSR passes (self-signature verified, key from its SubjectPublicKeyInfo) and compared with
//! the key that signed it.

use rcgen::{CertificateParams, PublicKeyData, SignatureAlgorithm, SigningKey};

use super::{CertError, Csr, Dn};
use crate::keys::RawSigner;

/// rcgen's view of the token key: its public half and its signature.
struct TokenSigner<'a, S: RawSigner> {
    signer: &'a S,
    alg: &'static SignatureAlgorithm,
}

impl<S: RawSigner> PublicKeyData for TokenSigner<'_, S> {
    fn der_bytes(&self) -> &[u8] {
        self.signer.public_key().raw()
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.alg
    }
}

impl<S: RawSigner> SigningKey for TokenSigner<'_, S> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.signer
            .sign(msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

/// A DER PKCS#10 request for `subject` and `signer`'s key, signed by `signer`, with no
/// extensions requested (the enterprise CA decides the profile), checked by [`Csr::intake`].
pub fn sign_request(subject: &Dn, signer: &impl RawSigner) -> Result<Vec<u8>, CertError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = subject.to_rcgen().map_err(CertError::Build)?;
    let key = TokenSigner {
        signer,
        alg: signer.public_key().alg().signature_algorithm(),
    };
    let csr = params
        .serialize_request(&key)
        .map_err(|e| CertError::Signing(format!("the token could not sign the request: {e}")))?;
    let der = csr.der().to_vec();
    let checked = Csr::intake(&der).map_err(|e| {
        CertError::Verification(format!("the request the token signed does not verify: {e}"))
    })?;
    if checked.public_key().spki_der() != signer.public_key().spki_der() {
        return Err(CertError::Verification(
            "the request carries another key than the one that signed it".into(),
        ));
    }
    Ok(der)
}
