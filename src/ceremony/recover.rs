//! `ledger recover`: the one way past a ledger that is behind its token. When the vault's
//! ledger is lost for good (the disk died, the newest backup is older than the last action),
//! the operator records the loss: a `ledger_recovered` event names the events lost, how many
//! revocations went with them (they must be made again) and the CRL numbers the token had
//! counted, from which numbering goes on. Never silent: it needs the operator's confirmation
//! of the lost head's hash, which only the token knows, and it is an attested event.
//!
//! It is trust-changing (docs/witnesses.md): the revocations and root steps of the lost
//! events are taken back with them, and a backup older than `witness require` would otherwise
//! bring back a vault that requires none. So, once witnesses are required, it needs them too,
//! and at least as many as the token attested (`witnesses_required`, which the lost events
//! may have raised); that M is carried into the recovered vault. Its statement names the
//! lost events, which only the token knows, so writing it needs the PIN (no key is used).

use serde::Serialize;

use super::confirm::{self, Confirm, ConfirmRequest};
use super::state::{self, Mismatch, TokenState};
use super::witness::{self, Registry, StatementReport, WitnessSigs};
use super::{Ctx, Output};
use crate::error::{Error, Refusal, Result};
use crate::hsm::{TokenKey, UserSession};
use crate::keys::{KeyType, RawSigner};
use crate::ledger::{Event, Ledger, LedgerError, LedgerRecovered};
use crate::witness::Body;

/// What `ledger recover` recorded.
#[derive(Debug, Clone, Serialize)]
pub struct RecoverReport {
    /// The first event lost.
    pub lost_from_seq: i64,
    /// The last event the token had attested.
    pub lost_to_seq: i64,
    /// Its hash.
    pub lost_head_hash: String,
    /// Revocations the token counted that the ledger no longer holds.
    pub revocations_lost: u64,
    /// The `ledger_recovered` event's seq.
    pub recorded_seq: i64,
}

/// A ledger behind its token, as the token and the ledger describe it together.
struct Loss<'s> {
    /// The token's audit key.
    key: TokenKey<'s>,
    /// The state of the ledger that survived.
    fresh: TokenState,
    /// The token's state.
    token: TokenState,
    /// The event to record.
    payload: LedgerRecovered,
}

/// Checks that the ledger verifies on its own and is exactly behind the token, and reads
/// what was lost (PIN needed: the token's state is private), then runs `f`.
fn with_loss<T>(
    ctx: &Ctx<'_>,
    f: impl FnOnce(&UserSession, &mut Ledger, Loss<'_>) -> Result<T>,
) -> Result<T> {
    let vault = ctx.vault;
    let report = super::verify_ledger(vault)?;
    if !report.ok {
        return Err(LedgerError::Integrity(format!(
            "the ledger does not verify on its own ({}), and only a whole ledger that lost its tail can be recovered",
            report.problems.join("; ")
        ))
        .into());
    }
    ctx.logged_in(|session| {
        let mut ledger = vault.ledger()?;
        let audit = ledger.audit_key()?.ok_or(LedgerError::Integrity(
            "the ledger records no audit key".into(),
        ))?;
        let key =
            session.find_key_pair(KeyType::EcdsaP256, &audit.key_label, &audit.key_id_bytes()?)?;
        if key.public_key().spki_der() != audit.public_key_der()? {
            return Err(LedgerError::Integrity(
                "the token's audit key is not the one the ledger records".into(),
            )
            .into());
        }
        let token = state::read(session)?;
        let behind = match state::compare(&ledger, session, &key.public_key().spki_der()) {
            Err(Error::State(Mismatch::Behind {
                ledger_seq,
                token_seq,
                token_hash,
            })) => (ledger_seq, token_seq, token_hash),
            Err(e) => return Err(e),
            Ok(_) => return Err(Error::Refused(Refusal::NothingToRecover)),
        };
        let token = token.expect("a ledger behind the token means the token holds a state");
        let (ledger_seq, token_seq, token_hash) = behind;
        let fresh = state::first_state_of(&ledger, &token.vault)?;
        let payload = LedgerRecovered {
            lost_from_seq: ledger_seq + 1,
            lost_to_seq: token_seq,
            lost_head_hash: token_hash,
            revocations_lost: token.revocations.saturating_sub(fresh.revocations),
            crl_numbers: token
                .crl_numbers
                .iter()
                .map(|(g, n)| (g.to_string(), *n))
                .collect(),
            witnesses_required: (token.witnesses_required != fresh.witnesses_required)
                .then_some(token.witnesses_required),
        };
        let loss = Loss {
            key,
            fresh,
            token,
            payload,
        };
        f(session, &mut ledger, loss)
    })
}

/// What the operator confirms and the witnesses sign: the events lost, the lost head, the
/// revocations lost, the CRL numbers and M.
fn summary(loss: &Loss<'_>) -> Vec<(String, String)> {
    let p = &loss.payload;
    let mut summary = vec![
        (
            "events lost".to_owned(),
            format!("{}..{}", p.lost_from_seq, p.lost_to_seq),
        ),
        ("lost head hash".to_owned(), p.lost_head_hash.clone()),
        (
            "revocations lost".to_owned(),
            format!("{} (they must be made again: see the transcripts and receipts of those ceremonies)", p.revocations_lost),
        ),
    ];
    for (g, n) in &loss.token.crl_numbers {
        summary.push((
            format!("CRL numbers, generation {g}"),
            format!("go on after {n}"),
        ));
    }
    summary.push((
        "witnesses required".to_owned(),
        if loss.token.witnesses_required == loss.fresh.witnesses_required {
            loss.token.witnesses_required.to_string()
        } else {
            format!(
                "{} (as the token attested; the ledger that survived says {})",
                loss.token.witnesses_required, loss.fresh.witnesses_required
            )
        },
    ));
    summary
}

fn body(loss: &Loss<'_>) -> Body {
    let mut body = Body::new("ledger recover");
    for (label, value) in summary(loss) {
        body.line(&label, value);
    }
    body
}

/// The witnesses the recovery needs: the ledger's M, and at least the token's. Refused if the
/// ledger that survived registers fewer witnesses than the token requires.
fn required(ledger: &Ledger, loss: &Loss<'_>) -> Result<u32> {
    let registry = Registry::read(ledger)?;
    let registered = registry.witnesses().count();
    if loss.token.witnesses_required as usize > registered {
        return Err(Refusal::RecoverWitnessesLost {
            required: loss.token.witnesses_required,
            registered,
        }
        .into());
    }
    Ok(loss.token.witnesses_required)
}

/// `ledger recover --statement-out FILE`: the checks of [`recover_ledger`] (with the PIN, to
/// read what the token attested; no key is used and nothing is recorded), then the statement
/// the witnesses sign, written to `out`.
pub fn write_recover_statement(ctx: &Ctx<'_>, out: &Output) -> Result<StatementReport> {
    with_loss(ctx, |_session, ledger, loss| {
        required(ledger, &loss)?;
        let statement = witness::statement_of(ctx.vault, ledger, &body(&loss))?;
        witness::write_statement_file(ledger, &statement, out)
    })
}

/// Records that the ledger's tail after its head is lost, after the operator confirms the
/// lost head's hash. Refused unless the ledger is exactly behind the token (a diverged or
/// broken ledger is not recovered: find the genuine one) and verifies on its own.
pub fn recover_ledger(ctx: &Ctx<'_>, confirmer: &mut dyn Confirm) -> Result<RecoverReport> {
    recover_ledger_witnessed(ctx, &WitnessSigs::none(), confirmer)
}

/// [`recover_ledger`] with the witnesses' signatures of its statement, checked against the
/// registry of the ledger that survived, before the operator confirms and anything is
/// recorded; at least as many as the token requires.
pub fn recover_ledger_witnessed(
    ctx: &Ctx<'_>,
    sigs: &WitnessSigs,
    confirmer: &mut dyn Confirm,
) -> Result<RecoverReport> {
    ctx.vault.check_writable()?;
    with_loss(ctx, |session, ledger, loss| {
        let nothing = "nothing was recorded";
        let at_least = required(ledger, &loss)?;
        let approval =
            witness::approve_at_least(ctx.vault, ledger, &body(&loss), sigs, nothing, at_least)?;
        let request = ConfirmRequest {
            action: "record the loss of the ledger's tail",
            summary: summary(&loss),
            subject: "the lost head's hash",
            expected: loss.payload.lost_head_hash.clone(),
        };
        confirm::check(&request, confirmer.ask(&request), nothing)?;
        let Loss {
            key,
            mut fresh,
            token,
            payload,
        } = loss;
        let attested = approval.attest_recovery(&token)?;
        let tx = attested.begin(ledger, ctx.operator)?;
        let event = Event::LedgerRecovered(payload);
        tx.append(&ctx.operator.0, &event)?;
        // What Attestor::commit checks of every other action: the gate's record first.
        let ours: Vec<Event> = tx
            .events_after(fresh.seq)?
            .iter()
            .map(|e| Event::parse(&e.kind, &e.payload))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| LedgerError::malformed("an event just appended", e))?;
        witness::check_witnessed(&ours, fresh.witnesses_required.max(at_least))?;
        let appended = tx.events_after(fresh.seq)?;
        tx.commit_attested(&key, key.label())?;
        for (stored, event) in appended.iter().zip(&ours) {
            fresh.apply(stored.seq, &stored.hash, event);
        }
        state::write(session, &fresh)?;
        let Event::LedgerRecovered(p) = event else {
            unreachable!("built above")
        };
        Ok(RecoverReport {
            lost_from_seq: p.lost_from_seq,
            lost_to_seq: p.lost_to_seq,
            lost_head_hash: p.lost_head_hash,
            revocations_lost: p.revocations_lost,
            recorded_seq: appended.last().map_or(0, |e| e.seq),
        })
    })
}
