//! The SQL the ledger runs: reads of the head, the root, the generations, derived rows, and
//! the mapping of SQLite's errors to [`LedgerError`].

#[allow(unused_imports)]
use super::*;
#[allow(unused_imports)]
use rusqlite::{Connection, OptionalExtension};

/// A copy in memory of the read-only ledger `conn`, upgraded to this build's schema and then
/// made read-only too (`query_only`), so that nothing is ever recorded where it would be lost.
pub(super) fn upgraded_in_memory(
    conn: &Connection,
    path: &Path,
) -> Result<Connection, LedgerError> {
    let err = |op| move |e| sqlite_error(path, op, e);
    let mut mem = Connection::open_in_memory().map_err(err("opening a copy in memory"))?;
    {
        let backup = rusqlite::backup::Backup::new(conn, &mut mem)
            .map_err(err("copying the read-only ledger into memory"))?;
        backup
            .run_to_completion(256, Duration::ZERO, None)
            .map_err(err("copying the read-only ledger into memory"))?;
    }
    mem.pragma_update(None, "foreign_keys", "ON")
        .map_err(err("enabling foreign keys"))?;
    migrate::apply(&mut mem, path)?;
    mem.pragma_update(None, "query_only", "ON")
        .map_err(err("making the copy read-only"))?;
    Ok(mem)
}

pub(super) fn sqlite_error(path: &Path, op: &'static str, source: rusqlite::Error) -> LedgerError {
    if let rusqlite::Error::SqliteFailure(f, _) = &source {
        let path = path.to_owned();
        match f.code {
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
                return LedgerError::Busy { path }
            }
            rusqlite::ErrorCode::DiskFull => return LedgerError::Full { path },
            // SQLite reports a full tmpfs as an I/O error when it cannot grow its -shm file.
            rusqlite::ErrorCode::SystemIoFailure if nearly_full(&path) => {
                return LedgerError::Full { path }
            }
            rusqlite::ErrorCode::ReadOnly => return LedgerError::ReadOnly { path },
            _ => {}
        }
    }
    LedgerError::Sqlite {
        path: path.to_owned(),
        op,
        source,
    }
}

/// The filesystem facts of the directory holding `path`, if they can be read.
pub(super) fn fs_of(path: &Path) -> Option<rustix::fs::StatVfs> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    rustix::fs::statvfs(dir).ok()
}

/// Whether `path`'s directory is on a filesystem mounted read-only.
pub(super) fn on_read_only_fs(path: &Path) -> bool {
    fs_of(path).is_some_and(|s| s.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY))
}

/// Whether `path`'s filesystem has less than 64 KiB free.
pub(super) fn nearly_full(path: &Path) -> bool {
    fs_of(path).is_some_and(|s| s.f_bavail.saturating_mul(s.f_frsize) < 64 * 1024)
}

/// `path` percent-encoded for an SQLite `file:` URI.
pub(super) fn uri_path(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(super) fn stored_event_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        seq: r.get(0)?,
        time: r.get(1)?,
        kind: r.get(2)?,
        actor: r.get(3)?,
        payload: r.get(4)?,
        prev_hash: r.get(5)?,
        hash: r.get(6)?,
    })
}

pub(super) fn checkpoint_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Checkpoint> {
    Ok(Checkpoint {
        seq: r.get(0)?,
        hash: r.get(1)?,
        time: r.get(2)?,
        key_label: r.get(3)?,
        signature: r.get(4)?,
    })
}

pub(super) fn audit_key_of(conn: &Connection) -> rusqlite::Result<Option<AuditKeyCreated>> {
    let payload: Option<String> = conn
        .query_row(
            "SELECT payload FROM events WHERE kind = 'audit_key_created' ORDER BY seq LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(payload.and_then(|p| serde_json::from_str(&p).ok()))
}

pub(super) fn software_of(conn: &Connection) -> rusqlite::Result<Option<Software>> {
    let last: Option<(String, String)> = conn
        .query_row(
            "SELECT kind, payload FROM events WHERE kind IN ('software_changed', 'vault_initialised') ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(match last {
        Some((kind, payload)) => match Event::parse(&kind, &payload) {
            Ok(Event::SoftwareChanged(s)) => Some(s),
            Ok(Event::VaultInitialised(v)) => v.software,
            _ => None,
        },
        None => None,
    })
}

pub(super) fn last_crl_of(conn: &Connection) -> rusqlite::Result<Option<CrlRow>> {
    conn.query_row(
        &format!(
            "SELECT {} FROM crls ORDER BY event_seq DESC LIMIT 1",
            CrlRow::COLUMNS
        ),
        [],
        CrlRow::from_row,
    )
    .optional()
}

pub(super) fn key_holders_of(
    conn: &Connection,
    spki_sha256: &str,
) -> rusqlite::Result<Vec<KeyHolder>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {} FROM certificates WHERE role = 'intermediate' AND spki_sha256 = ?1 ORDER BY event_seq",
        CertificateRow::COLUMNS
    ))?;
    let rows = stmt
        .query_map([spki_sha256], CertificateRow::from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|row| {
            let revocation = rows::read(
                conn,
                rusqlite::types::Value::Text(row.record.serial.clone()),
            )?;
            Ok((row, revocation))
        })
        .collect()
}

pub(super) fn serial_exists(conn: &Connection, serial: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) > 0 FROM certificates WHERE serial = ?1",
        [serial],
        |r| r.get(0),
    )
}

/// The last event's seq and hash (0 and the genesis value for an empty ledger). Reads one row
/// through the primary key: appends cost the same at a million events as at none (a
/// `count(*)` here made them grow with the ledger; docs/performance.md).
pub(super) fn head_of(conn: &Connection) -> rusqlite::Result<(i64, String)> {
    let last: Option<(i64, String)> = conn
        .query_row(
            "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(last.unwrap_or_else(|| (0, GENESIS.to_owned())))
}

/// The active generation's root.
pub(super) fn root_of(conn: &Connection) -> rusqlite::Result<Option<RootRecord>> {
    Ok(generations_of(conn)?
        .into_iter()
        .rev()
        .find(|g| g.status == "active")
        .and_then(|g| g.root_record()))
}

/// Every generation with its newest status, its key and its certificate, oldest first.
pub(super) fn generations_of(conn: &Connection) -> rusqlite::Result<Vec<GenerationRecord>> {
    let mut stmt = conn.prepare(
        "SELECT s.generation, s.status, s.key_destroyed, s.event_seq, k.label, k.id_hex, k.key_type
         FROM root_status s JOIN token_keys k ON k.generation = s.generation AND k.purpose = 'root'
         WHERE s.event_seq = (SELECT max(event_seq) FROM root_status WHERE generation = s.generation)
         ORDER BY s.generation",
    )?;
    let mut generations = stmt
        .query_map([], |r| {
            Ok(GenerationRecord {
                generation: r.get(0)?,
                status: r.get(1)?,
                key_destroyed: r.get(2)?,
                status_seq: r.get(3)?,
                key_label: r.get(4)?,
                key_id: r.get(5)?,
                key_type: r.get(6)?,
                certificate: None,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut cert = conn.prepare(&format!(
        "SELECT {} FROM certificates WHERE role = 'root' AND generation = ?1",
        CertificateRow::COLUMNS
    ))?;
    for g in &mut generations {
        g.certificate = cert
            .query_row([g.generation], CertificateRow::from_row)
            .optional()?;
    }
    Ok(generations)
}

pub(super) fn last_crl_of_generation(
    conn: &Connection,
    generation: u32,
) -> rusqlite::Result<Option<CrlRow>> {
    conn.query_row(
        &format!(
            "SELECT {} FROM crls WHERE generation = ?1 ORDER BY number DESC LIMIT 1",
            CrlRow::COLUMNS
        ),
        [generation],
        CrlRow::from_row,
    )
    .optional()
}
