//! Schema migrations: the numbered SQL files of `migrations/`, applied in order in one
//! transaction, the version kept in `PRAGMA user_version`.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::{sqlite_error, LedgerError};

/// Every migration, in order. Entry `i` brings the schema from version `i` to `i + 1`.
/// Append only: a released migration never changes.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_initial.sql",
        include_str!("../../migrations/0001_initial.sql"),
    ),
    (
        "0002_revocations_crls_exports.sql",
        include_str!("../../migrations/0002_revocations_crls_exports.sql"),
    ),
    (
        "0003_checkpoints.sql",
        include_str!("../../migrations/0003_checkpoints.sql"),
    ),
    (
        "0004_derived_append_only.sql",
        include_str!("../../migrations/0004_derived_append_only.sql"),
    ),
    (
        "0005_root_generations.sql",
        include_str!("../../migrations/0005_root_generations.sql"),
    ),
];

/// The oldest schema a read-only ledger (an auditor's copy on write-protected media) can be
/// read at without upgrading it. Version 5 added columns and tables (root generations), so an
/// older read-only ledger is upgraded in a copy in memory instead ([`needs_upgrade_in_memory`]).
pub const OLDEST_READABLE_AS_IS: i64 = 5;

/// Whether a read-only ledger at this schema version must be read through an upgraded copy in
/// memory (it cannot be upgraded where it lies, and this build cannot read it as it is).
pub(super) fn needs_upgrade_in_memory(conn: &Connection) -> bool {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap_or(LATEST_VERSION);
    version < OLDEST_READABLE_AS_IS
}

/// The schema version this build writes.
pub const LATEST_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database at `path` to [`LATEST_VERSION`], or refuses a newer one.
pub(super) fn apply(conn: &mut Connection, path: &Path) -> Result<(), LedgerError> {
    let err = |op| move |e| sqlite_error(path, op, e);
    // Fast path without a write lock, so readers never queue behind a writer.
    let current: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(err("reading the schema version"))?;
    if current == LATEST_VERSION {
        return Ok(());
    }
    if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false)
        && (OLDEST_READABLE_AS_IS..LATEST_VERSION).contains(&current)
    {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err("starting the schema check"))?;
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(err("reading the schema version"))?;
    if version > LATEST_VERSION {
        return Err(LedgerError::SchemaTooNew {
            path: path.to_owned(),
            found: version,
            supported: LATEST_VERSION,
        });
    }
    if version == LATEST_VERSION {
        return Ok(());
    }
    for (_, sql) in &MIGRATIONS[version as usize..] {
        tx.execute_batch(sql)
            .map_err(err("applying a schema migration"))?;
    }
    tx.pragma_update(None, "user_version", LATEST_VERSION)
        .map_err(err("recording the schema version"))?;
    tx.commit().map_err(err("committing the schema migration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sql_file_in_migrations_is_registered_in_order() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let registered: Vec<String> = MIGRATIONS.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(files, registered);
        for (i, name) in registered.iter().enumerate() {
            assert!(
                name.starts_with(&format!("{:04}_", i + 1)),
                "{name} is out of sequence"
            );
        }
    }

    #[test]
    fn all_migrations_apply_to_an_empty_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sqlite");
        let mut conn = Connection::open(&path).unwrap();
        apply(&mut conn, &path).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, LATEST_VERSION);
        // A second open is a no-op.
        apply(&mut conn, &path).unwrap();
    }

    #[test]
    fn a_version_one_database_upgrades_in_place_keeping_its_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sqlite");
        let mut conn = Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0].1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO events VALUES (1, 't', 'k', 'a', '{}', 'p', 'h')",
            [],
        )
        .unwrap();
        apply(&mut conn, &path).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, LATEST_VERSION);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        let c: i64 = conn
            .query_row("SELECT count(*) FROM checkpoints", [], |r| r.get(0))
            .unwrap();
        assert_eq!(c, 0, "version 3 added the checkpoints table");
    }

    #[test]
    fn a_version_four_vault_upgrades_with_its_root_as_generation_one_and_its_crl_numbers_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sqlite");
        let mut conn = Connection::open(&path).unwrap();
        for (_, sql) in &MIGRATIONS[..4] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 4).unwrap();
        conn.execute_batch(
            "INSERT INTO events VALUES (1, 't', 'root_created', 'a', '{}', 'p', 'h1');
             INSERT INTO events VALUES (2, 't', 'certificate_issued', 'a', '{}', 'h1', 'h2');
             INSERT INTO events VALUES (3, 't', 'crl_issued', 'a', '{}', 'h2', 'h3');
             INSERT INTO token_keys VALUES ('rootvault-root', 'ab', 'root', 'ecdsa-p384', 1);
             INSERT INTO certificates VALUES ('01', 'root', NULL, 'CN=R', 'a', 'b', 'ecdsa-p384', 's', 'r', x'00', 1);
             INSERT INTO certificates VALUES ('02', 'intermediate', 'east', 'CN=I', 'a', 'b', 'ecdsa-p256', 's', 'i', x'01', 2);
             INSERT INTO crls VALUES (7, 'a', 'b', 0, 'c', x'02', 3);",
        )
        .unwrap();
        apply(&mut conn, &path).unwrap();
        let q = |sql: &str| -> String { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(
            q("SELECT group_concat(serial || ':' || generation) FROM certificates ORDER BY serial"),
            "01:1,02:1"
        );
        assert_eq!(
            q("SELECT id || ':' || status || ':' || key_destroyed FROM root_status"),
            "1@1:active:0"
        );
        assert_eq!(
            q("SELECT label || ':' || generation FROM token_keys"),
            "rootvault-root:1"
        );
        assert_eq!(
            q("SELECT event_seq || ':' || generation || ':' || number FROM crls"),
            "3:1:7"
        );
        // The derived tables stay append-only, the rebuilt one included.
        for sql in [
            "UPDATE crls SET number = 8",
            "DELETE FROM crls",
            "UPDATE token_keys SET generation = 2",
            "DELETE FROM root_status",
        ] {
            let e = conn.execute(sql, []).unwrap_err().to_string();
            assert!(e.contains("append-only"), "{sql}: {e}");
        }
        // A second generation's root may now be recorded beside the first, not a second of
        // the same generation.
        conn.execute("INSERT INTO certificates VALUES ('03', 'root', NULL, 'CN=R2', 'a', 'b', 'ecdsa-p384', 's', 'r2', x'03', 3, 2)", []).unwrap();
        assert!(conn
            .execute("INSERT INTO certificates VALUES ('04', 'root', NULL, 'CN=R3', 'a', 'b', 'ecdsa-p384', 's', 'r3', x'04', 5, 2)", [])
            .is_err());
    }

    #[test]
    fn a_newer_schema_is_refused_with_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sqlite");
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", LATEST_VERSION + 1)
            .unwrap();
        let e = apply(&mut conn, &path).unwrap_err();
        assert!(
            matches!(e, LedgerError::SchemaTooNew { found, .. } if found == LATEST_VERSION + 1)
        );
        assert!(e.to_string().contains("newer rootvault"));
    }
}
