//! The command-line face: [`args`] parses, [`run`] dispatches each command to one use case in
//! `ceremony`, [`render`] shows the result (data on stdout, messages on stderr).

mod args;
mod demo;
mod ledger;
mod render;
mod root;
mod token_check;
mod witness;

use clap::CommandFactory;
use rootvault::ceremony::{self, Ctx, Operator, Output};
use rootvault::pin::PinSource;
use rootvault::recipients::{Identities, Recipients};
use rootvault::vault::Vault;
use rootvault::{Error, ExitCode, Result};

pub use args::Cli;
use args::{Command, CsrCommand, SignMode, TokenCommand, WitnessArgs};
use render::print_json;

/// Runs one command.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let operator = Operator::from_flag_or_login(cli.operator.clone());
    let pins = PinSource {
        file: cli.pin_file.clone(),
        allow_prompt: true,
        typed: None,
    };
    let json = cli.json;
    if cli.version {
        let software = rootvault::software::current()?;
        if json {
            print_json(software)?;
        } else {
            render::print_stdout(&format!(
                "rootvault {}\ncommit {}\nsha256 {}\n",
                software.version, software.commit, software.sha256
            ))?;
        }
        return Ok(ExitCode::Ok);
    }
    let command = match cli.command {
        Some(c) => c,
        None => {
            use std::io::IsTerminal;
            if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
                Command::Tui
            } else {
                eprint!("{}", Cli::command().render_help());
                return Ok(ExitCode::Usage);
            }
        }
    };
    let env = Env {
        vault_dir: &cli.vault,
        pins: &pins,
        operator: &operator,
        json,
    };
    // The vault, opened for the commands that need one.
    let open = || env.open();
    let ctx = |vault| env.ctx(vault);
    match command {
        Command::Demo { dir } => demo::run(dir)?,
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "rootvault", &mut out);
            render::print_stdout(&String::from_utf8_lossy(&out))?;
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .map_err(|e| Error::io("cannot write to", "stdout", e))?;
            render::print_stdout(&String::from_utf8_lossy(&out))?;
        }
        Command::Init {
            module,
            token,
            trust_domain,
        } => {
            let report =
                ceremony::init(&cli.vault, &module, &token, &trust_domain, &pins, &operator)?;
            if json {
                print_json(&report)?;
            } else {
                eprintln!(
                    "vault created at {} on token {:?} (serial {}); intermediates are name-constrained to trust domain {}",
                    report.vault.display(),
                    report.token_label,
                    report.token_serial,
                    report.trust_domain
                );
            }
        }
        Command::Token {
            check: Some(TokenCommand::ApproveModule { confirm, witness }),
        } => {
            let vault = open()?;
            let action = ceremony::WitnessedAction::ApproveModule;
            let Some(sigs) = witness_step(&witness, &vault, &operator, json, action)? else {
                return Ok(ExitCode::Ok);
            };
            let mut confirmer = CliConfirm { given: confirm };
            let (path, sha256, already) =
                ceremony::approve_module_witnessed(&ctx(&vault), &sigs, &mut confirmer)?;
            if already {
                eprintln!(
                    "the module {path} (SHA-256 {sha256}) is already approved for this vault"
                );
            } else {
                eprintln!("approved the module {path} (SHA-256 {sha256}) for this vault; recorded in the ledger");
            }
        }
        Command::Token {
            check: Some(TokenCommand::Check(args)),
        } => return token_check::run(&args, &pins, json),
        Command::Token { check: None } => {
            let r = ceremony::token_report(&open()?)?;
            if json {
                print_json(&r)?;
            } else {
                render::print_stdout(&render::token(&r))?;
            }
        }
        Command::Csr(CsrCommand::Inspect {
            file,
            cluster,
            days,
            allow_key_reuse,
        }) => {
            let vault = open()?;
            let input = ceremony::read_request(&file)?;
            let cluster = cluster.or_else(|| {
                file.file_stem()
                    .and_then(|s| s.to_str())
                    .and_then(|s| s.parse().ok())
            });
            let inspection =
                ceremony::inspect_csr(&vault, &input, cluster.as_ref(), days, allow_key_reuse)?;
            if json {
                print_json(&inspection)?;
            } else {
                render::print_stdout(&render::inspection(&inspection))?;
            }
            if !inspection.acceptable {
                return Ok(ExitCode::Rejected);
            }
        }
        Command::Sign(a) => {
            let vault = open()?;
            let mut confirmer = CliConfirm {
                given: a.confirm.clone(),
            };
            match a.mode().map_err(Error::Usage)? {
                SignMode::Generate {
                    key,
                    recipients,
                    format,
                    out,
                } => {
                    let req = ceremony::GenerateRequest {
                        cluster: a.cluster,
                        key,
                        days: a.days,
                        format,
                        out: out.path,
                        recipients: Recipients::parse(&recipients)?,
                        force: out.force,
                    };
                    let action = ceremony::WitnessedAction::SignGenerated(&req);
                    let Some(sigs) = witness_step(&a.witness, &vault, &operator, json, action)?
                    else {
                        return Ok(ExitCode::Ok);
                    };
                    let report = ceremony::sign_generated_witnessed(
                        &ctx(&vault),
                        &req,
                        &sigs,
                        &mut confirmer,
                    )?;
                    eprintln!(
                        "signed: cluster {} serial {}; key and chain written encrypted to {}",
                        req.cluster,
                        report.certificate.serial,
                        report.path.display()
                    );
                    if json {
                        print_json(&report)?;
                    }
                }
                SignMode::Csr { file, out } => {
                    let input = ceremony::read_request(&file)?;
                    let req = ceremony::SignRequest {
                        input: &input,
                        cluster: a.cluster,
                        days: a.days,
                        out,
                        allow_key_reuse: a.allow_key_reuse,
                    };
                    let action = ceremony::WitnessedAction::Sign(&req);
                    let Some(sigs) = witness_step(&a.witness, &vault, &operator, json, action)?
                    else {
                        return Ok(ExitCode::Ok);
                    };
                    let issued =
                        ceremony::sign_csr_witnessed(&ctx(&vault), &req, &sigs, &mut confirmer)?;
                    eprintln!(
                        "signed: cluster {} serial {} SHA-256 {}",
                        issued.certificate.cluster.as_deref().unwrap_or(""),
                        issued.certificate.serial,
                        issued.certificate.sha256
                    );
                    if let Some(path) = &issued.written {
                        eprintln!("wrote {}", path.display());
                    }
                    if json {
                        print_json(&issued)?;
                    } else if issued.written.is_none() {
                        render::print_stdout(&issued.pem)?;
                    }
                }
            }
        }
        Command::Revoke {
            serial,
            cluster,
            reason,
            confirm,
            witness,
        } => {
            let vault = open()?;
            let target = match (serial, cluster) {
                (Some(s), None) => ceremony::RevokeTarget::Serial(s),
                (None, Some(c)) => ceremony::RevokeTarget::Cluster(c),
                _ => return Err(Error::Usage("give either --serial or --cluster".into())),
            };
            let action = ceremony::WitnessedAction::Revoke(&target, reason);
            let Some(sigs) = witness_step(&witness, &vault, &operator, json, action)? else {
                return Ok(ExitCode::Ok);
            };
            let mut confirmer = CliConfirm { given: confirm };
            let revoked =
                ceremony::revoke_witnessed(&ctx(&vault), &target, reason, &sigs, &mut confirmer)?;
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
        Command::Crl {
            generation,
            days,
            out,
        } => {
            let vault = open()?;
            let crl = ceremony::issue_crl_for(
                &ctx(&vault),
                generation,
                Some(days),
                out.output().as_ref(),
            )?;
            eprintln!(
                "CRL {} of root generation {} issued: {} revoked, next update {}",
                crl.number, crl.generation, crl.entries, crl.next_update
            );
            if let Some(path) = &crl.written {
                eprintln!("wrote {}", path.display());
            }
            if json {
                print_json(&crl)?;
            } else if crl.written.is_none() {
                render::print_stdout(&crl.pem)?;
            }
        }
        Command::Export {
            cluster,
            format,
            out,
            age_recipients,
            force,
        } => {
            let vault = open()?;
            let recipients = if age_recipients.is_empty() {
                None
            } else {
                Some(Recipients::parse(&age_recipients)?)
            };
            let req = ceremony::ExportRequest {
                cluster: cluster.clone(),
                format,
                out,
                recipients,
                force,
            };
            let report = ceremony::export_cluster(&ctx(&vault), &req)?;
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
            allow_key_reuse,
            witness,
        } => {
            let vault = open()?;
            let batch = ceremony::check_batch(&vault, &manifest, days, allow_key_reuse)?;
            let action = ceremony::WitnessedAction::SignBatch(&batch);
            let Some(sigs) = witness_step(&witness, &vault, &operator, json, action)? else {
                return Ok(ExitCode::Ok);
            };
            let mut confirmer = CliConfirm { given: confirm };
            let issued = ceremony::sign_batch_witnessed(
                &ctx(&vault),
                batch,
                &out_dir,
                &sigs,
                &mut confirmer,
            )?;
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
            let certs = ceremony::list_certificates(&open()?, cluster.as_ref())?;
            if json {
                print_json(&certs)?;
            } else {
                render::print_stdout(&render::certificates(&certs))?;
            }
        }
        Command::Root(c) => return root::run(&env, c),
        Command::Witness(c) => return witness::run(&env, c),
        Command::Ledger(c) => return ledger::run(&env, c),
        Command::Backup {
            out,
            age_recipients,
            force,
        } => {
            let vault = open()?;
            let recipients = Recipients::parse(&age_recipients)?;
            let report = ceremony::backup(&ctx(&vault), &out, &recipients, force)?;
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
            let identities = Identities::read(&identity)?;
            let report = ceremony::restore(&from, &identities, &cli.vault)?;
            eprintln!(
                "restored and verified {} events (head {}, {} signed checkpoints) into {}, from a backup taken {}; the vault is bound to token serial {}; the backup's signature {}",
                report.events,
                report.head,
                report.checkpoints,
                report.vault.display(),
                report.manifest.created,
                report.token_serial,
                match report.signature {
                    "token" => "verifies with the audit key on the token",
                    "ledger" => "verifies with the audit key its ledger records (the token was not there to confirm it)",
                    _ => "is missing: an unsigned (v1) backup",
                }
            );
            if json {
                print_json(&report)?;
            } else {
                for n in &report.notes {
                    eprintln!("note: {n}");
                }
            }
        }
        Command::Tui => {
            return rootvault::tui::run(
                &cli.vault,
                rootvault::tui::Options {
                    operator: Operator::from_flag_or_env(cli.operator.clone()),
                    pin_file: cli.pin_file.clone(),
                    theme: rootvault::tui::Theme::from_env(),
                },
            );
        }
    }
    Ok(ExitCode::Ok)
}

/// The first step of a witnessed action: with `--statement-out`, writes the statement and
/// returns `None` (the command is done); otherwise reads the `--witness-sig` files.
pub(crate) fn witness_step(
    w: &WitnessArgs,
    vault: &Vault,
    operator: &Operator,
    json: bool,
    action: ceremony::WitnessedAction<'_>,
) -> Result<Option<ceremony::WitnessSigs>> {
    let Some(path) = &w.statement_out else {
        return ceremony::WitnessSigs::read(&w.witness_sigs).map(Some);
    };
    let out = Output {
        path: path.clone(),
        force: false,
    };
    let report = ceremony::write_statement(vault, operator, &action, &out)?;
    print_statement_report(&report, path, json)?;
    Ok(None)
}

/// What `--statement-out` tells the operator: the statement, where it went, and what next.
pub(crate) fn print_statement_report(
    report: &ceremony::StatementReport,
    path: &std::path::Path,
    json: bool,
) -> Result<()> {
    if json {
        print_json(report)?;
    } else {
        eprint!("{}", report.statement);
        eprintln!(
            "\nstatement for `{}` at ledger event {} written to {} (SHA-256 {}); this vault requires {} of its {} registered witnesses.\nEach witness compares it with what they were told, then signs it:\n  ssh-keygen -Y sign -f KEY -n {} {}\nThen run the same command with --witness-sig FILE.sig for each signature instead of --statement-out.",
            report.action,
            report.head_seq,
            path.display(),
            report.sha256,
            report.required,
            report.registered,
            rootvault::witness::NAMESPACE,
            path.display()
        );
    }
    Ok(())
}

/// What every command runs with: the vault's directory, the PIN source, the operator, and
/// whether to print JSON.
pub(crate) struct Env<'a> {
    vault_dir: &'a std::path::Path,
    pins: &'a PinSource,
    operator: &'a Operator,
    json: bool,
}

impl Env<'_> {
    /// The vault, opened.
    fn open(&self) -> Result<Vault> {
        Vault::open(self.vault_dir)
    }

    /// The use cases' context for `vault`.
    fn ctx<'v>(&'v self, vault: &'v Vault) -> Ctx<'v> {
        Ctx {
            vault,
            auth: ceremony::Auth::Pin(self.pins),
            operator: self.operator,
        }
    }
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
