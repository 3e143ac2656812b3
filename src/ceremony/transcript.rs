//! `ledger transcript`: a printable record of a ceremony for the operator and the witness to
//! sign, as key-ceremony scripts require.
//!
//! Plain text, at most [`TRANSCRIPT_WIDTH`] columns, values from column 16 so that a SHA-256
//! in hex (64 digits) fits on one line and can be read aloud and compared. Sections:
//! 1. the header: vault, token (label, serial), root (subject, serial, SHA-256 of the
//!    certificate and of its public key), the audit key's SHA-256, the ledger's state, the
//!    events covered and the hash they chain from, the clusters concerned;
//! 2. every event from `--since` on: seq, kind, what it did, time, operator, the details
//!    that identify what was signed, revoked or exported, and the event's hash;
//! 3. the closing checkpoint (seq, hash, time, signature, audit public key), or a clear
//!    statement of which events no signed checkpoint covers yet;
//! 4. blank lines for the operator's and the witness's printed names, signatures and date.
//!
//! The header also lists every rootvault binary that wrote to the ledger, with the events it
//! wrote (from `vault_initialised` and `software_changed`). The closing checkpoint comes back
//! with the text, so that the CLI can write a receipt for it beside the transcript: the one
//! receipt that covers the newest token event.
//!
//! A ledger that fails verification gets no transcript (exit 4): nobody should sign one.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use chrono::Utc;
use sha2::{Digest, Sha256};

use super::rfc3339;
use crate::error::{Error, Result};
use crate::ledger::{Checkpoint, Event, LedgerError, Software, StoredEvent, VaultInitialised};
use crate::vault::Vault;

/// A transcript and what it was made from (`ledger transcript --json` prints this).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Transcript {
    /// The first event printed.
    pub since: i64,
    /// The ledger's last seq.
    pub events: i64,
    /// The ledger's head hash.
    pub head: String,
    /// The closing checkpoint (the newest), if the vault has one.
    pub checkpoint: Option<Checkpoint>,
    /// The receipt for the closing checkpoint, as `ledger verify --receipt` and
    /// `verify_ledger.py --receipt` read it.
    pub receipt: Option<serde_json::Value>,
    /// The same receipt as the file `ledger transcript --out FILE` writes beside the
    /// transcript (`FILE.receipt.json`), byte for byte what an export's receipt would be.
    #[serde(skip)]
    pub receipt_json: Option<String>,
    /// Every binary that wrote to the ledger, oldest first.
    pub software: Vec<SoftwareSpan>,
    /// The printable transcript.
    pub text: String,
}

/// One binary and the events it wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SoftwareSpan {
    /// Its first event.
    pub first_seq: i64,
    /// Its last event.
    pub last_seq: i64,
    /// What the ledger records of it (null: a vault made before binaries were recorded).
    pub software: Option<Software>,
}

/// The widest line of a transcript.
pub const TRANSCRIPT_WIDTH: usize = 80;
/// The column where values start.
const VALUE_COLUMN: usize = 16;

/// The transcript of the events from `since` (1 for the whole ledger) to the head.
pub fn transcript(vault: &Vault, since: i64) -> Result<Transcript> {
    let since = since.max(1);
    let ledger = vault.ledger()?;
    let verified = ledger.verify()?;
    if !verified.ok {
        return Err(Error::Ledger(LedgerError::Integrity(format!(
            "the ledger does not verify ({}), so no transcript is printed for anyone to sign",
            verified.problems.first().map_or("", String::as_str)
        ))));
    }
    let root = ledger.root()?;
    let generations = ledger.generations()?;
    let audit = ledger.audit_key()?;
    let closing = ledger.latest_checkpoint()?;
    let (count, head) = ledger.head()?;

    let mut init: Option<VaultInitialised> = None;
    let mut anchor: Option<String> = None;
    let mut clusters = BTreeSet::new();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut events = Page::default();
    let mut software: Vec<SoftwareSpan> = Vec::new();
    ledger.for_each_event(1, |e| {
        let parsed = Event::parse(&e.kind, &e.payload);
        if let (None, Ok(Event::VaultInitialised(v))) = (&init, &parsed) {
            init = Some(v.clone());
        }
        let started = match &parsed {
            Ok(Event::VaultInitialised(v)) if software.is_empty() => Some(v.software.clone()),
            Ok(Event::SoftwareChanged(s)) => Some(Some(s.clone())),
            _ if software.is_empty() => Some(None),
            _ => None,
        };
        if let Some(s) = started {
            software.push(SoftwareSpan {
                first_seq: e.seq,
                last_seq: e.seq,
                software: s,
            });
        } else if let Some(last) = software.last_mut() {
            last.last_seq = e.seq;
        }
        if e.seq < since {
            return Ok(());
        }
        anchor.get_or_insert_with(|| e.prev_hash.clone());
        *kinds.entry(e.kind.clone()).or_default() += 1;
        let described = describe(&e, parsed);
        clusters.extend(described.cluster.clone());
        events.event(&e, &described);
        Ok(())
    })?;

    let mut page = Page::default();
    page.text("ROOTVAULT CEREMONY TRANSCRIPT");
    page.rule('=');
    page.field(
        0,
        "printed",
        &format!(
            "{} by rootvault {}",
            rfc3339(Utc::now()),
            env!("CARGO_PKG_VERSION")
        ),
    );
    let dir = std::fs::canonicalize(vault.dir()).unwrap_or_else(|_| vault.dir().to_owned());
    page.field(0, "vault", &dir.display().to_string());
    let token = &vault.config().token;
    page.field(
        0,
        "token",
        &format!(
            "label {}, serial {}",
            init.as_ref()
                .map_or(token.selector.as_str(), |i| i.token_label.as_str()),
            token.serial
        ),
    );
    if let Some(i) = &init {
        page.field(0, "token model", &i.token_model);
    }
    match &root {
        Some(r) => {
            page.field(0, "root", &r.certificate.subject);
            page.field(0, "root serial", &r.certificate.serial);
            page.field(0, "root SHA-256", &r.certificate.sha256);
            page.field(0, "root SPKI", &r.certificate.spki_sha256);
        }
        None => page.field(0, "root", "(none yet)"),
    }
    if generations.len() > 1 || generations.iter().any(|g| g.status != "active") {
        for g in &generations {
            let what = match &g.certificate {
                Some(c) => format!(
                    "{} {}{}: {} (SHA-256 {})",
                    g.generation,
                    g.status,
                    if g.key_destroyed {
                        ", key destroyed"
                    } else {
                        ""
                    },
                    c.record.subject,
                    c.record.sha256
                ),
                None => format!(
                    "{} {}: key {} on the token",
                    g.generation, g.status, g.key_label
                ),
            };
            page.field(0, "generation", &what);
        }
    }
    page.field(
        0,
        "audit key",
        &audit
            .as_ref()
            .and_then(|a| spki_sha256(&a.public_key_der_base64))
            .unwrap_or_else(|| "(none yet)".into()),
    );
    page.field(
        0,
        "ledger",
        &format!(
            "{count} events, {} signed checkpoints: verified intact",
            verified.checkpoints
        ),
    );
    page.field(0, "ledger head", &head);
    match &anchor {
        Some(prev) => {
            page.field(
                0,
                "events",
                &format!("#{since} to #{count} ({} events)", count - since + 1),
            );
            page.field(0, "chained from", prev);
        }
        None => page.field(
            0,
            "events",
            &format!("none at or after #{since}; the ledger ends at #{count}"),
        ),
    }
    page.field(
        0,
        "clusters",
        &if clusters.is_empty() {
            "(none)".to_owned()
        } else {
            clusters.into_iter().collect::<Vec<_>>().join(", ")
        },
    );
    for (kind, n) in &kinds {
        page.field(0, "actions", &format!("{n} x {kind}"));
    }
    page.blank();
    page.section("SOFTWARE THAT WROTE TO THIS LEDGER");
    for span in &software {
        page.text(&format!("events #{} to #{}", span.first_seq, span.last_seq));
        match &span.software {
            Some(s) => {
                page.field(2, "rootvault", &s.version);
                page.field(2, "commit", &s.commit);
                page.field(2, "binary SHA-256", &s.sha256);
            }
            None => page.field(
                2,
                "rootvault",
                "not recorded (a vault made before binaries were)",
            ),
        }
    }
    page.blank();
    page.section("EVENTS");
    if anchor.is_none() {
        page.text(&format!("(no events at or after #{since})"));
        page.blank();
    }
    page.out.push_str(&events.out);

    page.section("CLOSING CHECKPOINT");
    match &closing {
        None => page.para(
            "NO SIGNED CHECKPOINT: this ledger has no audit key yet, so only its hash chain protects it. The next ceremony action creates the audit key and signs one.",
        ),
        Some(cp) => {
            page.field(0, "seq", &cp.seq.to_string());
            page.field(0, "event hash", &cp.hash);
            page.field(0, "signed at", &cp.time);
            // The key that verifies the signature, not the token object's label (which no
            // signature covers).
            page.field(
                0,
                "audit key",
                &audit
                    .as_ref()
                    .and_then(|a| spki_sha256(&a.public_key_der_base64))
                    .unwrap_or_else(|| "(none)".into()),
            );
            let signature = wrap(&cp.signature, TRANSCRIPT_WIDTH - VALUE_COLUMN);
            for (i, line) in signature.iter().enumerate() {
                page.field(0, if i == 0 { "signature" } else { "" }, line);
            }
            if let Some(pem) = audit.as_ref().and_then(|a| audit_pem(&a.public_key_der_base64)) {
                page.text("audit public key:");
                for line in pem.lines() {
                    page.text(line);
                }
            }
            page.blank();
            if cp.seq >= count {
                page.para(&format!(
                    "Every event up to and including #{count} is covered by this signature, made on the token by the audit key; anyone can check it with the audit public key alone (docs/audit.md)."
                ));
            } else {
                page.para(&format!(
                    "NOT COVERED: events #{} to #{count} come after the last signed checkpoint (refusals are recorded without the token). Until the next ceremony action signs a checkpoint, only the hash chain protects them.",
                    cp.seq + 1
                ));
            }
        }
    }
    page.blank();

    page.section("SIGNATURES");
    page.para(
        "By signing, we state that this transcript records the ceremony we took part in, and that the fingerprints above were read aloud and compared with those the cluster teams sent.",
    );
    for who in ["Operator", "Witness"] {
        page.blank();
        page.text(who);
        for what in ["Printed name", "Signature", "Date"] {
            page.blank();
            page.field(2, what, &"_".repeat(TRANSCRIPT_WIDTH - VALUE_COLUMN - 8));
        }
    }
    let receipt_json = super::audit::receipt_json(&ledger)?;
    let receipt = receipt_json
        .as_deref()
        .map(|r| serde_json::from_str(r).expect("receipts are JSON"));
    Ok(Transcript {
        since,
        events: count,
        head,
        checkpoint: closing,
        receipt,
        receipt_json,
        software,
        text: page.out,
    })
}

/// What the transcript says about one event.
struct Described {
    summary: String,
    cluster: Option<String>,
    fields: Vec<(&'static str, String)>,
}

fn describe(e: &StoredEvent, parsed: Result<Event, crate::ledger::PayloadError>) -> Described {
    let mut fields: Vec<(&'static str, String)> = Vec::new();
    let mut cluster = None;
    let summary = match parsed {
        Err(err) => {
            fields.push(("payload", e.payload.clone()));
            format!("not understood by this rootvault ({err})")
        }
        Ok(event) => match event {
            Event::VaultInitialised(v) => {
                fields.push(("token label", v.token_label));
                fields.push(("token serial", v.token_serial));
                fields.push(("token model", v.token_model));
                fields.push(("module", v.module));
                fields.push(("rootvault", v.rootvault_version));
                if let Some(s) = v.software {
                    fields.push(("commit", s.commit));
                    fields.push(("binary SHA-256", s.sha256));
                }
                "vault created, bound to the token".to_owned()
            }
            Event::RootCreated(r) => {
                fields.push(("subject", r.certificate.subject));
                fields.push(("serial", r.certificate.serial));
                fields.push(("key type", r.certificate.key_type));
                fields.push(("not before", r.certificate.not_before));
                fields.push(("not after", r.certificate.not_after));
                fields.push(("cert SHA-256", r.certificate.sha256));
                fields.push(("SPKI SHA-256", r.certificate.spki_sha256));
                fields.push((
                    "token key",
                    format!(
                        "label {}, id {}, token serial {}",
                        r.key_label, r.key_id, r.token_serial
                    ),
                ));
                "root key generated on the token, root certificate self-signed".to_owned()
            }
            Event::CertificateIssued(c) => {
                cluster = Some(c.cluster.clone());
                fields.push(("cluster", c.cluster.clone()));
                fields.push(("generation", c.generation.to_string()));
                fields.push(("serial", c.certificate.serial));
                fields.push(("subject", c.certificate.subject));
                fields.push((
                    "key",
                    format!(
                        "{}, {}",
                        c.certificate.key_type,
                        if c.key_source == "generated" {
                            "generated by the vault".to_owned()
                        } else {
                            format!("from the cluster's {}", c.key_source.to_uppercase())
                        }
                    ),
                ));
                fields.push(("not after", c.certificate.not_after));
                fields.push((
                    "profile",
                    format!("{} days, pathlen {}", c.profile.days, c.profile.path_len),
                ));
                fields.push(("cert SHA-256", c.certificate.sha256));
                if let Some(csr) = c.csr_sha256 {
                    fields.push(("CSR SHA-256", csr));
                }
                fields.push(("SPKI SHA-256", c.certificate.spki_sha256));
                format!("intermediate CA signed for cluster {}", c.cluster)
            }
            Event::SigningRejected(s) => {
                cluster = s.cluster.clone();
                fields.push((
                    "cluster",
                    s.cluster.unwrap_or_else(|| "(none given)".into()),
                ));
                fields.push(("input SHA-256", s.input_sha256));
                for r in s.reasons {
                    fields.push(("reason", r));
                }
                "signing request REFUSED; nothing was signed".to_owned()
            }
            Event::CertificateRevoked(r) => {
                cluster = Some(r.cluster.clone());
                fields.push(("cluster", r.cluster.clone()));
                fields.push(("serial", r.serial));
                fields.push(("reason", r.reason));
                fields.push(("revoked at", r.revoked_at));
                format!("certificate of cluster {} revoked", r.cluster)
            }
            Event::CrlIssued(c) => {
                fields.push(("generation", c.generation.to_string()));
                fields.push(("CRL number", c.number.to_string()));
                fields.push(("this update", c.this_update));
                fields.push(("next update", c.next_update));
                fields.push(("entries", c.serials.len().to_string()));
                for s in c.serials {
                    fields.push(("revoked", s));
                }
                fields.push(("CRL SHA-256", c.sha256));
                format!(
                    "CRL number {} signed by root generation {}",
                    c.number, c.generation
                )
            }
            Event::BundleExported(b) => {
                cluster = Some(b.cluster.clone());
                fields.push(("cluster", b.cluster.clone()));
                fields.push(("serial", b.serial));
                fields.push(("format", b.format.clone()));
                fields.push(("path", b.path));
                fields.push(("SHA-256", b.sha256));
                if b.recipients.is_empty() {
                    fields.push(("encrypted", "no".into()));
                }
                for r in b.recipients {
                    fields.push(("recipient", r));
                }
                if b.contains_generated_key {
                    fields.push((
                        "private key",
                        "the vault-generated key, age-encrypted only".into(),
                    ));
                }
                format!(
                    "intermediate of cluster {} exported as {}",
                    b.cluster, b.format
                )
            }
            Event::AuditKeyCreated(a) => {
                fields.push(("key label", a.key_label));
                fields.push(("key id", a.key_id));
                fields.push(("key type", a.key_type));
                if let Some(sha) = spki_sha256(&a.public_key_der_base64) {
                    fields.push(("key SHA-256", sha));
                }
                fields.push(("token serial", a.token_serial));
                "audit key generated on the token; it signs ledger checkpoints".to_owned()
            }
            Event::ActionWitnessed(w) => {
                fields.push(("action", w.action.clone()));
                fields.push(("statement SHA-256", w.statement_sha256));
                fields.push(("witnesses required", w.required.to_string()));
                for s in &w.signatures {
                    fields.push(("witnessed by", format!("{} ({})", s.witness, s.fingerprint)));
                }
                let names: Vec<&str> = w.signatures.iter().map(|s| s.witness.as_str()).collect();
                format!(
                    "`{}` witnessed by {}: each signed the statement with their SSH key (`ledger witnesses` exports it)",
                    w.action,
                    names.join(", ")
                )
            }
            Event::WitnessAdded(w) => {
                fields.push(("witness", w.name.clone()));
                fields.push(("key", w.public_key));
                fields.push(("fingerprint", w.fingerprint));
                format!("witness {} registered", w.name)
            }
            Event::WitnessRemoved(w) => {
                fields.push(("witness", w.name.clone()));
                fields.push(("fingerprint", w.fingerprint));
                format!("witness {} removed", w.name)
            }
            Event::WitnessesRequired(r) => {
                format!(
                    "every trust-changing action now needs {} witness(es)",
                    r.required
                )
            }
            Event::RootRotated(r) => {
                fields.push(("generation", format!("{} (active)", r.generation)));
                fields.push(("previous", format!("{} (now trusted)", r.previous)));
                fields.push(("subject", r.certificate.subject));
                fields.push(("serial", r.certificate.serial));
                fields.push(("key type", r.certificate.key_type));
                fields.push(("not after", r.certificate.not_after));
                fields.push(("cert SHA-256", r.certificate.sha256));
                fields.push(("SPKI SHA-256", r.certificate.spki_sha256));
                fields.push((
                    "token key",
                    format!(
                        "label {}, id {}, token serial {}",
                        r.key_label, r.key_id, r.token_serial
                    ),
                ));
                fields.push(("cross serial", r.cross.serial));
                fields.push(("cross until", r.cross.not_after));
                fields.push(("cross SHA-256", r.cross.sha256));
                format!(
                    "root rotated: generation {} self-signed and cross-certified by generation {}",
                    r.generation, r.previous
                )
            }
            Event::RootRetired(r) => {
                fields.push(("generation", format!("{} (retired)", r.generation)));
                fields.push(("cert SHA-256", r.sha256));
                format!(
                    "root generation {} retired: in no trust bundle, signs only its CRLs",
                    r.generation
                )
            }
            Event::RootKeyDestroyed(r) => {
                fields.push(("generation", r.generation.to_string()));
                fields.push((
                    "token key",
                    format!("label {}, id {}", r.key_label, r.key_id),
                ));
                fields.push(("SPKI SHA-256", r.spki_sha256));
                format!(
                    "key of root generation {} destroyed on the token",
                    r.generation
                )
            }
            Event::RootKeyGenerated(r) => {
                fields.push(("generation", format!("{} (pending)", r.generation)));
                fields.push(("subject", r.subject));
                fields.push(("key type", r.key_type));
                fields.push(("SPKI SHA-256", r.spki_sha256));
                fields.push(("CSR SHA-256", r.csr_sha256));
                fields.push((
                    "token key",
                    format!(
                        "label {}, id {}, token serial {}",
                        r.key_label, r.key_id, r.token_serial
                    ),
                ));
                format!(
                    "root key generated on the token for an enterprise CA to certify (generation {})",
                    r.generation
                )
            }
            Event::RootImported(r) => {
                fields.push(("generation", format!("{} (active)", r.generation)));
                if let Some(p) = r.previous {
                    fields.push(("previous", format!("{p} (now trusted)")));
                }
                fields.push(("subject", r.certificate.subject));
                fields.push(("serial", r.certificate.serial));
                fields.push(("not after", r.certificate.not_after));
                fields.push(("cert SHA-256", r.certificate.sha256));
                fields.push(("SPKI SHA-256", r.certificate.spki_sha256));
                for (i, c) in r.chain.iter().enumerate() {
                    let label = if i + 1 == r.chain.len() {
                        "anchor"
                    } else {
                        "issued by"
                    };
                    fields.push((label, format!("{} (SHA-256 {})", c.subject, c.sha256)));
                }
                format!(
                    "root certificate of generation {} imported from the enterprise CA",
                    r.generation
                )
            }
            Event::SoftwareChanged(s) => {
                fields.push(("rootvault", s.version));
                fields.push(("commit", s.commit));
                fields.push(("binary SHA-256", s.sha256));
                "another rootvault binary used the token for this vault from here on".to_owned()
            }
            // Kinds added after this transcript was written show their payload as stored.
            #[allow(unreachable_patterns)]
            _ => {
                fields.push(("payload", e.payload.clone()));
                "(no transcript layout for this kind: payload as recorded)".to_owned()
            }
        },
    };
    Described {
        summary,
        cluster,
        fields,
    }
}

/// SHA-256 of a base64 DER SubjectPublicKeyInfo, what
/// `openssl pkey -pubin -in audit.pem -outform DER | sha256sum` prints.
fn spki_sha256(der_base64: &str) -> Option<String> {
    base64::engine::general_purpose::STANDARD
        .decode(der_base64)
        .ok()
        .map(|der| hex::encode(Sha256::digest(der)))
}

fn audit_pem(der_base64: &str) -> Option<String> {
    base64::engine::general_purpose::STANDARD
        .decode(der_base64)
        .ok()
        .map(|der| crate::x509::to_pem("PUBLIC KEY", &der))
}

/// The text being laid out.
#[derive(Default)]
struct Page {
    out: String,
}

impl Page {
    fn blank(&mut self) {
        self.out.push('\n');
    }

    fn rule(&mut self, c: char) {
        self.out.extend(std::iter::repeat_n(c, TRANSCRIPT_WIDTH));
        self.out.push('\n');
    }

    fn section(&mut self, title: &str) {
        self.rule('-');
        self.text(title);
        self.rule('-');
    }

    /// A line as it is (cleaned, hard-wrapped if too long).
    fn text(&mut self, text: &str) {
        for line in wrap(&clean(text), TRANSCRIPT_WIDTH) {
            self.out.push_str(&line);
            self.out.push('\n');
        }
    }

    /// Prose, word-wrapped.
    fn para(&mut self, text: &str) {
        self.text(text);
    }

    /// `label` indented by `indent`, the value from [`VALUE_COLUMN`], continuation lines
    /// aligned under it.
    fn field(&mut self, indent: usize, label: &str, value: &str) {
        let lines = wrap(&clean(value), TRANSCRIPT_WIDTH - VALUE_COLUMN);
        for (i, line) in lines.iter().enumerate() {
            let label = if i == 0 { label } else { "" };
            let row = format!("{:indent$}{label:<w$}{line}", "", w = VALUE_COLUMN - indent);
            self.out.push_str(row.trim_end());
            self.out.push('\n');
        }
    }

    fn event(&mut self, e: &StoredEvent, d: &Described) {
        self.text(&format!("#{}  {}: {}", e.seq, e.kind, d.summary));
        self.field(2, "time", &e.time);
        self.field(2, "operator", &e.actor);
        for (label, value) in &d.fields {
            self.field(2, label, value);
        }
        self.field(2, "event hash", &e.hash);
        self.blank();
    }
}

/// Control characters (which could rewrite a terminal or a printer's page) shown escaped.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Greedy word wrap to `width` characters; words longer than a line are split.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut len = 0;
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        let need = if len == 0 {
            word.len()
        } else {
            len + 1 + word.len()
        };
        if need <= width {
            if len > 0 {
                line.push(' ');
                len += 1;
            }
            line.extend(word.iter());
            len += word.len();
            continue;
        }
        if len > 0 {
            lines.push(std::mem::take(&mut line));
        }
        while word.len() > width {
            lines.push(word.drain(..width).collect());
        }
        line.extend(word.iter());
        len = word.len();
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_line_within_the_width_and_loses_nothing() {
        let hash = "a".repeat(64);
        assert_eq!(wrap(&hash, 64), vec![hash.clone()]);
        let long = format!("{hash}{hash}x");
        let lines = wrap(&long, 64);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines.concat(), long);
        let prose = "the quick brown fox jumps over the lazy dog ".repeat(5);
        for l in wrap(prose.trim(), 20) {
            assert!(l.chars().count() <= 20, "{l:?}");
        }
        assert_eq!(wrap("", 10), vec![String::new()]);
    }

    #[test]
    fn fields_align_values_and_escape_control_characters() {
        let mut p = Page::default();
        p.field(2, "operator", "eve\x1b[2Jmallory");
        p.field(0, "hash", &"f".repeat(64));
        p.field(2, "signature", "");
        let lines: Vec<&str> = p.out.lines().collect();
        assert_eq!(lines[0], format!("  operator      eve\\u{{1b}}[2Jmallory"));
        assert_eq!(lines[1].len(), TRANSCRIPT_WIDTH);
        assert_eq!(&lines[1][VALUE_COLUMN..], "f".repeat(64));
        assert_eq!(lines[2], "  signature");
        assert!(!p.out.contains('\x1b'));
    }
}
