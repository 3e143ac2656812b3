//! The command-line face: clap arguments turned into domain values, one call into
//! `ceremony` per command, and output (data on stdout, messages on stderr).

mod demo;

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use rootvault::ceremony::{self, Operator, RootRequest};
use rootvault::export::Format;
use rootvault::keys::{KeyAlg, KeyType};
use rootvault::ledger::StoredEvent;
use rootvault::pin::PinSource;
use rootvault::policy::ClusterName;
use rootvault::vault::{self, Vault};
use rootvault::x509::{Dn, RevocationReason};
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
    /// Without a command, on a terminal, the ceremony TUI starts.
    #[command(subcommand)]
    command: Option<Command>,
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
    /// Check CSRs before signing.
    #[command(subcommand)]
    Csr(CsrCommand),
    /// Sign a cluster's CSR as its intermediate CA, after confirmation.
    ///
    /// With --generate-key (for clusters that cannot make a CSR), the vault generates the
    /// intermediate key in memory instead and writes it only inside an age-encrypted export.
    Sign(SignArgs),
    /// Revoke an intermediate by serial, or every valid one of a cluster.
    Revoke {
        /// The certificate's serial (hex).
        #[arg(
            long,
            value_name = "HEX",
            conflicts_with = "cluster",
            required_unless_present = "cluster"
        )]
        serial: Option<String>,
        /// Revoke every unrevoked certificate of this cluster.
        #[arg(long, value_name = "NAME", value_parser = parse_cluster)]
        cluster: Option<ClusterName>,
        /// RFC 5280 reason: keyCompromise, cACompromise, affiliationChanged, superseded,
        /// cessationOfOperation, privilegeWithdrawn, unspecified.
        #[arg(long, value_name = "REASON", value_parser = parse_reason)]
        reason: RevocationReason,
        /// Confirm without a prompt: at least 8 hex digits of the serial (or, for several
        /// certificates, of the SHA-256 of their sorted serials, one per line).
        #[arg(long, value_name = "HEX")]
        confirm: Option<String>,
    },
    /// Issue the next CRL, signed by the root key.
    Crl {
        /// Days until nextUpdate (1 to 365).
        #[arg(long, value_name = "N", default_value_t = ceremony::DEFAULT_CRL_DAYS, value_parser = clap::value_parser!(u32).range(1..=365))]
        days: u32,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Export a cluster's current intermediate in the form its software loads.
    Export {
        /// The cluster.
        #[arg(long, value_name = "NAME", value_parser = parse_cluster)]
        cluster: ClusterName,
        /// istio (directory), istio-secret, tls-secret or pem-bundle.
        #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
        format: Format,
        /// Where to write (a directory for istio).
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
        /// Encrypt to this age recipient (age1… or an SSH public key); repeatable.
        #[arg(long = "age-recipient", value_name = "R")]
        age_recipients: Vec<String>,
        /// Replace PATH if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Write an age-encrypted backup of the vault: its configuration and a consistent
    /// snapshot of its ledger (never a private key: those stay on the token).
    Backup {
        /// The backup file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Encrypt to this age recipient (age1… or an SSH public key); repeatable.
        #[arg(long = "age-recipient", value_name = "R", required = true)]
        age_recipients: Vec<String>,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Restore a backup into a new vault directory (--vault DIR, which must not exist); the
    /// restored ledger is verified before it is kept.
    Restore {
        /// The backup file.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// An age identity file (as age-keygen writes) or an unencrypted SSH private key.
        #[arg(long, value_name = "KEYFILE")]
        identity: PathBuf,
    },
    /// Sign many clusters in one ceremony: every line of MANIFEST (`cluster  spki-sha256
    /// csr-path`) is checked before any is signed; one confirmation of the manifest's SHA-256.
    SignBatch {
        /// The manifest.
        manifest: PathBuf,
        /// Validity in days for every certificate (default and maximum from the policy).
        #[arg(long, value_name = "N")]
        days: Option<u32>,
        /// Confirm without a prompt: at least 8 hex digits of the manifest's SHA-256.
        #[arg(long, value_name = "HEX")]
        confirm: Option<String>,
        /// Directory for the certificates, one CLUSTER.pem each (created if missing; existing
        /// files are never overwritten).
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
    },
    /// List issued intermediate certificates with their status.
    List {
        /// Only this cluster's.
        #[arg(long, value_name = "NAME", value_parser = parse_cluster)]
        cluster: Option<ClusterName>,
    },
    /// Create and inspect the root.
    #[command(subcommand)]
    Root(RootCommand),
    /// Check and read the ledger.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// A complete ceremony on a throwaway SoftHSM2 token: root, two clusters, revocation,
    /// CRL, exports in every format, each output checked.
    Demo {
        /// Where to put the demo (a new or empty directory; default: a new temporary one).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// The ceremony terminal UI over the same vault (also `rootvault` alone, on a terminal).
    Tui,
}

#[derive(Debug, Args)]
struct SignArgs {
    /// The CSR, PEM or DER (not with --generate-key).
    #[arg(
        required_unless_present = "generate_key",
        conflicts_with = "generate_key"
    )]
    file: Option<PathBuf>,
    /// The cluster the intermediate is for (a DNS label).
    #[arg(long, value_name = "NAME", value_parser = parse_cluster)]
    cluster: ClusterName,
    /// Validity in days (default and maximum from the vault's policy).
    #[arg(long, value_name = "N")]
    days: Option<u32>,
    /// Confirm without a prompt: at least 8 hex digits of the CSR's SPKI SHA-256 (with
    /// --generate-key: of the SHA-256 of the sorted recipients, one per line).
    #[arg(long, value_name = "HEX")]
    confirm: Option<String>,
    /// Generate the cluster's key in the vault instead of reading a CSR.
    #[arg(long, requires_all = ["key_type", "age_recipients", "out"])]
    generate_key: bool,
    /// With --generate-key: ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072 or rsa-4096.
    #[arg(long, value_name = "TYPE", value_parser = parse_key_alg, requires = "generate_key")]
    key_type: Option<KeyAlg>,
    /// With --generate-key: the age recipient(s) the key is encrypted to; repeatable.
    #[arg(long = "age-recipient", value_name = "R", requires = "generate_key")]
    age_recipients: Vec<String>,
    /// With --generate-key: the export format holding key and chain.
    #[arg(long, value_name = "FORMAT", value_parser = parse_format, default_value = "istio-secret", requires = "generate_key")]
    format: Format,
    #[command(flatten)]
    out: OutArgs,
}

#[derive(Debug, Subcommand)]
enum CsrCommand {
    /// What would be signed for FILE, and the policy verdict (exit 0 acceptable, 3 not).
    Inspect {
        /// The CSR, PEM or DER.
        file: PathBuf,
        /// The cluster to judge it for (default: the file name, if it is a valid cluster name).
        #[arg(long, value_name = "NAME", value_parser = parse_cluster)]
        cluster: Option<ClusterName>,
        /// Validity in days to judge.
        #[arg(long, value_name = "N")]
        days: Option<u32>,
    },
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
    Verify {
        /// Also prove the ledger still contains the head recorded in this receipt
        /// (`ledger-receipt.json` from an export).
        #[arg(long, value_name = "FILE")]
        receipt: Option<PathBuf>,
    },
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
    /// A printable record of a ceremony (events, fingerprints, hashes, the closing signed
    /// checkpoint) with lines for the operator's and the witness's signatures.
    Transcript {
        /// The ceremony's first event (default: the whole ledger).
        #[arg(long, value_name = "SEQ", default_value_t = 1)]
        since: i64,
        #[command(flatten)]
        out: OutArgs,
    },
}

fn parse_dn(s: &str) -> std::result::Result<Dn, String> {
    Dn::parse(s)
}

fn parse_reason(s: &str) -> std::result::Result<RevocationReason, String> {
    s.parse()
}

fn parse_format(s: &str) -> std::result::Result<Format, String> {
    s.parse()
        .map_err(|e: rootvault::export::ParseFormatError| e.0)
}

fn parse_key_alg(s: &str) -> std::result::Result<KeyAlg, String> {
    s.parse()
}

fn parse_cluster(s: &str) -> std::result::Result<ClusterName, String> {
    s.parse()
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
        typed: None,
    };
    let json = cli.json;
    let auth = ceremony::Auth::Pin(&pins);
    let command = match cli.command {
        Some(c) => c,
        None => {
            use std::io::IsTerminal;
            if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
                Command::Tui
            } else {
                use clap::CommandFactory;
                eprint!("{}", Cli::command().render_help());
                return Ok(ExitCode::Usage);
            }
        }
    };
    match command {
        Command::Demo { dir } => demo::run(dir)?,
        Command::Init { module, token } => {
            let report = ceremony::init(&cli.vault, &module, &token, &pins, &operator)?;
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
        Command::Csr(CsrCommand::Inspect {
            file,
            cluster,
            days,
        }) => {
            let vault = Vault::open(&cli.vault)?;
            let input = ceremony::read_request(&file)?;
            let cluster = cluster.or_else(|| {
                file.file_stem()
                    .and_then(|s| s.to_str())
                    .and_then(|s| s.parse().ok())
            });
            let inspection = ceremony::inspect_csr(&vault, &input, cluster.as_ref(), days)?;
            if json {
                print_json(&inspection)?;
            } else {
                print_stdout(&inspection_text(&inspection))?;
            }
            if !inspection.acceptable {
                return Ok(ExitCode::Rejected);
            }
        }
        Command::Sign(a) => {
            let vault = Vault::open(&cli.vault)?;
            let mut confirmer = CliConfirm { given: a.confirm };
            if a.generate_key {
                let req = ceremony::GenerateRequest {
                    cluster: a.cluster,
                    key: a
                        .key_type
                        .expect("clap requires --key-type with --generate-key"),
                    days: a.days,
                    format: a.format,
                    out: a.out.out.expect("clap requires --out with --generate-key"),
                    recipients: a.age_recipients,
                    force: a.out.force,
                };
                let report =
                    ceremony::sign_generated(&vault, &auth, &req, &operator, &mut confirmer)?;
                eprintln!(
                    "signed: cluster {} serial {}; key and chain written encrypted to {}",
                    req.cluster,
                    report.certificate.serial,
                    report.path.display()
                );
                if json {
                    print_json(&report)?;
                }
                return Ok(ExitCode::Ok);
            }
            let file = a.file.expect("clap requires FILE without --generate-key");
            // Reserve the output first: a full or read-only disk stops here, before signing.
            let reserved = a
                .out
                .out
                .as_deref()
                .map(|p| vault::ReservedFile::reserve(p, a.out.force, vault::CERT_RESERVATION))
                .transpose()?;
            let input = ceremony::read_request(&file)?;
            let req = ceremony::SignRequest {
                input: &input,
                cluster: a.cluster,
                days: a.days,
            };
            let issued = ceremony::sign_csr(&vault, &auth, &req, &operator, &mut confirmer)?;
            let cluster = issued.certificate.cluster.as_deref().unwrap_or("");
            eprintln!(
                "signed: cluster {cluster} serial {} SHA-256 {}",
                issued.certificate.serial, issued.certificate.sha256
            );
            match reserved {
                Some(r) => {
                    let path = r.path().to_owned();
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
                            source: Box::new(e),
                        })?;
                    eprintln!("wrote {}", path.display());
                    if json {
                        print_json(&issued)?;
                    }
                }
                None if json => print_json(&issued)?,
                None => print_stdout(&issued.pem)?,
            }
        }
        Command::Revoke {
            serial,
            cluster,
            reason,
            confirm,
        } => {
            let vault = Vault::open(&cli.vault)?;
            let target = match (serial, cluster) {
                (Some(s), _) => ceremony::RevokeTarget::Serial(s),
                (None, Some(c)) => ceremony::RevokeTarget::Cluster(c),
                (None, None) => unreachable!("clap requires --serial or --cluster"),
            };
            let mut confirmer = CliConfirm { given: confirm };
            let revoked =
                ceremony::revoke(&vault, &target, reason, &auth, &operator, &mut confirmer)?;
            for c in &revoked {
                eprintln!(
                    "revoked: cluster {} serial {} ({reason}); issue a new CRL with `rootvault crl`",
                    c.cluster.as_deref().unwrap_or("-"),
                    c.serial
                );
            }
            if json {
                print_json(&revoked)?;
            }
        }
        Command::Crl { days, out } => {
            let vault = Vault::open(&cli.vault)?;
            // A CRL of many entries can be large; reserve generously, the file is truncated.
            let reserved = out
                .out
                .as_deref()
                .map(|p| vault::ReservedFile::reserve(p, out.force, 64 * 1024))
                .transpose()?;
            let crl = ceremony::issue_crl(&vault, &auth, Some(days), &operator)?;
            eprintln!(
                "CRL {} issued: {} revoked, next update {}",
                crl.number, crl.entries, crl.next_update
            );
            match reserved {
                Some(r) => {
                    let path = r.path().to_owned();
                    r.commit(crl.pem.as_bytes())
                        .map_err(|e| Error::RecordedNotWritten {
                            done: format!("CRL {} was signed", crl.number),
                            remedy: "Free space or fix the directory, then issue a fresh CRL with `rootvault crl --out FILE`.".to_owned(),
                            source: Box::new(e),
                        })?;
                    eprintln!("wrote {}", path.display());
                    if json {
                        print_json(&crl)?;
                    }
                }
                None if json => print_json(&crl)?,
                None => print_stdout(&crl.pem)?,
            }
        }
        Command::Export {
            cluster,
            format,
            out,
            age_recipients,
            force,
        } => {
            let vault = Vault::open(&cli.vault)?;
            let req = ceremony::ExportRequest {
                cluster: cluster.clone(),
                format,
                out,
                recipients: age_recipients,
                force,
            };
            let report = ceremony::export_cluster(&vault, &req, &auth, &operator)?;
            eprintln!(
                "exported cluster {} serial {} as {} to {}{}",
                cluster,
                report.certificate.serial,
                report.format,
                report.path.display(),
                if report.recipients.is_empty() {
                    ""
                } else {
                    " (age-encrypted)"
                }
            );
            if json {
                print_json(&report)?;
            }
        }
        Command::SignBatch {
            manifest,
            days,
            confirm,
            out_dir,
        } => {
            let vault = Vault::open(&cli.vault)?;
            let batch = ceremony::check_batch(&vault, &manifest, days)?;
            let mut confirmer = CliConfirm { given: confirm };
            let issued =
                ceremony::sign_batch(&vault, batch, &out_dir, &auth, &operator, &mut confirmer)?;
            eprintln!(
                "signed {} certificates into {}",
                issued.len(),
                out_dir.display()
            );
            if json {
                print_json(&issued)?;
            }
        }
        Command::List { cluster } => {
            let certs = ceremony::list_certificates(&Vault::open(&cli.vault)?, cluster.as_ref())?;
            if json {
                print_json(&certs)?;
            } else {
                let mut out = format!(
                    "{:<20} {:<32} {:<8} {}\n",
                    "CLUSTER", "SERIAL", "STATUS", "NOT AFTER"
                );
                for c in &certs {
                    out += &format!(
                        "{:<20} {:<32} {:<8} {}\n",
                        c.cluster.as_deref().unwrap_or("-"),
                        c.serial,
                        c.status,
                        c.not_after
                    );
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
            let info = ceremony::create_root(&vault, &auth, &req, &operator)?;
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
        Command::Ledger(LedgerCommand::Verify { receipt }) => {
            let vault = Vault::open(&cli.vault)?;
            let mut report = ceremony::verify_ledger(&vault)?;
            if let Some(path) = receipt {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    Error::Rejected(format!("cannot read the receipt {}: {e}", path.display()))
                })?;
                for p in ceremony::check_receipt(&vault, &text)? {
                    report.ok = false;
                    report
                        .problems
                        .push(format!("receipt {}: {p}", path.display()));
                }
            }
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
            if !json {
                for n in &report.notes {
                    eprintln!("note: {n}");
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
            // Checkpoints follow the events, one per line, under a "checkpoint" key.
            for cp in ledger.checkpoints()? {
                serde_json::to_writer(&mut lines, &serde_json::json!({ "checkpoint": cp }))
                    .expect("checkpoints serialize");
                lines.push(b'\n');
            }
            // The audit key, so an auditor can check the checkpoints (pin it out of band:
            // `rootvault root show` and the ceremony transcript print it).
            if let Some(pem) = ceremony::audit_public_key_pem(&vault)? {
                serde_json::to_writer(
                    &mut lines,
                    &serde_json::json!({ "audit_public_key_pem": pem }),
                )
                .expect("strings serialize");
                lines.push(b'\n');
            }
            vault::write_file_atomic(&out, &lines, force)?;
            eprintln!("{count} events written to {}", out.display());
        }
        Command::Ledger(LedgerCommand::Transcript { since, out }) => {
            let text = ceremony::transcript(&Vault::open(&cli.vault)?, since)?;
            write_output(out.out.as_deref(), text.as_bytes(), out.force)?;
        }
        Command::Backup {
            out,
            age_recipients,
            force,
        } => {
            let vault = Vault::open(&cli.vault)?;
            let recipients = rootvault::export::Recipients::parse(&age_recipients)?;
            let report = ceremony::backup(&vault, &out, &recipients, force)?;
            eprintln!(
                "backup written to {} ({} bytes, SHA-256 {}): ledger of {} events, head {}, encrypted to {} recipient(s); it holds no private key",
                report.path.display(),
                report.bytes,
                report.sha256,
                report.manifest.events,
                report.manifest.head,
                report.recipients.len()
            );
            if json {
                print_json(&report)?;
            }
        }
        Command::Restore { from, identity } => {
            let report = ceremony::restore(&from, &identity, &cli.vault)?;
            eprintln!(
                "restored and verified {} events (head {}, {} signed checkpoints) into {}, from a backup taken {}; the vault is bound to token serial {}",
                report.events,
                report.head,
                report.checkpoints,
                report.vault.display(),
                report.manifest.created,
                report.token_serial
            );
            if !json {
                for n in &report.notes {
                    eprintln!("note: {n}");
                }
            }
            if json {
                print_json(&report)?;
            }
        }
        Command::Tui => {
            return rootvault::tui::run(
                &cli.vault,
                rootvault::tui::Options {
                    operator,
                    pin_file: cli.pin_file.clone(),
                    theme: rootvault::tui::Theme::from_env(),
                },
            );
        }
    }
    Ok(ExitCode::Ok)
}

/// Confirmation on the command line: the summary always goes to stderr; the answer is
/// `--confirm` if given, else typed at a terminal, else unavailable.
struct CliConfirm {
    given: Option<String>,
}

impl ceremony::Confirm for CliConfirm {
    fn ask(&mut self, request: &ceremony::ConfirmRequest) -> ceremony::Answer {
        use std::io::IsTerminal;
        let mut text = format!("\nAbout to {}:\n", request.action);
        for (k, v) in &request.summary {
            text += &format!("  {k:<22} {v}\n");
        }
        eprint!("{text}");
        if let Some(given) = self.given.take() {
            return ceremony::Answer::Typed(given);
        }
        if !std::io::stdin().is_terminal() {
            return ceremony::Answer::Unavailable;
        }
        eprint!(
            "Type at least {} hex digits of {} to {} (empty line to decline): ",
            ceremony::MIN_CONFIRM_DIGITS,
            request.subject,
            request.action
        );
        let mut line = String::new();
        match std::io::stdin().read_line(&mut line) {
            Ok(_) if line.trim().is_empty() => ceremony::Answer::Declined,
            Ok(_) => ceremony::Answer::Typed(line.trim().to_owned()),
            Err(_) => ceremony::Answer::Unavailable,
        }
    }
}

fn inspection_text(i: &ceremony::Inspection) -> String {
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
        if !(p.permitted_dns.is_empty()
            && p.permitted_uri.is_empty()
            && p.excluded_dns.is_empty()
            && p.excluded_uri.is_empty())
        {
            line(
                "  name constraints",
                &format!(
                    "permitted {:?} {:?}, excluded {:?} {:?}",
                    p.permitted_dns, p.permitted_uri, p.excluded_dns, p.excluded_uri
                ),
            );
        }
    }
    out
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
    ) + &info
        .audit_public_key_pem
        .as_deref()
        .map(|p| format!("audit key (signs ledger checkpoints):\n{p}"))
        .unwrap_or_default()
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
