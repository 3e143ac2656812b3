//! The one sequence every intermediate the root issues goes through: draft → lint → the token
//! signs → verify, then the `certificate_issued` event. `sign` and `export --generate-key` run
//! it through [`certify`]; `sign-batch` runs the same three stages ([`draft_and_lint`],
//! [`token_sign`], [`verify`]) as a pipeline. Finding the root key and drawing serials live
//! here too: every use of the root key goes through [`find_root_key`].

use std::str::FromStr;

use base64::Engine as _;

use super::audit::Attestor;
use super::{rfc3339, witness, Operator};
use crate::error::{Error, Result};
use crate::hsm::TokenKey;
use crate::keys::{sha256_hex, KeyType, PublicKey, RawSigner};
use crate::ledger::{CertificateIssued, CertificateRecord, Event, Ledger, LedgerError, RootRecord};
use crate::policy::{ClusterName, IntermediateProfile};
use crate::x509::{self, Draft, IssuedCertificate, Issuing, LintedTbs, Serial, SignedTbs};

/// Logs in, finds the root key, drafts, lints, has the token sign and verifies: the
/// certificate for `subject_key` under `profile`. Records nothing.
pub(super) fn certify(
    session: &crate::hsm::UserSession,
    attestor: &Attestor<'_>,
    ledger: &Ledger,
    root: &RootRecord,
    subject_key: &PublicKey,
    profile: &IntermediateProfile,
) -> Result<(IssuedCertificate, CertificateRecord)> {
    // Only the generation the token attested active issues intermediates.
    super::verified::issuing(root, &attestor.state())?;
    let root_key = find_root_key(session, root, attestor)?;
    certify_with(session, &root_key, ledger, root, subject_key, profile)
}

/// [`certify`] with the root key already found: the three stages in order.
fn certify_with(
    session: &crate::hsm::UserSession,
    root_key: &TokenKey<'_>,
    ledger: &Ledger,
    root: &RootRecord,
    subject_key: &PublicKey,
    profile: &IntermediateProfile,
) -> Result<(IssuedCertificate, CertificateRecord)> {
    let serial = fresh_serial(ledger, session)?;
    let linted = draft_and_lint(root, root_key.public_key(), subject_key, profile, serial)?;
    let (draft, issued) = verify(token_sign(linted, root_key)?)?;
    let record = record_of(&draft, &issued);
    Ok((issued, record))
}

/// Stage one: the draft of the intermediate, linted. Nothing is signed yet.
pub(super) fn draft_and_lint(
    root: &RootRecord,
    root_public: &PublicKey,
    subject_key: &PublicKey,
    profile: &IntermediateProfile,
    serial: Serial,
) -> Result<LintedTbs> {
    let linted = x509::lint(draft_intermediate(
        root,
        root_public,
        subject_key,
        profile,
        serial,
    )?)?;
    crate::fault::point("sign.after_lint");
    Ok(linted)
}

/// Stage two: the token signs the linted TBSCertificate.
pub(super) fn token_sign(linted: LintedTbs, root_key: &TokenKey<'_>) -> Result<SignedTbs> {
    let signed = x509::sign_tbs(linted, root_key)?;
    crate::fault::point("sign.after_token_sign");
    Ok(signed)
}

/// Stage three: the signature checked with the root's public key and the certificate parsed
/// back against its draft; only this makes an [`IssuedCertificate`].
pub(super) fn verify(signed: SignedTbs) -> Result<(Draft, IssuedCertificate)> {
    let draft = signed.draft().clone();
    Ok((draft, signed.verify()?))
}

/// The draft of an intermediate for `subject_key` under `profile`, issued by the root.
pub(super) fn draft_intermediate(
    root: &RootRecord,
    root_public: &PublicKey,
    subject_key: &PublicKey,
    profile: &IntermediateProfile,
    serial: Serial,
) -> Result<Draft> {
    Ok(Draft::new(
        serial,
        profile.subject.clone(),
        subject_key.clone(),
        Issuing::ByCa {
            der: root.der.clone(),
            key: root_public.clone(),
        },
        profile.not_before,
        profile.not_after,
        profile.extensions(),
    )?)
}

/// What the ledger records of a certificate issued from `draft`.
pub(super) fn record_of(draft: &Draft, issued: &IssuedCertificate) -> CertificateRecord {
    let subject_key = draft.subject_key();
    CertificateRecord {
        serial: draft.serial().hex(),
        subject: draft.subject().to_string(),
        not_before: rfc3339(draft.not_before()),
        not_after: rfc3339(draft.not_after()),
        key_type: subject_key.alg().name(),
        spki_sha256: subject_key.spki_sha256_hex(),
        sha256: sha256_hex(issued.der()),
        der_base64: base64::engine::general_purpose::STANDARD.encode(issued.der()),
    }
}

/// The `certificate_issued` event for a certificate made by [`certify`].
pub(super) fn issued_event(
    cluster: &ClusterName,
    record: &CertificateRecord,
    key_source: &str,
    csr_sha256: Option<String>,
    profile: &IntermediateProfile,
    generation: u32,
) -> Event {
    Event::CertificateIssued(CertificateIssued {
        cluster: cluster.to_string(),
        generation,
        certificate: record.clone(),
        key_source: key_source.to_owned(),
        csr_sha256,
        profile: profile.approved(),
    })
}

/// Appends `events` (the first a `certificate_issued`) in one transaction, refusing a serial
/// the vault has already used.
pub(super) fn record_issue(
    ledger: &mut Ledger,
    operator: &Operator,
    events: &[Event],
    attestor: &Attestor<'_>,
    attested: &witness::Attested,
) -> Result<()> {
    let tx = attestor.take(attested.begin(ledger, operator)?)?;
    for event in events {
        if let Event::CertificateIssued(c) = event {
            if tx.serial_exists(&c.certificate.serial)? {
                return Err(Error::SerialCollision(c.certificate.serial.clone()));
            }
        }
        tx.append(&operator.0, event)?;
    }
    attestor.commit(tx)?;
    Ok(())
}

/// Finds the vault's root key on the token and checks it is the key of the root certificate,
/// and that certificate the one the token attested (`attestor`'s state): whatever the token
/// signs names as its issuer the root the token made, never one put into the ledger.
pub(super) fn find_root_key<'s>(
    session: &'s crate::hsm::UserSession,
    root: &RootRecord,
    attestor: &Attestor<'_>,
) -> Result<TokenKey<'s>> {
    super::verified::root(root, &attestor.state())?;
    let key_type = KeyType::from_str(&root.certificate.key_type)
        .map_err(|e| LedgerError::malformed("the root's key type", e))?;
    let id =
        hex::decode(&root.key_id).map_err(|e| LedgerError::malformed("the root's key id", e))?;
    let key = session.find_key_pair(key_type, &root.key_label, &id)?;
    if key.public_key().spki_sha256_hex() != root.certificate.spki_sha256 {
        return Err(Error::RootKeyMismatch(root.key_label.clone()));
    }
    Ok(key)
}

/// A serial from the token's RNG that the vault has never issued.
pub(super) fn fresh_serial(ledger: &Ledger, session: &crate::hsm::UserSession) -> Result<Serial> {
    for _ in 0..4 {
        let bytes: [u8; 16] = session
            .random(16)?
            .try_into()
            .expect("the token returned the 16 bytes asked for");
        let serial = Serial::from_random(bytes);
        if !ledger.serial_issued(&serial.hex())? {
            return Ok(serial);
        }
    }
    Err(Error::RngRepeats)
}
