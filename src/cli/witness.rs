//! `rootvault witness …`: the registered witnesses and how many are required.

use rootvault::ceremony::{self};
use rootvault::{ExitCode, Result};

use super::args::WitnessCommand;
use super::render::{self, print_json};
use super::{witness_step, CliConfirm, Env};

/// Runs one `witness` command.
pub(super) fn run(env: &Env<'_>, command: WitnessCommand) -> Result<ExitCode> {
    match command {
        WitnessCommand::Add {
            name,
            ssh_key,
            confirm,
            witness,
        } => {
            let vault = env.open()?;
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
            let Some(sigs) = witness_step(&witness, &vault, env.operator, env.json, action)? else {
                return Ok(ExitCode::Ok);
            };
            let mut confirmer = CliConfirm { given: confirm };
            let w = ceremony::add_witness(&env.ctx(&vault), &name, &key, &sigs, &mut confirmer)?;
            eprintln!(
                "witness {} registered ({} {}), event {}",
                w.name, w.key_type, w.fingerprint, w.added_seq
            );
            if env.json {
                print_json(&w)?;
            }
        }
        WitnessCommand::List => {
            let (required, witnesses) = ceremony::list_witnesses(&env.open()?)?;
            if env.json {
                print_json(&serde_json::json!({
                    "required": required,
                    "witnesses": witnesses,
                }))?;
            } else {
                render::print_stdout(&render::witnesses(required, &witnesses))?;
            }
        }
        WitnessCommand::Remove { name, witness } => {
            let vault = env.open()?;
            let action = ceremony::WitnessedAction::WitnessRemove(&name);
            let Some(sigs) = witness_step(&witness, &vault, env.operator, env.json, action)? else {
                return Ok(ExitCode::Ok);
            };
            ceremony::remove_witness(&env.ctx(&vault), &name, &sigs)?;
            eprintln!("witness {name} removed");
        }
        WitnessCommand::Require { required, witness } => {
            let vault = env.open()?;
            let action = ceremony::WitnessedAction::WitnessRequire(required);
            let Some(sigs) = witness_step(&witness, &vault, env.operator, env.json, action)? else {
                return Ok(ExitCode::Ok);
            };
            ceremony::require_witnesses(&env.ctx(&vault), required, &sigs)?;
            eprintln!("every trust-changing action now needs {required} witness(es)");
        }
    }
    Ok(ExitCode::Ok)
}
