//! What a signature or an export is built from, proven against what the token attested
//! (`state.rs`) rather than read from tables anyone with the vault's files could edit: the
//! revocations a CRL lists, the root an export carries as its trust anchor, the intermediate
//! it hands out. Each check costs what the rows it proves cost to read, never a walk of the
//! whole ledger.

use std::collections::BTreeSet;

use super::state::{revocation_step, Mismatch, TokenState};
use crate::error::Result;
use crate::keys::sha256_hex;
use crate::ledger::{CertificateRow, Ledger, RevocationRow, RootRecord, GENESIS};

/// Every revocation, in ledger order, proven equal to the revocations the token counted and
/// digested: a row removed, added or altered is refused (exit 4).
pub(crate) fn revocations(ledger: &Ledger, state: &TokenState) -> Result<Vec<RevocationRow>> {
    let rows = ledger.revocations()?;
    let digest = rows.iter().fold(GENESIS.to_owned(), |d, r| {
        revocation_step(&d, &r.serial, &r.reason, &r.revoked_at)
    });
    if rows.len() as u64 != state.revocations || digest != state.revocations_digest {
        return Err(Mismatch::Derived(format!(
            "the ledger's revocations are not the ones the token attested ({} in the ledger, {} attested, digests {}): a revocation was removed or altered",
            rows.len(),
            state.revocations,
            if digest == state.revocations_digest { "equal" } else { "differ" }
        ))
        .into());
    }
    Ok(rows)
}

/// The serials revoked, proven as [`revocations`].
pub(crate) fn revoked_serials(ledger: &Ledger, state: &TokenState) -> Result<BTreeSet<String>> {
    Ok(revocations(ledger, state)?
        .into_iter()
        .map(|r| r.serial)
        .collect())
}

/// The root certificate is the one the token attested when it was made.
pub(crate) fn root(root: &RootRecord, state: &TokenState) -> Result<()> {
    let found = sha256_hex(&root.der);
    match state.roots.get(&1) {
        Some(attested) if *attested == found => Ok(()),
        Some(attested) => Err(Mismatch::Derived(format!(
            "the ledger's root certificate (SHA-256 {found}) is not the one the token attested ({attested}): the root was replaced"
        ))
        .into()),
        None => Err(Mismatch::Derived(
            "the ledger has a root, but the token attested none: the root was added without the token".into(),
        )
        .into()),
    }
}

/// The intermediate was signed by the root (its signature verifies with the root's key) and
/// is the certificate its row describes.
pub(crate) fn intermediate(row: &CertificateRow, root: &RootRecord) -> Result<()> {
    use x509_parser::prelude::FromDer;
    let bad = |why: String| -> crate::Error {
        Mismatch::Derived(format!(
            "the ledger's certificate {} {why}: the certificate was replaced",
            row.record.serial
        ))
        .into()
    };
    let (_, root_cert) = x509_parser::certificate::X509Certificate::from_der(&root.der)
        .map_err(|e| bad(format!("cannot be checked: its root does not parse ({e})")))?;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&row.der)
        .map_err(|e| bad(format!("does not parse ({e})")))?;
    cert.verify_signature(Some(root_cert.public_key()))
        .map_err(|_| bad("was not signed by the vault's root".into()))?;
    if sha256_hex(&row.der) != row.record.sha256
        || hex::encode(cert.raw_serial()) != row.record.serial
    {
        return Err(bad("is not what its row says".into()));
    }
    Ok(())
}
