//! `csr inspect`, `sign` and `list`: a cluster's CSR goes through intake, policy, operator
//! confirmation, lint, the token, verification and the ledger, in that order.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::certify::{certify, draft_intermediate, issued_event, record_issue};
use super::confirm::{self, Confirm, ConfirmRequest};
use super::keyuse::{self, KeyUse};
use super::witness::{self, WitnessSigs};
use super::{rfc3339, CertInfo, Ctx, Operator, Output};
use crate::error::{Error, Refusal, Result};
use crate::fsio;
use crate::keys::{sha256_hex, KeyAlg, PublicKey};
use crate::ledger::{CertificateRow, Event, Ledger, LedgerError, RootRecord, SigningRejected};
use crate::policy::{ClusterName, Evaluation, IntermediateProfile};
use crate::vault::Vault;
use crate::witness::Body;
use crate::x509::{self, Csr, Dn, RequestedExtension, Serial};

/// What `csr inspect` reports, and what the operator sees before confirming a signature.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// Whether the request would be signed.
    pub acceptable: bool,
    /// Why not, one sentence each.
    pub reasons: Vec<String>,
    /// Things to know that are not refusals.
    pub notes: Vec<String>,
    /// The cluster it was judged for.
    pub cluster: Option<String>,
    /// The subject key's type, e.g. `ecdsa-p384` (null if the file is not a usable CSR).
    pub key_type: Option<String>,
    /// SHA-256 of the CSR's SubjectPublicKeyInfo: the fingerprint the cluster team reads out.
    pub spki_sha256: Option<String>,
    /// SHA-256 of the CSR's DER.
    pub csr_sha256: Option<String>,
    /// The subject the CSR asks for (never copied into the certificate).
    pub subject: Option<String>,
    /// The CSR's signature algorithm.
    pub signature_algorithm: Option<String>,
    /// Extensions the CSR asks for (never copied into the certificate).
    pub requested_extensions: Vec<RequestedExtension>,
    /// What would be signed.
    pub profile: Option<IntermediateProfile>,
    /// Every certificate the vault already issued for the request's key (SPKI), oldest first:
    /// a compromised one refuses the request, a valid one for another cluster needs
    /// `--allow-key-reuse` (ceremony/keyuse.rs).
    pub key_reuse: Vec<KeyUse>,
}

/// A CSR judged for a cluster, ready to confirm and sign.
struct Judged {
    csr: Csr,
    cluster: ClusterName,
    evaluation: Evaluation,
    root: RootRecord,
    /// What the vault's earlier certificates for this key mean (notes only: no refusal).
    key_notes: Vec<String>,
}

/// Judges `input` as a CSR for `cluster` without touching the token or the ledger, as `sign`
/// would with `--allow-key-reuse` if `allow_key_reuse`.
pub fn inspect_csr(
    vault: &Vault,
    input: &[u8],
    cluster: Option<&ClusterName>,
    days: Option<u32>,
    allow_key_reuse: bool,
) -> Result<Inspection> {
    let ledger = vault.ledger()?;
    let root = super::require_root(&ledger)?;
    let csr = match Csr::intake(input) {
        Ok(csr) => csr,
        Err(e) => {
            return Ok(Inspection {
                acceptable: false,
                reasons: vec![e.to_string()],
                notes: vec![],
                cluster: cluster.map(ToString::to_string),
                key_type: None,
                spki_sha256: None,
                csr_sha256: None,
                subject: None,
                signature_algorithm: None,
                requested_extensions: vec![],
                profile: None,
                key_reuse: vec![],
            })
        }
    };
    let evaluation = cluster
        .map(|c| evaluate(vault, csr.public_key().alg(), c, days, &root))
        .transpose()?;
    let key_reuse = keyuse::key_uses(&ledger, &csr.public_key().spki_sha256_hex())?;
    let mut reasons = Vec::new();
    let mut key_notes = Vec::new();
    match cluster {
        None => reasons.push("no cluster given: name the cluster the request is for".to_owned()),
        Some(c) => {
            let verdict = keyuse::judge(&key_reuse, c.as_str(), allow_key_reuse);
            reasons.extend(verdict.reasons);
            key_notes = verdict.notes;
        }
    }
    let mut inspection = describe(&csr, cluster, evaluation, reasons);
    inspection.notes.extend(key_notes);
    inspection.acceptable = inspection.reasons.is_empty();
    inspection.key_reuse = key_reuse;
    Ok(inspection)
}

fn describe(
    csr: &Csr,
    cluster: Option<&ClusterName>,
    evaluation: Option<Evaluation>,
    mut reasons: Vec<String>,
) -> Inspection {
    let (notes, profile) = match evaluation {
        Some(e) => {
            reasons.extend(e.reasons);
            (e.notes, Some(e.profile))
        }
        None => (vec![], None),
    };
    Inspection {
        acceptable: reasons.is_empty(),
        reasons,
        notes,
        cluster: cluster.map(ToString::to_string),
        key_type: Some(csr.public_key().alg().name()),
        spki_sha256: Some(csr.public_key().spki_sha256_hex()),
        csr_sha256: Some(csr.sha256_hex()),
        subject: Some(csr.subject()),
        signature_algorithm: Some(csr.signature_algorithm()),
        requested_extensions: csr.requested_extensions(),
        profile,
        key_reuse: vec![],
    }
}

fn root_not_after(root: &RootRecord) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&root.certificate.not_after)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| LedgerError::malformed("the root's notAfter", e).into())
}

pub(super) fn evaluate(
    vault: &Vault,
    key: KeyAlg,
    cluster: &ClusterName,
    days: Option<u32>,
    root: &RootRecord,
) -> Result<Evaluation> {
    let root_subject = Dn::parse(&root.certificate.subject)
        .map_err(|e| LedgerError::malformed("the root's subject", e))?;
    Ok(vault.config().policy.for_root(&root_subject).evaluate(
        cluster,
        key,
        days,
        Utc::now(),
        root_not_after(root)?,
    ))
}

/// Reads a request file, at most one byte past the intake cap (so a huge file is refused by
/// intake without being loaded). An unreadable file is a rejected input (exit 3).
pub fn read_request(path: &std::path::Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let fail = |source| Refusal::Unreadable {
        what: "request",
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(fail)?;
    let mut buf = Vec::new();
    file.take(crate::x509::MAX_CSR_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(fail)?;
    Ok(buf)
}

/// What `sign` asks for.
#[derive(Debug, Clone)]
pub struct SignRequest<'a> {
    /// The CSR file's bytes (at most a little over the intake cap).
    pub input: &'a [u8],
    /// The cluster the intermediate is for.
    pub cluster: ClusterName,
    /// Validity the operator asked for, if any.
    pub days: Option<u32>,
    /// Where to write the certificate's PEM (reserved before the token signs), if anywhere.
    pub out: Option<Output>,
    /// Sign even if the key already has a valid certificate for another cluster
    /// (`--allow-key-reuse`); the confirmation shows it. A compromised key is refused anyway.
    pub allow_key_reuse: bool,
}

/// A signed intermediate.
#[derive(Debug, Clone, Serialize)]
pub struct Issued {
    /// The certificate, with the stable JSON keys.
    #[serde(flatten)]
    pub certificate: CertInfo,
    /// The PEM certificate.
    pub pem: String,
    /// Where it was written, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written: Option<std::path::PathBuf>,
}

/// Signs a cluster's CSR as its intermediate CA, after the operator confirms the SPKI
/// fingerprint. A refused request is recorded as a `signing_rejected` event and consumes
/// nothing; a declined confirmation changes nothing at all.
pub fn sign_csr(
    ctx: &Ctx<'_>,
    req: &SignRequest<'_>,
    confirmer: &mut dyn Confirm,
) -> Result<Issued> {
    sign_csr_witnessed(ctx, req, &WitnessSigs::none(), confirmer)
}

/// [`sign_csr`] with the witnesses' signatures of its statement (`--witness-sig`), checked
/// before the operator is asked and the PIN is read.
pub fn sign_csr_witnessed(
    ctx: &Ctx<'_>,
    req: &SignRequest<'_>,
    sigs: &WitnessSigs,
    confirmer: &mut dyn Confirm,
) -> Result<Issued> {
    let (vault, operator) = (ctx.vault, ctx.operator);
    // Reserved first: a full or read-only disk stops here, before anything is signed.
    let reserved = req
        .out
        .as_ref()
        .map(|o| fsio::ReservedFile::reserve(&o.path, o.force, fsio::CERT_RESERVATION))
        .transpose()?;
    let mut ledger = vault.ledger()?;
    let root = super::require_root(&ledger)?;
    let judged = match judge(vault, &ledger, req, root)? {
        Ok(j) => j,
        Err(reasons) => return Err(reject(&mut ledger, operator, req, reasons)),
    };
    let approval = witness::approve(
        vault,
        &ledger,
        &sign_body(&judged),
        sigs,
        "nothing was signed",
    )?;
    let request = confirmation_request(&judged);
    confirm::check(&request, confirmer.ask(&request), "nothing was signed")?;
    // Judged and confirmed, the token not yet taken: another process may act meanwhile.
    crate::fault::point("sign.after_confirm");

    let profile = &judged.evaluation.profile;
    let issued = ctx.with_session(|session, attestor| {
        let attested = approval.attest(attestor)?;
        keyuse::recheck(
            &ledger,
            attestor,
            &judged.csr.public_key().spki_sha256_hex(),
            judged.cluster.as_str(),
            req.allow_key_reuse,
        )?;
        let (issued, record) = certify(
            session,
            attestor,
            &ledger,
            &judged.root,
            judged.csr.public_key(),
            profile,
        )?;
        let event = issued_event(
            &judged.cluster,
            &record,
            "csr",
            Some(judged.csr.sha256_hex()),
            profile,
            judged.root.generation,
        );
        record_issue(&mut ledger, operator, &[event], attestor, &attested)?;
        Ok(Issued {
            certificate: CertInfo::from_record(&record, Some(judged.cluster.to_string()))
                .with_generation(judged.root.generation),
            pem: issued.pem(),
            written: None,
        })
    })?;
    match reserved {
        None => Ok(issued),
        Some(r) => {
            let path = r.path().to_owned();
            let cluster = &judged.cluster;
            r.commit(issued.pem.as_bytes())
                .map_err(|e| Error::RecordedNotWritten {
                    done: format!(
                        "certificate {} for cluster {cluster} was signed",
                        issued.certificate.serial
                    ),
                    remedy: format!(
                        "Free space or fix the directory, then write it again with `rootvault export --cluster {cluster} --format pem-bundle --out {}`.",
                        path.display()
                    ),
                    source: Box::new(e.into()),
                })?;
            Ok(Issued {
                written: Some(path),
                ..issued
            })
        }
    }
}

/// The request judged: `Ok(Err(reasons))` is a refusal of the request (recorded, exit 3);
/// `Err` is a failure to judge it at all (an unreadable ledger value, say), which is not the
/// request's fault and is never recorded as a refusal.
fn judge(
    vault: &Vault,
    ledger: &Ledger,
    req: &SignRequest<'_>,
    root: RootRecord,
) -> Result<std::result::Result<Judged, Vec<String>>> {
    let csr = match Csr::intake(req.input) {
        Ok(csr) => csr,
        Err(e) => return Ok(Err(vec![e.to_string()])),
    };
    let evaluation = evaluate(vault, csr.public_key().alg(), &req.cluster, req.days, &root)?;
    let uses = keyuse::key_uses(ledger, &csr.public_key().spki_sha256_hex())?;
    let key = keyuse::judge(&uses, req.cluster.as_str(), req.allow_key_reuse);
    if !evaluation.acceptable || !key.reasons.is_empty() {
        return Ok(Err([evaluation.reasons, key.reasons].concat()));
    }
    Ok(Ok(Judged {
        csr,
        cluster: req.cluster.clone(),
        evaluation,
        root,
        key_notes: key.notes,
    }))
}

/// Records the refusal and returns the error to report (exit 3).
fn reject(
    ledger: &mut Ledger,
    operator: &Operator,
    req: &SignRequest<'_>,
    reasons: Vec<String>,
) -> Error {
    let event = Event::SigningRejected(SigningRejected {
        cluster: Some(req.cluster.to_string()),
        input_sha256: sha256_hex(req.input),
        reasons: reasons.clone(),
    });
    let recorded = ledger.begin().and_then(|tx| {
        tx.append(&operator.0, &event)?;
        tx.commit()
    });
    Refusal::Request {
        nothing: "nothing was signed",
        reasons,
        not_recorded: recorded.err().map(|e| e.to_string()),
    }
    .into()
}

/// The statement body of `sign`: what the operator confirms, every value of the profile.
fn sign_body(j: &Judged) -> Body {
    let key = j.csr.public_key();
    let mut body = Body::new("sign");
    body.line("cluster", &j.cluster)
        .line("key type", key.alg().name())
        .line("SPKI SHA-256", key.spki_sha256_hex())
        .line("CSR SHA-256", j.csr.sha256_hex());
    issuer_line(&mut body, &j.root);
    profile_lines(&mut body, &j.evaluation.profile);
    for n in &j.key_notes {
        body.line("same key", n);
    }
    body
}

/// The root generation that will sign, by its certificate's SHA-256: a witness checks that a
/// rotation has not put another root in its place.
pub(super) fn issuer_line(body: &mut Body, root: &RootRecord) {
    body.line(
        "issuing root",
        format!(
            "generation {}, certificate SHA-256 {}",
            root.generation, root.certificate.sha256
        ),
    );
}

/// The profile's values, as every statement that signs an intermediate lists them.
pub(super) fn profile_lines(body: &mut Body, p: &IntermediateProfile) {
    let nc = &p.name_constraints;
    body.line("subject", &p.subject)
        .line(
            "validity",
            format!(
                "{} days{}",
                p.days,
                if p.not_after_capped_by_root {
                    " (capped at the root's notAfter)"
                } else {
                    ""
                }
            ),
        )
        .line("pathlen", p.path_len)
        .line(
            "key usage",
            if p.digital_signature {
                "keyCertSign, cRLSign, digitalSignature"
            } else {
                "keyCertSign, cRLSign"
            },
        )
        .line("subject alt names", list_or_none(&p.san_dns))
        .line(
            "name constraints",
            format!(
                "permitted DNS {}, URI {}; excluded DNS {}, URI {}",
                list_or_none(&nc.permitted_dns),
                list_or_none(&nc.permitted_uri),
                list_or_none(&nc.excluded_dns),
                list_or_none(&nc.excluded_uri)
            ),
        );
}

/// `sign … --statement-out`: every check `sign` makes before the token (intake, policy —
/// a refusal is recorded as `sign` records it — and the lint of the certificate it would
/// draft, with the root's key from its certificate), then the statement body. No key is
/// touched.
pub(super) fn sign_statement(
    vault: &Vault,
    operator: &Operator,
    req: &SignRequest<'_>,
) -> Result<Body> {
    let mut ledger = vault.ledger()?;
    let root = super::require_root(&ledger)?;
    let judged = match judge(vault, &ledger, req, root)? {
        Ok(j) => j,
        Err(reasons) => return Err(reject(&mut ledger, operator, req, reasons)),
    };
    lint_only(
        &judged.root,
        judged.csr.public_key(),
        &judged.evaluation.profile,
    )?;
    Ok(sign_body(&judged))
}

/// Drafts and lints the intermediate `profile` would give `subject_key`, with a fixed
/// serial and the root's key read from its certificate: the checks the token's signature
/// would follow, made without the token.
pub(super) fn lint_only(
    root: &RootRecord,
    subject_key: &PublicKey,
    profile: &IntermediateProfile,
) -> Result<()> {
    let root_public = x509::certificate_public_key(&root.der)
        .map_err(|e| LedgerError::malformed("the root certificate", e))?;
    let draft = draft_intermediate(
        root,
        &root_public,
        subject_key,
        profile,
        Serial::from_random([0x5a; 16]),
    )?;
    x509::lint(draft)?;
    Ok(())
}

fn confirmation_request(j: &Judged) -> ConfirmRequest {
    let key = j.csr.public_key();
    let mut summary = profile_summary(&j.cluster, &j.evaluation, key, Some(&j.csr));
    for n in &j.key_notes {
        summary.push(("same key".to_owned(), n.clone()));
    }
    summary.push(("policy verdict".to_owned(), "acceptable".to_owned()));
    ConfirmRequest {
        action: "sign",
        summary,
        subject: "the SPKI SHA-256 fingerprint",
        expected: key.spki_sha256_hex(),
    }
}

/// What the operator sees before confirming: cluster, subject, key, profile, notes.
pub(super) fn profile_summary(
    cluster: &ClusterName,
    evaluation: &Evaluation,
    key: &PublicKey,
    csr: Option<&Csr>,
) -> Vec<(String, String)> {
    let p = &evaluation.profile;
    let mut summary = vec![
        ("cluster".to_owned(), cluster.to_string()),
        ("subject".to_owned(), p.subject.to_string()),
    ];
    if let Some(csr) = csr {
        summary.push((
            "requested subject".to_owned(),
            format!("{} (not copied)", csr.subject()),
        ));
    }
    summary.push(("key".to_owned(), key.alg().name()));
    summary.push(("SPKI SHA-256".to_owned(), key.spki_sha256_hex()));
    if let Some(csr) = csr {
        summary.push(("CSR SHA-256".to_owned(), csr.sha256_hex()));
    }
    summary.push((
        "validity".to_owned(),
        format!(
            "{} days, {} .. {}{}",
            p.days,
            rfc3339(p.not_before),
            rfc3339(p.not_after),
            if p.not_after_capped_by_root {
                " (capped at the root's notAfter)"
            } else {
                ""
            }
        ),
    ));
    summary.push((
        "basic constraints".to_owned(),
        format!("CA:TRUE, pathlen:{} (critical)", p.path_len),
    ));
    summary.push((
        "key usage".to_owned(),
        if p.digital_signature {
            "keyCertSign, cRLSign, digitalSignature (critical)".to_owned()
        } else {
            "keyCertSign, cRLSign (critical)".to_owned()
        },
    ));
    summary.push(("subject alt names".to_owned(), list_or_none(&p.san_dns)));
    if let Some(nc) = describe_name_constraints(p) {
        summary.push(("name constraints".to_owned(), nc));
    }
    if let Some(csr) = csr {
        let requested: Vec<String> = csr
            .requested_extensions()
            .iter()
            .map(|e| {
                format!(
                    "{}{} = {}",
                    e.name,
                    if e.critical { " (critical)" } else { "" },
                    e.value
                )
            })
            .collect();
        if !requested.is_empty() {
            summary.push((
                "requested extensions".to_owned(),
                format!("{} (not copied)", requested.join("; ")),
            ));
        }
    }
    for n in &evaluation.notes {
        summary.push(("note".to_owned(), n.clone()));
    }
    summary
}

/// The name constraints of `p` in one line, as the confirmation and `csr inspect` show them;
/// `None` when there are none.
pub fn describe_name_constraints(p: &IntermediateProfile) -> Option<String> {
    let nc = &p.name_constraints;
    if nc.is_empty() {
        return None;
    }
    let email = if nc.permitted_email == [crate::policy::NO_EMAIL_PERMITTED]
        && nc.excluded_email == [crate::policy::NO_EMAIL_EXCLUDED]
    {
        "none".to_owned()
    } else {
        format!(
            "permitted {}, excluded {}",
            list_or_none(&nc.permitted_email),
            list_or_none(&nc.excluded_email)
        )
    };
    let ip: Vec<String> = nc.excluded_ip.iter().map(ToString::to_string).collect();
    Some(format!(
        "URI permitted {}, excluded {}; DNS permitted {}, excluded {}; IP excluded {}; email {} (critical)",
        list_or_none(&nc.permitted_uri),
        list_or_none(&nc.excluded_uri),
        list_or_none(&nc.permitted_dns),
        list_or_none(&nc.excluded_dns),
        list_or_none(&ip),
        email,
    ))
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The vault's intermediates, optionally of one cluster, with their status.
pub fn list_certificates(vault: &Vault, cluster: Option<&ClusterName>) -> Result<Vec<CertInfo>> {
    let ledger = vault.ledger()?;
    let rows = ledger.intermediates(cluster.map(ClusterName::as_str))?;
    rows.iter()
        .map(|r: &CertificateRow| {
            let revoked = ledger.revocation(&r.record.serial)?;
            Ok(CertInfo::from_row(
                r,
                revoked.as_ref().map(|v| v.revoked_at.as_str()),
            ))
        })
        .collect()
}

/// The vault's valid intermediates (neither revoked nor expired), of any cluster, whose
/// subject key has the SPKI SHA-256 `spki_sha256`: what signing that key again would add a
/// second certificate to.
pub fn valid_certificates_for_key(vault: &Vault, spki_sha256: &str) -> Result<Vec<CertInfo>> {
    let ledger = vault.ledger()?;
    let wanted = spki_sha256.to_ascii_lowercase();
    let mut found = Vec::new();
    for row in ledger.intermediates(None)? {
        if row.record.spki_sha256 != wanted {
            continue;
        }
        let revoked = ledger.revocation(&row.record.serial)?;
        let info = CertInfo::from_row(&row, revoked.as_ref().map(|v| v.revoked_at.as_str()));
        if info.status == super::CertStatus::Valid {
            found.push(info);
        }
    }
    Ok(found)
}
