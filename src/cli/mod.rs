//! The command-line face: clap arguments turned into domain values, one call into
//! `ceremony` per command, and output (data on stdout, messages on stderr).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use rootvault::ceremony::{self, Operator, RootRequest};
use rootvault::keys::KeyType;
use rootvault::ledger::StoredEvent;
use rootvault::pin::PinSource;
use rootvault::vault::{self, Vault};
use rootvault::x509::Dn;
use rootvault::{Error, ExitCode, Result};

/// An offline root CA for service meshes, with its key on a PKCS#11 token.
#[derive(Debug, Parser)]
#[command(name = "rootvault", version, about, max_term_width = 100)]
pub struct Cli {
    /// The vault directory.
    #[arg(
        long,
        global = true,
        env = "ROOTVAULT_DIR",
        default_value = "./vault",
        value_name = "DIR"
    )]
    vault: PathBuf,
    /// Read the user PIN from the first line of FILE (else ROOTVAULT_PIN, else a prompt).
    #[arg(long, global = true, value_name = "FILE")]
    pin_file: Option<PathBuf>,
    /// The operator recorded in the ledger (default: the login name).
    #[arg(long, global = true, value_name = "NAME")]
    operator: Option<String>,
    /// Print one JSON document on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a vault bound to an existing, initialised token.
    Init {
        /// Path of the PKCS#11 module.
        #[arg(long, value_name = "PATH")]
        module: PathBuf,
        /// The token's label, or an RFC 7512 pkcs11: URI.
        #[arg(long, value_name = "LABEL|URI")]
        token: String,
    },
    /// Show the token and the vault's key objects on it.
    Token,
    /// Create and inspect the root.
    #[command(subcommand)]
    Root(RootCommand),
    /// Check and read the ledger.
    #[command(subcommand)]
    Ledger(LedgerCommand),
}

#[derive(Debug, Subcommand)]
enum RootCommand {
    /// Generate the root key on the token and self-sign the root certificate.
    Create(RootCreateArgs),
    /// Describe the root.
    Show,
    /// Print (or write) the root certificate as PEM.
    Cert(OutArgs),
}

#[derive(Debug, Args)]
struct RootCreateArgs {
    /// Subject, e.g. "CN=Example Root CA,O=Example,C=GB" or "/C=GB/O=Example/CN=Example Root CA".
    #[arg(long, value_name = "DN", value_parser = parse_dn)]
    subject: Dn,
    /// Key type generated on the token.
    #[arg(long, value_name = "TYPE", default_value = "ecdsa-p384", value_parser = parse_key_type)]
    key_type: KeyType,
    /// Validity in days.
    #[arg(long, value_name = "N", default_value_t = ceremony::DEFAULT_ROOT_DAYS, value_parser = clap::value_parser!(u32).range(1..=36500))]
    days: u32,
    /// basicConstraints pathLenConstraint (default: none).
    #[arg(long, value_name = "N")]
    path_len: Option<u8>,
    /// CKA_LABEL of the key pair on the token.
    #[arg(long, value_name = "LABEL", default_value = ceremony::DEFAULT_ROOT_LABEL)]
    key_label: String,
}

#[derive(Debug, Args)]
struct OutArgs {
    /// Write to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Overwrite FILE if it exists.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Subcommand)]
enum LedgerCommand {
    /// Recompute the hash chain and cross-check the derived tables (exit 4 if broken).
    Verify,
    /// Print events.
    Show {
        /// First event to show.
        #[arg(long, value_name = "SEQ", default_value_t = 1)]
        since: i64,
    },
    /// Write every event, with its hashes, as JSON lines.
    Export {
        /// The file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Overwrite FILE if it exists.
        #[arg(long)]
        force: bool,
    },
}

fn parse_dn(s: &str) -> std::result::Result<Dn, String> {
    Dn::parse(s)
}

fn parse_key_type(s: &str) -> std::result::Result<KeyType, String> {
    s.parse()
}

/// Runs one command.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let operator = Operator::from_flag_or_login(cli.operator.clone());
    let pins = PinSource {
        file: cli.pin_file.clone(),
        allow_prompt: true,
    };
    let json = cli.json;
    match cli.command {
        Command::Init { module, token } => {
            let report = ceremony::init(&cli.vault, &module, &token, &operator)?;
            if json {
                print_json(&report)?;
            } else {
                eprintln!(
                    "vault created at {} on token {:?} (serial {})",
                    report.vault.display(),
                    report.token_label,
                    report.token_serial
                );
            }
        }
        Command::Token => {
            let vault = Vault::open(&cli.vault)?;
            let r = ceremony::token_report(&vault)?;
            if json {
                print_json(&r)?;
            } else {
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
                print_stdout(&out)?;
            }
        }
        Command::Root(RootCommand::Create(a)) => {
            let vault = Vault::open(&cli.vault)?;
            let req = RootRequest {
                subject: a.subject,
                key_type: a.key_type,
                days: a.days,
                path_len: a.path_len,
                key_label: a.key_label,
            };
            let info = ceremony::create_root(&vault, &pins, &req, &operator)?;
            if json {
                print_json(&info)?;
            } else {
                eprintln!("root created; its key stays on the token");
                print_stdout(&root_text(&info))?;
            }
        }
        Command::Root(RootCommand::Show) => {
            let info = ceremony::root_info(&Vault::open(&cli.vault)?)?;
            if json {
                print_json(&info)?;
            } else {
                print_stdout(&root_text(&info))?;
            }
        }
        Command::Root(RootCommand::Cert(o)) => {
            let info = ceremony::root_info(&Vault::open(&cli.vault)?)?;
            write_output(o.out.as_deref(), info.pem.as_bytes(), o.force)?;
        }
        Command::Ledger(LedgerCommand::Verify) => {
            let report = ceremony::verify_ledger(&Vault::open(&cli.vault)?)?;
            if json {
                print_json(&report)?;
            } else if report.ok {
                eprintln!(
                    "ledger intact: {} events, head {}",
                    report.events, report.head
                );
            } else {
                eprintln!(
                    "ledger integrity FAILED{}:",
                    report
                        .first_bad_seq
                        .map(|s| format!(" at event {s}"))
                        .unwrap_or_default()
                );
                for p in &report.problems {
                    eprintln!("  - {p}");
                }
            }
            if !report.ok {
                return Ok(ExitCode::Integrity);
            }
        }
        Command::Ledger(LedgerCommand::Show { since }) => {
            let vault = Vault::open(&cli.vault)?;
            let ledger = vault.ledger()?;
            let mut events = Vec::new();
            ledger.for_each_event(since, |e| {
                events.push(e);
                Ok(())
            })?;
            if json {
                let values: Vec<_> = events.iter().map(event_json).collect();
                print_json(&values)?;
            } else {
                let mut out = String::new();
                for e in &events {
                    out += &format!(
                        "{:>6}  {}  {:<20} {:<12} {}\n",
                        e.seq,
                        e.time,
                        e.kind,
                        e.actor,
                        &e.hash[..16]
                    );
                }
                print_stdout(&out)?;
            }
        }
        Command::Ledger(LedgerCommand::Export { out, force }) => {
            let vault = Vault::open(&cli.vault)?;
            let ledger = vault.ledger()?;
            let mut lines = Vec::new();
            let mut count = 0;
            ledger.for_each_event(1, |e| {
                serde_json::to_writer(&mut lines, &e).expect("events serialize");
                lines.push(b'\n');
                count += 1;
                Ok(())
            })?;
            vault::write_file_atomic(&out, &lines, force)?;
            eprintln!("{count} events written to {}", out.display());
        }
    }
    Ok(ExitCode::Ok)
}

/// An event for `ledger show --json`: the payload as a JSON object, the rest as stored.
fn event_json(e: &StoredEvent) -> serde_json::Value {
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

fn root_text(info: &ceremony::RootInfo) -> String {
    format!(
        "subject:      {}\nserial:       {}\nvalidity:     {} .. {} ({})\nkey type:     {}\nSHA-256:      {}\nSPKI SHA-256: {}\ntoken object: label {} id {} on token serial {}\n",
        info.subject,
        info.serial,
        info.not_before,
        info.not_after,
        info.status,
        info.key_type,
        info.sha256,
        info.spki_sha256,
        info.token_object.label,
        info.token_object.id,
        info.token_object.token_serial
    )
}

fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).expect("reports serialize");
    text.push('\n');
    print_stdout(&text)
}

fn print_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("cannot write to", "stdout", e))
}

fn write_output(out: Option<&Path>, bytes: &[u8], force: bool) -> Result<()> {
    match out {
        Some(path) => {
            vault::write_file_atomic(path, bytes, force)?;
            eprintln!("wrote {}", path.display());
            Ok(())
        }
        None => print_stdout(&String::from_utf8_lossy(bytes)),
    }
}
