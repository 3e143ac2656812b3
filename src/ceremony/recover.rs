//! `ledger recover`: the one way past a ledger that is behind its token. When the vault's
//! ledger is lost for good (the disk died, the newest backup is older than the last action),
//! the operator records the loss: a `ledger_recovered` event names the events lost, how many
//! revocations went with them (they must be made again) and the CRL numbers the token had
//! counted, from which numbering goes on. Never silent: it needs the operator's confirmation
//! of the lost head's hash, which only the token knows, and it is an attested event.

use serde::Serialize;

use super::confirm::{self, Confirm, ConfirmRequest};
use super::state::{self, Mismatch};
use super::Ctx;
use crate::error::{Error, Result};
use crate::keys::{KeyType, RawSigner};
use crate::ledger::{Event, LedgerError, LedgerRecovered};

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

/// Records that the ledger's tail after its head is lost, after the operator confirms the
/// lost head's hash. Refused unless the ledger is exactly behind the token (a diverged or
/// broken ledger is not recovered: find the genuine one) and verifies on its own.
pub fn recover_ledger(ctx: &Ctx<'_>, confirmer: &mut dyn Confirm) -> Result<RecoverReport> {
    let vault = ctx.vault;
    let report = super::verify_ledger(vault)?;
    if !report.ok {
        return Err(LedgerError::Integrity(format!(
            "the ledger does not verify on its own ({}), and only a whole ledger that lost its tail can be recovered",
            report.problems.join("; ")
        ))
        .into());
    }
    vault.check_writable()?;
    ctx.logged_in(|session| {
        let mut ledger = vault.ledger()?;
        let audit = ledger
            .audit_key()?
            .ok_or(LedgerError::Integrity("the ledger records no audit key".into()))?;
        let key = session.find_key_pair(KeyType::EcdsaP256, &audit.key_label, &audit.key_id_bytes()?)?;
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
            Ok(_) => {
                return Err(Error::Refused(crate::error::Refusal::NothingToRecover))
            }
        };
        let token = token.expect("a ledger behind the token means the token holds a state");
        let (ledger_seq, token_seq, token_hash) = behind;
        let mut fresh = state::first_state_of(&ledger, &token.vault)?;
        let revocations_lost = token.revocations.saturating_sub(fresh.revocations);
        let crl_numbers = token
            .crl_numbers
            .iter()
            .map(|(g, n)| (g.to_string(), *n))
            .collect();
        let payload = LedgerRecovered {
            lost_from_seq: ledger_seq + 1,
            lost_to_seq: token_seq,
            lost_head_hash: token_hash.clone(),
            revocations_lost,
            crl_numbers,
        };
        let mut summary = vec![
            (
                "events lost".to_owned(),
                format!("{}..{token_seq}", ledger_seq + 1),
            ),
            ("lost head hash".to_owned(), token_hash.clone()),
            (
                "revocations lost".to_owned(),
                format!("{revocations_lost} (they must be made again: see the transcripts and receipts of those ceremonies)"),
            ),
        ];
        for (g, n) in &token.crl_numbers {
            summary.push((
                format!("CRL numbers, generation {g}"),
                format!("go on after {n}"),
            ));
        }
        let request = ConfirmRequest {
            action: "record the loss of the ledger's tail",
            summary,
            subject: "the lost head's hash",
            expected: token_hash,
        };
        confirm::check(&request, confirmer.ask(&request), "nothing was recorded")?;
        let tx = ledger.begin()?;
        let event = Event::LedgerRecovered(payload);
        let stored = tx.append(&ctx.operator.0, &event)?;
        tx.commit_attested(&key, key.label())?;
        fresh.apply(stored.seq, &stored.hash, &event);
        state::write(session, &fresh)?;
        let Event::LedgerRecovered(p) = event else {
            unreachable!("built above")
        };
        Ok(RecoverReport {
            lost_from_seq: p.lost_from_seq,
            lost_to_seq: p.lost_to_seq,
            lost_head_hash: p.lost_head_hash,
            revocations_lost: p.revocations_lost,
            recorded_seq: stored.seq,
        })
    })
}
