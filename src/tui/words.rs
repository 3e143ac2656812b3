//! Ceremony's errors in the TUI's own words: the same facts, but the keys and screens of the
//! TUI where the CLI's text names a command or a flag. Anything without a CLI word in it is
//! shown exactly as the CLI prints it.

use std::io::ErrorKind;

use crate::error::{Error, NotConfirmed, Refusal, VaultError};
use crate::export::ExportError;
use crate::fsio::FsError;
use crate::hsm::{HsmError, PinState};
use crate::ledger::LedgerError;

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
            "this vault already has a root; a vault holds exactly one (the Overview shows it)"
                .to_owned()
        }
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
