//! How the command line shows what a use case returned: text for people (stdout for data,
//! stderr for messages) or one JSON document. No use-case logic here.

use std::io::Write;
use std::path::Path;

use rootvault::ceremony::{self, CertInfo, Inspection, RootInfo, TokenReport};
use rootvault::ledger::StoredEvent;
use rootvault::{fsio, Error, Result};

/// `csr inspect`, as text.
pub fn inspection(i: &Inspection) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: &str| out += &format!("{k:<22} {v}\n");
    line(
        "verdict",
        if i.acceptable {
            "acceptable"
        } else {
            "REFUSED"
        },
    );
    for r in &i.reasons {
        line("  reason", r);
    }
    for n in &i.notes {
        line("  note", n);
    }
    line("cluster", i.cluster.as_deref().unwrap_or("(none)"));
    line("key", i.key_type.as_deref().unwrap_or("-"));
    line("SPKI SHA-256", i.spki_sha256.as_deref().unwrap_or("-"));
    line("CSR SHA-256", i.csr_sha256.as_deref().unwrap_or("-"));
    line("requested subject", i.subject.as_deref().unwrap_or("-"));
    line(
        "signature algorithm",
        i.signature_algorithm.as_deref().unwrap_or("-"),
    );
    for u in &i.key_reuse {
        line(
            "same key as",
            &format!(
                "certificate {} of cluster {} ({}{})",
                u.serial,
                u.cluster,
                u.status,
                u.revocation_reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        );
    }
    for e in &i.requested_extensions {
        line(
            "requested extension",
            &format!("{} = {} (not copied)", e.name, e.value),
        );
    }
    if let Some(p) = &i.profile {
        line("would sign: subject", &p.subject.to_string());
        line(
            "  validity",
            &format!("{} days, until {}", p.days, ceremony::rfc3339(p.not_after)),
        );
        line(
            "  basic constraints",
            &format!("CA:TRUE, pathlen:{}", p.path_len),
        );
        line("  subject alt names", &p.san_dns.join(", "));
        line(
            "  name constraints",
            &ceremony::describe_name_constraints(p).unwrap_or_else(|| "none".to_owned()),
        );
    }
    out
}

/// `token`, as text.
pub fn token(r: &TokenReport) -> String {
    let mut out = String::new();
    out += &format!("module:       {}\n", r.module);
    out += &format!("slot:         {}\n", r.slot);
    out += &format!(
        "token:        {} (serial {}, model {}, {})\n",
        r.label, r.serial, r.model, r.manufacturer
    );
    out += &format!(
        "user PIN:     {}\n",
        if r.pin.locked {
            "LOCKED"
        } else if r.pin.final_try {
            "one try left"
        } else if r.pin.count_low {
            "wrong PIN entered recently"
        } else {
            "ok"
        }
    );
    for k in &r.keys {
        out += &format!(
            "key:          {} {} id {} ({}): {}\n",
            k.purpose,
            k.label,
            k.id,
            k.key_type,
            if k.present {
                "present"
            } else {
                "MISSING from the token"
            }
        );
    }
    if r.keys.is_empty() {
        out += "key:          none yet (run `rootvault root create`)\n";
    }
    out += &format!(
        "trust domain: {}\n",
        trust_domain(r.trust_domain.as_deref())
    );
    out
}

/// The trust domain line of `token` and `root show`.
fn trust_domain(td: Option<&str>) -> String {
    match td {
        Some(td) => format!("{td} (intermediates: URIs in it only, no IP or email addresses, unless a cluster's policy allows them)"),
        None => "none: this vault predates trust domains, so intermediates are not name-constrained by default; set policy.trust_domain in vault.toml (docs/policy.md)".to_owned(),
    }
}

/// `list`, as a table.
pub fn certificates(certs: &[CertInfo]) -> String {
    let mut out = format!(
        "{:<20} {:<32} {:<8} {}\n",
        "CLUSTER", "SERIAL", "STATUS", "NOT AFTER"
    );
    for c in certs {
        out += &format!(
            "{:<20} {:<32} {:<8} {}\n",
            c.cluster.as_deref().unwrap_or("-"),
            c.serial,
            c.status,
            c.not_after
        );
    }
    out
}

/// `ledger show`, one line per event.
pub fn events(events: &[StoredEvent]) -> String {
    events
        .iter()
        .map(|e| {
            format!(
                "{:>6}  {}  {:<20} {:<12} {}\n",
                e.seq,
                e.time,
                e.kind,
                e.actor,
                &e.hash[..16]
            )
        })
        .collect()
}

/// An event for `ledger show --json`: the payload as a JSON object, the rest as stored.
pub fn event_json(e: &StoredEvent) -> serde_json::Value {
    let payload: serde_json::Value = serde_json::from_str(&e.payload)
        .unwrap_or_else(|_| serde_json::Value::String(e.payload.clone()));
    serde_json::json!({
        "seq": e.seq,
        "time": e.time,
        "kind": e.kind,
        "actor": e.actor,
        "payload": payload,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    })
}

/// `root show`, as text.
pub fn root(info: &RootInfo) -> String {
    format!(
        "subject:      {}\nserial:       {}\nvalidity:     {} .. {} ({})\nkey type:     {}\nSHA-256:      {}\nSPKI SHA-256: {}\ntoken object: label {} id {} on token serial {}\n",
        info.certificate.subject,
        info.certificate.serial,
        info.certificate.not_before,
        info.certificate.not_after,
        info.certificate.status,
        info.certificate.key_type,
        info.certificate.sha256,
        info.spki_sha256,
        info.token_object.label,
        info.token_object.id,
        info.token_object.token_serial
    ) + &format!("trust domain: {}\n", trust_domain(info.trust_domain.as_deref()))
        + &info
        .audit_public_key_pem
        .as_deref()
        .map(|p| format!("audit key (signs ledger checkpoints):\n{p}"))
        .unwrap_or_default()
        + &if info.roots.len() > 1 {
            format!("root generations:\n{}", generations(&info.roots))
        } else {
            String::new()
        }
        + &info
            .exports
            .iter()
            .filter(|e| e.stale)
            .map(|e| {
                format!(
                    "STALE export of cluster {} ({}, {}): {}\n",
                    e.cluster,
                    e.format,
                    e.path,
                    e.reasons.join("; ")
                )
            })
            .collect::<String>()
}

/// Every root generation, one block each.
pub fn generations(roots: &[ceremony::GenerationInfo]) -> String {
    let mut out = String::new();
    for g in roots {
        out += &format!(
            "generation {}: {}{}\n",
            g.generation,
            g.status,
            if g.key_destroyed {
                ", key destroyed"
            } else {
                ""
            }
        );
        out += &format!("  subject:      {}\n", g.subject);
        if let (Some(serial), Some(sha), Some(na)) = (&g.serial, &g.sha256, &g.not_after) {
            out += &format!("  serial:       {serial}\n");
            out += &format!("  not after:    {na}\n");
            out += &format!("  SHA-256:      {sha}\n");
            out += &format!(
                "  issuer:       {}\n",
                if g.self_signed {
                    "itself (self-signed)".to_owned()
                } else {
                    format!(
                        "{} (anchor {})",
                        g.issuer.as_deref().unwrap_or("-"),
                        g.anchor.as_deref().unwrap_or("-")
                    )
                }
            );
        }
        out += &format!(
            "  key:          {} label {} id {}\n",
            g.key_type, g.key_label, g.key_id
        );
        if let Some(c) = &g.cross_sha256 {
            out += &format!("  cross-cert:   SHA-256 {c}\n");
        }
    }
    out
}

/// One JSON document on stdout.
pub fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).expect("reports serialize");
    text.push('\n');
    print_stdout(&text)
}

/// Data on stdout.
pub fn print_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("cannot write to", "stdout", e))
}

/// Data to `--out FILE` (never overwritten without `--force`), or stdout.
pub fn write_output(out: Option<&Path>, bytes: &[u8], force: bool) -> Result<()> {
    match out {
        Some(path) => {
            fsio::write_file(path, bytes, force)?;
            eprintln!("wrote {}", path.display());
            Ok(())
        }
        None => print_stdout(&String::from_utf8_lossy(bytes)),
    }
}

/// `witness list`.
pub fn witnesses(required: u32, witnesses: &[ceremony::Witness]) -> String {
    let mut out = format!("witnesses required for every trust-changing action: {required}\n");
    if witnesses.is_empty() {
        out += "no witness is registered\n";
    }
    for w in witnesses {
        out += &format!(
            "{:<16} {:<20} {}  (event {})\n",
            w.name, w.key_type, w.fingerprint, w.added_seq
        );
    }
    out
}
