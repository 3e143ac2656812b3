//! Certificate profiles, the linter, and the signing path that cannot skip it.
//!
//! A certificate goes through three types, in an order the compiler enforces:
//! [`Draft`] (what policy approved) → [`LintedTbs`] (made only by [`lint`], which signs the
//! draft with a throwaway key and checks the result) → [`IssuedCertificate`] (made only by
//! [`sign`], which has the real signer sign the very bytes that were linted, then verifies
//! the signature and lints the result again).

mod crl;
mod csr;
mod dn;
mod lint;
pub mod material;
mod profile;
mod request;

pub use crl::{lint_crl, sign_crl, CrlDraft, CrlEntry, IssuedCrl, LintedCrl, RevocationReason};
pub use csr::{certificate_public_key, Csr, CsrError, RequestedExtension, MAX_CSR_BYTES};
pub use dn::{Attr, Dn};
pub use lint::{lint, sign, sign_tbs, IssuedCertificate, LintedTbs, SignedTbs};
pub use profile::{CaProfile, Draft, IpRange, Issuing, NameConstraintsSpec, Serial};
pub use request::sign_request;

/// DER as one PEM block labelled `tag`: 64-column base64 and `\n` line endings, byte for byte
/// what OpenSSL writes. The one place rootvault makes PEM.
pub fn to_pem(tag: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// A DER certificate as PEM ([`to_pem`]).
pub fn certificate_pem(der: &[u8]) -> String {
    to_pem("CERTIFICATE", der)
}

/// What went wrong building, linting, signing or verifying a certificate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// The profile's values cannot make a certificate (a bug or a bad configuration).
    #[error("cannot build the certificate: {0}")]
    Build(String),
    /// The lint copy broke a rule; nothing was signed by the token.
    #[error("lint failed, nothing was signed: {rule}: {detail}")]
    Lint {
        /// The rule and the clause it enforces.
        rule: &'static str,
        /// What was found.
        detail: String,
    },
    /// The signer failed.
    #[error("signing failed, nothing was recorded: {0}")]
    Signing(String),
    /// The signed certificate did not verify or differed from what was linted.
    #[error("the signed certificate failed verification, it was not recorded or written: {0}")]
    Verification(String),
}

impl CertError {
    /// Whether this is a refusal of the caller's input (exit code 3) rather than a failure.
    pub fn is_input_rejection(&self) -> bool {
        false
    }
}
