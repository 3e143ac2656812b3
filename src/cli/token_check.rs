//! `rootvault token check`: renders [`ceremony::token_check`]'s report.

use std::path::PathBuf;

use clap::Args;
use rootvault::ceremony::{self, Hosting, TokenCheckReport};
use rootvault::keys::KeyType;
use rootvault::pin::PinSource;
use rootvault::{ExitCode, Result};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Path of the PKCS#11 module.
    #[arg(long, value_name = "PATH")]
    module: PathBuf,
    /// The token's label, or an RFC 7512 pkcs11: URI.
    #[arg(long, value_name = "LABEL|URI")]
    token: String,
    /// The root key type planned for the ceremony: exit 3 unless the token can hold it.
    #[arg(long, value_name = "TYPE", value_parser = |s: &str| s.parse::<KeyType>())]
    key_type: Option<KeyType>,
}

pub(super) fn run(args: &CheckArgs, pins: &PinSource, json: bool) -> Result<ExitCode> {
    let report = ceremony::token_check(&args.module, &args.token, pins, args.key_type, |step| {
        if !json {
            eprintln!("{step}…");
        }
    })?;
    if json {
        super::render::print_json(&report)?;
    } else {
        super::render::print_stdout(&text(&report))?;
    }
    if report.ok {
        eprintln!("this token can host a vault");
        Ok(ExitCode::Ok)
    } else {
        let missing = report.missing.join("; ");
        match (report.hosting, report.wanted_key_type) {
            (Hosting::Full, Some(w)) => {
                eprintln!("this token can host a vault, but not with a {w} root: missing {missing}")
            }
            (Hosting::Weaker, _) => eprintln!(
                "this token cannot host a vault, except in a weaker mode where the ledger's head is not held by the token: missing {missing}"
            ),
            _ => eprintln!("this token cannot host a vault: missing {missing}"),
        }
        Ok(ExitCode::Rejected)
    }
}

fn text(r: &TokenCheckReport) -> String {
    let t = &r.token;
    let mut out = format!(
        "module:       {} (SHA-256 {})\ntoken:        {} (serial {}, model {}, {})\n",
        r.module, r.module_sha256, t.label, t.serial, t.model, t.manufacturer
    );
    for (key_type, c) in &r.key_types {
        if c.ok {
            out += &format!(
                "{:<13} ok: generated, signed with {}, sensitive, never extractable, local\n",
                key_type.name(),
                c.mechanism.unwrap_or("-")
            );
        } else {
            out += &format!("{:<13} MISSING {}\n", key_type.name(), c.missing.join(", "));
            for d in &c.details {
                out += &format!("{:<13}   {d}\n", "");
            }
        }
    }
    let d = &r.data_objects;
    if d.ok {
        out += "data objects  ok: private, hidden without login, modifiable, removed again\n";
    } else {
        out += &format!("data objects  MISSING {}\n", d.missing.join(", "));
        for line in &d.details {
            out += &format!("{:<13}   {line}\n", "");
        }
    }
    let names: Vec<_> = r.root_key_types.iter().map(|k| k.name()).collect();
    out += &format!(
        "hosting:      {}\nroot keys:    {}\n",
        match r.hosting {
            Hosting::Full => "full",
            Hosting::Weaker => "weaker only (no private data objects)",
            Hosting::None => "none",
        },
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    );
    out
}
