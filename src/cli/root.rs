//! `rootvault root …`: the root and its generations.

use rootvault::ceremony::{self, Output, RootRequest};
use rootvault::{Error, ExitCode, Result};

use super::args::RootCommand;
use super::render::{self, print_json};
use super::{witness_step, CliConfirm, Env};

/// Runs one `root` command.
pub(super) fn run(env: &Env<'_>, command: RootCommand) -> Result<ExitCode> {
    match command {
        RootCommand::Create(a) => {
            let vault = env.open()?;
            let req = RootRequest {
                subject: a.subject,
                key_type: a.key_type,
                days: a.days,
                path_len: a.path_len,
                key_label: a.key_label,
            };
            let action = ceremony::WitnessedAction::CreateRoot(&req);
            let Some(sigs) = witness_step(&a.witness, &vault, env.operator, env.json, action)?
            else {
                return Ok(ExitCode::Ok);
            };
            let info = ceremony::create_root_witnessed(&env.ctx(&vault), &req, &sigs)?;
            if env.json {
                print_json(&info)?;
            } else {
                eprintln!("root created; its key stays on the token");
                render::print_stdout(&render::root(&info))?;
            }
        }
        RootCommand::Show => {
            let vault = env.open()?;
            match ceremony::root_info(&vault) {
                Ok(info) => {
                    if env.json {
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
                    if env.json {
                        print_json(&serde_json::json!({ "roots": roots }))?;
                    } else {
                        render::print_stdout(&render::generations(&roots))?;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        RootCommand::Cert(a) => {
            let vault = env.open()?;
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
                Some(w) => ceremony::root_certificate(&env.ctx(&vault), w)?,
            };
            if env.json {
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
        RootCommand::Rotate(a) => {
            let vault = env.open()?;
            let req = ceremony::RotateRequest {
                subject: a.subject,
                key_type: a.key_type,
                days: a.days,
                path_len: a.path_len,
                key_label: a.key_label,
            };
            let action = ceremony::WitnessedAction::RootRotate(&req);
            let Some(sigs) = witness_step(&a.witness, &vault, env.operator, env.json, action)?
            else {
                return Ok(ExitCode::Ok);
            };
            let mut confirmer = CliConfirm { given: a.confirm };
            let r = ceremony::rotate_root_witnessed(&env.ctx(&vault), &req, &sigs, &mut confirmer)?;
            eprintln!(
                "root generation {} is active (SHA-256 {}), generation {} trusted; cross-certificate SHA-256 {}. Re-export every cluster so that its root-cert.pem holds both roots, then re-key each (docs/rotation.md)",
                r.root.generation,
                r.root.sha256.as_deref().unwrap_or("-"),
                r.previous,
                r.cross_sha256
            );
            if env.json {
                print_json(&r)?;
            } else {
                render::print_stdout(&r.root_pem)?;
            }
        }
        RootCommand::Retire {
            generation,
            confirm,
            witness,
        } => {
            let vault = env.open()?;
            let action = ceremony::WitnessedAction::RootRetire(generation);
            let Some(sigs) = witness_step(&witness, &vault, env.operator, env.json, action)? else {
                return Ok(ExitCode::Ok);
            };
            let mut confirmer = CliConfirm { given: confirm };
            let g = ceremony::retire_root_witnessed(
                &env.ctx(&vault),
                generation,
                &sigs,
                &mut confirmer,
            )?;
            eprintln!(
                "root generation {} retired: it is in no trust bundle and signs only its own CRLs. Re-export every cluster",
                g.generation
            );
            if env.json {
                print_json(&g)?;
            }
        }
        RootCommand::DestroyKey {
            generation,
            confirm,
            witness,
        } => {
            let vault = env.open()?;
            let action = ceremony::WitnessedAction::RootDestroyKey(generation);
            let Some(sigs) = witness_step(&witness, &vault, env.operator, env.json, action)? else {
                return Ok(ExitCode::Ok);
            };
            let mut confirmer = CliConfirm { given: confirm };
            let g = ceremony::destroy_root_key_witnessed(
                &env.ctx(&vault),
                generation,
                &sigs,
                &mut confirmer,
            )?;
            eprintln!(
                "the key of root generation {} (label {}) was destroyed on the token; recorded in the ledger",
                g.generation, g.key_label
            );
            if env.json {
                print_json(&g)?;
            }
        }
        RootCommand::Csr(a) => {
            let vault = env.open()?;
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
            let Some(sigs) = witness_step(&a.witness, &vault, env.operator, env.json, action)?
            else {
                return Ok(ExitCode::Ok);
            };
            let r = ceremony::root_csr_witnessed(&env.ctx(&vault), &req, &sigs)?;
            eprintln!(
                "root generation {} is pending: its {} key is on the token (SPKI SHA-256 {}); the request is in {} (SHA-256 {}). Have the enterprise CA sign it as a CA with pathLen 1 or more, then `rootvault root import --cert FILE --chain FILE`",
                r.generation,
                r.key_type,
                r.spki_sha256,
                r.path.display(),
                r.csr_sha256
            );
            if env.json {
                print_json(&r)?;
            }
        }
        RootCommand::Import {
            cert,
            chain,
            confirm,
            witness,
        } => {
            let vault = env.open()?;
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
            let Some(sigs) = witness_step(&witness, &vault, env.operator, env.json, action)? else {
                return Ok(ExitCode::Ok);
            };
            let mut confirmer = CliConfirm { given: confirm };
            let g = ceremony::import_root_witnessed(&env.ctx(&vault), req, &sigs, &mut confirmer)?;
            eprintln!(
                "root generation {} is active: {} (SHA-256 {}), anchored at {}. Export every cluster again",
                g.generation,
                g.subject,
                g.sha256.as_deref().unwrap_or("-"),
                g.anchor.as_deref().unwrap_or("-")
            );
            if env.json {
                print_json(&g)?;
            }
        }
    }
    Ok(ExitCode::Ok)
}
