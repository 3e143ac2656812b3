//! What a signature or an export is built from, proven against what the token attested
//! (`state.rs`) rather than read from tables anyone with the vault's files could edit: the
//! revocations a CRL lists, the root an export carries as its trust anchor, the intermediate
//! it hands out. Each check costs what the rows it proves cost to read, never a walk of the
//! whole ledger.

use std::collections::BTreeSet;

use super::state::{chain_digest, revocation_step, GenerationState, Mismatch, TokenState};
use crate::error::Result;
use crate::keys::sha256_hex;
use crate::ledger::{CertificateRow, Ledger, RevocationRow, RootRecord, GENESIS};

fn derived(text: String) -> crate::Error {
    Mismatch::Derived(text).into()
}

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

/// The root certificate is the one the token attested when its generation was made.
pub(crate) fn root(root: &RootRecord, state: &TokenState) -> Result<()> {
    let found = sha256_hex(&root.der);
    let g = root.generation;
    match state.roots.get(&g) {
        Some(attested) if *attested == found => Ok(()),
        Some(attested) => Err(derived(format!(
            "the ledger's root certificate of generation {g} (SHA-256 {found}) is not the one the token attested ({attested}): the root was replaced"
        ))),
        None => Err(derived(format!(
            "the ledger has a root of generation {g}, but the token attested none: it was added without the token"
        ))),
    }
}

/// What the token attests of generation `g`.
pub(crate) fn generation(state: &TokenState, g: u32) -> Result<&GenerationState> {
    state.generations.get(&g).ok_or_else(|| {
        derived(format!(
            "the ledger has root generation {g}, but the token attested none: it was added without the token"
        ))
    })
}

/// The root may issue intermediates: its certificate is the one the token attested, and the
/// token attested its generation active.
pub(crate) fn issuing(r: &RootRecord, state: &TokenState) -> Result<()> {
    root(r, state)?;
    let g = generation(state, r.generation)?;
    if g.status != "active" {
        return Err(derived(format!(
            "the ledger says root generation {} is active, but the token attested it {}: the ledger's statuses were altered",
            r.generation, g.status
        )));
    }
    Ok(())
}

/// The generations the token attested active or trusted, the active one first, then the
/// trusted ones newest first: the generations of the trust bundle.
pub(crate) fn trusted_generations(state: &TokenState) -> Vec<u32> {
    let mut out: Vec<u32> = state
        .generations
        .iter()
        .filter(|(_, g)| g.status == "active")
        .map(|(n, _)| *n)
        .collect();
    out.extend(
        state
            .generations
            .iter()
            .rev()
            .filter(|(_, g)| g.status == "trusted")
            .map(|(n, _)| *n),
    );
    out
}

/// Generation `g`'s root, read from the ledger and proven against the token.
pub(crate) fn root_of(ledger: &Ledger, state: &TokenState, g: u32) -> Result<RootRecord> {
    let record = ledger
        .generation(g)?
        .and_then(|r| r.root_record())
        .ok_or_else(|| {
            derived(format!(
                "the token attested root generation {g}, but the ledger's tables have no certificate for it: a row was removed"
            ))
        })?;
    root(&record, state)?;
    Ok(record)
}

/// The chain generation `g`'s certificate was imported with (issuer first, up to and including
/// the anchor), proven against the digest the token keeps; empty for a self-signed root.
pub(crate) fn chain(ledger: &Ledger, state: &TokenState, g: u32) -> Result<Vec<Vec<u8>>> {
    let attested = generation(state, g)?.chain.clone();
    let rows = ledger.root_links(g, "chain")?;
    let found = chain_digest(rows.iter().map(|r| r.sha256.as_str()));
    let bad = |why: &str| {
        derived(format!(
            "the chain of root generation {g} in the ledger {why}: a certificate of it was replaced"
        ))
    };
    match attested {
        None if rows.is_empty() => return Ok(vec![]),
        None => return Err(bad("was added without the token")),
        Some(a) if a != found => return Err(bad("is not the one the token attested")),
        Some(_) => {}
    }
    let mut out = Vec::new();
    for r in rows {
        if sha256_hex(&r.der) != r.sha256 {
            return Err(bad("does not hash to what its rows say"));
        }
        out.push(r.der);
    }
    Ok(out)
}

/// Generation `g`'s cross-certificate (its key certified by the generation before it), proven
/// against the SHA-256 the token keeps.
pub(crate) fn cross(ledger: &Ledger, state: &TokenState, g: u32) -> Result<Option<Vec<u8>>> {
    let attested = generation(state, g)?.cross.clone();
    let row = ledger.root_links(g, "cross")?.into_iter().next();
    match (attested, row) {
        (None, None) => Ok(None),
        (Some(a), Some(r)) if sha256_hex(&r.der) == a => Ok(Some(r.der)),
        _ => Err(derived(format!(
            "the cross-certificate of root generation {g} in the ledger is not the one the token attested: it was replaced"
        ))),
    }
}

/// The certificates above an intermediate of generation `g`, up to and including the anchor:
/// the generation's certificate, then its imported chain, all proven against the token.
pub(crate) fn chain_above(ledger: &Ledger, state: &TokenState, g: u32) -> Result<Vec<Vec<u8>>> {
    let root = root_of(ledger, state, g)?;
    let mut out = vec![root.der];
    out.extend(chain(ledger, state, g)?);
    Ok(out)
}

/// The trust bundle: for each generation the token attested active or trusted (active first),
/// its anchor (the root itself, or the self-signed top of its imported chain), each once.
pub(crate) fn trust_bundle(ledger: &Ledger, state: &TokenState) -> Result<Vec<Vec<u8>>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for g in trusted_generations(state) {
        let anchor = chain_above(ledger, state, g)?
            .pop()
            .expect("a chain holds at least its root");
        if !out.contains(&anchor) {
            out.push(anchor);
        }
    }
    Ok(out)
}

/// The revocations of certificates generation `g` issued, proven as [`revocations`], each
/// certificate's generation proven by its signature (a row moved to another generation would
/// take a revocation off this generation's CRL).
pub(crate) fn revocations_of(
    ledger: &Ledger,
    state: &TokenState,
    g: u32,
) -> Result<Vec<RevocationRow>> {
    let mut roots = std::collections::BTreeMap::new();
    let mut out = Vec::new();
    for r in revocations(ledger, state)? {
        let row = ledger.certificate(&r.serial)?.ok_or_else(|| {
            derived(format!(
                "certificate {} is revoked, but the ledger's tables do not have it: a row was removed",
                r.serial
            ))
        })?;
        let issuer = match roots.entry(row.generation) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(root_of(ledger, state, row.generation)?)
            }
        };
        intermediate(&row, issuer)?;
        if row.generation == g {
            out.push(r);
        }
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn root_record(generation: u32, der: &[u8]) -> RootRecord {
        RootRecord {
            certificate: crate::ledger::CertificateRecord {
                serial: "01".into(),
                subject: "CN=Root".into(),
                not_before: "2026-01-01T00:00:00Z".into(),
                not_after: "2036-01-01T00:00:00Z".into(),
                key_type: "ecdsa-p384".into(),
                spki_sha256: "k".into(),
                sha256: sha256_hex(der),
                der_base64: String::new(),
            },
            der: der.to_vec(),
            key_label: "root".into(),
            key_id: "01".into(),
            generation,
        }
    }

    #[test]
    fn a_root_is_proven_only_by_the_digest_the_token_attested_for_its_generation() {
        let mut state = TokenState::genesis("v");
        state.roots.insert(1, sha256_hex(b"root one"));
        state.roots.insert(2, sha256_hex(b"root two"));
        assert!(root(&root_record(1, b"root one"), &state).is_ok());
        assert!(root(&root_record(2, b"root two"), &state).is_ok());

        // Another certificate under an attested generation: replaced.
        let e = root(&root_record(1, b"root two"), &state)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("generation 1") && e.contains("the root was replaced"),
            "{e}"
        );

        // A generation the token never attested, whichever its number.
        for g in [1, 3] {
            state.roots.remove(&1);
            let e = root(&root_record(g, b"root one"), &state)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!("root of generation {g}"))
                    && e.contains("added without the token"),
                "{e}"
            );
        }
    }
}
