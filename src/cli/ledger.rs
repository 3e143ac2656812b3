//! `rootvault ledger …`: verify, show, export, transcript, witnesses, recover.

use rootvault::ceremony::{self, Output};
use rootvault::{Error, ExitCode, Result};

use super::args::LedgerCommand;
use super::render::{self, print_json};
use super::{print_statement_report, CliConfirm, Env};

/// Runs one `ledger` command.
pub(super) fn run(env: &Env<'_>, command: LedgerCommand) -> Result<ExitCode> {
    match command {
        LedgerCommand::Witnesses { out } => {
            let report = ceremony::export_witnesses(&env.open()?, &out)?;
            if env.json {
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
        LedgerCommand::Verify {
            receipt,
            with_token,
        } => {
            let vault = env.open()?;
            let mut report = if with_token {
                ceremony::verify_ledger_with_token(&env.ctx(&vault))?
            } else {
                ceremony::verify_ledger(&vault)?
            };
            if let Some(path) = receipt {
                let problems = ceremony::check_receipt_file(&vault, &path)?;
                report.ok &= problems.is_empty();
                report.problems.extend(problems);
            }
            if env.json {
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
            if !env.json {
                for n in &report.notes {
                    eprintln!("note: {n}");
                }
            }
            if !report.ok {
                return Ok(ExitCode::Integrity);
            }
        }
        LedgerCommand::Recover { confirm, witness } => {
            let vault = env.open()?;
            // Its statement names what only the token knows: written with the PIN.
            if let Some(path) = &witness.statement_out {
                let out = Output {
                    path: path.clone(),
                    force: false,
                };
                let report = ceremony::write_recover_statement(&env.ctx(&vault), &out)?;
                print_statement_report(&report, path, env.json)?;
                return Ok(ExitCode::Ok);
            }
            let sigs = ceremony::WitnessSigs::read(&witness.witness_sigs)?;
            let mut confirmer = CliConfirm { given: confirm };
            let r = ceremony::recover_ledger_witnessed(&env.ctx(&vault), &sigs, &mut confirmer)?;
            eprintln!(
                "recorded as event {}: events {}..{} are lost (head {}); {} revocation(s) went with them and must be made again; CRL numbers go on from the token's count",
                r.recorded_seq, r.lost_from_seq, r.lost_to_seq, r.lost_head_hash, r.revocations_lost
            );
            if env.json {
                print_json(&r)?;
            }
        }
        LedgerCommand::Show { since } => {
            let events = ceremony::ledger_events(&env.open()?, since)?;
            if env.json {
                let values: Vec<_> = events.iter().map(render::event_json).collect();
                print_json(&values)?;
            } else {
                render::print_stdout(&render::events(&events))?;
            }
        }
        LedgerCommand::Export { out, force } => {
            let count = ceremony::export_ledger(
                &env.open()?,
                &Output {
                    path: out.clone(),
                    force,
                },
            )?;
            eprintln!("{count} events written to {}", out.display());
            if env.json {
                let written =
                    std::fs::read(&out).map_err(|e| Error::io("cannot read back", &out, e))?;
                print_json(&serde_json::json!({
                    "out": out.display().to_string(),
                    "events": count,
                    "sha256": rootvault::keys::sha256_hex(&written),
                }))?;
            }
        }
        LedgerCommand::Transcript { since, out } => {
            let t = ceremony::transcript(&env.open()?, since)?;
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
                None if !env.json => render::print_stdout(&t.text)?,
                None => {}
            }
            if env.json {
                print_json(&t)?;
            }
        }
    }
    Ok(ExitCode::Ok)
}
