//! `sign-batch`: many clusters in one ceremony. Every line of the manifest is taken in and
//! judged before anything is signed; the operator confirms once, by a prefix of the
//! manifest's SHA-256; then every certificate is signed, and all are recorded together (each
//! as its own event) in one transaction.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::certify::{
    draft_and_lint, find_root_key, fresh_serial, issued_event, record_issue, record_of, token_sign,
    verify,
};
use super::confirm::{self, Confirm, ConfirmRequest};
use super::keyuse;
use super::sign::evaluate;
use super::witness::WitnessSigs;
use super::{CertInfo, Ctx, Issued};
use crate::error::{Error, Refusal, Result};
use crate::fsio;
use crate::keys::{sha256_hex, RawSigner as _};
use crate::ledger::{Event, Ledger, RootRecord, SigningRejected};
use crate::policy::{ClusterName, Evaluation};
use crate::vault::Vault;
use crate::witness::Body;
use crate::x509::Csr;

/// One checked line of a manifest.
#[derive(Debug, Clone, Serialize)]
pub struct BatchLine {
    /// Line number in the manifest (from 1).
    pub line: usize,
    /// The cluster.
    pub cluster: String,
    /// The CSR file.
    pub csr: PathBuf,
    /// The CSR's key type.
    pub key_type: String,
    /// The SPKI SHA-256 the manifest names (and the CSR has).
    pub spki_sha256: String,
    /// Validity that will be signed, in days.
    pub days: u32,
    /// What the vault's earlier certificates for this key (or an earlier line's) mean; shown
    /// in the confirmation (ceremony/keyuse.rs).
    pub notes: Vec<String>,
}

/// A manifest that passed every check.
#[derive(Debug, Clone)]
pub struct CheckedBatch {
    /// SHA-256 of the manifest file: what the operator confirms.
    pub manifest_sha256: String,
    /// The lines, in manifest order.
    pub lines: Vec<BatchLine>,
    items: Vec<(Csr, ClusterName, Evaluation)>,
    root: RootRecord,
    allow_key_reuse: bool,
}

/// Reads and checks a manifest: lines of `cluster  spki-sha256  csr-path` (whitespace
/// separated; `#` comments and blank lines ignored; paths relative to the manifest's
/// directory). Each line's CSR must pass intake, its SPKI SHA-256 must equal the manifest's
/// (all 64 hex digits), and policy must accept it; clusters may not repeat. Every problem
/// of every line is reported, and none is signed if any line fails. A key is judged as
/// `sign` judges it: refused if compromised, and, unless `allow_key_reuse` (sign-batch's
/// `--allow-key-reuse`, for the whole manifest), refused if it has a valid certificate for
/// another cluster or is the key of another line.
pub fn check_batch(
    vault: &Vault,
    manifest: &Path,
    days: Option<u32>,
    allow_key_reuse: bool,
) -> Result<CheckedBatch> {
    let text = std::fs::read(manifest).map_err(|source| Refusal::Unreadable {
        what: "manifest",
        path: manifest.to_owned(),
        source,
    })?;
    let manifest_sha256 = sha256_hex(&text);
    let text = String::from_utf8(text).map_err(|_| Refusal::Malformed {
        what: "manifest",
        path: manifest.to_owned(),
        why: "it is not UTF-8 text".to_owned(),
    })?;
    let base = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    let ledger = vault.ledger()?;
    let root = super::require_root(&ledger)?;

    let mut problems = Vec::new();
    let mut lines = Vec::new();
    let mut items = Vec::new();
    let mut seen = std::collections::HashMap::new();
    let mut keys: std::collections::HashMap<String, (usize, ClusterName)> =
        std::collections::HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [cluster, fingerprint, path] = fields[..] else {
            problems.push(format!(
                "line {n}: expected `cluster  spki-sha256  csr-path`, found {} fields",
                fields.len()
            ));
            continue;
        };
        let cluster: ClusterName = match cluster.parse() {
            Ok(c) => c,
            Err(e) => {
                problems.push(format!("line {n}: {e}"));
                continue;
            }
        };
        if let Some(first) = seen.insert(cluster.to_string(), n) {
            problems.push(format!(
                "line {n}: cluster {cluster} already appears on line {first}"
            ));
        }
        let fingerprint = fingerprint.to_ascii_lowercase().replace(':', "");
        if fingerprint.len() != 64 || !fingerprint.chars().all(|c| c.is_ascii_hexdigit()) {
            problems.push(format!(
                "line {n}: the fingerprint must be all 64 hex digits of the SPKI SHA-256"
            ));
            continue;
        }
        let csr_path = base.join(path);
        let csr = match super::read_request(&csr_path)
            .map_err(|e| e.to_string())
            .and_then(|b| Csr::intake(&b).map_err(|e| e.to_string()))
        {
            Ok(c) => c,
            Err(e) => {
                problems.push(format!("line {n} ({}): {e}", csr_path.display()));
                continue;
            }
        };
        let spki = csr.public_key().spki_sha256_hex();
        if spki != fingerprint {
            problems.push(format!(
                "line {n}: {} has SPKI SHA-256 {spki}, not the {fingerprint} the manifest names",
                csr_path.display()
            ));
            continue;
        }
        let evaluation = evaluate(vault, csr.public_key().alg(), &cluster, days, &root)?;
        let uses = keyuse::key_uses(&ledger, &spki)?;
        let mut key = keyuse::judge(&uses, cluster.as_str(), allow_key_reuse);
        match keys.get(&spki) {
            Some((first, other)) if !allow_key_reuse => key.reasons.push(format!(
                "the request's key is also the key of line {first} (cluster {other}); one key for two clusters lets each act as the other's CA. Give each cluster its own key, or sign the batch with --allow-key-reuse"
            )),
            Some((first, other)) => key.notes.push(format!(
                "KEY REUSE (allowed by --allow-key-reuse): this key is also the key of line {first} (cluster {other})"
            )),
            None => {
                keys.insert(spki.clone(), (n, cluster.clone()));
            }
        }
        if !evaluation.acceptable || !key.reasons.is_empty() {
            problems.push(format!(
                "line {n} ({cluster}): {}",
                [evaluation.reasons, key.reasons].concat().join("; ")
            ));
            continue;
        }
        lines.push(BatchLine {
            line: n,
            cluster: cluster.to_string(),
            csr: csr_path,
            key_type: csr.public_key().alg().name(),
            spki_sha256: spki,
            days: evaluation.profile.days,
            notes: key.notes,
        });
        items.push((csr, cluster, evaluation));
    }
    if problems.is_empty() && items.is_empty() {
        problems.push("the manifest names no request".into());
    }
    if !problems.is_empty() {
        return Err(reject(vault, &manifest_sha256, problems));
    }
    Ok(CheckedBatch {
        manifest_sha256,
        lines,
        items,
        root,
        allow_key_reuse,
    })
}

/// Records the refused batch (one `signing_rejected` event, no token needed) and returns
/// the error to report.
fn reject(vault: &Vault, manifest_sha256: &str, problems: Vec<String>) -> Error {
    let recorded = vault.ledger().and_then(|mut l: Ledger| {
        let tx = l.begin()?;
        tx.append(
            "sign-batch",
            &Event::SigningRejected(SigningRejected {
                cluster: None,
                input_sha256: manifest_sha256.to_owned(),
                reasons: problems.clone(),
            }),
        )?;
        Ok(tx.commit()?)
    });
    Refusal::Batch {
        problems,
        not_recorded: recorded.err().map(|e: Error| e.to_string()),
    }
    .into()
}

/// Signs every line of a checked batch after one confirmation of the manifest's SHA-256 and
/// writes each certificate to `OUT_DIR/CLUSTER.pem`.
///
/// All or nothing: the output files are reserved before the token is touched (a full or
/// read-only disk stops the batch there); every certificate is then signed, and all of them
/// are recorded in ONE transaction, each as its own `certificate_issued` event, with one
/// checkpoint. An interruption before that commit leaves no certificate recorded and none on
/// disk; the manifest can simply be signed again. Only then are the files written, synced
/// once and renamed into place.
pub fn sign_batch(
    ctx: &Ctx<'_>,
    batch: CheckedBatch,
    out_dir: &Path,
    confirmer: &mut dyn Confirm,
) -> Result<Vec<Issued>> {
    sign_batch_witnessed(ctx, batch, out_dir, &WitnessSigs::none(), confirmer)
}

/// The statement body of `sign-batch`: ONE statement for the whole manifest, every request
/// with all the values `sign` states for one.
pub(super) fn batch_body(batch: &CheckedBatch) -> Body {
    let mut body = Body::new("sign-batch");
    body.line("manifest SHA-256", &batch.manifest_sha256)
        .line("requests", batch.lines.len());
    super::sign::issuer_line(&mut body, &batch.root);
    for (l, (csr, _, evaluation)) in batch.lines.iter().zip(&batch.items) {
        let mut one = Body::new("sign");
        one.line("cluster", &l.cluster)
            .line("key type", &l.key_type)
            .line("SPKI SHA-256", &l.spki_sha256)
            .line("CSR SHA-256", csr.sha256_hex());
        super::sign::profile_lines(&mut one, &evaluation.profile);
        for n in &l.notes {
            one.line("same key", n);
        }
        for (label, value) in one.lines {
            body.line(&format!("request {} {label}", l.line), value);
        }
    }
    body
}

/// `sign-batch … --statement-out`: the manifest was checked by [`check_batch`]; each
/// certificate is drafted and linted as it would be signed, then the statement body.
pub(super) fn batch_statement(batch: &CheckedBatch) -> Result<Body> {
    for (csr, _, evaluation) in &batch.items {
        super::sign::lint_only(&batch.root, csr.public_key(), &evaluation.profile)?;
    }
    Ok(batch_body(batch))
}

/// [`sign_batch`] with the witnesses' signatures of its one statement.
pub fn sign_batch_witnessed(
    ctx: &Ctx<'_>,
    batch: CheckedBatch,
    out_dir: &Path,
    sigs: &WitnessSigs,
    confirmer: &mut dyn Confirm,
) -> Result<Vec<Issued>> {
    let (vault, operator) = (ctx.vault, ctx.operator);
    let paths: Vec<PathBuf> = batch
        .lines
        .iter()
        .map(|l| out_dir.join(format!("{}.pem", l.cluster)))
        .collect();
    for p in &paths {
        if fsio::Existing::at(p)? != fsio::Existing::Nothing {
            return Err(fsio::FsError::OutputExists(p.clone()).into());
        }
    }
    let approval = super::witness::approve(
        vault,
        &vault.ledger()?,
        &batch_body(&batch),
        sigs,
        "nothing was signed",
    )?;
    let request = confirmation_request(&batch);
    confirm::check(&request, confirmer.ask(&request), "nothing was signed")?;

    let created_dir = !out_dir.exists();
    let reserved = std::fs::create_dir_all(out_dir)
        .map_err(|source| {
            Error::from(fsio::FsError::NoRoom {
                path: out_dir.to_owned(),
                source,
            })
        })
        .and_then(|()| {
            paths
                .iter()
                .map(|p| {
                    fsio::ReservedFile::reserve(p, false, fsio::CERT_RESERVATION)
                        .map_err(Error::from)
                })
                .collect::<Result<Vec<_>>>()
        });
    let reserved = match reserved {
        Ok(r) => r,
        Err(e) => {
            if created_dir {
                let _ = std::fs::remove_dir(out_dir);
            }
            return Err(e);
        }
    };

    let signed = vault.ledger().and_then(|mut ledger| {
        ctx.with_session(|session, attestor| {
            let attested = approval.attest(attestor)?;
            // Only the generation the token attested active issues intermediates.
            super::verified::issuing(&batch.root, &attestor.state())?;
            for (csr, cluster, _) in &batch.items {
                keyuse::recheck(
                    &ledger,
                    attestor,
                    &csr.public_key().spki_sha256_hex(),
                    cluster.as_str(),
                    batch.allow_key_reuse,
                )?;
            }
            let root_key = find_root_key(session, &batch.root, attestor)?;
            let serials = batch
                .items
                .iter()
                .map(|_| fresh_serial(&ledger, session))
                .collect::<Result<Vec<_>>>()?;
            let root_public = root_key.public_key();
            let work: Vec<_> = batch.items.iter().zip(serials).collect();
            let certs = pipeline(
                work,
                |((csr, _, evaluation), serial)| {
                    draft_and_lint(
                        &batch.root,
                        root_public,
                        csr.public_key(),
                        &evaluation.profile,
                        serial,
                    )
                },
                |linted| token_sign(linted, &root_key),
                verify,
            )?;
            let mut issued = Vec::with_capacity(certs.len());
            let mut events = Vec::with_capacity(certs.len());
            for ((csr, cluster, evaluation), (draft, cert)) in batch.items.iter().zip(certs) {
                let record = record_of(&draft, &cert);
                events.push(issued_event(
                    cluster,
                    &record,
                    "csr",
                    Some(csr.sha256_hex()),
                    &evaluation.profile,
                    batch.root.generation,
                ));
                issued.push(Issued {
                    certificate: CertInfo::from_record(&record, Some(cluster.to_string()))
                        .with_generation(batch.root.generation),
                    pem: cert.pem(),
                    written: Some(out_dir.join(format!("{cluster}.pem"))),
                });
            }
            record_issue(&mut ledger, operator, &events, attestor, &attested)?;
            Ok(issued)
        })
    });
    let issued = match signed {
        Ok(issued) => issued,
        Err(e) => {
            // Nothing was recorded: take back the reservations and a directory made for them.
            drop(reserved);
            if created_dir {
                let _ = std::fs::remove_dir(out_dir);
            }
            return Err(e);
        }
    };

    let outputs = reserved
        .into_iter()
        .zip(&issued)
        .map(|(r, i)| (r, i.pem.as_bytes()))
        .collect();
    fsio::commit_all(outputs).map_err(|e| Error::RecordedNotWritten {
        done: format!("{} certificates were signed", issued.len()),
        remedy: format!(
            "Free space or fix {}, then write each again with `rootvault export --cluster NAME --format pem-bundle --out FILE`.",
            out_dir.display()
        ),
        source: Box::new(e.into()),
    })?;
    Ok(issued)
}

/// Runs `first`, `middle` and `last` over `items` as a three-stage pipeline and returns the
/// results in order: `first` and `last` each on a thread of their own, `middle` on this one
/// (a batch drafts and lints, has the token sign, then verifies, so the token never waits for
/// the host's own checks). The first failure stops every stage and is returned; the results
/// are all or nothing.
fn pipeline<I, A, B, C>(
    items: Vec<I>,
    first: impl Fn(I) -> Result<A> + Send,
    mut middle: impl FnMut(A) -> Result<B>,
    last: impl Fn(B) -> Result<C> + Send,
) -> Result<Vec<C>>
where
    I: Send,
    A: Send,
    B: Send,
    C: Send,
{
    use std::sync::mpsc::sync_channel;
    // A few items in flight keep every stage busy without holding the batch twice.
    const DEPTH: usize = 8;
    let n = items.len();
    std::thread::scope(|scope| {
        let (a_tx, a_rx) = sync_channel::<Result<A>>(DEPTH);
        let (b_tx, b_rx) = sync_channel::<B>(DEPTH);
        scope.spawn(move || {
            for item in items {
                let a = first(item);
                let failed = a.is_err();
                // A closed channel means a later stage failed and reports why.
                if a_tx.send(a).is_err() || failed {
                    break;
                }
            }
        });
        let finisher = scope.spawn(move || -> Result<Vec<C>> {
            let mut done = Vec::with_capacity(n);
            for b in b_rx {
                done.push(last(b)?);
            }
            Ok(done)
        });
        let mut stopped = None;
        for a in a_rx {
            match a.and_then(&mut middle) {
                Ok(b) => {
                    if b_tx.send(b).is_err() {
                        break; // `last` failed; its error is returned below
                    }
                }
                Err(e) => {
                    stopped = Some(e);
                    break;
                }
            }
        }
        drop(b_tx);
        let finished = finisher
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        match (stopped, finished) {
            (Some(e), _) | (None, Err(e)) => Err(e),
            (None, Ok(done)) if done.len() == n => Ok(done),
            (None, Ok(_)) => unreachable!(
                "every stage either passes each item on or stops the pipeline with an error"
            ),
        }
    })
}

/// What the operator reviews before a batch: one line per request, then the manifest's hash.
fn confirmation_request(batch: &CheckedBatch) -> ConfirmRequest {
    let mut summary = vec![("requests".to_owned(), batch.lines.len().to_string())];
    for l in &batch.lines {
        summary.push((
            format!("line {}", l.line),
            format!(
                "{}  {}  {}  {} days",
                l.cluster,
                l.key_type,
                &l.spki_sha256[..16],
                l.days
            ),
        ));
        for note in &l.notes {
            summary.push((format!("line {} same key", l.line), note.clone()));
        }
    }
    summary.push(("manifest SHA-256".to_owned(), batch.manifest_sha256.clone()));
    ConfirmRequest {
        action: "sign the batch",
        summary,
        subject: "the manifest's SHA-256",
        expected: batch.manifest_sha256.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(what: &str, i: u32) -> Error {
        Error::Usage(format!("{what} failed at {i}"))
    }

    #[test]
    fn the_pipeline_keeps_order_and_runs_every_stage() {
        let out = pipeline(
            (0..1000u32).collect(),
            |i| Ok(i * 3),
            |a| Ok(a + 1),
            |b| Ok(b.to_string()),
        )
        .unwrap();
        let expected: Vec<String> = (0..1000u32).map(|i| (i * 3 + 1).to_string()).collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn a_failure_in_any_stage_stops_the_pipeline_with_that_error() {
        for stage in ["first", "middle", "last"] {
            let mut middle_calls = 0u32;
            let r = pipeline(
                (0..200u32).collect(),
                |i| {
                    if stage == "first" && i == 57 {
                        Err(fail("first", i))
                    } else {
                        Ok(i)
                    }
                },
                |a| {
                    middle_calls += 1;
                    if stage == "middle" && a == 57 {
                        Err(fail("middle", a))
                    } else {
                        Ok(a)
                    }
                },
                |b| {
                    if stage == "last" && b == 57 {
                        Err(fail("last", b))
                    } else {
                        Ok(b)
                    }
                },
            );
            let e = r.expect_err(stage).to_string();
            assert_eq!(e, format!("{stage} failed at 57"));
            // Nothing after the failure reaches the token but what was already in flight.
            assert!(
                middle_calls <= 58 + 2 * 8,
                "{stage}: the middle stage ran {middle_calls} times"
            );
        }
    }

    #[test]
    fn an_empty_batch_yields_nothing() {
        let out: Vec<u32> = pipeline(vec![], Ok::<u32, Error>, Ok, Ok).unwrap();
        assert!(out.is_empty());
    }
}
