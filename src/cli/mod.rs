//! The command-line face: [`args`] parses, [`run`] dispatches each command to one use case in
//! `ceremony`, [`render`] shows the result (data on stdout, messages on stderr).

mod args;
mod demo;
mod render;
mod token_check;

use clap::CommandFactory;
use rootvault::ceremony::{self, Ctx, Operator, Output, RootRequest};
use rootvault::pin::PinSource;
use rootvault::recipients::{Identities, Recipients};
use rootvault::vault::Vault;
use rootvault::{Error, ExitCode, Result};

pub use args::Cli;
use args::{
    Command, CsrCommand, LedgerCommand, RootCommand, SignMode, TokenCommand, WitnessArgs,
    WitnessCommand,
};
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
    // The vault, opened for the commands that need one.
    let open = || Vault::open(&cli.vault);
    let ctx = |vault| Ctx {
        vault,
        auth: ceremony::Auth::Pin(&pins),
        operator: &operator,
    };
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
        Command::Root(RootCommand::Create(a)) => {
            let vault = open()?;
            let req = RootRequest {
                subject: a.subject,
                key_type: a.key_type,
                days: a.days,
                path_len: a.path_len,
                key_label: a.key_label,
            };
            let action = ceremony::WitnessedAction::CreateRoot(&req);
            let Some(sigs) = witness_step(&a.witness, &vault, &operator, json, action)? else {
                return Ok(ExitCode::Ok);
            };
            let info = ceremony::create_root_witnessed(&ctx(&vault), &req, &sigs)?;
            if json {
                print_json(&info)?;
            } else {
                eprintln!("root created; its key stays on the token");
                render::print_stdout(&render::root(&info))?;
            }
        }
        Command::Witness(WitnessCommand::Add {
            name,
            ssh_key,
            confirm,
            witness,
        }) => {
            let vault = open()?;
            let text = std::fs::read_to_string(&ssh_key).map_err(|source| {
                rootvault::error::Refusal::Unreadable {
                    what: "witness key",
                    path: ssh_key.clone(),
                    source,
                }
            })?;
            let key = rootvault::witness::WitnessKey::parse(&text).map_err(|why| {
                rootvault::error::Refusal::WitnessKey {
                    path: ssh_key.clone(),
                    why,
                }
            })?;
            let action = ceremony::WitnessedAction::WitnessAdd(&name, &key);
            let Some(sigs) = witness_step(&witness, &vault, &operator, json, action)? else {
                return Ok(ExitCode::Ok);
            };
            let mut confirmer = CliConfirm { given: confirm };
            let w = ceremony::add_witness(&ctx(&vault), &name, &key, &sigs, &mut confirmer)?;
            eprintln!(
                "witness {} registered ({} {}), event {}",
                w.name, w.key_type, w.fingerprint, w.added_seq
            );
            if json {
                print_json(&w)?;
            }
        }
        Command::Witness(WitnessCommand::List) => {
            let (required, witnesses) = ceremony::list_witnesses(&open()?)?;
            if json {
                print_json(&serde_json::json!({
                    "required": required,
                    "witnesses": witnesses,
                }))?;
            } else {
                render::print_stdout(&render::witnesses(required, &witnesses))?;
            }
        }
        Command::Witness(WitnessCommand::Remove { name, witness }) => {
            let vault = open()?;
            let action = ceremony::WitnessedAction::WitnessRemove(&name);
            let Some(sigs) = witness_step(&witness, &vault, &operator, json, action)? else {
                return Ok(ExitCode::Ok);
            };
            ceremony::remove_witness(&ctx(&vault), &name, &sigs)?;
            eprintln!("witness {name} removed");
        }
        Command::Witness(WitnessCommand::Require { required, witness }) => {
            let vault = open()?;
            let action = ceremony::WitnessedAction::WitnessRequire(required);
            let Some(sigs) = witness_step(&witness, &vault, &operator, json, action)? else {
                return Ok(ExitCode::Ok);
            };
            ceremony::require_witnesses(&ctx(&vault), required, &sigs)?;
            eprintln!("every trust-changing action now needs {required} witness(es)");
        }
        Command::Ledger(LedgerCommand::Witnesses { out }) => {
            let report = ceremony::export_witnesses(&open()?, &out)?;
            if json {
                print_json(&report)?;
            } else {
                eprintln!(
                    "{} witnessed event(s) and {} key(s) written to {}; check each signature with:",
                    report.events.len(),
                    report.signers,
                    out.display()
                );
                for e in &report.events {
                    for w in &e.witnesses {
                        eprintln!(
                            "  ssh-keygen -Y verify -f {d}/allowed_signers -I {w} -n {ns} -s {d}/{s}/{w}.sig < {d}/{s}/statement.txt",
                            d = out.display(),
                            s = e.seq,
                            ns = rootvault::witness::NAMESPACE
                        );
                    }
                }
            }
        }
        Command::Root(RootCommand::Show) => {
            let vault = open()?;
            match ceremony::root_info(&vault) {
                Ok(info) => {
                    if json {
                        print_json(&info)?;
                    } else {
                        render::print_stdout(&render::root(&info))?;
                    }
                }
                // A vault whose only generation is pending (a subordinate before import).
                Err(Error::Refused(rootvault::error::Refusal::NoRoot)) => {
                    let roots = ceremony::generations(&vault)?;
                    if roots.is_empty() {
                        return Err(rootvault::error::Refusal::NoRoot.into());
                    }
                    if json {
                        print_json(&serde_json::json!({ "roots": roots }))?;
                    } else {
                        render::print_stdout(&render::generations(&roots))?;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Command::Root(RootCommand::Cert(a)) => {
            let vault = open()?;
            let which = match (a.bundle, a.cross, a.generation) {
                (true, _, _) => Some(ceremony::RootCert::Bundle),
                (false, true, Some(g)) => Some(ceremony::RootCert::Cross(g)),
                (false, false, Some(g)) => Some(ceremony::RootCert::Generation(g)),
                (false, true, None) => {
                    return Err(Error::Usage("--cross needs --generation N".into()))
                }
                (false, false, None) => None,
            };
            let pem = match which {
                // The active root as the ledger has it, as before generations (no PIN).
                None => ceremony::root_info(&vault)?.pem,
                Some(w) => ceremony::root_certificate(&ctx(&vault), w)?,
            };
            if json {
                // The PEM as a JSON string, with where it went, if anywhere.
                if let Some(path) = a.out.out.as_deref() {
                    render::write_output(Some(path), pem.as_bytes(), a.out.force)?;
                }
                print_json(&serde_json::json!({
                    "pem": pem,
                    "out": a.out.out.as_deref().map(|p| p.display().to_string()),
                }))?;
            } else {
                render::write_output(a.out.out.as_deref(), pem.as_bytes(), a.out.force)?;
            }
        }
        Command::Root(RootCommand::Rotate(a)) => {
            let vault = open()?;
            let req = ceremony::RotateRequest {
                subject: a.subject,
                key_type: a.key_type,
                days: a.days,
                path_len: a.path_len,
                key_label: a.key_label,
            };
            let action = ceremony::WitnessedAction::RootRotate(&req);
            let Some(sigs) = witness_step(&a.witness, &vault, &operator, json, action)? else {
                return Ok(ExitCode::Ok);
            };
            let mut confirmer = CliConfirm { given: a.confirm };
            let r = ceremony::rotate_root_witnessed(&ctx(&vault), &req, &sigs, &mut confirmer)?;
            eprintln!(
                "root generation {} is active (SHA-256 {}), generation {} trusted; cross-certificate SHA-256 {}. Re-export every cluster so that its root-cert.pem holds both roots, then re-key each (docs/rotation.md)",
                r.root.generation,
                r.root.sha256.as_deref().unwrap_or("-"),
                r.previous,
                r.cross_sha256
            );
            if json {
                print_json(&r)?;
            } else {
                render::print_stdout(&r.root_pem)?;
            }
        }
        Command::Root(RootCommand::Retire {
            generation,
            confirm,
            witness,
        }) => {
            let vault = open()?;
            let action = ceremony::WitnessedAction::RootRetire(generation);
            let Some(sigs) = witness_step(&witness, &vault, &operator, json, action)? else {
                return Ok(ExitCode::Ok);
            };
            let mut confirmer = CliConfirm { given: confirm };
            let g =
                ceremony::retire_root_witnessed(&ctx(&vault), generation, &sigs, &mut confirmer)?;
            eprintln!(
                "root generation {} retired: it is in no trust bundle and signs only its own CRLs. Re-export every cluster",
                g.generation
            );
            if json {
                print_json(&g)?;
            }
        }
        Command::Root(RootCommand::DestroyKey {
            generation,
            confirm,
            witness,
        }) => {
            let vault = open()?;
            let action = ceremony::WitnessedAction::RootDestroyKey(generation);
            let Some(sigs) = witness_step(&witness, &vault, &operator, json, action)? else {
                return Ok(ExitCode::Ok);
            };
            let mut confirmer = CliConfirm { given: confirm };
            let g = ceremony::destroy_root_key_witnessed(
                &ctx(&vault),
                generation,
                &sigs,
                &mut confirmer,
            )?;
            eprintln!(
                "the key of root generation {} (label {}) was destroyed on the token; recorded in the ledger",
                g.generation, g.key_label
            );
            if json {
                print_json(&g)?;
            }
        }
        Command::Root(RootCommand::Csr(a)) => {
            let vault = open()?;
            let req = ceremony::RootCsrRequest {
                subject: a.subject,
                key_type: a.key_type,
                key_label: a.key_label,
                out: Output {
                    path: a.out,
                    force: a.force,
                },
            };
            let action = ceremony::WitnessedAction::RootCsr(&req);
            let Some(sigs) = witness_step(&a.witness, &vault, &operator, json, action)? else {
                return Ok(ExitCode::Ok);
            };
            let r = ceremony::root_csr_witnessed(&ctx(&vault), &req, &sigs)?;
            eprintln!(
                "root generation {} is pending: its {} key is on the token (SPKI SHA-256 {}); the request is in {} (SHA-256 {}). Have the enterprise CA sign it as a CA with pathLen 1 or more, then `rootvault root import --cert FILE --chain FILE`",
                r.generation,
                r.key_type,
                r.spki_sha256,
                r.path.display(),
                r.csr_sha256
            );
            if json {
                print_json(&r)?;
            }
        }
        Command::Root(RootCommand::Import {
            cert,
            chain,
            confirm,
            witness,
        }) => {
            let vault = open()?;
            let read = |path: &std::path::Path| {
                std::fs::read(path).map_err(|source| rootvault::error::Refusal::Unreadable {
                    what: "certificate",
                    path: path.to_owned(),
                    source,
                })
            };
            let cert_bytes = read(&cert)?;
            let chain_bytes = chain.as_deref().map(read).transpose()?;
            let req = ceremony::ImportRequest {
                cert: &cert_bytes,
                chain: chain_bytes.as_deref(),
            };
            let action = ceremony::WitnessedAction::RootImport(req);
            let Some(sigs) = witness_step(&witness, &vault, &operator, json, action)? else {
                return Ok(ExitCode::Ok);
            };
            let mut confirmer = CliConfirm { given: confirm };
            let g = ceremony::import_root_witnessed(&ctx(&vault), req, &sigs, &mut confirmer)?;
            eprintln!(
                "root generation {} is active: {} (SHA-256 {}), anchored at {}. Export every cluster again",
                g.generation,
                g.subject,
                g.sha256.as_deref().unwrap_or("-"),
                g.anchor.as_deref().unwrap_or("-")
            );
            if json {
                print_json(&g)?;
            }
        }
        Command::Ledger(LedgerCommand::Verify {
            receipt,
            with_token,
        }) => {
            let vault = open()?;
            let mut report = if with_token {
                ceremony::verify_ledger_with_token(&ctx(&vault))?
            } else {
                ceremony::verify_ledger(&vault)?
            };
            if let Some(path) = receipt {
                let problems = ceremony::check_receipt_file(&vault, &path)?;
                report.ok &= problems.is_empty();
                report.problems.extend(problems);
            }
            if json {
                print_json(&report)?;
            } else if report.ok {
                eprintln!(
                    "ledger intact: {} events, head {}",
                    report.events, report.head
                );
                if let Some(t) = &report.token_head {
                    eprintln!("the token attested event {} (hash {})", t.seq, t.hash);
                }
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
        Command::Ledger(LedgerCommand::Recover { confirm, witness }) => {
            let vault = open()?;
            // Its statement names what only the token knows: written with the PIN.
            if let Some(path) = &witness.statement_out {
                let out = Output {
                    path: path.clone(),
                    force: false,
                };
                let report = ceremony::write_recover_statement(&ctx(&vault), &out)?;
                print_statement_report(&report, path, json)?;
                return Ok(ExitCode::Ok);
            }
            let sigs = ceremony::WitnessSigs::read(&witness.witness_sigs)?;
            let mut confirmer = CliConfirm { given: confirm };
            let r = ceremony::recover_ledger_witnessed(&ctx(&vault), &sigs, &mut confirmer)?;
            eprintln!(
                "recorded as event {}: events {}..{} are lost (head {}); {} revocation(s) went with them and must be made again; CRL numbers go on from the token's count",
                r.recorded_seq, r.lost_from_seq, r.lost_to_seq, r.lost_head_hash, r.revocations_lost
            );
            if json {
                print_json(&r)?;
            }
        }
        Command::Ledger(LedgerCommand::Show { since }) => {
            let events = ceremony::ledger_events(&open()?, since)?;
            if json {
                let values: Vec<_> = events.iter().map(render::event_json).collect();
                print_json(&values)?;
            } else {
                render::print_stdout(&render::events(&events))?;
            }
        }
        Command::Ledger(LedgerCommand::Export { out, force }) => {
            let count = ceremony::export_ledger(
                &open()?,
                &Output {
                    path: out.clone(),
                    force,
                },
            )?;
            eprintln!("{count} events written to {}", out.display());
            if json {
                let written =
                    std::fs::read(&out).map_err(|e| Error::io("cannot read back", &out, e))?;
                print_json(&serde_json::json!({
                    "out": out.display().to_string(),
                    "events": count,
                    "sha256": rootvault::keys::sha256_hex(&written),
                }))?;
            }
        }
        Command::Ledger(LedgerCommand::Transcript { since, out }) => {
            let t = ceremony::transcript(&open()?, since)?;
            match out.out.as_deref() {
                Some(path) => {
                    // FILE.receipt.json, for the closing checkpoint: the receipt that covers
                    // the newest token event. Both refused before either is written.
                    let mut name = path.file_name().unwrap_or_default().to_owned();
                    name.push(".receipt.json");
                    let receipt_path = path.with_file_name(name);
                    if t.receipt_json.is_some() && !out.force && receipt_path.exists() {
                        return Err(rootvault::fsio::FsError::OutputExists(receipt_path).into());
                    }
                    render::write_output(Some(path), t.text.as_bytes(), out.force)?;
                    if let Some(receipt) = &t.receipt_json {
                        rootvault::fsio::write_file(&receipt_path, receipt.as_bytes(), out.force)?;
                        eprintln!(
                            "wrote {}: a receipt for the closing checkpoint (event {})",
                            receipt_path.display(),
                            t.checkpoint.as_ref().map_or(0, |c| c.seq)
                        );
                    }
                }
                None if !json => render::print_stdout(&t.text)?,
                None => {}
            }
            if json {
                print_json(&t)?;
            }
        }
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
fn witness_step(
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
fn print_statement_report(
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
