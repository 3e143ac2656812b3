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

/// Whether a certificate whose notAfter is `not_after` was still valid at `time`. RFC 5280's
/// validity includes notAfter, as the ceremony judges it when the operator acts
/// (`CertInfo::from_row`). Compared as instants, not as text: an event's time has
/// microseconds and a certificate's has none, so `…:00Z` sorts after `…:00.5Z` as text. A time
/// that does not parse (only a forged ledger has one) is compared as text.
fn valid_at(not_after: &str, time: &str) -> bool {
    let instant = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    match (instant(not_after), instant(time)) {
        (Some(n), Some(t)) => n >= t,
        _ => not_after >= time,
    }
}

impl Ledger {
    /// The recorded notAfter of a certificate, RFC 3339 UTC.
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
            // Events come in seq order (the primary key), so a seq below the expected one
            // is only possible at the start: a first event numbered 0 or less.
            match seq.cmp(&expected_seq) {
                std::cmp::Ordering::Equal => {}
                std::cmp::Ordering::Greater => report.problem(
                    Some(expected_seq),
                    format!(
                        "event {expected_seq} is missing: event {seq} follows event {}",
                        expected_seq - 1
                    ),
                ),
                std::cmp::Ordering::Less => report.problem(
                    Some(expected_seq),
                    format!("event {seq} is out of order: the first event is event 1"),
                ),
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
                                !revoked.contains_key(serial) && valid_at(not_after, &ev.time)
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
                            if !valid_at(&not_after, &ev.time) {
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

#[cfg(test)]
mod tests {
    use super::super::testkit::{attested, initialised, retimed_head, tamper};
    use super::{valid_at, Generations};
    use crate::ledger::{
        ApprovedProfile, BundleExported, CertificateIssued, CertificateRecord, CertificateRevoked,
        CrlIssued, Event, Ledger, RootCreated, RootImported, RootKeyDestroyed, RootKeyGenerated,
        RootRetired, RootRotated,
    };

    const FUTURE: &str = "2036-01-01T00:00:00Z";

    fn record(serial: &str) -> CertificateRecord {
        record_until(serial, FUTURE)
    }

    fn record_until(serial: &str, not_after: &str) -> CertificateRecord {
        CertificateRecord {
            serial: serial.into(),
            subject: "CN=x".into(),
            not_before: "2026-01-01T00:00:00Z".into(),
            not_after: not_after.into(),
            key_type: "ecdsa-p256".into(),
            spki_sha256: format!("spki-{serial}"),
            sha256: format!("sha-{serial}"),
            der_base64: String::new(),
        }
    }

    fn created() -> Event {
        Event::RootCreated(RootCreated {
            certificate: record("r1"),
            key_label: "root-g1".into(),
            key_id: "01".into(),
            token_serial: "t".into(),
        })
    }

    fn rotated(generation: u32, previous: u32) -> Event {
        Event::RootRotated(RootRotated {
            generation,
            previous,
            certificate: record("r"),
            key_label: format!("root-g{generation}"),
            key_id: "02".into(),
            token_serial: "t".into(),
            cross: record("x"),
        })
    }

    fn key_generated(generation: u32) -> Event {
        Event::RootKeyGenerated(RootKeyGenerated {
            generation,
            key_label: format!("root-g{generation}"),
            key_id: "03".into(),
            key_type: "ecdsa-p384".into(),
            spki_sha256: "k".into(),
            token_serial: "t".into(),
            subject: "CN=Sub".into(),
            csr_sha256: "c".into(),
        })
    }

    fn imported(generation: u32, previous: Option<u32>) -> Event {
        Event::RootImported(RootImported {
            generation,
            previous,
            certificate: record("r"),
            chain: Vec::new(),
        })
    }

    fn retired(generation: u32) -> Event {
        Event::RootRetired(RootRetired {
            generation,
            sha256: "r".into(),
        })
    }

    fn destroyed(generation: u32) -> Event {
        Event::RootKeyDestroyed(RootKeyDestroyed {
            generation,
            key_label: "l".into(),
            key_id: "01".into(),
            spki_sha256: "k".into(),
        })
    }

    fn issued(generation: u32) -> Event {
        issued_as("5a", "east", generation, FUTURE)
    }

    fn issued_as(serial: &str, cluster: &str, generation: u32, not_after: &str) -> Event {
        Event::CertificateIssued(CertificateIssued {
            cluster: cluster.into(),
            generation,
            certificate: record_until(serial, not_after),
            key_source: "csr".into(),
            csr_sha256: None,
            profile: ApprovedProfile {
                days: 1,
                capped_by_root: false,
                path_len: 0,
                digital_signature: false,
                san_dns: Vec::new(),
                permitted_dns: Vec::new(),
                excluded_dns: Vec::new(),
                permitted_uri: Vec::new(),
                excluded_uri: Vec::new(),
                permitted_email: Vec::new(),
                excluded_email: Vec::new(),
                excluded_ip: Vec::new(),
            },
        })
    }

    fn crl(generation: u32) -> Event {
        crl_listing(generation, 7, &[])
    }

    fn crl_listing(generation: u32, number: i64, serials: &[&str]) -> Event {
        Event::CrlIssued(CrlIssued {
            generation,
            number,
            this_update: String::new(),
            next_update: String::new(),
            serials: serials.iter().map(|s| s.to_string()).collect(),
            sha256: format!("crl-{generation}-{number}"),
            der_base64: String::new(),
        })
    }

    /// Folds `events` in order; the problems each one raised.
    fn fold(g: &mut Generations, events: &[Event]) -> Vec<Vec<String>> {
        events.iter().map(|e| g.apply(e)).collect()
    }

    fn none(n: usize) -> Vec<Vec<String>> {
        vec![Vec::new(); n]
    }

    #[test]
    fn a_lawful_life_of_root_generations_raises_nothing() {
        let mut g = Generations::default();
        let events = [
            created(),
            issued(1),
            rotated(2, 1),
            issued(2),
            crl(1),
            key_generated(3),
            crl(2),
            imported(3, Some(2)),
            issued(3),
            retired(1),
            crl(1),
            destroyed(1),
        ];
        assert_eq!(fold(&mut g, &events), none(events.len()));
        assert_eq!(g.active(), Some(3));
        assert!(g.is(2, "trusted") && g.is(1, "retired") && !g.is(1, "trusted"));
        assert_eq!(g.next(), 4);
        // An enterprise root imported as the very first generation has no previous one.
        let mut first = Generations::default();
        assert_eq!(
            fold(
                &mut first,
                &[key_generated(1), imported(1, None), issued(1)]
            ),
            none(3)
        );
    }

    /// The problems `bad` raises after the lawful `prefix`.
    fn after(prefix: &[Event], bad: Event) -> Vec<String> {
        let mut g = Generations::default();
        assert_eq!(fold(&mut g, prefix), none(prefix.len()));
        g.apply(&bad)
    }

    #[test]
    fn every_step_out_of_order_is_named() {
        let rotated_once = [created(), rotated(2, 1)];
        let destroyed_once = [created(), rotated(2, 1), retired(1), destroyed(1)];
        let pending = [created(), key_generated(2)];
        let cases: [(&[Event], Event, &str); 14] = [
            (&[created()], created(), "a root was created in a vault that has root generations already"),
            (&[created()], rotated(3, 1), "root generation 3 is not the next one (2)"),
            (&[created()], rotated(2, 5), "the rotation names generation 5 as the active one, but the active one is Some(1)"),
            (&rotated_once, issued(1), "certificate 5a was issued by root generation 1, but the active one was Some(2)"),
            (&[created()], key_generated(3), "root generation 3 is not the next one (2)"),
            (&pending, key_generated(3), "a second root generation is pending"),
            (&[created()], imported(2, Some(1)), "root generation 2 was imported but was not pending"),
            (&pending, imported(2, None), "the import names generation None as the active one, but the active one is Some(1)"),
            (&rotated_once, retired(2), "root generation 2 was retired but was not trusted"),
            (&rotated_once, destroyed(1), "the key of root generation 1 was destroyed while it was Some((\"trusted\", false)), not retired with its key"),
            (&destroyed_once, destroyed(1), "the key of root generation 1 was destroyed while it was Some((\"retired\", true)), not retired with its key"),
            (&pending, crl(2), "CRL 7 was signed by root generation 2, which was Some((\"pending\", false))"),
            (&destroyed_once, crl(1), "CRL 7 was signed by root generation 1, which was Some((\"retired\", true))"),
            (&[created()], crl(9), "CRL 7 was signed by root generation 9, which was None"),
        ];
        for (prefix, bad, problem) in cases {
            assert_eq!(
                after(prefix, bad),
                [problem],
                "after {} events",
                prefix.len()
            );
        }
    }

    fn revoked(serial: &str) -> Event {
        Event::CertificateRevoked(CertificateRevoked {
            serial: serial.into(),
            cluster: "c".into(),
            reason: "keyCompromise".into(),
            revoked_at: "2026-12-05T10:00:00Z".into(),
        })
    }

    fn exported(serial: &str) -> Event {
        Event::BundleExported(BundleExported {
            cluster: "c".into(),
            serial: serial.into(),
            format: "istio".into(),
            path: "/out".into(),
            sha256: "e".into(),
            files: Vec::new(),
            recipients: Vec::new(),
            contains_generated_key: false,
            trust_sha256: Vec::new(),
        })
    }

    /// A vault whose root (generation 1) issued 0a for east and 0b for west, and revoked 0a:
    /// then each group of `steps` attested in turn, as token actions are.
    fn vault(steps: &[&[Event]]) -> (tempfile::TempDir, Ledger) {
        let (dir, mut l, key) = initialised();
        attested(
            &mut l,
            &key,
            &[
                created(),
                issued_as("0a", "east", 1, FUTURE),
                issued_as("0b", "west", 1, FUTURE),
            ],
        );
        attested(&mut l, &key, &[revoked("0a")]);
        for step in steps {
            attested(&mut l, &key, step);
        }
        (dir, l)
    }

    /// The problems `verify` finds, each with its event's seq cut off the front.
    fn problems(l: &Ledger) -> Vec<String> {
        l.verify()
            .unwrap()
            .problems
            .into_iter()
            .map(|p| match p.split_once(": ") {
                Some((e, rest)) if e.starts_with("event ") => rest.to_owned(),
                _ => p,
            })
            .collect()
    }

    #[test]
    fn crls_and_exports_that_follow_the_revocations_raise_nothing_across_a_rotation() {
        let (_d, l) = vault(&[
            &[crl_listing(1, 1, &["0a"])],
            &[exported("0b")],
            &[rotated(2, 1)],
            &[issued_as("0c", "north", 2, FUTURE)],
            &[revoked("0c")],
            // Each generation's CRL lists what it issued and revoked, nothing else.
            &[crl_listing(2, 1, &["0c"]), crl_listing(1, 2, &["0a"])],
            &[exported("0b")],
        ]);
        let r = l.verify().unwrap();
        assert!(r.ok, "{r:#?}");
        assert_eq!(r.problems, Vec::<String>::new());
        // Every event is covered by a checkpoint, so there is nothing to note.
        assert_eq!((r.attested_seq, r.events), (Some(14), 14));
        assert_eq!(r.notes, Vec::<String>::new());
    }

    #[test]
    fn a_crl_that_does_not_list_exactly_the_revocations_before_it_is_named() {
        let cases: [(&[&str], &str); 3] = [
            (&[], "CRL 1 of generation 1 does not list exactly the revocations of certificates that generation issued recorded before it (missing [\"0a\"], not revoked by it [], 0 entries)"),
            (&["0a", "0b"], "CRL 1 of generation 1 does not list exactly the revocations of certificates that generation issued recorded before it (missing [], not revoked by it [\"0b\"], 2 entries)"),
            (&["0a", "0a"], "CRL 1 of generation 1 does not list exactly the revocations of certificates that generation issued recorded before it (missing [], not revoked by it [], 2 entries)"),
        ];
        for (serials, problem) in cases {
            let (_d, l) = vault(&[&[crl_listing(1, 1, serials)]]);
            assert_eq!(problems(&l), [problem], "CRL listing {serials:?}");
        }
        // Another generation's revocation is not this generation's to list.
        let (_d, l) = vault(&[&[rotated(2, 1)], &[crl_listing(2, 1, &["0a"])]]);
        assert_eq!(
            problems(&l),
            ["CRL 1 of generation 2 does not list exactly the revocations of certificates that generation issued recorded before it (missing [], not revoked by it [\"0a\"], 1 entries)"]
        );
    }

    #[test]
    fn an_export_of_a_revoked_or_expired_certificate_is_named() {
        let (_d, l) = vault(&[&[exported("0a")]]);
        assert_eq!(
            problems(&l),
            ["certificate 0a was exported after it was revoked"]
        );
        let (_d, l) = vault(&[
            &[issued_as("0e", "south", 1, "2020-01-01T00:00:00Z")],
            &[exported("0e")],
        ]);
        assert_eq!(
            problems(&l),
            ["certificate 0e was exported after it expired (2020-01-01T00:00:00Z)"]
        );
    }

    /// The problems about `about` once the last event is said to have happened at `time`.
    fn at(l: &Ledger, time: &str, about: &str) -> Vec<String> {
        retimed_head(l, time);
        problems(l)
            .into_iter()
            .filter(|p| p.contains(about))
            .collect()
    }

    #[test]
    fn a_certificate_is_valid_until_the_end_of_its_not_after() {
        let until = "2030-06-01T12:00:00Z";
        let (_d, l) = vault(&[&[issued_as("0f", "south", 1, until)], &[exported("0f")]]);
        assert_eq!(
            at(&l, "2030-06-01T12:00:00.000000Z", "exported"),
            Vec::<String>::new()
        );
        assert_eq!(
            at(&l, "2030-06-01T12:00:00.500000Z", "exported"),
            ["certificate 0f was exported after it expired (2030-06-01T12:00:00Z)"]
        );
        assert!(valid_at(until, until) && !valid_at(until, "2030-06-01T12:00:01Z"));
        assert!(valid_at(until, "2030-06-01T11:59:59.999999Z"));
        // A time only a forger writes is compared as text.
        assert!(valid_at("b", "a") && valid_at("b", "b") && !valid_at("a", "b"));
    }

    #[test]
    fn a_root_retired_while_an_intermediate_it_issued_was_valid_is_named() {
        let still = "root generation 1 was retired while intermediates it issued were still valid";
        // 0a is revoked; 0e expired; 0b is valid.
        let (_d, l) = vault(&[
            &[issued_as("0e", "south", 1, "2020-01-01T00:00:00Z")],
            &[rotated(2, 1)],
            &[retired(1)],
        ]);
        assert_eq!(problems(&l), [format!("{still}: west (0b)")]);
        let (_d, l) = vault(&[&[rotated(2, 1)], &[revoked("0b")], &[retired(1)]]);
        assert_eq!(problems(&l), Vec::<String>::new());
        // Valid to the end of its notAfter second, and not after.
        let until = "2030-06-01T12:00:00Z";
        let (_d, l) = vault(&[
            &[revoked("0b"), issued_as("0g", "south", 1, until)],
            &[rotated(2, 1)],
            &[retired(1)],
        ]);
        assert_eq!(
            at(&l, until, "retired while"),
            [format!("{still}: south (0g)")]
        );
        assert_eq!(
            at(&l, "2030-06-01T12:00:00.000001Z", "retired while"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_first_event_numbered_below_one_is_out_of_order() {
        let (_d, l) = vault(&[]);
        tamper(&l, "UPDATE events SET seq = 0 WHERE seq = 1;");
        let r = l.verify().unwrap();
        let order: Vec<&String> = r
            .problems
            .iter()
            .filter(|p| p.contains("order") || p.contains("missing"))
            .collect();
        assert_eq!(
            order,
            [
                "event 0 is out of order: the first event is event 1",
                "event 1 is missing: event 2 follows event 0",
            ],
            "{r:#?}"
        );
    }

    #[test]
    fn a_token_action_in_a_ledger_with_no_audit_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::create(&dir.path().join("ledger.sqlite")).unwrap();
        let tx = l.begin().unwrap();
        tx.append("ana", &created()).unwrap();
        tx.commit().unwrap();
        assert_eq!(
            l.verify().unwrap().problems,
            ["the ledger has no audit key and so no signed checkpoints: every vault gets one at init, so it was stripped out (restore from a backup and compare with a receipt)"]
        );
    }

    #[test]
    fn a_derived_row_edited_or_left_unguarded_is_named() {
        let (_d, l) = vault(&[]);
        tamper(
            &l,
            "DROP TRIGGER certificates_append_only_update;
             UPDATE certificates SET cluster = 'west' WHERE serial = '0a';
             CREATE TRIGGER certificates_append_only_update BEFORE UPDATE ON certificates
             BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;",
        );
        assert_eq!(problems(&l), ["certificates row 0a differs from the event"]);
        let (_d, l) = vault(&[]);
        tamper(
            &l,
            "DROP TRIGGER revocations_append_only_delete; DROP TRIGGER root_links_append_only_update;",
        );
        assert_eq!(
            problems(&l),
            [
                "trigger revocations_append_only_delete is missing: its table is no longer append-only",
                "trigger root_links_append_only_update is missing: its table is no longer append-only",
            ]
        );
    }
}
