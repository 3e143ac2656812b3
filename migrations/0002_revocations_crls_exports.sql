-- rootvault ledger, schema version 2: revocations, CRLs and exports, all derived from events.

CREATE TABLE revocations (
    serial     TEXT    PRIMARY KEY REFERENCES certificates(serial),
    reason     TEXT    NOT NULL,            -- RFC 5280 CRLReason name, e.g. keyCompromise
    revoked_at TEXT    NOT NULL,            -- RFC 3339
    event_seq  INTEGER NOT NULL REFERENCES events(seq)
) STRICT;

CREATE TABLE crls (
    number      INTEGER PRIMARY KEY,        -- CRL number, 1, 2, 3, ...
    this_update TEXT    NOT NULL,
    next_update TEXT    NOT NULL,
    entries     INTEGER NOT NULL,
    sha256      TEXT    NOT NULL,
    der         BLOB    NOT NULL,
    event_seq   INTEGER NOT NULL UNIQUE REFERENCES events(seq)
) STRICT;

CREATE TABLE exports (
    event_seq  INTEGER PRIMARY KEY REFERENCES events(seq),
    cluster    TEXT    NOT NULL,
    serial     TEXT    NOT NULL REFERENCES certificates(serial),
    format     TEXT    NOT NULL,
    sha256     TEXT    NOT NULL,
    encrypted  INTEGER NOT NULL
) STRICT;
