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
            // A recovery may record more than the ledger's M: the token's (ceremony/recover.rs).
            if seen.len() < a.required.max(self.required) as usize || a.required < self.required {
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
            Event::LedgerRecovered(r) => {
                if let Some(m) = r.witnesses_required {
                    self.required = m;
                }
            }
            _ => {}
        }
        if checkpoints.contains(&seq) {
            self.open = None;
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{
        ActionWitnessed, CertificateRevoked, WitnessAdded, WitnessSignature, WitnessesRequired,
        GENESIS,
    };
    use crate::witness::{Body, Head, Statement, VaultId};
    use ssh_key::private::Ed25519Keypair;
    use ssh_key::{HashAlg, LineEnding, PrivateKey, SshSig};

    fn key(seed: u8) -> PrivateKey {
        PrivateKey::from(Ed25519Keypair::from_seed(&[seed; 32]))
    }

    fn stored(seq: i64, prev_hash: &str, event: &Event) -> StoredEvent {
        StoredEvent {
            seq,
            time: "2026-01-01T00:00:00.000000Z".into(),
            kind: event.kind().into(),
            actor: "t".into(),
            payload: event.payload_json(),
            prev_hash: prev_hash.into(),
            hash: format!("{seq:064x}"),
        }
    }

    fn sign(k: &PrivateKey, namespace: &str, text: &str) -> String {
        SshSig::sign(k, namespace, HashAlg::Sha512, text.as_bytes())
            .unwrap()
            .to_pem(LineEnding::LF)
            .unwrap()
    }

    /// A registry of alice (seed 1) and bob (seed 2) with M = 2 at events 1..3; returns the
    /// checker and the statement of a revocation at head 3.
    fn setup() -> (WitnessCheck, String) {
        let mut c = WitnessCheck::default();
        let none = BTreeSet::from([1, 2, 3]);
        for (seq, name, seed) in [(1, "alice", 1), (2, "bob", 2)] {
            let public = key(seed).public_key().clone();
            let e = Event::WitnessAdded(WitnessAdded {
                name: name.into(),
                public_key: public.to_openssh().unwrap(),
                fingerprint: public.fingerprint(HashAlg::Sha256).to_string(),
            });
            assert!(c.check(&stored(seq, GENESIS, &e), &e, &none).is_empty());
        }
        let e = Event::WitnessesRequired(WitnessesRequired { required: 2 });
        assert!(c.check(&stored(3, GENESIS, &e), &e, &none).is_empty());
        let mut body = Body::new("revoke");
        body.line("reason", "keyCompromise");
        let vault = VaultId {
            token_serial: "t".into(),
            audit_key_sha256: "a".into(),
        };
        let head = Head {
            seq: 3,
            hash: format!("{:064x}", 3),
        };
        (c, Statement::new(&vault, &head, &body).text().to_owned())
    }

    fn witnessed(statement: &str, sigs: &[(&str, u8, &str)]) -> Event {
        Event::ActionWitnessed(ActionWitnessed {
            action: "revoke".into(),
            statement: statement.into(),
            statement_sha256: sha256_hex(statement.as_bytes()),
            required: 2,
            signatures: sigs
                .iter()
                .map(|(w, seed, ns)| WitnessSignature {
                    witness: (*w).into(),
                    fingerprint: key(*seed)
                        .public_key()
                        .fingerprint(HashAlg::Sha256)
                        .to_string(),
                    signature: sign(&key(*seed), ns, statement),
                })
                .collect(),
        })
    }

    fn revoked() -> Event {
        Event::CertificateRevoked(CertificateRevoked {
            serial: "01".into(),
            cluster: "a".into(),
            reason: "keyCompromise".into(),
            revoked_at: "2026-01-01T00:00:00Z".into(),
        })
    }

    /// Runs `witnessed` at seq 4 (extending head 3) and a revocation at 5, checkpointed at 5.
    fn problems(w: &Event) -> Vec<String> {
        let (mut c, _) = setup();
        let cps = BTreeSet::from([5]);
        let mut p = c.check(&stored(4, &format!("{:064x}", 3), w), w, &cps);
        p.extend(c.check(
            &stored(5, &format!("{:064x}", 4), &revoked()),
            &revoked(),
            &cps,
        ));
        p
    }

    const NS: &str = "rootvault-witness";

    #[test]
    fn a_statement_two_registered_witnesses_signed_verifies() {
        let (_, st) = setup();
        assert_eq!(
            problems(&witnessed(&st, &[("alice", 1, NS), ("bob", 2, NS)])),
            Vec::<String>::new()
        );
    }

    #[test]
    fn forged_or_short_witnessing_is_named() {
        let (_, st) = setup();
        let one = problems(&witnessed(&st, &[("alice", 1, NS)]));
        assert!(
            one[0].contains("1 witnesses signed and it records M = 2, but 2 were required then"),
            "{one:?}"
        );
        let ns = problems(&witnessed(&st, &[("alice", 1, NS), ("bob", 2, "file")]));
        assert!(
            ns[0].contains("bob's signature: it was made for the namespace \"file\""),
            "{ns:?}"
        );
        let stranger = problems(&witnessed(&st, &[("alice", 1, NS), ("bob", 9, NS)]));
        assert!(
            stranger[0].contains("bob was not a registered witness with key"),
            "{stranger:?}"
        );
        let twice = problems(&witnessed(&st, &[("alice", 1, NS), ("alice", 1, NS)]));
        assert!(
            twice.iter().any(|p| p.contains("alice signed twice")),
            "{twice:?}"
        );
        // A statement edited after signing (digest recomputed) no longer verifies.
        let mut w = witnessed(&st, &[("alice", 1, NS), ("bob", 2, NS)]);
        if let Event::ActionWitnessed(a) = &mut w {
            a.statement = a.statement.replace("keyCompromise", "superseded");
            a.statement_sha256 = sha256_hex(a.statement.as_bytes());
        }
        let edited = problems(&w);
        assert!(
            edited
                .iter()
                .all(|p| p.contains("does not sign this statement"))
                && edited.len() == 2,
            "{edited:?}"
        );
        // Another head: the statement is moved elsewhere in the chain.
        let moved = st.replace(
            &format!("event 3, hash {:064x}", 3),
            &format!("event 2, hash {:064x}", 2),
        );
        let p = problems(&witnessed(&moved, &[("alice", 1, NS), ("bob", 2, NS)]));
        assert!(
            p[0].contains("does not name the head this event extends (event 3"),
            "{p:?}"
        );
    }

    #[test]
    fn a_trust_changing_event_without_a_witnessed_statement_is_named() {
        let (mut c, _) = setup();
        let p = c.check(
            &stored(4, GENESIS, &revoked()),
            &revoked(),
            &BTreeSet::new(),
        );
        assert_eq!(
            p,
            ["event 4 (certificate_revoked): witnesses were required, but no witnessed statement precedes it in its transaction"]
        );
    }

    #[test]
    fn every_root_generation_step_module_approval_and_recovery_needs_a_witnessed_statement() {
        use crate::ledger::{
            CertificateRecord, LedgerRecovered, ModuleApproved, RootImported, RootKeyDestroyed,
            RootKeyGenerated, RootRetired, RootRotated,
        };
        let cert = CertificateRecord {
            serial: "01".into(),
            subject: "CN=R".into(),
            not_before: "2026-01-01T00:00:00Z".into(),
            not_after: "2036-01-01T00:00:00Z".into(),
            key_type: "ecdsa-p384".into(),
            spki_sha256: "a".repeat(64),
            sha256: "b".repeat(64),
            der_base64: String::new(),
        };
        let recovered = |m: Option<u32>| {
            Event::LedgerRecovered(LedgerRecovered {
                lost_from_seq: 4,
                lost_to_seq: 9,
                lost_head_hash: "c".repeat(64),
                revocations_lost: 0,
                crl_numbers: Default::default(),
                witnesses_required: m,
            })
        };
        let steps = [
            Event::RootRotated(RootRotated {
                generation: 2,
                previous: 1,
                certificate: cert.clone(),
                key_label: "k".into(),
                key_id: "01".into(),
                token_serial: "t".into(),
                cross: cert.clone(),
            }),
            Event::RootRetired(RootRetired {
                generation: 1,
                sha256: "b".repeat(64),
            }),
            Event::RootKeyDestroyed(RootKeyDestroyed {
                generation: 1,
                key_label: "k".into(),
                key_id: "01".into(),
                spki_sha256: "a".repeat(64),
            }),
            Event::RootKeyGenerated(RootKeyGenerated {
                generation: 2,
                key_label: "k".into(),
                key_id: "01".into(),
                key_type: "ecdsa-p384".into(),
                spki_sha256: "a".repeat(64),
                token_serial: "t".into(),
                subject: "CN=R".into(),
                csr_sha256: "d".repeat(64),
            }),
            Event::RootImported(RootImported {
                generation: 2,
                previous: Some(1),
                certificate: cert,
                chain: vec![],
            }),
            Event::ModuleApproved(ModuleApproved {
                module: "/m.so".into(),
                sha256: "e".repeat(64),
            }),
            recovered(None),
        ];
        for e in &steps {
            assert!(e.is_trust_changing(), "{}", e.kind());
            let (mut c, _) = setup();
            let p = c.check(&stored(4, GENESIS, e), e, &BTreeSet::new());
            assert_eq!(
                p,
                [format!("event 4 ({}): witnesses were required, but no witnessed statement precedes it in its transaction", e.kind())]
            );
        }
    }

    #[test]
    fn a_recovery_may_require_more_witnesses_than_the_ledger_and_carries_the_tokens_m() {
        use crate::ledger::LedgerRecovered;
        let (_, st) = setup();
        let mut w = witnessed(&st, &[("alice", 1, NS), ("bob", 2, NS)]);
        // The token required 2 while the ledger that survived said 1: it records 2.
        let (mut c, _) = setup();
        // The ledger that survived says M = 1.
        c.required = 1;
        let cps = BTreeSet::from([5]);
        assert!(c
            .check(&stored(4, &format!("{:064x}", 3), &w), &w, &cps)
            .is_empty());
        let rec = Event::LedgerRecovered(LedgerRecovered {
            lost_from_seq: 4,
            lost_to_seq: 9,
            lost_head_hash: "c".repeat(64),
            revocations_lost: 0,
            crl_numbers: Default::default(),
            witnesses_required: Some(2),
        });
        assert!(c
            .check(&stored(5, &format!("{:064x}", 4), &rec), &rec, &cps)
            .is_empty());
        assert_eq!(c.required, 2, "the token's M is carried into the chain");
        // Fewer signatures than the M it records is named.
        if let Event::ActionWitnessed(a) = &mut w {
            a.required = 3;
        }
        let (mut c, _) = setup();
        let p = c.check(&stored(4, &format!("{:064x}", 3), &w), &w, &cps);
        assert!(
            p[0].contains("2 witnesses signed and it records M = 3, but 2 were required then"),
            "{p:?}"
        );
    }
}
