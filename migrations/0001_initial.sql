-- rootvault ledger, schema version 1.
--
-- `events` is the hash-chained, append-only record. Every other table is derived state,
-- written in the same transaction as the event that causes it and re-derived by
-- `rootvault ledger verify`. See docs/ledger.md for the canonical encoding of `hash`.

CREATE TABLE events (
    seq       INTEGER PRIMARY KEY,          -- 1, 2, 3, ... without gaps
    time      TEXT    NOT NULL,             -- RFC 3339, UTC, microseconds, 'Z'
    kind      TEXT    NOT NULL,             -- e.g. vault_initialised, root_created
    actor     TEXT    NOT NULL,             -- the operator recorded for the action
    payload   TEXT    NOT NULL,             -- JSON object; hashed as these exact bytes
    prev_hash TEXT    NOT NULL,             -- hex; 64 zeros for seq 1
    hash      TEXT    NOT NULL UNIQUE       -- hex SHA-256 of the canonical encoding
) STRICT;

CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'ledger events are append-only');
END;

CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'ledger events are append-only');
END;

-- Keys the vault keeps on its token (the root key; later the audit key).
CREATE TABLE token_keys (
    label      TEXT    PRIMARY KEY,
    id_hex     TEXT    NOT NULL,
    purpose    TEXT    NOT NULL,
    key_type   TEXT    NOT NULL,
    event_seq  INTEGER NOT NULL UNIQUE REFERENCES events(seq)
) STRICT;

-- Every certificate the vault has signed, the root included.
CREATE TABLE certificates (
    serial       TEXT    PRIMARY KEY,       -- lowercase hex, no leading zero octets
    role         TEXT    NOT NULL CHECK (role IN ('root', 'intermediate')),
    cluster      TEXT,                      -- NULL for the root
    subject      TEXT    NOT NULL,
    not_before   TEXT    NOT NULL,          -- RFC 3339
    not_after    TEXT    NOT NULL,          -- RFC 3339
    key_type     TEXT    NOT NULL,
    spki_sha256  TEXT    NOT NULL,
    sha256       TEXT    NOT NULL UNIQUE,   -- of the DER certificate
    der          BLOB    NOT NULL,
    event_seq    INTEGER NOT NULL UNIQUE REFERENCES events(seq)
) STRICT;

CREATE UNIQUE INDEX one_root ON certificates(role) WHERE role = 'root';
CREATE INDEX certificates_by_cluster ON certificates(cluster);
