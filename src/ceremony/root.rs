//! `root create` and `root show`: the root key generated on the token, the root certificate
//! self-signed through lint → sign → verify, both recorded in one ledger event.

use base64::Engine as _;
use chrono::{Duration, Utc};
use serde::Serialize;

use super::confirm::{self, Confirm, ConfirmRequest};
use super::witness::WitnessSigs;
use super::{CertInfo, Ctx, Operator};
use crate::error::{Error, Refusal, Result};
use crate::hsm::{TokenKey, UserSession};
use crate::keys::{sha256_hex, KeyType, RawSigner};
use crate::ledger::{CertificateRecord, Event, LedgerError, RootCreated, RootRecord};
use crate::vault::Vault;
use crate::witness::Body;
use crate::x509::{self, CaProfile, Dn, Draft, Issuing, Serial};

/// Default CKA_LABEL of the root key pair.
pub const DEFAULT_ROOT_LABEL: &str = "rootvault-root";
/// Default root validity in days.
pub const DEFAULT_ROOT_DAYS: u32 = 3650;

/// What the operator asked for.
#[derive(Debug, Clone)]
pub struct RootRequest {
    /// Subject name.
    pub subject: Dn,
    /// Key type to generate.
    pub key_type: KeyType,
    /// Validity in days.
    pub days: u32,
    /// basicConstraints pathLenConstraint, if any.
    pub path_len: Option<u8>,
    /// CKA_LABEL for the key pair.
    pub key_label: String,
}

/// The root as `root show` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct RootInfo {
    /// The certificate, with the stable JSON keys (cluster is null).
    #[serde(flatten)]
    pub certificate: CertInfo,
    /// SHA-256 of the SubjectPublicKeyInfo.
    pub spki_sha256: String,
    /// The key pair on the token.
    pub token_object: TokenObject,
    /// The audit public key (PEM) that signs the ledger's checkpoints.
    pub audit_public_key_pem: Option<String>,
    /// The SPIFFE trust domain intermediates are name-constrained to by default (null: the
    /// vault predates trust domains and constrains nothing by default).
    pub trust_domain: Option<String>,
    /// The PEM certificate.
    #[serde(skip)]
    pub pem: String,
    /// The active generation (the one described above).
    pub generation: u32,
    /// Every root generation, oldest first (cli.md "Root lifecycle").
    pub roots: Vec<super::GenerationInfo>,
    /// Each cluster's latest export, and whether it is stale for the current phase.
    pub exports: Vec<super::ExportFreshness>,
}

/// Where the root key lives on the token.
#[derive(Debug, Clone, Serialize)]
pub struct TokenObject {
    /// CKA_LABEL.
    pub label: String,
    /// CKA_ID, hex.
    pub id: String,
    /// The token's serial.
    pub token_serial: String,
}

/// Generates the root key on the token and self-signs the root certificate. Refuses if the
/// vault has a root. If anything fails after the key was generated, the key is destroyed.
pub fn create_root(ctx: &Ctx<'_>, req: &RootRequest) -> Result<RootInfo> {
    create_root_witnessed(ctx, req, &WitnessSigs::none())
}

/// `root create … --statement-out`: the checks of [`create_root`], then the statement body.
pub(super) fn root_statement(vault: &Vault, req: &RootRequest) -> Result<Body> {
    if vault.ledger()?.root()?.is_some() {
        return Err(refuse_second_root());
    }
    Ok(root_body(req))
}

/// The statement body of `root create`.
fn root_body(req: &RootRequest) -> Body {
    let mut body = Body::new("root create");
    body.line("subject", &req.subject)
        .line("key type", req.key_type.name())
        .line("validity", format!("{} days", req.days))
        .line(
            "pathlen",
            req.path_len.map_or("none".to_owned(), |p| p.to_string()),
        )
        .line("token key label", &req.key_label);
    body
}

/// [`create_root`] with the witnesses' signatures of its statement: the key is generated on
/// the token only after they are checked.
pub fn create_root_witnessed(
    ctx: &Ctx<'_>,
    req: &RootRequest,
    sigs: &WitnessSigs,
) -> Result<RootInfo> {
    let (vault, operator) = (ctx.vault, ctx.operator);
    let mut ledger = vault.ledger()?;
    if !ledger.generations()?.is_empty() {
        return Err(refuse_second_root());
    }
    let approval = super::witness::approve(
        vault,
        &ledger,
        &root_body(req),
        sigs,
        "no key was generated and nothing was signed",
    )?;
    ctx.with_session(|session, attestor| {
        let attested = approval.attest(attestor)?;
        let key = session.generate_key_pair(req.key_type, &req.key_label)?;
        let result = certify_and_record(
            vault,
            &mut ledger,
            session,
            attestor,
            &key,
            req,
            operator,
            &attested,
        );
        if result.is_err() {
            // Nothing may remain of a failed ceremony: the key goes too.
            let _ = session.destroy_key_pair(key);
        }
        result
    })
}

/// The SHA-256 of a root request as a ceremony script states it: five lines,
/// `subject=`, `key-type=`, `days=`, `path-len=` (`none` when not set) and `token-serial=`,
/// each ending in a newline, the subject as RFC 4514 writes it. Anyone can compute it with
/// `printf 'subject=%s\nkey-type=%s\ndays=%s\npath-len=%s\ntoken-serial=%s\n' … | sha256sum`.
pub fn root_request_fingerprint(req: &RootRequest, token_serial: &str) -> String {
    let path_len = req
        .path_len
        .map_or_else(|| "none".to_owned(), |n| n.to_string());
    let text = format!(
        "subject={}\nkey-type={}\ndays={}\npath-len={path_len}\ntoken-serial={token_serial}\n",
        req.subject,
        req.key_type.name(),
        req.days,
    );
    sha256_hex(text.as_bytes())
}

/// [`create_root`] after the operator confirms: the summary of what will be made, then a
/// prefix of [`root_request_fingerprint`] typed (so a subject, key type, validity or token
/// other than the ceremony script's makes nothing). Nothing touches the token before.
pub fn create_root_confirmed(
    ctx: &Ctx<'_>,
    req: &RootRequest,
    confirmer: &mut dyn Confirm,
) -> Result<RootInfo> {
    create_root_confirmed_witnessed(ctx, req, &WitnessSigs::none(), confirmer)
}

/// [`create_root_confirmed`] with the witnesses' signatures of its statement (the TUI's
/// root creation while the vault requires witnesses): the operator confirms, then
/// [`create_root_witnessed`] checks the signatures before the PIN is read.
pub fn create_root_confirmed_witnessed(
    ctx: &Ctx<'_>,
    req: &RootRequest,
    sigs: &WitnessSigs,
    confirmer: &mut dyn Confirm,
) -> Result<RootInfo> {
    if ctx.vault.ledger()?.root()?.is_some() {
        return Err(refuse_second_root());
    }
    let token_serial = &ctx.vault.config().token.serial;
    let request = ConfirmRequest {
        action: "create the root",
        summary: vec![
            ("subject".to_owned(), req.subject.to_string()),
            ("key type".to_owned(), req.key_type.name().to_owned()),
            ("days".to_owned(), req.days.to_string()),
            (
                "path length".to_owned(),
                req.path_len
                    .map_or_else(|| "none".to_owned(), |n| n.to_string()),
            ),
            ("key label".to_owned(), req.key_label.clone()),
            ("token serial".to_owned(), token_serial.clone()),
            (
                "request SHA-256".to_owned(),
                root_request_fingerprint(req, token_serial),
            ),
        ],
        subject: "the root request's SHA-256",
        expected: root_request_fingerprint(req, token_serial),
    };
    confirm::check(&request, confirmer.ask(&request), "no root was created")?;
    create_root_witnessed(ctx, req, sigs)
}

fn refuse_second_root() -> Error {
    Refusal::RootExists.into()
}

#[allow(clippy::too_many_arguments)]
fn certify_and_record(
    vault: &Vault,
    ledger: &mut crate::ledger::Ledger,
    session: &UserSession,
    attestor: &super::audit::Attestor<'_>,
    key: &TokenKey<'_>,
    req: &RootRequest,
    operator: &Operator,
    attested: &super::witness::Attested,
) -> Result<RootInfo> {
    let protection = session.protection(key)?;
    if !protection.is_locked_in() {
        return Err(Error::KeyNotLockedIn {
            what: "root key",
            protection,
        });
    }
    let serial = Serial::from_random(
        session
            .random(16)?
            .try_into()
            .expect("the token returned the 16 bytes asked for"),
    );
    let now = Utc::now();
    let draft = Draft::new(
        serial,
        req.subject.clone(),
        key.public_key().clone(),
        Issuing::SelfSigned,
        now,
        now + Duration::days(i64::from(req.days)),
        CaProfile {
            path_len: req.path_len,
            ..CaProfile::default()
        },
    )?;
    let linted = x509::lint(draft)?;
    let draft = linted.draft().clone();
    let issued = x509::sign(linted, key)?;

    let record = CertificateRecord {
        serial: draft.serial().hex(),
        subject: draft.subject().to_string(),
        not_before: rfc3339(draft.not_before()),
        not_after: rfc3339(draft.not_after()),
        key_type: req.key_type.name().to_owned(),
        spki_sha256: key.public_key().spki_sha256_hex(),
        sha256: sha256_hex(issued.der()),
        der_base64: base64::engine::general_purpose::STANDARD.encode(issued.der()),
    };
    let event = Event::RootCreated(RootCreated {
        certificate: record,
        key_label: key.label().to_owned(),
        key_id: hex::encode(key.id()),
        token_serial: vault.config().token.serial.clone(),
    });
    let tx = attestor.take(attested.begin(ledger, operator)?)?;
    // Checked again under the write lock: another process may have made a root meanwhile.
    if !tx.generations()?.is_empty() {
        return Err(refuse_second_root());
    }
    tx.append(&operator.0, &event)?;
    attestor.commit(tx)?;
    drop(draft);
    let root = ledger.root()?.ok_or(LedgerError::Integrity(
        "the root just recorded cannot be read back".to_owned(),
    ))?;
    describe(vault, &root)
}

/// The vault's root.
pub fn root_info(vault: &Vault) -> Result<RootInfo> {
    let root = super::require_root(&vault.ledger()?)?;
    describe(vault, &root)
}

fn describe(vault: &Vault, root: &RootRecord) -> Result<RootInfo> {
    let token_serial = &vault.config().token.serial;
    Ok(RootInfo {
        certificate: CertInfo::from_record(&root.certificate, None)
            .with_generation(root.generation),
        generation: root.generation,
        roots: super::generations(vault)?,
        exports: super::export_freshness(vault)?,
        spki_sha256: root.certificate.spki_sha256.clone(),
        token_object: TokenObject {
            label: root.key_label.clone(),
            id: root.key_id.clone(),
            token_serial: token_serial.to_owned(),
        },
        pem: crate::x509::certificate_pem(&root.der),
        audit_public_key_pem: super::audit_public_key_pem(vault)?,
        trust_domain: super::trust_domain(vault),
    })
}

pub use crate::time::rfc3339;

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path_len: Option<u8>) -> RootRequest {
        RootRequest {
            subject: Dn::parse("CN=Example Root CA,O=Example,C=GB").unwrap(),
            key_type: KeyType::EcdsaP384,
            days: 3650,
            path_len,
            key_label: DEFAULT_ROOT_LABEL.to_owned(),
        }
    }

    /// What a ceremony script's author runs, by the shell's own printf and sha256sum.
    fn by_shell(subject: &str, path_len: &str) -> String {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "printf 'subject=%s\\nkey-type=%s\\ndays=%s\\npath-len=%s\\ntoken-serial=%s\\n' '{subject}' ecdsa-p384 3650 {path_len} 0123abcd | sha256sum"
            ))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()[..64].to_owned()
    }

    #[test]
    fn the_root_request_fingerprint_is_what_printf_and_sha256sum_give() {
        let subject = request(None).subject.to_string();
        assert_eq!(subject, "CN=Example Root CA, O=Example, C=GB");
        assert_eq!(
            root_request_fingerprint(&request(None), "0123abcd"),
            by_shell(&subject, "none")
        );
        assert_eq!(
            root_request_fingerprint(&request(Some(1)), "0123abcd"),
            by_shell(&subject, "1")
        );
        assert_ne!(
            root_request_fingerprint(&request(None), "0123abcd"),
            root_request_fingerprint(&request(None), "0123abce"),
            "another token is another request"
        );
    }
}
