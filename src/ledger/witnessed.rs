//! What `ledger verify` checks of witnesses: every `action_witnessed` event's statement has
//! the digest recorded with it and names the head the event extends; each signature is
//! valid (SSHSIG, namespace `rootvault-witness`) over that statement, by the key the named
//! witness had registered at that point of the chain, one per witness, and at least as many
//! as were required then; and, while witnesses are required, every trust-changing event
//! follows an `action_witnessed` event of its own transaction (no checkpoint between them).

use std::collections::{BTreeMap, BTreeSet};

use super::events::Event;
use super::StoredEvent;
use crate::keys::sha256_hex;
use crate::witness::{self, Signature, WitnessKey};

/// The registry as the chain builds it, and the witnessed transaction open, if any.
#[derive(Default)]
pub(super) struct WitnessCheck {
    keys: BTreeMap<String, (String, Option<WitnessKey>)>,
    required: u32,
    /// The seq of the `action_witnessed` event whose transaction is still open.
    open: Option<i64>,
}

impl WitnessCheck {
    /// Checks `event` (stored as `ev`); `checkpoints` are the checkpointed seqs, each the end
    /// of a transaction. Returns the problems found.
    pub(super) fn check(
        &mut self,
        ev: &StoredEvent,
        event: &Event,
        checkpoints: &BTreeSet<i64>,
    ) -> Vec<String> {
        let seq = ev.seq;
        let mut problems = Vec::new();
        if let Event::ActionWitnessed(a) = event {
            self.open = Some(seq);
            if sha256_hex(a.statement.as_bytes()) != a.statement_sha256 {
                problems.push(format!(
                    "event {seq}: the witnessed statement's SHA-256 is not the digest recorded with it"
                ));
            }
            match witness::statement_head(&a.statement) {
                Some(h) if h.seq == seq - 1 && h.hash == ev.prev_hash => {}
                _ => problems.push(format!(
                    "event {seq}: the witnessed statement does not name the head this event extends (event {}, hash {})",
                    seq - 1,
                    ev.prev_hash
                )),
            }
            let mut seen = BTreeSet::new();
            for s in &a.signatures {
                let who = &s.witness;
                let key = match self.keys.get(who) {
                    Some((fpr, Some(key))) if *fpr == s.fingerprint => key,
                    _ => {
                        problems.push(format!(
                            "event {seq}: {who} was not a registered witness with key {} then",
                            s.fingerprint
                        ));
                        continue;
                    }
                };
                match Signature::parse(s.signature.as_bytes())
                    .and_then(|sig| sig.check(key, a.statement.as_bytes()))
                {
                    Ok(()) => {}
                    Err(e) => problems.push(format!("event {seq}: {who}'s signature: {e}")),
                }
                if !seen.insert(who) {
                    problems.push(format!("event {seq}: {who} signed twice"));
                }
            }
            if seen.len() < self.required as usize || a.required != self.required {
                problems.push(format!(
                    "event {seq}: {} witnesses signed and it records M = {}, but {} were required then",
                    seen.len(),
                    a.required,
                    self.required
                ));
            }
        } else if event.is_trust_changing() && self.required > 0 && self.open.is_none() {
            problems.push(format!(
                "event {seq} ({}): witnesses were required, but no witnessed statement precedes it in its transaction",
                ev.kind
            ));
        }
        match event {
            Event::WitnessAdded(w) => {
                let key = WitnessKey::parse(&w.public_key)
                    .ok()
                    .filter(|k| k.fingerprint() == w.fingerprint);
                if key.is_none() {
                    problems.push(format!(
                        "event {seq}: witness {}'s key does not parse or does not have its fingerprint",
                        w.name
                    ));
                }
                self.keys
                    .insert(w.name.clone(), (w.fingerprint.clone(), key));
            }
            Event::WitnessRemoved(w) => {
                self.keys.remove(&w.name);
            }
            Event::WitnessesRequired(r) => self.required = r.required,
            _ => {}
        }
        if checkpoints.contains(&seq) {
            self.open = None;
        }
        problems
    }
}
