//! The ledger state the token holds, and the check made against it before the token is used.
//!
//! The vault's files live on ordinary disks: anyone may have copied, edited or restored them.
//! The token holds what no file can forge (design.md, "Trust model"): the keys, and, in a
//! private data object only a logged-in session can write ([`STATE_LABEL`]), the ledger head
//! it last attested and what must never go back:
//!
//! | field | what |
//! |---|---|
//! | `vault` | SHA-256 of the audit key's SubjectPublicKeyInfo: whose state this is |
//! | `seq`, `hash` | the last head the token attested (signed a checkpoint over and saw committed) |
//! | `crl_numbers` | per root generation, the last CRL number issued |
//! | `revocations`, `revocations_digest` | how many revocations were recorded, and a running SHA-256 over them in order |
//! | `roots` | per root generation, the SHA-256 of its certificate |
//! | `generations` | per root generation, its status, its key's SPKI SHA-256, its cross-certificate's SHA-256, the digest of its imported chain, whether its key was destroyed |
//! | `witnesses_required`, `witnesses_digest` | how many witnesses each trust-changing action needs, and a running SHA-256 over the witness registry's changes in order (absent while no witness was ever registered or required) |
//!
//! Before every token action ([`check`]) the ledger must contain the attested head exactly
//! and chain from it to its end, every event after it that needed the token covered by a
//! checkpoint that verifies with the audit key *on the token*. Otherwise the action is
//! refused (exit 4) saying whether the ledger is behind (a restored backup), diverged (a
//! copy that went on without this token, or a rewritten history) or broken. The cost grows
//! with the events since the last action, not with the ledger.
//!
//! After each action commits, the new head is folded in and written back ([`Attestor::commit`]
//! in `audit.rs`). A crash between the commit and that write leaves the ledger ahead by one
//! attested action; the next check finds it checkpointed by the token's audit key, folds it
//! in and writes the state: recovered, never trusted blindly.
//!
//! [`Attestor::commit`]: super::audit

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hsm::UserSession;
use crate::keys::sha256_hex;
use crate::ledger::{Checkpoint, Event, Ledger, StoredEvent, GENESIS};

/// CKA_LABEL of the private data object that holds the state.
pub const STATE_LABEL: &str = "rootvault-state";
/// The `format` this build writes and reads.
pub const STATE_FORMAT: u32 = 1;

/// What the token holds about the ledger. See `ceremony/state.rs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenState {
    /// Always `STATE_FORMAT` (1).
    pub format: u32,
    /// SHA-256 of the audit key's DER SubjectPublicKeyInfo.
    pub vault: String,
    /// The seq of the last attested head.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
    /// Per root generation, the last CRL number issued.
    pub crl_numbers: BTreeMap<u32, i64>,
    /// How many revocations the ledger recorded.
    pub revocations: u64,
    /// Running SHA-256 over the revocations, in ledger order ([`revocation_step`]).
    pub revocations_digest: String,
    /// Per root generation, the SHA-256 of its certificate.
    pub roots: BTreeMap<u32, String>,
    /// How many distinct registered witnesses every trust-changing action needs (absent in
    /// states written before witnesses, and while it is 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub witnesses_required: u32,
    /// Running SHA-256 over the witness registry's changes, in ledger order
    /// ([`crate::witness::registry_step`]); absent while there were none.
    #[serde(default = "genesis", skip_serializing_if = "is_genesis")]
    pub witnesses_digest: String,
    /// Per root generation, what else the token attests of it (absent in states written
    /// before generations: their one root is generation 1, active).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub generations: BTreeMap<u32, GenerationState>,
}

/// What the token attests of one root generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationState {
    /// `pending`, `active`, `trusted` or `retired`.
    pub status: String,
    /// SHA-256 of its key's SubjectPublicKeyInfo (absent for a generation 1 made before
    /// generations: its certificate, attested in `roots`, names the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// SHA-256 of its cross-certificate (a rotated root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross: Option<String>,
    /// [`chain_digest`] of the chain its certificate was imported with (a subordinate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// Whether its key was destroyed on the token.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub key_destroyed: bool,
}

impl GenerationState {
    fn new(status: &str, key: Option<String>) -> Self {
        GenerationState {
            status: status.to_owned(),
            key,
            cross: None,
            chain: None,
            key_destroyed: false,
        }
    }
}

/// The digest the token keeps of an imported chain: SHA-256 over each certificate's SHA-256
/// (lowercase hex) and a newline, issuer first, as `sha256sum` of those lines prints it.
pub fn chain_digest<'a>(sha256s: impl IntoIterator<Item = &'a str>) -> String {
    let lines: String = sha256s.into_iter().map(|s| format!("{s}\n")).collect();
    sha256_hex(lines.as_bytes())
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn genesis() -> String {
    GENESIS.to_owned()
}

fn is_genesis(s: &str) -> bool {
    s == GENESIS
}

/// One step of the running revocation digest: `SHA-256(prev \n serial \n reason \n
/// revoked_at \n)`, lowercase hex, starting from 64 zeros.
pub fn revocation_step(prev: &str, serial: &str, reason: &str, revoked_at: &str) -> String {
    sha256_hex(format!("{prev}\n{serial}\n{reason}\n{revoked_at}\n").as_bytes())
}

/// Why the ledger and the token disagree (exit 4). Nothing was done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Mismatch {
    /// The ledger ends before the head the token attested: an older copy (a restored backup).
    #[error("the ledger is behind the token: it ends at event {ledger_seq}, but the token attested event {token_seq} (hash {token_hash}). This is an older copy of the ledger, such as a restored backup. Nothing was done. Use the vault's current ledger; if it is lost for good, record the loss with `rootvault ledger recover` (it names what was lost and keeps numbers moving forward)")]
    Behind {
        /// The ledger's last seq.
        ledger_seq: i64,
        /// The token's attested seq.
        token_seq: i64,
        /// The token's attested hash.
        token_hash: String,
    },
    /// The ledger has another event where the token attested one: a copy that went on
    /// without this token (a fork), or a rewritten history.
    #[error("the ledger has diverged from the token: event {seq} has hash {found}, but the token attested {token_hash}. This ledger is a copy that went on without this token (a fork), or its history was rewritten. Nothing was done; find the vault's genuine ledger")]
    Diverged {
        /// The seq attested.
        seq: i64,
        /// The hash the ledger has there.
        found: String,
        /// The hash the token attested.
        token_hash: String,
    },
    /// The events after the attested head do not chain, or one that needed the token is not
    /// covered by a checkpoint the token's audit key signed.
    #[error("the ledger is broken after the head the token attested (event {seq}): {detail}. Nothing was done; run `rootvault ledger verify` for the full report")]
    Broken {
        /// The first bad event.
        seq: i64,
        /// What is wrong.
        detail: String,
    },
    /// The token's state belongs to another vault.
    #[error("this token holds the state of another vault (audit key SHA-256 {token_vault}), not of this one ({vault_key}); use the vault's own token")]
    OtherVault {
        /// The vault the token's state names.
        token_vault: String,
        /// This vault's audit key.
        vault_key: String,
    },
    /// The derived rows a signature would be built from are not what the token attested.
    #[error("{0}. Nothing was signed; run `rootvault ledger verify`")]
    Derived(String),
    /// The state object does not parse.
    #[error("the token's state object does not parse ({0}); it was written by a newer rootvault, or damaged")]
    Unreadable(String),
}

impl TokenState {
    /// The state of an empty ledger of the vault whose audit key has this fingerprint.
    pub fn genesis(vault: &str) -> TokenState {
        TokenState {
            format: STATE_FORMAT,
            vault: vault.to_owned(),
            seq: 0,
            hash: GENESIS.to_owned(),
            crl_numbers: BTreeMap::new(),
            revocations: 0,
            revocations_digest: GENESIS.to_owned(),
            roots: BTreeMap::new(),
            witnesses_required: 0,
            witnesses_digest: GENESIS.to_owned(),
            generations: BTreeMap::new(),
        }
    }

    /// A state written before generations: its one root is generation 1, active.
    fn upgrade(&mut self) {
        if self.generations.is_empty() {
            for g in self.roots.keys() {
                self.generations
                    .insert(*g, GenerationState::new("active", None));
            }
        }
    }

    fn set_status(&mut self, generation: u32, status: &str) {
        if let Some(g) = self.generations.get_mut(&generation) {
            g.status = status.to_owned();
        }
    }

    /// Folds in one event that chains from the current head.
    pub fn apply(&mut self, seq: i64, hash: &str, event: &Event) {
        match event {
            Event::RootCreated(r) => {
                self.roots.insert(1, r.certificate.sha256.clone());
                self.generations.insert(
                    1,
                    GenerationState::new("active", Some(r.certificate.spki_sha256.clone())),
                );
            }
            Event::RootRotated(r) => {
                self.roots
                    .insert(r.generation, r.certificate.sha256.clone());
                self.set_status(r.previous, "trusted");
                let mut g = GenerationState::new("active", Some(r.certificate.spki_sha256.clone()));
                g.cross = Some(r.cross.sha256.clone());
                self.generations.insert(r.generation, g);
            }
            Event::RootKeyGenerated(r) => {
                self.generations.insert(
                    r.generation,
                    GenerationState::new("pending", Some(r.spki_sha256.clone())),
                );
            }
            Event::RootImported(r) => {
                self.roots
                    .insert(r.generation, r.certificate.sha256.clone());
                if let Some(p) = r.previous {
                    self.set_status(p, "trusted");
                }
                let chain = chain_digest(r.chain.iter().map(|c| c.sha256.as_str()));
                if let Some(g) = self.generations.get_mut(&r.generation) {
                    g.status = "active".to_owned();
                    g.chain = Some(chain);
                }
            }
            Event::RootRetired(r) => self.set_status(r.generation, "retired"),
            Event::RootKeyDestroyed(r) => {
                if let Some(g) = self.generations.get_mut(&r.generation) {
                    g.key_destroyed = true;
                }
            }
            Event::CertificateRevoked(r) => {
                self.revocations += 1;
                self.revocations_digest = revocation_step(
                    &self.revocations_digest,
                    &r.serial,
                    &r.reason,
                    &r.revoked_at,
                );
            }
            Event::CrlIssued(c) => {
                let last = self.crl_numbers.entry(c.generation).or_insert(0);
                *last = (*last).max(c.number);
            }
            Event::WitnessAdded(w) => {
                self.witnesses_digest = crate::witness::registry_step(
                    &self.witnesses_digest,
                    "added",
                    &w.name,
                    &w.fingerprint,
                );
            }
            Event::WitnessRemoved(w) => {
                self.witnesses_digest = crate::witness::registry_step(
                    &self.witnesses_digest,
                    "removed",
                    &w.name,
                    &w.fingerprint,
                );
            }
            Event::WitnessesRequired(r) => self.witnesses_required = r.required,
            Event::LedgerRecovered(r) => {
                // The requirement the token had attested, if the lost events changed it.
                if let Some(m) = r.witnesses_required {
                    self.witnesses_required = m;
                }
                // Numbers go on from what the token had counted, even for the lost tail.
                for (generation, number) in &r.crl_numbers {
                    if let Ok(g) = generation.parse::<u32>() {
                        let last = self.crl_numbers.entry(g).or_insert(0);
                        *last = (*last).max(*number);
                    }
                }
            }
            _ => {}
        }
        self.seq = seq;
        self.hash = hash.to_owned();
    }

    /// The bytes stored on the token.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("the token state serializes")
    }

    fn parse(bytes: &[u8]) -> std::result::Result<TokenState, Mismatch> {
        let mut state: TokenState =
            serde_json::from_slice(bytes).map_err(|e| Mismatch::Unreadable(e.to_string()))?;
        state.upgrade();
        if state.format != STATE_FORMAT {
            return Err(Mismatch::Unreadable(format!(
                "format {} is not {STATE_FORMAT}",
                state.format
            )));
        }
        Ok(state)
    }

    /// The next CRL number of root generation `generation`: one above the larger of what the
    /// token and the ledger remember, so numbers never repeat, whatever was restored.
    pub fn next_crl_number(&self, generation: u32, ledger_last: i64) -> i64 {
        self.crl_numbers
            .get(&generation)
            .copied()
            .unwrap_or(0)
            .max(ledger_last)
            + 1
    }
}

/// The state on the token, if there is one.
pub fn read(session: &UserSession) -> Result<Option<TokenState>> {
    match session.read_data_object(STATE_LABEL)? {
        None => Ok(None),
        Some(bytes) => Ok(Some(TokenState::parse(&bytes)?)),
    }
}

/// Writes the state to the token.
pub fn write(session: &UserSession, state: &TokenState) -> Result<()> {
    Ok(session.write_data_object(STATE_LABEL, &state.to_bytes())?)
}

/// What [`check`] found.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The state, up to date with the ledger's head.
    pub state: TokenState,
    /// What the check did besides checking: the state was created (a vault made before the
    /// token held state), or a committed, attested tail was folded in.
    pub notes: Vec<String>,
}

/// The check before a token action: the ledger against the state on the token, whose audit
/// public key (DER SubjectPublicKeyInfo, read from the token) is `audit_spki`. Brings the
/// token's state up to the ledger's head when the ledger went on legitimately (a crash after
/// a commit, refusals recorded without the token); creates it, after a full verification,
/// for a vault that has none yet.
pub fn check(ledger: &Ledger, session: &UserSession, audit_spki: &[u8]) -> Result<Checked> {
    let before = read(session)?;
    let checked = compare(ledger, session, audit_spki)?;
    if before.as_ref() != Some(&checked.state) {
        write(session, &checked.state)?;
    }
    Ok(checked)
}

/// [`check`] without writing anything: what the state on the token would be brought to.
pub fn compare(ledger: &Ledger, session: &UserSession, audit_spki: &[u8]) -> Result<Checked> {
    let vault_key = sha256_hex(audit_spki);
    let Some(mut state) = read(session)? else {
        return first_state(ledger, &vault_key);
    };
    if state.vault != vault_key {
        return Err(Mismatch::OtherVault {
            token_vault: state.vault,
            vault_key,
        }
        .into());
    }
    let (ledger_seq, _) = ledger.head()?;
    if state.seq > 0 {
        match ledger.event_hash(state.seq)? {
            None => {
                return Err(Mismatch::Behind {
                    ledger_seq,
                    token_seq: state.seq,
                    token_hash: state.hash,
                }
                .into())
            }
            Some(found) if found != state.hash => {
                return Err(Mismatch::Diverged {
                    seq: state.seq,
                    found,
                    token_hash: state.hash,
                }
                .into())
            }
            Some(_) => {}
        }
    }
    if ledger_seq == state.seq {
        return Ok(Checked {
            state,
            notes: vec![],
        });
    }
    let from = state.seq;
    fold_tail(ledger, &mut state, audit_spki)?;
    Ok(Checked {
        notes: vec![format!(
            "events {}..{} were recorded after the token last attested the ledger; they chain and are attested by the audit key, and the token now holds event {}",
            from + 1,
            state.seq,
            state.seq
        )],
        state,
    })
}

/// Folds the events after `state.seq` into `state`, checking that they chain from it and
/// that every one that needed the token is covered by a checkpoint that verifies with
/// `audit_spki`.
fn fold_tail(ledger: &Ledger, state: &mut TokenState, audit_spki: &[u8]) -> Result<()> {
    let checkpoints: Vec<Checkpoint> = ledger.checkpoints_after(state.seq)?;
    let mut events: Vec<StoredEvent> = Vec::new();
    ledger.for_each_event(state.seq + 1, |e| {
        events.push(e);
        Ok(())
    })?;
    let broken = |seq, detail: String| -> Error { Mismatch::Broken { seq, detail }.into() };
    let mut last_needing_token = None;
    for (expected_seq, ev) in (state.seq + 1..).zip(events.iter()) {
        if ev.seq != expected_seq {
            return Err(broken(
                expected_seq,
                format!("event {expected_seq} is missing"),
            ));
        }
        if ev.prev_hash != state.hash {
            return Err(broken(
                ev.seq,
                "it does not chain from the event before it".into(),
            ));
        }
        if ev.recomputed_hash() != ev.hash {
            return Err(broken(
                ev.seq,
                "its stored hash does not match its contents".into(),
            ));
        }
        let event =
            Event::parse(&ev.kind, &ev.payload).map_err(|e| broken(ev.seq, e.to_string()))?;
        if event.requires_token() {
            last_needing_token = Some(ev.seq);
        }
        state.apply(ev.seq, &ev.hash, &event);
    }
    // Every event that needed the token must lie at or before a checkpoint the token's audit
    // key signed over the hash the ledger has there.
    let mut attested = None;
    for cp in &checkpoints {
        let Some(ev) = events.iter().find(|e| e.seq == cp.seq) else {
            return Err(broken(
                cp.seq,
                "a checkpoint names an event the ledger does not have".into(),
            ));
        };
        if ev.hash != cp.hash {
            return Err(broken(
                cp.seq,
                "a checkpoint names another hash for it (rewritten?)".into(),
            ));
        }
        cp.verify(audit_spki).map_err(|e| {
            broken(
                cp.seq,
                format!("its checkpoint does not verify with the token's audit key ({e})"),
            )
        })?;
        attested = Some(cp.seq);
    }
    if let Some(last) = last_needing_token {
        if attested.is_none_or(|a| a < last) {
            return Err(broken(
                last,
                "it needed the token, but no checkpoint signed by the token's audit key covers it (appended without the token?)".into(),
            ));
        }
    }
    Ok(())
}

/// A vault whose token holds no state yet (made before the token held it): the whole ledger
/// must verify, and the state is built from it and written.
/// The state the whole ledger implies, folded from its first event (no verification).
pub(crate) fn first_state_of(ledger: &Ledger, vault_key: &str) -> Result<TokenState> {
    let mut state = TokenState::genesis(vault_key);
    ledger.for_each_event(1, |ev| {
        if let Ok(event) = Event::parse(&ev.kind, &ev.payload) {
            state.apply(ev.seq, &ev.hash, &event);
        }
        Ok(())
    })?;
    Ok(state)
}

fn first_state(ledger: &Ledger, vault_key: &str) -> Result<Checked> {
    let report = ledger.verify()?;
    if !report.ok {
        return Err(Mismatch::Broken {
            seq: report.first_bad_seq.unwrap_or(0),
            detail: format!(
                "the token holds no state for this vault yet, and the ledger does not verify, so none can be made from it: {}",
                report.problems.join("; ")
            ),
        }
        .into());
    }
    let state = first_state_of(ledger, vault_key)?;
    Ok(Checked {
        notes: vec![format!(
            "the token now holds the ledger's head (event {}); from now on an older, forked or rewritten copy of the ledger is refused",
            state.seq
        )],
        state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_revocation_digest_is_the_documented_chain() {
        // sha256("0000…\nab\nkeyCompromise\n2026-01-01T00:00:00Z\n"), as docs/ledger.md says.
        let d = revocation_step(GENESIS, "ab", "keyCompromise", "2026-01-01T00:00:00Z");
        let expected =
            sha256_hex(format!("{GENESIS}\nab\nkeyCompromise\n2026-01-01T00:00:00Z\n").as_bytes());
        assert_eq!(d, expected);
        assert_ne!(
            d,
            revocation_step(GENESIS, "ab", "superseded", "2026-01-01T00:00:00Z")
        );
    }

    #[test]
    fn crl_numbers_move_forward_from_the_larger_of_token_and_ledger() {
        let mut s = TokenState::genesis("v");
        assert_eq!(s.next_crl_number(1, 0), 1);
        s.crl_numbers.insert(1, 7);
        assert_eq!(
            s.next_crl_number(1, 3),
            8,
            "a restored ledger never repeats 4..7"
        );
        assert_eq!(s.next_crl_number(1, 9), 10);
    }

    #[test]
    fn a_state_without_witnesses_keeps_the_bytes_older_builds_wrote_and_read() {
        let s = TokenState::genesis("v");
        let text = String::from_utf8(s.to_bytes()).unwrap();
        assert!(!text.contains("witnesses"), "{text}");
        assert_eq!(TokenState::parse(text.as_bytes()).unwrap(), s);
        let mut w = s.clone();
        w.witnesses_required = 2;
        w.witnesses_digest = crate::witness::registry_step(GENESIS, "added", "a", "SHA256:x");
        assert_eq!(TokenState::parse(&w.to_bytes()).unwrap(), w);
    }

    #[test]
    fn a_state_with_witnesses_and_generations_keeps_both_and_a_recovery_carries_m() {
        let mut s = TokenState::genesis("v");
        s.roots.insert(1, "abc".into());
        s.upgrade();
        s.witnesses_required = 2;
        s.witnesses_digest = crate::witness::registry_step(GENESIS, "added", "a", "SHA256:x");
        let read = TokenState::parse(&s.to_bytes()).unwrap();
        assert_eq!(read, s);
        assert_eq!(read.generations[&1].status, "active");
        let recovered = |m| {
            Event::LedgerRecovered(crate::ledger::LedgerRecovered {
                lost_from_seq: 2,
                lost_to_seq: 3,
                lost_head_hash: "h".into(),
                revocations_lost: 0,
                crl_numbers: Default::default(),
                witnesses_required: m,
            })
        };
        let mut t = read.clone();
        t.apply(5, "e", &recovered(None));
        assert_eq!(t.witnesses_required, 2, "absent: unchanged");
        t.apply(6, "f", &recovered(Some(3)));
        assert_eq!(t.witnesses_required, 3);
        assert_eq!(t.witnesses_digest, s.witnesses_digest);
    }

    #[test]
    fn a_state_written_before_generations_reads_as_generation_one_active() {
        let mut s = TokenState::genesis("v");
        s.roots.insert(1, "abc".into());
        let text = String::from_utf8(s.to_bytes()).unwrap();
        assert!(!text.contains("generations"), "{text}");
        let read = TokenState::parse(text.as_bytes()).unwrap();
        assert_eq!(read.generations[&1].status, "active");
        assert_eq!(read.generations[&1].key, None);
        assert_eq!(read.generations.len(), 1);
    }

    #[test]
    fn crl_numbers_are_counted_per_generation() {
        let mut s = TokenState::genesis("v");
        s.crl_numbers.insert(1, 4);
        assert_eq!(s.next_crl_number(2, 0), 1, "a new generation starts at 1");
        assert_eq!(s.next_crl_number(1, 0), 5);
    }

    #[test]
    fn the_chain_digest_is_sha256sum_of_the_certificates_sha256_lines() {
        assert_eq!(
            chain_digest(["aa", "bb"]),
            sha256_hex(b"aa\nbb\n"),
            "printf 'aa\\nbb\\n' | sha256sum"
        );
    }

    fn record(sha: &str, spki: &str) -> crate::ledger::CertificateRecord {
        crate::ledger::CertificateRecord {
            serial: "01".into(),
            subject: "CN=Root".into(),
            not_before: "2026-01-01T00:00:00Z".into(),
            not_after: "2036-01-01T00:00:00Z".into(),
            key_type: "ecdsa-p384".into(),
            spki_sha256: spki.into(),
            sha256: sha.into(),
            der_base64: String::new(),
        }
    }

    fn status(s: &TokenState) -> Vec<(u32, &str, bool)> {
        s.generations
            .iter()
            .map(|(g, st)| (*g, st.status.as_str(), st.key_destroyed))
            .collect()
    }

    /// What the token attests about roots follows every lifecycle event (the check before a
    /// token action proves roots, bundles and statuses against exactly these fields): a
    /// rotation, a subordinate's key and import, a retirement and a destroyed key.
    #[test]
    fn the_roots_the_token_attests_follow_rotation_import_retirement_and_destruction() {
        use crate::ledger::{
            LinkedCertificate, RootCreated, RootImported, RootKeyDestroyed, RootKeyGenerated,
            RootRetired, RootRotated,
        };
        let mut s = TokenState::genesis("v");
        s.apply(
            1,
            "h1",
            &Event::RootCreated(RootCreated {
                certificate: record("r1", "k1"),
                key_label: "l1".into(),
                key_id: "01".into(),
                token_serial: "t".into(),
            }),
        );
        assert_eq!(status(&s), [(1, "active", false)]);
        s.apply(
            2,
            "h2",
            &Event::RootRotated(RootRotated {
                generation: 2,
                previous: 1,
                certificate: record("r2", "k2"),
                key_label: "l2".into(),
                key_id: "02".into(),
                token_serial: "t".into(),
                cross: record("x2", "k2"),
            }),
        );
        assert_eq!(status(&s), [(1, "trusted", false), (2, "active", false)]);
        assert_eq!(s.roots[&2], "r2");
        assert_eq!(s.generations[&2].key.as_deref(), Some("k2"));
        assert_eq!(s.generations[&2].cross.as_deref(), Some("x2"));
        s.apply(
            3,
            "h3",
            &Event::RootKeyGenerated(RootKeyGenerated {
                generation: 3,
                key_label: "l3".into(),
                key_id: "03".into(),
                key_type: "ecdsa-p384".into(),
                spki_sha256: "k3".into(),
                token_serial: "t".into(),
                subject: "CN=Sub".into(),
                csr_sha256: "c3".into(),
            }),
        );
        assert_eq!(s.generations[&3].status, "pending");
        assert_eq!(s.generations[&3].key.as_deref(), Some("k3"));
        assert!(
            !s.roots.contains_key(&3),
            "a pending generation has no certificate"
        );
        let link = |sha: &str| LinkedCertificate {
            serial: "02".into(),
            subject: "CN=Enterprise".into(),
            sha256: sha.into(),
            der_base64: String::new(),
        };
        s.apply(
            4,
            "h4",
            &Event::RootImported(RootImported {
                generation: 3,
                previous: Some(2),
                certificate: record("r3", "k3"),
                chain: vec![link("e1"), link("e2")],
            }),
        );
        assert_eq!(
            status(&s),
            [
                (1, "trusted", false),
                (2, "trusted", false),
                (3, "active", false)
            ]
        );
        assert_eq!(s.roots[&3], "r3");
        assert_eq!(
            s.generations[&3].chain.as_deref(),
            Some(chain_digest(["e1", "e2"]).as_str())
        );
        s.apply(
            5,
            "h5",
            &Event::RootRetired(RootRetired {
                generation: 1,
                sha256: "r1".into(),
            }),
        );
        s.apply(
            6,
            "h6",
            &Event::RootKeyDestroyed(RootKeyDestroyed {
                generation: 1,
                key_label: "l1".into(),
                key_id: "01".into(),
                spki_sha256: "k1".into(),
            }),
        );
        assert_eq!(
            status(&s),
            [
                (1, "retired", true),
                (2, "trusted", false),
                (3, "active", false)
            ]
        );
        assert_eq!((s.seq, s.hash.as_str()), (6, "h6"));
    }

    /// The registry digest and M the token attests change with every witness event, so an
    /// edited registry or a lowered requirement in the ledger no longer matches the token.
    #[test]
    fn the_witnesses_the_token_attests_follow_every_registry_event() {
        use crate::ledger::{WitnessAdded, WitnessRemoved, WitnessesRequired};
        let mut s = TokenState::genesis("v");
        let added = |name: &str, fp: &str| {
            Event::WitnessAdded(WitnessAdded {
                name: name.into(),
                public_key: "ssh-ed25519 AAAA".into(),
                fingerprint: fp.into(),
            })
        };
        s.apply(1, "h1", &added("alice", "SHA256:a"));
        let one = crate::witness::registry_step(GENESIS, "added", "alice", "SHA256:a");
        assert_eq!(s.witnesses_digest, one);
        s.apply(2, "h2", &added("bob", "SHA256:b"));
        let two = crate::witness::registry_step(&one, "added", "bob", "SHA256:b");
        assert_eq!(s.witnesses_digest, two);
        s.apply(
            3,
            "h3",
            &Event::WitnessesRequired(WitnessesRequired { required: 2 }),
        );
        assert_eq!(s.witnesses_required, 2);
        s.apply(
            4,
            "h4",
            &Event::WitnessRemoved(WitnessRemoved {
                name: "bob".into(),
                fingerprint: "SHA256:b".into(),
            }),
        );
        assert_eq!(
            s.witnesses_digest,
            crate::witness::registry_step(&two, "removed", "bob", "SHA256:b")
        );
        assert_ne!(
            s.witnesses_digest, one,
            "removing is not undoing: the digest moves on"
        );
    }

    #[test]
    fn a_state_of_another_format_is_refused() {
        let mut s = TokenState::genesis("v");
        s.format = 9;
        let e = TokenState::parse(&s.to_bytes()).unwrap_err();
        assert!(matches!(e, Mismatch::Unreadable(_)), "{e}");
    }
}
