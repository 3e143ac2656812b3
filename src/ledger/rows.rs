//! The derived tables: one row type per table, each able to insert itself, read itself back
//! by key, and name itself in a verification report. `append` writes rows through this trait
//! and `verify` reads them back through it, so the two cannot drift apart.

use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension};

use super::events::{CertificateRecord, Event, PayloadError};

/// A row of `certificates`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRow {
    /// `root` or `intermediate`.
    pub role: &'static str,
    /// The cluster, for intermediates.
    pub cluster: Option<String>,
    /// The certificate.
    pub record: CertificateRecord,
    /// The DER certificate (decoded `der_base64`).
    pub der: Vec<u8>,
    /// The root generation it belongs to: the one that issued an intermediate, or the one a
    /// root certificate is.
    pub generation: u32,
    /// The event that issued it.
    pub event_seq: i64,
}

/// A row of `token_keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenKeyRow {
    /// CKA_LABEL.
    pub label: String,
    /// CKA_ID, hex.
    pub id_hex: String,
    /// What the key is for (`root`).
    pub purpose: String,
    /// Key type name.
    pub key_type: String,
    /// The root generation of a root key (none for the audit key).
    pub generation: Option<u32>,
    /// The event that created it.
    pub event_seq: i64,
}

/// A row of a derived table.
pub(super) trait DerivedRow: PartialEq + Sized {
    /// The table.
    const TABLE: &'static str;
    /// Its columns, in the order `from_row` reads them.
    const COLUMNS: &'static str;
    /// The key column.
    const KEY: &'static str;
    /// This row's key.
    fn key(&self) -> Value;
    /// Inserts this row.
    fn insert(&self, conn: &Connection) -> rusqlite::Result<()>;
    /// Reads a row selected with `COLUMNS`.
    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

/// Reads the row with `key` from `R::TABLE`.
pub(super) fn read<R: DerivedRow>(conn: &Connection, key: Value) -> rusqlite::Result<Option<R>> {
    conn.query_row(
        &format!(
            "SELECT {} FROM {} WHERE {} = ?1",
            R::COLUMNS,
            R::TABLE,
            R::KEY
        ),
        [key],
        R::from_row,
    )
    .optional()
}

/// Compares `expected` rows with the stored ones, returning one sentence per difference.
pub(super) fn compare<R: DerivedRow>(
    conn: &Connection,
    expected: &[R],
) -> rusqlite::Result<Vec<String>> {
    let mut problems = Vec::new();
    for row in expected {
        let name = || format!("{} row {}", R::TABLE, show(&row.key()));
        match read::<R>(conn, row.key())? {
            Some(stored) if stored == *row => {}
            Some(_) => problems.push(format!("{} differs from the event", name())),
            None => problems.push(format!("{} is missing", name())),
        }
    }
    Ok(problems)
}

fn show(v: &Value) -> String {
    match v {
        Value::Integer(i) => i.to_string(),
        Value::Text(t) => t.clone(),
        other => format!("{other:?}"),
    }
}

impl DerivedRow for CertificateRow {
    const TABLE: &'static str = "certificates";
    const COLUMNS: &'static str =
        "serial, role, cluster, subject, not_before, not_after, key_type, spki_sha256, sha256, der, event_seq, generation";
    const KEY: &'static str = "serial";

    fn key(&self) -> Value {
        Value::Text(self.record.serial.clone())
    }

    fn insert(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            "INSERT INTO certificates (serial, role, cluster, subject, not_before, not_after, key_type, spki_sha256, sha256, der, event_seq, generation)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                self.record.serial,
                self.role,
                self.cluster,
                self.record.subject,
                self.record.not_before,
                self.record.not_after,
                self.record.key_type,
                self.record.spki_sha256,
                self.record.sha256,
                self.der,
                self.event_seq,
                self.generation
            ],
        )
        .map(drop)
    }

    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        use base64::Engine as _;
        let role: String = r.get(1)?;
        let der: Vec<u8> = r.get(9)?;
        Ok(CertificateRow {
            role: if role == "root" {
                "root"
            } else {
                "intermediate"
            },
            cluster: r.get(2)?,
            record: CertificateRecord {
                serial: r.get(0)?,
                subject: r.get(3)?,
                not_before: r.get(4)?,
                not_after: r.get(5)?,
                key_type: r.get(6)?,
                spki_sha256: r.get(7)?,
                sha256: r.get(8)?,
                der_base64: base64::engine::general_purpose::STANDARD.encode(&der),
            },
            der,
            event_seq: r.get(10)?,
            generation: r.get(11)?,
        })
    }
}

impl DerivedRow for TokenKeyRow {
    const TABLE: &'static str = "token_keys";
    const COLUMNS: &'static str = "label, id_hex, purpose, key_type, event_seq, generation";
    const KEY: &'static str = "label";

    fn key(&self) -> Value {
        Value::Text(self.label.clone())
    }

    fn insert(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            "INSERT INTO token_keys (label, id_hex, purpose, key_type, event_seq, generation) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![self.label, self.id_hex, self.purpose, self.key_type, self.event_seq, self.generation],
        )
        .map(drop)
    }

    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(TokenKeyRow {
            label: r.get(0)?,
            id_hex: r.get(1)?,
            purpose: r.get(2)?,
            key_type: r.get(3)?,
            event_seq: r.get(4)?,
            generation: r.get(5)?,
        })
    }
}

/// A row of `revocations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationRow {
    /// Serial of the revoked certificate.
    pub serial: String,
    /// RFC 5280 reason name.
    pub reason: String,
    /// RFC 3339.
    pub revoked_at: String,
    /// The event that revoked it.
    pub event_seq: i64,
}

impl DerivedRow for RevocationRow {
    const TABLE: &'static str = "revocations";
    const COLUMNS: &'static str = "serial, reason, revoked_at, event_seq";
    const KEY: &'static str = "serial";

    fn key(&self) -> Value {
        Value::Text(self.serial.clone())
    }

    fn insert(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            "INSERT INTO revocations (serial, reason, revoked_at, event_seq) VALUES (?1, ?2, ?3, ?4)",
            params![self.serial, self.reason, self.revoked_at, self.event_seq],
        )
        .map(drop)
    }

    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(RevocationRow {
            serial: r.get(0)?,
            reason: r.get(1)?,
            revoked_at: r.get(2)?,
            event_seq: r.get(3)?,
        })
    }
}

/// A row of `crls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlRow {
    /// The root generation that signed it.
    pub generation: u32,
    /// CRL number, counted per generation.
    pub number: i64,
    /// RFC 3339.
    pub this_update: String,
    /// RFC 3339.
    pub next_update: String,
    /// Number of revoked certificates listed.
    pub entries: i64,
    /// SHA-256 of the DER CRL.
    pub sha256: String,
    /// The DER CRL.
    pub der: Vec<u8>,
    /// The event that issued it.
    pub event_seq: i64,
}

impl DerivedRow for CrlRow {
    const TABLE: &'static str = "crls";
    const COLUMNS: &'static str =
        "number, this_update, next_update, entries, sha256, der, event_seq, generation";
    const KEY: &'static str = "event_seq";

    fn key(&self) -> Value {
        Value::Integer(self.event_seq)
    }

    fn insert(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            "INSERT INTO crls (number, this_update, next_update, entries, sha256, der, event_seq, generation) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![self.number, self.this_update, self.next_update, self.entries, self.sha256, self.der, self.event_seq, self.generation],
        )
        .map(drop)
    }

    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(CrlRow {
            number: r.get(0)?,
            this_update: r.get(1)?,
            next_update: r.get(2)?,
            entries: r.get(3)?,
            sha256: r.get(4)?,
            der: r.get(5)?,
            event_seq: r.get(6)?,
            generation: r.get(7)?,
        })
    }
}

/// A row of `exports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRow {
    /// The event that recorded it.
    pub event_seq: i64,
    /// The cluster.
    pub cluster: String,
    /// Serial of the exported intermediate.
    pub serial: String,
    /// Export format name.
    pub format: String,
    /// SHA-256 of what was written.
    pub sha256: String,
    /// Whether it was age-encrypted.
    pub encrypted: bool,
}

impl DerivedRow for ExportRow {
    const TABLE: &'static str = "exports";
    const COLUMNS: &'static str = "event_seq, cluster, serial, format, sha256, encrypted";
    const KEY: &'static str = "event_seq";

    fn key(&self) -> Value {
        Value::Integer(self.event_seq)
    }

    fn insert(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            "INSERT INTO exports (event_seq, cluster, serial, format, sha256, encrypted) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![self.event_seq, self.cluster, self.serial, self.format, self.sha256, self.encrypted],
        )
        .map(drop)
    }

    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(ExportRow {
            event_seq: r.get(0)?,
            cluster: r.get(1)?,
            serial: r.get(2)?,
            format: r.get(3)?,
            sha256: r.get(4)?,
            encrypted: r.get(5)?,
        })
    }
}

/// A row of `root_status`: the status a root generation took at an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootStatusRow {
    /// The generation.
    pub generation: u32,
    /// `pending`, `active`, `trusted` or `retired`.
    pub status: String,
    /// Whether its key was destroyed on the token.
    pub key_destroyed: bool,
    /// The event.
    pub event_seq: i64,
}

impl RootStatusRow {
    /// The row for `generation` taking `status` at event `event_seq`.
    pub fn new(generation: u32, status: &str, key_destroyed: bool, event_seq: i64) -> Self {
        RootStatusRow {
            generation,
            status: status.to_owned(),
            key_destroyed,
            event_seq,
        }
    }

    fn id(&self) -> String {
        format!("{}@{}", self.generation, self.event_seq)
    }
}

impl DerivedRow for RootStatusRow {
    const TABLE: &'static str = "root_status";
    const COLUMNS: &'static str = "generation, status, key_destroyed, event_seq";
    const KEY: &'static str = "id";

    fn key(&self) -> Value {
        Value::Text(self.id())
    }

    fn insert(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            "INSERT INTO root_status (id, generation, status, key_destroyed, event_seq) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![self.id(), self.generation, self.status, self.key_destroyed, self.event_seq],
        )
        .map(drop)
    }

    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(RootStatusRow {
            generation: r.get(0)?,
            status: r.get(1)?,
            key_destroyed: r.get(2)?,
            event_seq: r.get(3)?,
        })
    }
}

/// A row of `root_links`: a generation's cross-certificate, or a certificate of the chain its
/// imported certificate was issued through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootLinkRow {
    /// The generation.
    pub generation: u32,
    /// `cross` or `chain`.
    pub role: &'static str,
    /// 0 for the cross-certificate; the place in the chain (0 = the issuer) otherwise.
    pub position: i64,
    /// Serial, lowercase hex.
    pub serial: String,
    /// Subject DN.
    pub subject: String,
    /// SHA-256 of the DER certificate.
    pub sha256: String,
    /// The DER certificate.
    pub der: Vec<u8>,
    /// The event that recorded it.
    pub event_seq: i64,
}

impl RootLinkRow {
    fn id(&self) -> String {
        match self.role {
            "cross" => format!("{}/cross", self.generation),
            _ => format!("{}/chain/{}", self.generation, self.position),
        }
    }
}

impl DerivedRow for RootLinkRow {
    const TABLE: &'static str = "root_links";
    const COLUMNS: &'static str =
        "generation, role, position, serial, subject, sha256, der, event_seq";
    const KEY: &'static str = "id";

    fn key(&self) -> Value {
        Value::Text(self.id())
    }

    fn insert(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            "INSERT INTO root_links (id, generation, role, position, serial, subject, sha256, der, event_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![self.id(), self.generation, self.role, self.position, self.serial, self.subject, self.sha256, self.der, self.event_seq],
        )
        .map(drop)
    }

    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        let role: String = r.get(1)?;
        Ok(RootLinkRow {
            generation: r.get(0)?,
            role: if role == "cross" { "cross" } else { "chain" },
            position: r.get(2)?,
            serial: r.get(3)?,
            subject: r.get(4)?,
            sha256: r.get(5)?,
            der: r.get(6)?,
            event_seq: r.get(7)?,
        })
    }
}

/// The derived rows one event implies.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Projection {
    /// Rows of `certificates`.
    pub certificates: Vec<CertificateRow>,
    /// Rows of `token_keys`.
    pub token_keys: Vec<TokenKeyRow>,
    /// Rows of `revocations`.
    pub revocations: Vec<RevocationRow>,
    /// Rows of `crls`.
    pub crls: Vec<CrlRow>,
    /// Rows of `exports`.
    pub exports: Vec<ExportRow>,
    /// Rows of `root_status`.
    pub root_status: Vec<RootStatusRow>,
    /// Rows of `root_links`.
    pub root_links: Vec<RootLinkRow>,
}

impl Projection {
    /// The derived tables, in the order of [`Projection::counts`].
    pub const TABLES: [&'static str; 7] = [
        "certificates",
        "token_keys",
        "revocations",
        "crls",
        "exports",
        "root_status",
        "root_links",
    ];

    /// How many rows of each table this projection holds.
    pub fn counts(&self) -> [i64; 7] {
        [
            self.certificates.len() as i64,
            self.token_keys.len() as i64,
            self.revocations.len() as i64,
            self.crls.len() as i64,
            self.exports.len() as i64,
            self.root_status.len() as i64,
            self.root_links.len() as i64,
        ]
    }

    /// Writes every row.
    pub(super) fn insert(&self, conn: &rusqlite::Connection) -> rusqlite::Result<()> {
        use super::rows::DerivedRow;
        self.certificates.iter().try_for_each(|r| r.insert(conn))?;
        self.token_keys.iter().try_for_each(|r| r.insert(conn))?;
        self.revocations.iter().try_for_each(|r| r.insert(conn))?;
        self.crls.iter().try_for_each(|r| r.insert(conn))?;
        self.exports.iter().try_for_each(|r| r.insert(conn))?;
        self.root_status.iter().try_for_each(|r| r.insert(conn))?;
        self.root_links.iter().try_for_each(|r| r.insert(conn))
    }
}

/// The projection of events onto derived rows lives with the rows: the ledger's append writes
/// it and `ledger verify` re-derives it, through this one function.
impl Event {
    /// The derived rows this event implies, were it stored at `seq`.
    pub fn project(&self, seq: i64) -> Result<Projection, PayloadError> {
        let mut p = Projection::default();
        match self {
            Event::VaultInitialised(_)
            | Event::SigningRejected(_)
            | Event::ModuleApproved(_)
            | Event::LedgerRecovered(_)
            | Event::WitnessAdded(_)
            | Event::WitnessRemoved(_)
            | Event::WitnessesRequired(_)
            | Event::ActionWitnessed(_)
            | Event::SoftwareChanged(_) => {}
            Event::CertificateIssued(c) => p.certificates.push(CertificateRow {
                role: "intermediate",
                cluster: Some(c.cluster.clone()),
                der: decode_der(self.kind(), &c.certificate.der_base64)?,
                record: c.certificate.clone(),
                generation: c.generation,
                event_seq: seq,
            }),
            Event::CertificateRevoked(r) => p.revocations.push(RevocationRow {
                serial: r.serial.clone(),
                reason: r.reason.clone(),
                revoked_at: r.revoked_at.clone(),
                event_seq: seq,
            }),
            Event::CrlIssued(c) => p.crls.push(CrlRow {
                generation: c.generation,
                number: c.number,
                this_update: c.this_update.clone(),
                next_update: c.next_update.clone(),
                entries: c.serials.len() as i64,
                sha256: c.sha256.clone(),
                der: decode_der(self.kind(), &c.der_base64)?,
                event_seq: seq,
            }),
            Event::AuditKeyCreated(a) => p.token_keys.push(TokenKeyRow {
                label: a.key_label.clone(),
                id_hex: a.key_id.clone(),
                purpose: "audit".into(),
                key_type: a.key_type.clone(),
                generation: None,
                event_seq: seq,
            }),
            Event::BundleExported(e) => p.exports.push(ExportRow {
                event_seq: seq,
                cluster: e.cluster.clone(),
                serial: e.serial.clone(),
                format: e.format.clone(),
                sha256: e.sha256.clone(),
                encrypted: !e.recipients.is_empty(),
            }),
            Event::RootCreated(r) => {
                p.certificates.push(CertificateRow {
                    role: "root",
                    cluster: None,
                    der: decode_der(self.kind(), &r.certificate.der_base64)?,
                    record: r.certificate.clone(),
                    generation: 1,
                    event_seq: seq,
                });
                p.token_keys.push(TokenKeyRow {
                    label: r.key_label.clone(),
                    id_hex: r.key_id.clone(),
                    purpose: "root".into(),
                    key_type: r.certificate.key_type.clone(),
                    generation: Some(1),
                    event_seq: seq,
                });
                p.root_status
                    .push(RootStatusRow::new(1, "active", false, seq));
            }
            Event::RootRotated(r) => {
                p.certificates.push(CertificateRow {
                    role: "root",
                    cluster: None,
                    der: decode_der(self.kind(), &r.certificate.der_base64)?,
                    record: r.certificate.clone(),
                    generation: r.generation,
                    event_seq: seq,
                });
                p.token_keys.push(TokenKeyRow {
                    label: r.key_label.clone(),
                    id_hex: r.key_id.clone(),
                    purpose: "root".into(),
                    key_type: r.certificate.key_type.clone(),
                    generation: Some(r.generation),
                    event_seq: seq,
                });
                p.root_links.push(RootLinkRow {
                    generation: r.generation,
                    role: "cross",
                    position: 0,
                    serial: r.cross.serial.clone(),
                    subject: r.cross.subject.clone(),
                    sha256: r.cross.sha256.clone(),
                    der: decode_der(self.kind(), &r.cross.der_base64)?,
                    event_seq: seq,
                });
                p.root_status
                    .push(RootStatusRow::new(r.previous, "trusted", false, seq));
                p.root_status
                    .push(RootStatusRow::new(r.generation, "active", false, seq));
            }
            Event::RootRetired(r) => {
                p.root_status
                    .push(RootStatusRow::new(r.generation, "retired", false, seq));
            }
            Event::RootKeyDestroyed(r) => {
                p.root_status
                    .push(RootStatusRow::new(r.generation, "retired", true, seq));
            }
            Event::RootKeyGenerated(r) => {
                p.token_keys.push(TokenKeyRow {
                    label: r.key_label.clone(),
                    id_hex: r.key_id.clone(),
                    purpose: "root".into(),
                    key_type: r.key_type.clone(),
                    generation: Some(r.generation),
                    event_seq: seq,
                });
                p.root_status
                    .push(RootStatusRow::new(r.generation, "pending", false, seq));
            }
            Event::RootImported(r) => {
                p.certificates.push(CertificateRow {
                    role: "root",
                    cluster: None,
                    der: decode_der(self.kind(), &r.certificate.der_base64)?,
                    record: r.certificate.clone(),
                    generation: r.generation,
                    event_seq: seq,
                });
                for (position, c) in r.chain.iter().enumerate() {
                    p.root_links.push(RootLinkRow {
                        generation: r.generation,
                        role: "chain",
                        position: position as i64,
                        serial: c.serial.clone(),
                        subject: c.subject.clone(),
                        sha256: c.sha256.clone(),
                        der: decode_der(self.kind(), &c.der_base64)?,
                        event_seq: seq,
                    });
                }
                if let Some(previous) = r.previous {
                    p.root_status
                        .push(RootStatusRow::new(previous, "trusted", false, seq));
                }
                p.root_status
                    .push(RootStatusRow::new(r.generation, "active", false, seq));
            }
        }
        Ok(p)
    }
}

fn decode_der(kind: &str, b64: &str) -> Result<Vec<u8>, PayloadError> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| PayloadError::Malformed {
            kind: kind.to_owned(),
            detail: format!("certificate is not base64: {e}"),
        })
}
