//! Subordinate mode: `root csr` (a pending generation whose key is on the token) and `root
//! import` (the certificate an enterprise CA issued for it, checked before it is kept).

#[allow(unused_imports)]
use super::*;

/// What `root csr` asks for.
#[derive(Debug, Clone)]
pub struct RootCsrRequest {
    /// The subject to request.
    pub subject: Dn,
    /// The key type to generate on the token.
    pub key_type: KeyType,
    /// CKA_LABEL (default [`default_key_label`]).
    pub key_label: Option<String>,
    /// Where to write the request (PEM).
    pub out: Output,
}

/// What `root csr` made.
#[derive(Debug, Clone, Serialize)]
pub struct RootCsrReport {
    /// The pending generation.
    pub generation: u32,
    /// Key type.
    pub key_type: String,
    /// SHA-256 of the key's SubjectPublicKeyInfo: what the enterprise CA's operator compares.
    pub spki_sha256: String,
    /// SHA-256 of the DER request.
    pub csr_sha256: String,
    /// Where it was written.
    pub path: std::path::PathBuf,
}

/// What the operator would confirm for `root csr` (the TUI asks; the command line does not, as
/// making a pending key changes no trust): the request's subject, key and token, confirmed by
/// the SHA-256 of those lines (`printf 'subject=%s\nkey-type=%s\ntoken-serial=%s\n' … |
/// sha256sum`). Refuses what `root csr` would refuse.
pub fn csr_confirmation(vault: &Vault, req: &RootCsrRequest) -> Result<ConfirmRequest> {
    let ledger = vault.ledger()?;
    let generations = ledger.generations()?;
    refuse_if_pending(&generations)?;
    let token_serial = &vault.config().token.serial;
    let fingerprint = sha256_hex(
        format!(
            "subject={}\nkey-type={}\ntoken-serial={token_serial}\n",
            req.subject,
            req.key_type.name()
        )
        .as_bytes(),
    );
    Ok(ConfirmRequest {
        action: "make a root key and its certificate request",
        summary: vec![
            (
                "generation".to_owned(),
                format!(
                    "{} (pending until its certificate is imported)",
                    next_generation(&generations)
                ),
            ),
            ("subject".to_owned(), req.subject.to_string()),
            ("key type".to_owned(), req.key_type.name().to_owned()),
            ("token serial".to_owned(), token_serial.clone()),
            ("request SHA-256".to_owned(), fingerprint.clone()),
        ],
        subject: "the SHA-256 of the request's lines",
        expected: fingerprint,
    })
}

/// The statement body of `root csr`, after its checks: the pending generation, the subject
/// requested, the key type and its label.
fn csr_body(ledger: &Ledger, req: &RootCsrRequest) -> Result<Body> {
    let generations = ledger.generations()?;
    refuse_if_pending(&generations)?;
    let generation = next_generation(&generations);
    let label = req
        .key_label
        .clone()
        .unwrap_or_else(|| default_key_label(generation));
    let mut body = Body::new("root csr");
    body.line(
        "generation",
        format!("{generation} (pending until its certificate is imported)"),
    )
    .line("subject", &req.subject)
    .line("key type", req.key_type.name())
    .line("token key label", label);
    Ok(body)
}

/// `root csr … --statement-out`: the checks of [`root_csr`], then its statement body.
pub(crate) fn csr_statement(vault: &Vault, req: &RootCsrRequest) -> Result<Body> {
    csr_body(&vault.ledger()?, req)
}

/// `root csr`: a key on the token (a pending generation) and a PKCS#10 request for it signed
/// on the token, written to `out` (reserved before the token is touched). A failure before the
/// generation is recorded destroys the key.
pub fn root_csr(ctx: &Ctx<'_>, req: &RootCsrRequest) -> Result<RootCsrReport> {
    root_csr_witnessed(ctx, req, &WitnessSigs::none())
}

/// [`root_csr`] with the witnesses' signatures of its statement: no key is made on the
/// token unless they count.
pub fn root_csr_witnessed(
    ctx: &Ctx<'_>,
    req: &RootCsrRequest,
    sigs: &WitnessSigs,
) -> Result<RootCsrReport> {
    let mut ledger = ctx.vault.ledger()?;
    let approval = witness::approve(
        ctx.vault,
        &ledger,
        &csr_body(&ledger, req)?,
        sigs,
        "no key was generated",
    )?;
    let generations = ledger.generations()?;
    refuse_if_pending(&generations)?;
    let generation = next_generation(&generations);
    let label = req
        .key_label
        .clone()
        .unwrap_or_else(|| default_key_label(generation));
    let reserved =
        fsio::ReservedFile::reserve(&req.out.path, req.out.force, fsio::CERT_RESERVATION)?;
    let (report, pem) = ctx.with_session(|session, attestor| {
        let attested = approval.attest(attestor)?;
        let key = session.generate_key_pair(req.key_type, &label)?;
        let made = (|| -> Result<(RootCsrReport, String)> {
            let protection = session.protection(&key)?;
            if !protection.is_locked_in() {
                return Err(Error::KeyNotLockedIn {
                    what: "root key",
                    protection,
                });
            }
            let der = x509::sign_request(&req.subject, &key)?;
            let spki_sha256 = key.public_key().spki_sha256_hex();
            let csr_sha256 = sha256_hex(&der);
            let tx = attestor.take(attested.begin(&mut ledger, ctx.operator)?)?;
            let now_generations = tx.generations()?;
            refuse_if_pending(&now_generations)?;
            if next_generation(&now_generations) != generation {
                return Err(Error::Raced(
                    "another process changed the root generations meanwhile",
                ));
            }
            tx.append(
                &ctx.operator.0,
                &Event::RootKeyGenerated(RootKeyGenerated {
                    generation,
                    key_label: key.label().to_owned(),
                    key_id: hex::encode(key.id()),
                    key_type: req.key_type.name().to_owned(),
                    spki_sha256: spki_sha256.clone(),
                    token_serial: ctx.vault.config().token.serial.clone(),
                    subject: req.subject.to_string(),
                    csr_sha256: csr_sha256.clone(),
                }),
            )?;
            attestor.commit(tx)?;
            Ok((
                RootCsrReport {
                    generation,
                    key_type: req.key_type.name().to_owned(),
                    spki_sha256,
                    csr_sha256,
                    path: req.out.path.clone(),
                },
                x509::to_pem("CERTIFICATE REQUEST", &der),
            ))
        })();
        if made.is_err() {
            let _ = session.destroy_key_pair(key);
        }
        made
    })?;
    reserved
        .commit(pem.as_bytes())
        .map_err(|e| Error::RecordedNotWritten {
            done: format!("the key of pending root generation {generation} was made on the token"),
            remedy: "The request was not kept: abandon nothing, but ask for support to write it again (the key is recorded; its public key is in `rootvault root show --json`).".to_owned(),
            source: Box::new(e.into()),
        })?;
    Ok(report)
}

/// What `root import` is given.
#[derive(Debug, Clone, Copy)]
pub struct ImportRequest<'a> {
    /// The certificate file: the certificate the enterprise root issued, PEM or DER, possibly
    /// followed by its chain.
    pub cert: &'a [u8],
    /// The chain file, if one was given: the certificates from its issuer up to and including
    /// the enterprise's self-signed root, PEM, in any order.
    pub chain: Option<&'a [u8]>,
}

/// An imported certificate that passed every check, ready to confirm.
#[derive(Debug, Clone)]
pub struct CheckedImport {
    /// The pending generation it completes.
    pub generation: u32,
    /// The generation that becomes trusted, if one is active.
    pub previous: Option<u32>,
    /// The certificate as the ledger will keep it.
    pub record: CertificateRecord,
    /// Its chain: issuer first, the self-signed anchor last.
    pub chain: Vec<LinkedCertificate>,
    /// The pending key on the token.
    pub key_label: String,
    /// Its CKA_ID, hex.
    pub key_id: String,
    /// The certificate's basicConstraints pathLenConstraint (`None`: unlimited).
    pub path_len: Option<u32>,
}

fn import_refusal(check: &'static str, detail: impl Into<String>) -> Error {
    Refusal::Import {
        check,
        detail: detail.into(),
    }
    .into()
}

/// Every certificate in `bytes`: PEM blocks (`CERTIFICATE` only), or one DER certificate.
fn read_certificates(what: &str, bytes: &[u8]) -> Result<Vec<Vec<u8>>> {
    if let Ok(blocks) = pem::parse_many(bytes) {
        if !blocks.is_empty() {
            let mut out = Vec::new();
            for b in blocks {
                if b.tag() != "CERTIFICATE" {
                    return Err(import_refusal(
                        "certificate",
                        format!(
                            "{what} holds a {} block; pass CERTIFICATE blocks only",
                            b.tag()
                        ),
                    ));
                }
                out.push(b.into_contents());
            }
            return Ok(out);
        }
    }
    match X509Certificate::from_der(bytes) {
        Ok(([], _)) => Ok(vec![bytes.to_vec()]),
        _ => Err(import_refusal(
            "certificate",
            format!("{what} is neither PEM certificates nor one DER certificate"),
        )),
    }
}

fn parse<'a>(what: &str, der: &'a [u8]) -> Result<X509Certificate<'a>> {
    match X509Certificate::from_der(der) {
        Ok(([], c)) => Ok(c),
        Ok(_) => Err(import_refusal(
            "certificate",
            format!("{what} has trailing bytes"),
        )),
        Err(e) => Err(import_refusal(
            "certificate",
            format!("{what} is not a well-formed X.509 certificate ({e})"),
        )),
    }
}

/// The subject as the vault writes names (RFC 4514, C/ST/L/O/OU/CN), so that the policy can
/// read the root's O= as it does for a root the vault made.
fn subject_of(cert: &X509Certificate<'_>) -> Result<String> {
    let mut attrs = Vec::new();
    for a in cert.subject().iter_attributes() {
        let oid = a.attr_type().to_id_string();
        let attr = [
            Attr::Country,
            Attr::State,
            Attr::Locality,
            Attr::Organization,
            Attr::OrganizationalUnit,
            Attr::CommonName,
        ]
        .into_iter()
        .find(|k| k.oid() == oid)
        .ok_or_else(|| {
            import_refusal(
                "subject",
                format!("its subject ({}) has attribute {oid}, and the vault's names hold C, ST, L, O, OU and CN only", cert.subject()),
            )
        })?;
        let value = a.as_str().map_err(|_| {
            import_refusal(
                "subject",
                format!(
                    "its subject ({}) has a value that is not a string",
                    cert.subject()
                ),
            )
        })?;
        attrs.push((attr, value.to_owned()));
    }
    let dn = Dn::from_attrs(attrs).map_err(|e| import_refusal("subject", e))?;
    Ok(dn.to_string())
}

const SHA1_SIGNATURES: [&str; 2] = ["1.2.840.113549.1.1.5", "1.2.840.10045.4.1"];

/// The checks of cli.md for one CA certificate of the path: a CA, keyCertSign, pathLen room
/// for `below` CA certificates under it, valid now, not signed with SHA-1.
fn check_ca(what: &str, cert: &X509Certificate<'_>, below: u32, now: i64) -> Result<()> {
    match cert.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => {
            if let Some(n) = bc.value.path_len_constraint {
                if n < below {
                    return Err(import_refusal(
                        "pathLen",
                        format!(
                            "{what} has pathLen {n}, but {below} CA certificate(s) must fit under it (the vault's CA and each cluster's intermediate); the enterprise must issue it with pathLen {below} or more, or none"
                        ),
                    ));
                }
            }
        }
        _ => {
            return Err(import_refusal(
                "CA",
                format!("{what} is not a CA certificate (no basicConstraints cA TRUE)"),
            ))
        }
    }
    match cert.key_usage() {
        Ok(Some(ku)) if ku.value.key_cert_sign() => {}
        _ => {
            return Err(import_refusal(
                "keyCertSign",
                format!("{what} may not sign certificates (its keyUsage lacks keyCertSign)"),
            ))
        }
    }
    let v = cert.validity();
    if now < v.not_before.timestamp() || now > v.not_after.timestamp() {
        return Err(import_refusal(
            "validity",
            format!(
                "{what} is not valid now (valid from {} to {})",
                v.not_before, v.not_after
            ),
        ));
    }
    if SHA1_SIGNATURES.contains(&cert.signature_algorithm.algorithm.to_id_string().as_str()) {
        return Err(import_refusal(
            "signature",
            format!("{what} is signed with SHA-1, which istiod refuses"),
        ));
    }
    Ok(())
}

/// Checks an imported certificate against everything cli.md names (each refusal exit 3,
/// naming the check): its key is the pending generation's, it is a CA with keyCertSign (and
/// cRLSign, for the generation's CRLs), its pathLen (if any) is at least 1, it is valid now,
/// and it chains through the certificates given to a self-signed anchor among them. Nothing is
/// touched.
pub fn check_import(vault: &Vault, req: ImportRequest<'_>) -> Result<CheckedImport> {
    let ledger = vault.ledger()?;
    let generations = ledger.generations()?;
    let pending = generations
        .iter()
        .find(|g| g.status == "pending")
        .ok_or(Refusal::NoPending)?;
    let Some(Event::RootKeyGenerated(key)) = ledger.event(pending.status_seq)? else {
        return Err(LedgerError::Integrity(format!(
            "root generation {} is pending, but the event that made it is not a root_key_generated",
            pending.generation
        ))
        .into());
    };
    let mut given = read_certificates("--cert", req.cert)?;
    let cert_der = given.remove(0);
    if let Some(chain) = req.chain {
        given.extend(read_certificates("--chain", chain)?);
    }
    let cert = parse("the certificate", &cert_der)?;
    let spki_sha256 = sha256_hex(cert.public_key().raw);
    if spki_sha256 != key.spki_sha256 {
        return Err(import_refusal(
            "key match",
            format!(
                "its public key (SPKI SHA-256 {spki_sha256}) is not the pending generation {}'s key ({}); it was issued for another request",
                pending.generation, key.spki_sha256
            ),
        ));
    }
    let now = Utc::now().timestamp();
    check_ca("the certificate", &cert, 1, now)?;
    let path_len = cert
        .basic_constraints()
        .ok()
        .flatten()
        .and_then(|bc| bc.value.path_len_constraint);
    // RFC 5280 §4.2.1.2: a CA certificate carries a subjectKeyIdentifier, which every
    // intermediate the vault issues under it names as its authorityKeyIdentifier.
    if !cert
        .get_extension_unique(&x509_parser::oid_registry::OID_X509_EXT_SUBJECT_KEY_IDENTIFIER)
        .is_ok_and(|e| e.is_some())
    {
        return Err(import_refusal(
            "CA",
            "the certificate carries no subjectKeyIdentifier, which RFC 5280 §4.2.1.2 requires of a CA certificate",
        ));
    }
    if !cert
        .key_usage()
        .ok()
        .flatten()
        .is_some_and(|ku| ku.value.crl_sign())
    {
        return Err(import_refusal(
            "keyCertSign",
            "the certificate's keyUsage lacks cRLSign, so the CRLs the vault signs with it would be invalid; the enterprise must issue it with keyCertSign and cRLSign",
        ));
    }
    if cert.issuer().as_raw() == cert.subject().as_raw() {
        return Err(import_refusal(
            "chain",
            "the certificate is self-signed: `root import` takes a certificate an enterprise root issued",
        ));
    }
    // The path: from the certificate through the given certificates to a self-signed anchor.
    let parsed: Vec<(Vec<u8>, X509Certificate<'_>)> = given
        .iter()
        .map(|d| parse("a certificate of the chain", d).map(|c| (d.clone(), c)))
        .collect::<Result<_>>()?;
    let mut chain: Vec<LinkedCertificate> = Vec::new();
    let mut current = &cert;
    let mut below = 1u32;
    loop {
        let issuer = parsed.iter().find(|(_, c)| {
            c.subject().as_raw() == current.issuer().as_raw()
                && current.verify_signature(Some(c.public_key())).is_ok()
        });
        let Some((der, issuer)) = issuer else {
            return Err(import_refusal(
                "chain",
                format!(
                    "no certificate given is the issuer of {} (its issuer is {}): pass the chain up to and including the enterprise's self-signed root with --chain",
                    current.subject(),
                    current.issuer()
                ),
            ));
        };
        if chain.iter().any(|c| c.sha256 == sha256_hex(der)) || chain.len() > 8 {
            return Err(import_refusal("chain", "the chain loops"));
        }
        below += 1;
        check_ca(
            &format!("chain certificate {}", issuer.subject()),
            issuer,
            below,
            now,
        )?;
        chain.push(LinkedCertificate {
            serial: hex::encode(issuer.raw_serial()),
            subject: issuer.subject().to_string(),
            sha256: sha256_hex(der),
            der_base64: base64::engine::general_purpose::STANDARD.encode(der),
        });
        if issuer.issuer().as_raw() == issuer.subject().as_raw() {
            if issuer.verify_signature(None).is_err() {
                return Err(import_refusal(
                    "chain",
                    format!(
                        "the anchor {} does not verify its own signature",
                        issuer.subject()
                    ),
                ));
            }
            break;
        }
        current = issuer;
    }
    let key_type = KeyType::from_str(&key.key_type)
        .map_err(|e| LedgerError::malformed("the pending key's type", e))?;
    let v = cert.validity();
    let time = |t: i64| rfc3339(DateTime::from_timestamp(t, 0).unwrap_or_default());
    let record = CertificateRecord {
        serial: hex::encode(cert.raw_serial()),
        subject: subject_of(&cert)?,
        not_before: time(v.not_before.timestamp()),
        not_after: time(v.not_after.timestamp()),
        key_type: key_type.name().to_owned(),
        spki_sha256,
        sha256: sha256_hex(&cert_der),
        der_base64: base64::engine::general_purpose::STANDARD.encode(&cert_der),
    };
    if ledger.serial_issued(&record.serial)? {
        return Err(import_refusal(
            "certificate",
            format!(
                "its serial {} is one the vault already recorded",
                record.serial
            ),
        ));
    }
    Ok(CheckedImport {
        generation: pending.generation,
        previous: active_of(&generations).map(|g| g.generation),
        record,
        chain,
        key_label: pending.key_label.clone(),
        key_id: pending.key_id.clone(),
        path_len,
    })
}

/// What the operator confirms for an import: the imported certificate's SHA-256.
pub fn import_confirmation(c: &CheckedImport) -> ConfirmRequest {
    let mut summary = vec![
        (
            "generation".to_owned(),
            format!("{} (pending, becomes active)", c.generation),
        ),
        ("subject".to_owned(), c.record.subject.clone()),
        ("serial".to_owned(), c.record.serial.clone()),
        (
            "validity".to_owned(),
            format!("{} .. {}", c.record.not_before, c.record.not_after),
        ),
        ("SPKI SHA-256".to_owned(), c.record.spki_sha256.clone()),
        ("SHA-256".to_owned(), c.record.sha256.clone()),
    ];
    for (i, link) in c.chain.iter().enumerate() {
        summary.push((
            if i + 1 == c.chain.len() {
                "anchor".to_owned()
            } else {
                "issued by".to_owned()
            },
            format!("{} (SHA-256 {})", link.subject, link.sha256),
        ));
    }
    if let Some(p) = c.previous {
        summary.push((
            "afterwards".to_owned(),
            format!("generation {p} trusted (both in every trust bundle until it is retired)"),
        ));
    }
    ConfirmRequest {
        action: "import the root certificate",
        summary,
        subject: "the imported certificate's SHA-256",
        expected: c.record.sha256.clone(),
    }
}

/// The statement body of `root import`: the imported certificate (SHA-256, subject, issuer,
/// pathLen, key, validity) and the anchor its chain ends in.
fn import_body(c: &CheckedImport) -> Body {
    let mut body = Body::new("root import");
    body.line(
        "generation",
        format!("{} (pending, becomes active)", c.generation),
    );
    if let Some(p) = c.previous {
        body.line("previous", format!("generation {p} (becomes trusted)"));
    }
    body.line("certificate SHA-256", &c.record.sha256)
        .line("subject", &c.record.subject)
        .line(
            "issuer",
            c.chain.first().map_or("-", |i| i.subject.as_str()),
        )
        .line(
            "pathlen",
            c.path_len.map_or("none".to_owned(), |p| p.to_string()),
        )
        .line("serial", &c.record.serial)
        .line(
            "validity",
            format!("{} .. {}", c.record.not_before, c.record.not_after),
        )
        .line("SPKI SHA-256", &c.record.spki_sha256);
    if let Some(anchor) = c.chain.last() {
        body.line("anchor", &anchor.subject)
            .line("anchor SHA-256", &anchor.sha256);
    }
    body
}

/// `root import … --statement-out`: [`check_import`], then the statement body.
pub(crate) fn import_statement(vault: &Vault, req: ImportRequest<'_>) -> Result<Body> {
    Ok(import_body(&check_import(vault, req)?))
}

/// `root import`: after [`check_import`] and the operator's confirmation, the pending key is
/// found on the token and checked against the certificate and what the token attested, and
/// the generation becomes active (the one before it trusted).
pub fn import_root(
    ctx: &Ctx<'_>,
    req: ImportRequest<'_>,
    confirmer: &mut dyn Confirm,
) -> Result<GenerationInfo> {
    import_root_witnessed(ctx, req, &WitnessSigs::none(), confirmer)
}

/// [`import_root`] with the witnesses' signatures of its statement.
pub fn import_root_witnessed(
    ctx: &Ctx<'_>,
    req: ImportRequest<'_>,
    sigs: &WitnessSigs,
    confirmer: &mut dyn Confirm,
) -> Result<GenerationInfo> {
    let checked = check_import(ctx.vault, req)?;
    let request = import_confirmation(&checked);
    let mut ledger = ctx.vault.ledger()?;
    let approval = witness::approve(
        ctx.vault,
        &ledger,
        &import_body(&checked),
        sigs,
        "nothing was imported",
    )?;
    confirm_root_step(&request, confirmer, "nothing was imported")?;
    let generation = checked.generation;
    ctx.with_session(|session, attestor| {
        let attested_approval = approval.attest(attestor)?;
        let state: TokenState = attestor.state();
        let attested = crate::ceremony::verified::generation(&state, generation)?;
        if attested.status != "pending" || attested.key.as_deref() != Some(&checked.record.spki_sha256) {
            return Err(state::Mismatch::Derived(format!(
                "the token attested root generation {generation} {} with key {:?}, not pending with the key of this certificate: the ledger was altered",
                attested.status, attested.key
            ))
            .into());
        }
        let key_type = KeyType::from_str(&checked.record.key_type)
            .map_err(|e| LedgerError::malformed("the pending key's type", e))?;
        let id = hex::decode(&checked.key_id)
            .map_err(|e| LedgerError::malformed("the pending key's id", e))?;
        let key = session.find_key_pair(key_type, &checked.key_label, &id)?;
        if key.public_key().spki_sha256_hex() != checked.record.spki_sha256 {
            return Err(Error::RootKeyMismatch(checked.key_label.clone()));
        }
        let tx = attestor.take(attested_approval.begin(&mut ledger, ctx.operator)?)?;
        let now_generations = tx.generations()?;
        if now_generations
            .iter()
            .find(|g| g.generation == generation)
            .is_none_or(|g| g.status != "pending")
            || active_of(&now_generations).map(|g| g.generation) != checked.previous
        {
            return Err(Error::Raced("another process changed the root generations meanwhile"));
        }
        tx.append(
            &ctx.operator.0,
            &Event::RootImported(RootImported {
                generation,
                previous: checked.previous,
                certificate: checked.record.clone(),
                chain: checked.chain.clone(),
            }),
        )?;
        attestor.commit(tx)?;
        Ok(())
    })?;
    describe(&ledger, &require_generation(&ledger, generation)?)
}

// ------------------------------------------------------------------------------------------
// root cert
// ------------------------------------------------------------------------------------------
