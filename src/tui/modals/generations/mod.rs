//! Root generations from the Overview (docs/rotation.md): rotate (`r`), retire (`x`) and
//! destroy a retired key (`D`) on the selected generation, a key and its request for an
//! enterprise root (`c`), and the import of its certificate (`i`). Each form parses what is
//! typed as the command line parses its flags; what would refuse the step is asked of
//! ceremony before anything opens (`rotate_confirmation`, `retire_confirmation`, …, which
//! touch nothing), and the step runs through the witnesses' dialog (while M > 0) and then
//! ceremony's own confirmation.

//!
//! `rotate`, `csr` and `import` hold the three forms; retire and destroy-key, which open no
//! form of their own, are here with what the forms share.

use std::path::PathBuf;

use crate::ceremony::{self, Auth, WitnessedAction};
use crate::keys::KeyType;
use crate::x509::Dn;

use super::super::field::TextField;
use super::super::job::{Job, Outcome};
use super::super::keys::Screen;
use super::super::view::{Ctx, Effect};
use super::super::words;
use super::witness::{self, TrustChange};

mod csr;
mod import;
mod rotate;

pub(crate) use csr::CsrForm;
pub(crate) use import::ImportForm;
pub(crate) use rotate::RotateForm;

/// Where the operator reads each value they type a prefix of.
const ROTATE_SOURCE: &str =
    "Read the active root certificate's SHA-256 from the record of its ceremony (not from this screen).";
const RETIRE_SOURCE: &str =
    "Read the retiring root certificate's SHA-256 from the record of its ceremony (not from this screen).";
const DESTROY_SOURCE: &str =
    "Read the retired key's SPKI SHA-256 from the record of its ceremony (not from this screen).";
const CSR_SOURCE: &str = "Take the request's SHA-256 from the ceremony script: printf 'subject=%s\\nkey-type=%s\\ntoken-serial=%s\\n' … | sha256sum.";
const IMPORT_SOURCE: &str = "Have the enterprise CA's operator read out the certificate's SHA-256 (openssl x509 -noout -fingerprint -sha256).";

/// The next generation's number, as the vault was last read.
fn next_generation(ctx: &Ctx) -> u32 {
    ctx.data
        .generations()
        .iter()
        .map(|g| g.generation)
        .max()
        .unwrap_or(0)
        + 1
}

fn session_ctx<'a>(
    vault: &'a crate::vault::Vault,
    session: &'a ceremony::Unlocked,
    operator: &'a ceremony::Operator,
) -> ceremony::Ctx<'a> {
    ceremony::Ctx {
        vault,
        auth: Auth::Unlocked(session),
        operator,
    }
}

fn key_type_index(k: KeyType) -> usize {
    KeyType::ALL.iter().position(|t| *t == k).unwrap_or(0)
}

/// The path typed, relative to the directory the TUI was started in.
fn resolve(text: &str, ctx: &Ctx) -> PathBuf {
    let p = PathBuf::from(text.trim());
    if p.is_absolute() {
        p
    } else {
        ctx.cwd.join(p)
    }
}

fn parse_subject(field: &TextField) -> Result<Dn, String> {
    Dn::parse(field.text().trim()).map_err(|e| format!("subject: {e}"))
}

fn parse_label(field: &TextField) -> Result<Option<String>, String> {
    match field.text().trim() {
        "" => Err("key label: must not be empty".to_owned()),
        l => Ok(Some(l.to_owned())),
    }
}

/// A failed step keeps its form open with what was typed; the reason is shown in it.
fn kept_open(problem: &mut Option<String>, e: &crate::Error) -> Effect {
    let said = words::say(e);
    *problem = Some(said.clone());
    if matches!(e, crate::Error::NotConfirmed(_)) {
        Effect::info(said)
    } else {
        Effect::error_line(format!("error: {said}"))
    }
}

// ---- retire, destroy-key -----------------------------------------------------------------

/// `x` on generation `generation`: refused at once if ceremony would refuse it (a generation
/// that is not trusted, one with a valid intermediate), else retired after the witnesses and
/// the confirmation.
pub(crate) fn retire(generation: u32, ctx: &Ctx) -> Effect {
    if let Err(e) = ceremony::retire_confirmation(ctx.vault, generation) {
        return Effect::failed("Not retired", &e);
    }
    if !ctx.unlocked() {
        return Effect::locked();
    }
    let operator = ctx.operator.clone();
    witness::run(
        ctx,
        TrustChange::new(
            "retire the root",
            move |vault, operator| {
                ceremony::statement(vault, operator, &WitnessedAction::RootRetire(generation))
            },
            move |sigs| {
                Job::with_session(
                    "retiring the root",
                    Screen::Overview,
                    move |vault, session, progress| {
                        let mut confirm = progress.asker(RETIRE_SOURCE, Vec::new(), Vec::new());
                        let ctx = session_ctx(vault, session, &operator);
                        Outcome::Retire(
                            generation,
                            ceremony::retire_root_witnessed(&ctx, generation, &sigs, &mut confirm),
                        )
                    },
                )
            },
        ),
    )
}

/// `D` on generation `generation`: its key destroyed on the token, if it is retired.
pub(crate) fn destroy_key(generation: u32, ctx: &Ctx) -> Effect {
    if let Err(e) = ceremony::destroy_key_confirmation(ctx.vault, generation) {
        return Effect::failed("No key destroyed", &e);
    }
    if !ctx.unlocked() {
        return Effect::locked();
    }
    let operator = ctx.operator.clone();
    witness::run(
        ctx,
        TrustChange::new(
            "destroy the retired root's key",
            move |vault, operator| {
                ceremony::statement(
                    vault,
                    operator,
                    &WitnessedAction::RootDestroyKey(generation),
                )
            },
            move |sigs| {
                Job::with_session(
                    "destroying the key",
                    Screen::Overview,
                    move |vault, session, progress| {
                        let mut confirm = progress.asker(DESTROY_SOURCE, Vec::new(), Vec::new());
                        let ctx = session_ctx(vault, session, &operator);
                        Outcome::DestroyKey(
                            generation,
                            ceremony::destroy_root_key_witnessed(
                                &ctx,
                                generation,
                                &sigs,
                                &mut confirm,
                            ),
                        )
                    },
                )
            },
        ),
    )
}
