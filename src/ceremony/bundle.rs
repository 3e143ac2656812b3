//! `export` and `sign --generate-key`: a cluster's intermediate leaves the vault in the form its
//! software loads, optionally age-encrypted; each export is a `bundle_exported` event.

use std::path::PathBuf;

use serde::Serialize;
use zeroize::Zeroizing;

use super::audit::receipt_json;
use super::certify::{certify, issued_event, record_issue};
use super::confirm::{self, Confirm, ConfirmRequest};
use super::sign::{evaluate, profile_lines, profile_summary};
use super::witness::WitnessSigs;
use super::{CertInfo, Ctx};
use crate::error::{Error, Refusal, Result};
use crate::export::{self, Format, Material, Written};
use crate::keys::{sha256_hex, KeyAlg, PublicKey};
use crate::ledger::{BundleExported, CertificateRow, Event, ExportedFile};
use crate::policy::ClusterName;
use crate::recipients::Recipients;
use crate::witness::Body;

/// What was exported.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    /// The exported certificate.
    pub certificate: CertInfo,
    /// Export format.
    pub format: String,
    /// Where it was written.
    pub path: PathBuf,
    /// SHA-256 of what was written (for a directory, of its `sha256sum` manifest).
    pub sha256: String,
    /// Files written.
    pub files: Vec<ExportedFile>,
    /// The age recipients (empty when not encrypted).
    pub recipients: Vec<String>,
}

/// What `export` asks for.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// The cluster.
    pub cluster: ClusterName,
    /// The format.
    pub format: Format,
    /// Where to write.
    pub out: PathBuf,
    /// age recipients, parsed where they were given; none for a plain export.
    pub recipients: Option<Recipients>,
    /// Replace `out` if it exists.
    pub force: bool,
}

/// Exports `cluster`'s current intermediate (its newest certificate that is neither revoked
/// nor expired) to `out`.
pub fn export_cluster(ctx: &Ctx<'_>, req: &ExportRequest) -> Result<ExportReport> {
    let (vault, operator) = (ctx.vault, ctx.operator);
    let ExportRequest {
        cluster,
        format,
        out,
        recipients,
        force,
    } = req;
    let (format, force) = (*format, *force);
    let mut ledger = vault.ledger()?;
    super::require_root(&ledger)?;
    let recipients = recipients.as_ref();
    let rows = ledger.intermediates(Some(cluster.as_str()))?;
    if rows.is_empty() {
        return Err(Refusal::UnknownCluster(cluster.to_string()).into());
    }
    ctx.with_session(|session, attestor| {
        // The chain, the trust bundle and the certificate come from what the token attested:
        // the generation's key on the token, the root certificates and statuses it attested,
        // the revocations it counted.
        let state = attestor.state();
        let revoked = super::verified::revoked_serials(&ledger, &state)?;
        let current = current_certificate(rows, &revoked, cluster)?;
        let issuer = super::verified::root_of(&ledger, &state, current.generation)?;
        let status = super::verified::generation(&state, current.generation)?
            .status
            .clone();
        if status != "active" && status != "trusted" {
            return Err(Refusal::GenerationNotTrusted {
                generation: current.generation,
                status,
            }
            .into());
        }
        super::certify::find_root_key(session, &issuer, attestor)?;
        super::verified::intermediate(&current, &issuer)?;
        let intermediate_pem = crate::x509::certificate_pem(&current.der);
        let (chain_pem, trust) = chain_and_trust(&ledger, &state, current.generation)?;
        let material = Material {
            cluster: cluster.as_str(),
            intermediate_pem: &intermediate_pem,
            chain_pem: &chain_pem,
            trust_pem: Some(&pems(&trust)),
            key_pem: None,
        };
        let receipt = receipt_json(&ledger)?;
        let written = export::export_with_receipt(
            format,
            &material,
            recipients,
            receipt.as_deref(),
            out,
            force,
        )?;
        crate::fault::point("export.after_write");
        let event = exported_event(
            cluster,
            &current.record.serial,
            format,
            &written,
            recipients,
            false,
            &trust,
        );
        record_or_undo(&written, || {
            let tx = attestor.begin(&mut ledger)?;
            tx.append(&operator.0, &event)?;
            attestor.commit(tx)?;
            Ok(())
        })?;
        Ok((current, written))
    })
    .map(|(current, written)| {
        report(
            CertInfo::from_row(&current, None),
            format,
            written,
            recipients,
        )
    })
}

/// What `sign --generate-key` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateRequest {
    /// The cluster.
    pub cluster: ClusterName,
    /// The key to generate.
    pub key: KeyAlg,
    /// Validity the operator asked for, if any.
    pub days: Option<u32>,
    /// The export format holding the key.
    pub format: Format,
    /// Where to write it.
    pub out: PathBuf,
    /// age recipients (at least one), parsed where they were given.
    pub recipients: Recipients,
    /// Overwrite `out`.
    pub force: bool,
}

/// For a cluster that cannot make a CSR: generates its intermediate key in memory, signs it,
/// and writes key and chain only inside an age-encrypted export. The key is zeroized and never
/// stored; the ledger records that the vault generated it and to whom it went.
///
/// The operator confirms the recipients, not a key fingerprint: the danger here is sending
/// the cluster's CA key to the wrong person. The fingerprint is the SHA-256 of the recipients,
/// one per line, sorted (`printf '%s\n' R1 R2 | sort | sha256sum`).
pub fn sign_generated(
    ctx: &Ctx<'_>,
    req: &GenerateRequest,
    confirmer: &mut dyn Confirm,
) -> Result<ExportReport> {
    sign_generated_witnessed(ctx, req, &WitnessSigs::none(), confirmer)
}

/// The statement body of `sign --generate-key`: the cluster, the key type to generate (its
/// public key does not exist yet), the recipients and the profile.
fn generate_body(
    req: &GenerateRequest,
    evaluation: &crate::policy::Evaluation,
    root: &crate::ledger::RootRecord,
) -> Body {
    let mut body = Body::new("sign --generate-key");
    body.line("cluster", &req.cluster).line(
        "key type",
        format!("{} (generated in memory by the vault)", req.key.name()),
    );
    let mut recipients = req.recipients.describe();
    recipients.sort();
    for r in &recipients {
        body.line("age recipient", r);
    }
    body.line(
        "recipients SHA-256",
        recipients_fingerprint(&req.recipients.describe()),
    )
    .line("export format", req.format);
    super::sign::issuer_line(&mut body, root);
    profile_lines(&mut body, &evaluation.profile);
    body
}

/// `sign --generate-key … --statement-out`: the checks of [`sign_generated`] (output, policy,
/// the lint of the certificate it would draft for a throwaway key of the same type), then
/// the statement body. No token key is touched.
pub(super) fn generated_statement(
    vault: &crate::vault::Vault,
    req: &GenerateRequest,
) -> Result<Body> {
    let evaluation = generate_checks(vault, req)?;
    let (_, throwaway) = generate_key(req.key)?;
    let root = super::require_root(&vault.ledger()?)?;
    super::sign::lint_only(&root, &throwaway, &evaluation.profile)?;
    Ok(generate_body(req, &evaluation, &root))
}

fn generate_checks(
    vault: &crate::vault::Vault,
    req: &GenerateRequest,
) -> Result<crate::policy::Evaluation> {
    if !req.force && crate::fsio::Existing::at(&req.out)? != crate::fsio::Existing::Nothing {
        return Err(crate::fsio::FsError::OutputExists(req.out.clone()).into());
    }
    crate::fsio::check_output_dir(&crate::fsio::parent_dir(&req.out))?;
    let root = super::require_root(&vault.ledger()?)?;
    let evaluation = evaluate(vault, req.key, &req.cluster, req.days, &root)?;
    if !evaluation.acceptable {
        return Err(Refusal::Request {
            nothing: "nothing was generated or signed",
            reasons: evaluation.reasons,
            not_recorded: None,
        }
        .into());
    }
    Ok(evaluation)
}

/// [`sign_generated`] with the witnesses' signatures of its statement.
pub fn sign_generated_witnessed(
    ctx: &Ctx<'_>,
    req: &GenerateRequest,
    sigs: &WitnessSigs,
    confirmer: &mut dyn Confirm,
) -> Result<ExportReport> {
    let (vault, operator) = (ctx.vault, ctx.operator);
    if !req.force && crate::fsio::Existing::at(&req.out)? != crate::fsio::Existing::Nothing {
        return Err(crate::fsio::FsError::OutputExists(req.out.clone()).into());
    }
    // The key exists only in memory until it is written: make sure it can be, first.
    crate::fsio::check_output_dir(&crate::fsio::parent_dir(&req.out))?;
    let mut ledger = vault.ledger()?;
    let root = super::require_root(&ledger)?;
    let recipients = &req.recipients;
    let evaluation = evaluate(vault, req.key, &req.cluster, req.days, &root)?;
    if !evaluation.acceptable {
        return Err(Refusal::Request {
            nothing: "nothing was generated or signed",
            reasons: evaluation.reasons,
            not_recorded: None,
        }
        .into());
    }
    let approval = super::witness::approve(
        vault,
        &ledger,
        &generate_body(req, &evaluation, &root),
        sigs,
        "nothing was generated or signed",
    )?;

    let (key_pem, public_key) = generate_key(req.key)?;
    let mut summary = profile_summary(&req.cluster, &evaluation, &public_key, None);
    summary.push((
        "key source".to_owned(),
        "generated in memory by the vault; written only encrypted".to_owned(),
    ));
    for r in recipients.describe() {
        summary.push(("age recipient".to_owned(), r));
    }
    let fingerprint = recipients_fingerprint(&recipients.describe());
    summary.push(("recipients SHA-256".to_owned(), fingerprint.clone()));
    let request = ConfirmRequest {
        action: "generate a key and sign",
        summary,
        subject: "the SHA-256 of the age recipients",
        expected: fingerprint,
    };
    confirm::check(
        &request,
        confirmer.ask(&request),
        "nothing was generated or signed",
    )?;

    // The certificate is recorded before its export is written, so a crash in between
    // leaves a recorded certificate whose key was lost (revoke it), never a certificate
    // outside the ledger.
    let profile = &evaluation.profile;
    ctx.with_session(|session, attestor| {
        let attested = approval.attest(attestor)?;
        let (issued, record) = certify(session, attestor, &ledger, &root, &public_key, profile)?;
        let issue = issued_event(
            &req.cluster,
            &record,
            "generated",
            None,
            profile,
            root.generation,
        );
        record_issue(&mut ledger, operator, &[issue], attestor, &attested)?;
        let lost = |e: Error| Error::RecordedNotWritten {
            done: format!(
                "certificate {} for cluster {} was signed",
                record.serial, req.cluster
            ),
            remedy: format!(
                "Its key existed only in memory and is gone: revoke the certificate with `rootvault revoke --serial {} --reason cessationOfOperation` and run `sign --generate-key` again.",
                record.serial
            ),
            source: Box::new(e),
        };
        let intermediate_pem = issued.pem();
        let (chain_pem, trust) =
            chain_and_trust(&ledger, &attestor.state(), root.generation).map_err(lost)?;
        let trust_pem = pems(&trust);
        let material = Material {
            cluster: req.cluster.as_str(),
            intermediate_pem: &intermediate_pem,
            chain_pem: &chain_pem,
            trust_pem: Some(&trust_pem),
            key_pem: Some(&key_pem),
        };
        let receipt = receipt_json(&ledger).map_err(lost)?;
        let written = export::export_with_receipt(
            req.format,
            &material,
            Some(recipients),
            receipt.as_deref(),
            &req.out,
            req.force,
        )
        .map_err(|e| lost(e.into()))?;
        drop(key_pem);
        crate::fault::point("export.after_write");
        let exported = exported_event(
            &req.cluster,
            &record.serial,
            req.format,
            &written,
            Some(recipients),
            true,
            &trust,
        );
        // The files hold the only copy of the key: keep them even if this fails.
        let recorded = attestor.begin(&mut ledger).and_then(|tx| {
            tx.append(&operator.0, &exported)?;
            attestor.commit(tx)
        });
        recorded.map_err(|e| Error::WrittenNotRecorded {
            serial: record.serial.clone(),
            path: written.path.clone(),
            source: Box::new(e),
        })?;
        Ok((record, written))
    })
    .map(|(record, written)| {
        report(
            CertInfo::from_record(&record, Some(req.cluster.to_string()))
                .with_generation(root.generation),
            req.format,
            written,
            Some(recipients),
        )
    })
}

/// SHA-256 of the recipients, one per line, sorted.
pub fn recipients_fingerprint(recipients: &[String]) -> String {
    let mut sorted: Vec<&str> = recipients.iter().map(|r| r.trim()).collect();
    sorted.sort_unstable();
    let list: String = sorted.iter().map(|r| format!("{r}\n")).collect();
    sha256_hex(list.as_bytes())
}

/// A PKCS#8 private key (zeroized on drop) and its public half.
fn generate_key(alg: KeyAlg) -> Result<(Zeroizing<String>, PublicKey)> {
    let fail = |detail: String| Error::KeyGeneration {
        key: alg.name(),
        detail,
    };
    let key = match alg {
        KeyAlg::EcP256 | KeyAlg::EcP384 => rcgen::KeyPair::generate_for(alg.signature_algorithm())
            .map_err(|e| fail(e.to_string()))?,
        KeyAlg::Rsa { bits } => {
            use rsa::pkcs8::EncodePrivateKey;
            let rsa_key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits as usize)
                .map_err(|e| fail(e.to_string()))?;
            let pkcs8 = rsa_key.to_pkcs8_der().map_err(|e| fail(e.to_string()))?;
            rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
                &rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_bytes()),
                alg.signature_algorithm(),
            )
            .map_err(|e| fail(e.to_string()))?
        }
    };
    let public = PublicKey::new(alg, key.public_key_raw().to_vec());
    Ok((Zeroizing::new(key.serialize_pem()), public))
}

/// The cluster's newest certificate (of `rows`, oldest first) that is neither revoked nor
/// expired.
fn current_certificate(
    rows: Vec<CertificateRow>,
    revoked: &std::collections::BTreeSet<String>,
    cluster: &ClusterName,
) -> Result<CertificateRow> {
    rows.into_iter()
        .rev()
        .find(|row| {
            !revoked.contains(&row.record.serial)
                && CertInfo::from_row(row, None).status == super::CertStatus::Valid
        })
        .ok_or_else(|| Refusal::NoValidCertificate(cluster.to_string()).into())
}

fn exported_event(
    cluster: &ClusterName,
    serial: &str,
    format: Format,
    written: &Written,
    recipients: Option<&Recipients>,
    contains_generated_key: bool,
    trust: &[Vec<u8>],
) -> Event {
    Event::BundleExported(BundleExported {
        cluster: cluster.to_string(),
        serial: serial.to_owned(),
        format: format.name().to_owned(),
        path: written.path.display().to_string(),
        sha256: written.sha256.clone(),
        files: written
            .files
            .iter()
            .map(|f| ExportedFile {
                name: f.name.clone(),
                sha256: f.sha256.clone(),
            })
            .collect(),
        recipients: recipients.map(Recipients::describe).unwrap_or_default(),
        contains_generated_key,
        trust_sha256: trust.iter().map(|der| sha256_hex(der)).collect(),
    })
}

/// The PEM of the certificates above an intermediate of `generation` (up to and including
/// its root or enterprise anchor), and the trust bundle of the vault's current phase: both
/// proven against the token's state.
pub(super) fn chain_and_trust(
    ledger: &crate::ledger::Ledger,
    state: &super::state::TokenState,
    generation: u32,
) -> Result<(String, Vec<Vec<u8>>)> {
    let chain = super::verified::chain_above(ledger, state, generation)?;
    let trust = super::verified::trust_bundle(ledger, state)?;
    Ok((pems(&chain), trust))
}

/// DER certificates as concatenated PEM blocks.
pub(super) fn pems(ders: &[Vec<u8>]) -> String {
    ders.iter()
        .map(|d| crate::x509::certificate_pem(d))
        .collect()
}

/// Records the export; if that fails, removes what was written, so that nothing exists
/// outside the ledger.
fn record_or_undo(written: &Written, record: impl FnOnce() -> Result<()>) -> Result<()> {
    record().inspect_err(|_| {
        let _ = if written.path.is_dir() {
            std::fs::remove_dir_all(&written.path)
        } else {
            std::fs::remove_file(&written.path)
        };
    })
}

fn report(
    certificate: CertInfo,
    format: Format,
    written: Written,
    recipients: Option<&Recipients>,
) -> ExportReport {
    ExportReport {
        certificate,
        format: format.name().to_owned(),
        path: written.path,
        sha256: written.sha256,
        files: written
            .files
            .into_iter()
            .map(|f| ExportedFile {
                name: f.name,
                sha256: f.sha256,
            })
            .collect(),
        recipients: recipients.map(Recipients::describe).unwrap_or_default(),
    }
}
