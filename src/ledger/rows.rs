//! The derived tables: one row type per table, each able to insert itself, read itself back
//! by key, and name itself in a verification report. `append` writes rows through this trait
//! and `verify` reads them back through it, so the two cannot drift apart.

use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension};

use super::events::{CertificateRecord, CertificateRow, TokenKeyRow};

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
