//! Ceremony's errors in the TUI's own words: the same facts, but the keys and screens of the
//! TUI where the CLI's text names a command or a flag. Anything without a CLI word in it is
//! shown exactly as the CLI prints it.

use std::io::ErrorKind;

use crate::error::{Error, NotConfirmed, NotWitnessed, Refusal, VaultError};
use crate::export::ExportError;
use crate::fsio::FsError;
use crate::hsm::{HsmError, PinState};
use crate::ledger::LedgerError;
use crate::witness::Invalid;

/// How many PIN attempts are left, as far as the token says.
pub(crate) fn attempts_left(p: &PinState) -> String {
    if p.locked {
        "the PIN is locked: 0 attempts left".to_owned()
    } else if p.final_try {
        "1 attempt left before the PIN locks".to_owned()
    } else if p.count_low {
        "a wrong PIN was entered since the last login; the token does not say how many attempts are left".to_owned()
    } else {
        "no wrong PIN since the last login".to_owned()
    }
}

/// The token's user PIN flags, with the attempts left as a number when it gives one.
pub(crate) fn pin_state(p: &PinState) -> String {
    if p.locked {
        "LOCKED (0 attempts left)".to_owned()
    } else if p.final_try {
        "1 attempt left".to_owned()
    } else if p.count_low {
        "wrong PIN entered recently (the token does not say how many attempts are left)".to_owned()
    } else {
        "ok".to_owned()
    }
}

/// `e` as the TUI says it.
pub(crate) fn say(e: &Error) -> String {
    match e {
        Error::Refused(r) => refusal(r).unwrap_or_else(|| e.to_string()),
        Error::Fs(f) | Error::Export(ExportError::Fs(f)) => fs(f).unwrap_or_else(|| e.to_string()),
        Error::NotConfirmed(n) => not_confirmed(n),
        Error::NotWitnessed(n) => not_witnessed(n),
        Error::Hsm(h) => hsm(h).unwrap_or_else(|| e.to_string()),
        Error::Ledger(l) => ledger(l).unwrap_or_else(|| e.to_string()),
        Error::Vault(VaultError::CannotRecord { .. }) => e
            .to_string()
            .replace(
                "Reading it works as it is (`list`, `ledger verify`); remount it read-write and run the command again",
                "Reading it works as it is; remount it read-write and try again",
            )
            .replace("and run the command again", "and try again"),
        Error::RecordedNotWritten { done, source, .. } => format!(
            "{done}, and that is recorded in the ledger; but the output could not be written: {}. Nothing needs undoing: {}",
            say(source),
            "export it again from screen 4 (e), or revoke it there (r) if its key is gone"
        ),
        _ => e.to_string(),
    }
}

fn refusal(r: &Refusal) -> Option<String> {
    Some(match r {
        Refusal::NoRoot => {
            "this vault has no root yet: unlock (2, then u), then press n on the Overview (1) to create it".to_owned()
        }
        Refusal::RootExists => {
            "this vault already has a root: the Overview shows it, and r there rotates to a new generation"
                .to_owned()
        }
        Refusal::NoSuchGeneration(g) => {
            format!("this vault has no root generation {g}; the Overview lists them")
        }
        Refusal::GenerationPending { generation, what } => format!(
            "root generation {generation} is pending (its certificate was not imported yet), so it cannot {what}; import it with i on the Overview"
        ),
        Refusal::PendingExists(g) => format!(
            "root generation {g} is pending: import its certificate (i on the Overview) before making another root"
        ),
        Refusal::NoPending => {
            "no root generation is pending; make one with c on the Overview (a key and its request) first".to_owned()
        }
        Refusal::RotateSubordinate(g) => format!(
            "the active root generation {g} was issued by an enterprise root, so a new self-signed root would not chain to it; rotate a subordinate with c (a key and its request) and i (import) on the Overview"
        ),
        Refusal::RetireNotTrusted { generation, status } => format!(
            "root generation {generation} is {status}; only a trusted generation (one a rotation replaced) can be retired{}",
            if status == "active" { ": rotate to a new root first (r on the Overview)" } else { "" }
        ),
        Refusal::RetireInUse { generation, clusters } => format!(
            "root generation {generation} still has valid intermediates, for cluster(s) {}: re-key each (sign a new CSR under the active root and export it) and revoke the old one (screen 4, r, reason superseded), then retire; nothing was retired",
            clusters.join(", ")
        ),
        Refusal::DestroyNotRetired { generation, status } => format!(
            "root generation {generation} is {status}; only a retired generation's key can be destroyed (retire it first: x on the Overview)"
        ),
        Refusal::Import { .. } => cli_words(&r.to_string()),
        Refusal::UnknownSerial(s) => format!(
            "no certificate with serial {s} was issued by this vault (screen 4 lists them)"
        ),
        Refusal::UnknownCluster(c) => format!(
            "no certificate was ever issued for cluster {c} (screen 4 lists the clusters)"
        ),
        _ => return None,
    })
}

fn fs(f: &FsError) -> Option<String> {
    Some(match f {
        FsError::OutputExists(p) => format!(
            "{} already exists, and nothing is ever written over a file: choose another path",
            p.display()
        ),
        FsError::NoRoom { path, source } => {
            let dir = crate::fsio::parent_dir(path);
            match source.kind() {
                ErrorKind::NotFound => format!(
                    "the folder {} does not exist: create it, or choose another path; nothing was written",
                    dir.display()
                ),
                ErrorKind::PermissionDenied => format!(
                    "the folder {} is not writable by this user: choose another path; nothing was written",
                    dir.display()
                ),
                _ => format!(
                    "cannot write {}: {source}; nothing was written: free space there or choose another path",
                    path.display()
                ),
            }
        }
        _ => return None,
    })
}

fn not_confirmed(n: &NotConfirmed) -> String {
    match n {
        NotConfirmed::Declined { nothing } | NotConfirmed::NoTerminal { nothing, .. } => {
            format!("not confirmed; {nothing}")
        }
        NotConfirmed::TooShort {
            subject,
            min,
            nothing,
        } => format!("type at least {min} hex digits of {subject}; {nothing}"),
        other => other.to_string(),
    }
}

fn not_witnessed(n: &NotWitnessed) -> String {
    match n {
        NotWitnessed::Required {
            action,
            required,
            registered,
            nothing,
        } => format!(
            "{action} needs {required} witness signature(s) in this vault ({registered} witnesses are registered), and none was given; {nothing}"
        ),
        NotWitnessed::Invalid { problems, nothing } => {
            let mut text = format!("witness signatures refused, {nothing}:");
            for (file, why) in problems {
                text += &format!("\n  {file}: {}", invalid_signature(why));
            }
            text
        }
        other => other.to_string(),
    }
}

/// Why a witness's signature file does not count, in the TUI's words.
pub(crate) fn invalid_signature(why: &Invalid) -> String {
    match why {
        Invalid::Unregistered(fpr) => format!(
            "it was made by the key {fpr}, which is not a registered witness's (the Overview lists them)"
        ),
        Invalid::Moved {
            then_seq, now_seq, ..
        } => format!(
            "it signs this action's statement for ledger event {then_seq}, but the ledger has moved on to event {now_seq}: cancel (Esc), start the action again and have the new statement signed"
        ),
        Invalid::NotThisStatement => "it does not sign this statement (it was made for another action, other inputs, another vault, or the file was altered): compare it with the statement file written here".to_owned(),
        other => other.to_string(),
    }
}

/// A line of ceremony's text (a confirmation's summary, an import's refusal) with the
/// command line's words replaced by the TUI's.
pub(crate) fn cli_words(text: &str) -> String {
    let mut s = text.to_owned();
    if let Some(i) = s.find("(`rootvault crl --generation N`)") {
        s.replace_range(
            i..i + "(`rootvault crl --generation N`)".len(),
            "(screen 5: ←→ picks the generation, i issues)",
        );
    }
    s.replace(
        "pass the chain up to and including the enterprise's self-signed root with --chain",
        "give the chain up to and including the enterprise's self-signed root in the chain file",
    )
    .replace("--cert", "the certificate file")
    .replace("--chain", "the chain file")
    .replace("`root import` takes", "an import takes")
}

fn hsm(h: &HsmError) -> Option<String> {
    Some(match h {
        HsmError::PinIncorrect { state } => format!(
            "login failed: the token rejected the PIN; {}",
            attempts_left(state)
        ),
        HsmError::ModuleLoad { .. } => h
            .to_string()
            .replace("check the --module path", "check the module path in vault.toml"),
        HsmError::LabelExists(label) => format!(
            "the token already holds an object labelled {label:?}: choose another key label, or remove the leftover object (pkcs11-tool --delete-object) if an earlier attempt was interrupted"
        ),
        _ => return None,
    })
}

fn ledger(l: &LedgerError) -> Option<String> {
    let text = l.to_string();
    text.contains("run `rootvault ledger verify` for the full report")
        .then(|| {
            text.replace(
                "run `rootvault ledger verify` for the full report",
                "verify it on screen 6 (v) for the full report",
            )
        })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn no_message_names_a_command_or_a_flag() {
        let io = |k| std::io::Error::from(k);
        let errors: Vec<Error> = vec![
            Refusal::NoRoot.into(),
            Refusal::RootExists.into(),
            Refusal::UnknownSerial("ab".into()).into(),
            Refusal::UnknownCluster("c".into()).into(),
            FsError::OutputExists(PathBuf::from("/tmp/x")).into(),
            ExportError::Fs(FsError::OutputExists(PathBuf::from("/tmp/y"))).into(),
            FsError::NoRoom {
                path: PathBuf::from("/nope/crl.pem"),
                source: io(ErrorKind::NotFound),
            }
            .into(),
            FsError::NoRoom {
                path: PathBuf::from("/ro/crl.pem"),
                source: io(ErrorKind::PermissionDenied),
            }
            .into(),
            NotConfirmed::Declined {
                nothing: "nothing was signed",
            }
            .into(),
            HsmError::LabelExists("rootvault-root".into()).into(),
            HsmError::ModuleLoad {
                path: PathBuf::from("/x.so"),
                detail: "gone".into(),
            }
            .into(),
            Refusal::NoSuchGeneration(3).into(),
            Refusal::GenerationPending {
                generation: 2,
                what: "be retired",
            }
            .into(),
            Refusal::PendingExists(2).into(),
            Refusal::NoPending.into(),
            Refusal::RotateSubordinate(1).into(),
            Refusal::RetireNotTrusted {
                generation: 2,
                status: "active".into(),
            }
            .into(),
            Refusal::RetireInUse {
                generation: 1,
                clusters: vec!["prod (serial ab)".into()],
            }
            .into(),
            Refusal::DestroyNotRetired {
                generation: 1,
                status: "trusted".into(),
            }
            .into(),
            Refusal::Import {
                check: "chain",
                detail: "no certificate given is the issuer of X (its issuer is Y): pass the chain up to and including the enterprise's self-signed root with --chain".into(),
            }
            .into(),
            Refusal::Import {
                check: "certificate",
                detail: "--cert is neither PEM certificates nor one DER certificate".into(),
            }
            .into(),
            NotWitnessed::Required {
                action: "sign",
                required: 2,
                registered: 3,
                nothing: "nothing was signed",
            }
            .into(),
            NotWitnessed::Invalid {
                problems: vec![
                    ("a.sig".into(), Invalid::Unregistered("SHA256:x".into())),
                    (
                        "b.sig".into(),
                        Invalid::Moved {
                            then_seq: 3,
                            then_hash: "ab".into(),
                            now_seq: 4,
                        },
                    ),
                    ("c.sig".into(), Invalid::NotThisStatement),
                ],
                nothing: "nothing was signed",
            }
            .into(),
        ];
        // rootvault's own commands and flags; other tools (pkcs11-tool) may be named.
        let cli = [
            "rootvault ",
            "--force",
            "--confirm",
            "--module",
            "--key-label",
            "--pin-file",
            "--vault",
            "--out",
            "--days",
            "--generation",
            "--cert",
            "--chain",
            "--statement-out",
            "--witness-sig",
            "--serial",
        ];
        for e in &errors {
            let s = say(e);
            for word in cli {
                assert!(!s.contains(word), "{word:?} in {s}");
            }
        }
        assert_eq!(
            say(&errors[6]),
            "the folder /nope does not exist: create it, or choose another path; nothing was written"
        );
        assert_eq!(say(&errors[8]), "not confirmed; nothing was signed");
    }

    #[test]
    fn attempts_left_is_a_number_when_the_token_gives_one() {
        let s = |count_low, final_try, locked| PinState {
            initialized: true,
            count_low,
            final_try,
            locked,
            to_be_changed: false,
        };
        assert_eq!(
            attempts_left(&s(true, true, false)),
            "1 attempt left before the PIN locks"
        );
        assert_eq!(
            attempts_left(&s(false, false, true)),
            "the PIN is locked: 0 attempts left"
        );
        assert!(attempts_left(&s(true, false, false)).contains("does not say how many"));
    }
}
