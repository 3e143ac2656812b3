//! `ledger verify`: the whole chain recomputed, every derived row re-derived, every
//! checkpoint checked, and what the events say checked against each other (a CRL lists
//! exactly the revocations before it; an export was of a certificate valid at the time).

use rusqlite::OptionalExtension;

use super::rows;
use super::{Event, Ledger, LedgerError, Projection, VerifyReport, GENESIS, VERIFY_PROGRESS_STEP};

/// The triggers that keep the chain append-only (migrations 0001, 0003).
const CHAIN_TRIGGERS: [&str; 4] = [
    "events_append_only_update",
    "events_append_only_delete",
    "checkpoints_append_only_update",
    "checkpoints_append_only_delete",
];

/// The triggers that keep the generations' tables append-only (migration 0005).
const GENERATION_TRIGGERS: [&str; 4] = [
    "root_status_append_only_update",
    "root_status_append_only_delete",
    "root_links_append_only_update",
    "root_links_append_only_delete",
];

/// The triggers that keep the derived tables append-only (migration 0004).
const DERIVED_TRIGGERS: [&str; 10] = [
    "token_keys_append_only_update",
    "token_keys_append_only_delete",
    "certificates_append_only_update",
    "certificates_append_only_delete",
    "revocations_append_only_update",
    "revocations_append_only_delete",
    "crls_append_only_update",
    "crls_append_only_delete",
    "exports_append_only_update",
    "exports_append_only_delete",
];

impl Ledger {
    /// The recorded notAfter of a certificate, RFC 3339 (comparable as text: every time the
    /// ledger holds is UTC with a `Z`).
    fn not_after_of(&self, serial: &str) -> Result<Option<String>, LedgerError> {
        self.conn
            .query_row(
                "SELECT not_after FROM certificates WHERE serial = ?1",
                [serial],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("reading certificates"))
    }

    /// The recorded generation of a certificate, if the vault has it.
    fn generation_of(&self, serial: &str) -> Result<Option<u32>, LedgerError> {
        self.conn
            .query_row(
                "SELECT generation FROM certificates WHERE serial = ?1",
                [serial],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("reading certificates"))
    }

    /// The intermediates generation `generation` issued before event `seq`, as
    /// `(serial, cluster, not_after)`.
    fn issued_before(
        &self,
        generation: u32,
        seq: i64,
    ) -> Result<Vec<(String, String, String)>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT serial, coalesce(cluster, ''), not_after FROM certificates WHERE role = 'intermediate' AND generation = ?1 AND event_seq < ?2")
            .map_err(self.err("reading certificates"))?;
        let rows = stmt
            .query_map(rusqlite::params![generation, seq], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(self.err("reading certificates"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("reading certificates"))
    }

    /// Recomputes the hash chain from the first event and checks that every derived table
    /// holds exactly the rows the events imply. Memory use does not grow with the ledger.
    pub fn verify(&self) -> Result<VerifyReport, LedgerError> {
        self.verify_with_progress(|_| {})
    }

    /// [`Ledger::verify`], calling `progress` with the number of events checked so far every
    /// [`VERIFY_PROGRESS_STEP`] events (and once at the end of the chain).
    pub fn verify_with_progress(
        &self,
        mut progress: impl FnMut(u64),
    ) -> Result<VerifyReport, LedgerError> {
        let mut report = VerifyReport {
            ok: true,
            events: 0,
            head: GENESIS.to_owned(),
            first_bad_seq: None,
            problems: Vec::new(),
            checkpoints: 0,
            attested_seq: None,
            notes: Vec::new(),
            token_head: None,
        };
        let mut audit_key: Option<(i64, Vec<u8>)> = None;
        let mut last_token_event: Option<i64> = None;
        let mut expected_seq = 1;
        let mut expected_rows = [0i64; 7];
        // Per root generation, the last CRL number.
        let mut last_crl_number = std::collections::BTreeMap::<u32, i64>::new();
        // The serials revoked so far, with the generation that issued each: what each CRL of
        // that generation must list, what no export may hand out. It grows with the
        // revocations, not with the ledger.
        let mut revoked = std::collections::BTreeMap::<String, u32>::new();
        // Every root generation's status as the events so far give it.
        let mut roots = Generations::default();
        // The witnessed statements and the requirement (ledger/witnessed.rs); a transaction
        // ends at a checkpoint.
        let mut witnesses = super::witnessed::WitnessCheck::default();
        let checkpointed: std::collections::BTreeSet<i64> =
            self.checkpoints()?.iter().map(|c| c.seq).collect();
        self.for_each_event(i64::MIN, |ev| {
            report.events += 1;
            if (report.events as u64).is_multiple_of(VERIFY_PROGRESS_STEP) {
                progress(report.events as u64);
            }
            let seq = ev.seq;
            if seq != expected_seq {
                let text = if seq > expected_seq {
                    format!(
                        "event {expected_seq} is missing: event {seq} follows event {}",
                        expected_seq - 1
                    )
                } else {
                    format!(
                        "event {seq} is out of order after event {}",
                        expected_seq - 1
                    )
                };
                report.problem(Some(expected_seq), text);
            }
            if ev.prev_hash != report.head {
                report.problem(
                    Some(seq),
                    format!(
                        "event {seq}: prev_hash does not match the hash of the event before it"
                    ),
                );
            }
            if ev.fields().hash_hex() != ev.hash {
                report.problem(
                    Some(seq),
                    format!(
                        "event {seq} ({}): stored hash does not match its contents (edited?)",
                        ev.kind
                    ),
                );
            }
            // Parsed once: the payload's JSON is most of verify's own cost.
            let event = Event::parse(&ev.kind, &ev.payload);
            if let Ok(event) = &event {
                if event.requires_token() {
                    last_token_event = Some(seq);
                }
                for problem in witnesses.check(&ev, event, &checkpointed) {
                    report.problem(Some(seq), problem);
                }
                for problem in roots.apply(event) {
                    report.problem(Some(seq), format!("event {seq}: {problem}"));
                }
                match event {
                    Event::CertificateRevoked(r) => {
                        let generation = self.generation_of(&r.serial)?.unwrap_or(0);
                        revoked.insert(r.serial.clone(), generation);
                    }
                    Event::RootRetired(r) => {
                        // Refused while a valid intermediate of the generation remained.
                        let live: Vec<String> = self
                            .issued_before(r.generation, seq)?
                            .into_iter()
                            .filter(|(serial, _, not_after)| {
                                !revoked.contains_key(serial) && *not_after > ev.time
                            })
                            .map(|(serial, cluster, _)| format!("{cluster} ({serial})"))
                            .collect();
                        if !live.is_empty() {
                            report.problem(
                                Some(seq),
                                format!("event {seq}: root generation {} was retired while intermediates it issued were still valid: {}", r.generation, live.join(", ")),
                            );
                        }
                    }
                    Event::CrlIssued(c) => {
                        let of_generation: std::collections::BTreeSet<&String> = revoked
                            .iter()
                            .filter(|(_, g)| **g == c.generation)
                            .map(|(s, _)| s)
                            .collect();
                        let listed: std::collections::BTreeSet<&String> = c.serials.iter().collect();
                        if listed != of_generation || listed.len() != c.serials.len() {
                            let missing: Vec<&&String> = of_generation.difference(&listed).collect();
                            let extra: Vec<&&String> = listed.difference(&of_generation).collect();
                            report.problem(
                                Some(seq),
                                format!("event {seq}: CRL {} of generation {} does not list exactly the revocations of certificates that generation issued recorded before it (missing {missing:?}, not revoked by it {extra:?}, {} entries)", c.number, c.generation, c.serials.len()),
                            );
                        }
                    }
                    Event::BundleExported(b) => {
                        if revoked.contains_key(&b.serial) {
                            report.problem(
                                Some(seq),
                                format!("event {seq}: certificate {} was exported after it was revoked", b.serial),
                            );
                        }
                        if let Some(not_after) = self.not_after_of(&b.serial)? {
                            if not_after < ev.time {
                                report.problem(
                                    Some(seq),
                                    format!("event {seq}: certificate {} was exported after it expired ({not_after})", b.serial),
                                );
                            }
                        }
                    }
                    _ => {}
                }
                if let Event::AuditKeyCreated(a) = event {
                    use base64::Engine as _;
                    match (&audit_key, base64::engine::general_purpose::STANDARD.decode(&a.public_key_der_base64)) {
                        (None, Ok(der)) => audit_key = Some((seq, der)),
                        (Some(_), _) => report.problem(Some(seq), format!("event {seq}: a second audit key; a vault has one")),
                        (_, Err(e)) => report.problem(Some(seq), format!("event {seq}: audit key is not base64: {e}")),
                    }
                }
            }
            match event.and_then(|e| e.project(seq)) {
                Ok(projection) => {
                    for (count, n) in expected_rows.iter_mut().zip(projection.counts()) {
                        *count += n;
                    }
                    for crl in &projection.crls {
                        let last = last_crl_number.entry(crl.generation).or_insert(0);
                        if crl.number <= *last {
                            report.problem(
                                Some(seq),
                                format!("event {seq}: CRL number {} of generation {} does not increase on {last}", crl.number, crl.generation),
                            );
                        }
                        *last = crl.number;
                    }
                    for problem in self.check_projection(&projection)? {
                        report.problem(Some(seq), format!("event {seq}: {problem}"));
                    }
                }
                Err(e) => report.problem(Some(seq), format!("event {seq}: {e}")),
            }
            report.head = ev.hash;
            expected_seq = seq + 1;
            Ok(())
        })?;
        progress(report.events as u64);
        let count = |table: &str| -> Result<i64, LedgerError> {
            self.conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .map_err(self.err("counting derived rows"))
        };
        for (table, expected) in Projection::TABLES.into_iter().zip(expected_rows) {
            let found = count(table)?;
            if found != expected {
                report.problem(
                    None,
                    format!("table {table} has {found} rows but the events imply {expected}"),
                );
            }
        }
        self.verify_checkpoints(&mut report, audit_key.as_ref(), last_token_event)?;
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(self.err("reading the schema version"))?;
        let mut triggers = CHAIN_TRIGGERS.to_vec();
        if version >= 4 {
            triggers.extend(DERIVED_TRIGGERS);
        }
        if version >= 5 {
            triggers.extend(GENERATION_TRIGGERS);
        }
        for trigger in triggers {
            let present: bool = self
                .conn
                .query_row(
                    "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'trigger' AND name = ?1",
                    [trigger],
                    |r| r.get(0),
                )
                .map_err(self.err("reading the schema"))?;
            if !present {
                report.problem(
                    None,
                    format!("trigger {trigger} is missing: its table is no longer append-only"),
                );
            }
        }
        Ok(report)
    }

    /// Every checkpoint must be signed by the ledger's audit key and name the hash of the
    /// event at its seq; every event that needed the token must be covered by one.
    fn verify_checkpoints(
        &self,
        report: &mut VerifyReport,
        audit_key: Option<&(i64, Vec<u8>)>,
        last_token_event: Option<i64>,
    ) -> Result<(), LedgerError> {
        let checkpoints = self.checkpoints()?;
        for cp in &checkpoints {
            report.checkpoints += 1;
            let stored: Option<String> = self
                .conn
                .query_row("SELECT hash FROM events WHERE seq = ?1", [cp.seq], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(self.err("reading events"))?;
            match stored {
                None => report.problem(
                    Some(cp.seq),
                    format!("checkpoint at seq {} names an event that is not in the ledger (truncated?)", cp.seq),
                ),
                Some(h) if h != cp.hash => report.problem(
                    Some(cp.seq),
                    format!("checkpoint at seq {}: event {} no longer has the hash that was signed (rewritten?)", cp.seq, cp.seq),
                ),
                Some(_) => {}
            }
            match audit_key {
                None => report.problem(
                    Some(cp.seq),
                    format!(
                        "checkpoint at seq {} exists but the ledger has no audit key",
                        cp.seq
                    ),
                ),
                Some((key_seq, _)) if cp.seq < *key_seq => report.problem(
                    Some(cp.seq),
                    format!(
                        "checkpoint at seq {} predates the audit key (event {key_seq})",
                        cp.seq
                    ),
                ),
                Some((_, key)) => {
                    if let Err(e) = cp.verify(key) {
                        report.problem(Some(cp.seq), format!("checkpoint at seq {}: {e}", cp.seq));
                    }
                }
            }
            report.attested_seq = Some(cp.seq);
        }
        match (audit_key, last_token_event, report.attested_seq) {
                        (None, Some(_), _) => report.problem(
                None,
                "the ledger has no audit key and so no signed checkpoints: every vault gets one at init, so it was stripped out (restore from a backup and compare with a receipt)".into(),
            ),
            (Some(_), Some(last), attested) if attested.is_none_or(|a| a < last) => report.problem(
                Some(last),
                format!(
                    "event {last} needed the token but no signed checkpoint covers it (checkpoints removed, or events appended without the token)"
                ),
            ),
            _ => {}
        }
        if let Some(a) = report.attested_seq {
            if report.events > a {
                report.notes.push(format!(
                    "events {}..{} (refusals recorded without the token) come after the last checkpoint",
                    a + 1,
                    report.events
                ));
            }
        }
        Ok(())
    }

    fn check_projection(&self, p: &Projection) -> Result<Vec<String>, LedgerError> {
        let c = &self.conn;
        let err = || self.err("reading derived rows");
        let mut problems = rows::compare(c, &p.certificates).map_err(err())?;
        problems.extend(rows::compare(c, &p.token_keys).map_err(err())?);
        problems.extend(rows::compare(c, &p.revocations).map_err(err())?);
        problems.extend(rows::compare(c, &p.crls).map_err(err())?);
        problems.extend(rows::compare(c, &p.exports).map_err(err())?);
        problems.extend(rows::compare(c, &p.root_status).map_err(err())?);
        problems.extend(rows::compare(c, &p.root_links).map_err(err())?);
        Ok(problems)
    }
}

/// The root generations as the events so far make them: each event that touches one must find
/// it in the status it needs (docs/rotation.md), and intermediates are issued only by the
/// active generation.
#[derive(Default)]
struct Generations {
    /// Per generation: its status and whether its key is gone.
    status: std::collections::BTreeMap<u32, (&'static str, bool)>,
}

impl Generations {
    fn active(&self) -> Option<u32> {
        self.status
            .iter()
            .find(|(_, (s, _))| *s == "active")
            .map(|(g, _)| *g)
    }

    fn next(&self) -> u32 {
        self.status.keys().next_back().map_or(1, |g| g + 1)
    }

    fn set(&mut self, generation: u32, status: &'static str) {
        let destroyed = self.status.get(&generation).is_some_and(|(_, d)| *d);
        self.status.insert(generation, (status, destroyed));
    }

    fn is(&self, generation: u32, status: &str) -> bool {
        self.status
            .get(&generation)
            .is_some_and(|(s, _)| *s == status)
    }

    /// Folds `event` in; returns what is wrong with it.
    fn apply(&mut self, event: &Event) -> Vec<String> {
        let mut problems = Vec::new();
        match event {
            Event::RootCreated(_) => {
                if !self.status.is_empty() {
                    problems.push(
                        "a root was created in a vault that has root generations already"
                            .to_owned(),
                    );
                }
                self.set(1, "active");
            }
            Event::RootRotated(r) => {
                if r.generation != self.next() {
                    problems.push(format!(
                        "root generation {} is not the next one ({})",
                        r.generation,
                        self.next()
                    ));
                }
                if self.active() != Some(r.previous) {
                    problems.push(format!("the rotation names generation {} as the active one, but the active one is {:?}", r.previous, self.active()));
                }
                self.set(r.previous, "trusted");
                self.set(r.generation, "active");
            }
            Event::RootKeyGenerated(r) => {
                if r.generation != self.next() {
                    problems.push(format!(
                        "root generation {} is not the next one ({})",
                        r.generation,
                        self.next()
                    ));
                }
                if self.status.values().any(|(s, _)| *s == "pending") {
                    problems.push("a second root generation is pending".to_owned());
                }
                self.set(r.generation, "pending");
            }
            Event::RootImported(r) => {
                if !self.is(r.generation, "pending") {
                    problems.push(format!(
                        "root generation {} was imported but was not pending",
                        r.generation
                    ));
                }
                if self.active() != r.previous {
                    problems.push(format!("the import names generation {:?} as the active one, but the active one is {:?}", r.previous, self.active()));
                }
                if let Some(p) = r.previous {
                    self.set(p, "trusted");
                }
                self.set(r.generation, "active");
            }
            Event::RootRetired(r) => {
                if !self.is(r.generation, "trusted") {
                    problems.push(format!(
                        "root generation {} was retired but was not trusted",
                        r.generation
                    ));
                }
                self.set(r.generation, "retired");
            }
            Event::RootKeyDestroyed(r) => {
                match self.status.get(&r.generation) {
                    Some(("retired", false)) => {}
                    other => problems.push(format!("the key of root generation {} was destroyed while it was {other:?}, not retired with its key", r.generation)),
                }
                self.status.insert(r.generation, ("retired", true));
            }
            Event::CertificateIssued(c) if self.active() != Some(c.generation) => {
                problems.push(format!(
                    "certificate {} was issued by root generation {}, but the active one was {:?}",
                    c.certificate.serial,
                    c.generation,
                    self.active()
                ));
            }
            Event::CrlIssued(c) => match self.status.get(&c.generation) {
                Some((s, false)) if *s != "pending" => {}
                other => problems.push(format!(
                    "CRL {} was signed by root generation {}, which was {other:?}",
                    c.number, c.generation
                )),
            },
            _ => {}
        }
        problems
    }
}
