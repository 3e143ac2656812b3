-- rootvault ledger, schema version 5: root generations (docs/rotation.md).
--
-- A vault holds root generations 1, 2, ...: each a key on the vault's token and a CA
-- certificate, self-signed (`root create`, `root rotate`) or issued by an enterprise root
-- (`root csr`, then `root import`). Every certificate records the generation that issued it,
-- each generation numbers its own CRLs, and a generation's status (pending, active, trusted,
-- retired) changes only by events. The root of a vault made before generations is
-- generation 1, active. Like every derived table, these are re-derived by `ledger verify`.

-- One root certificate per generation, instead of one per vault.
DROP INDEX one_root;
ALTER TABLE certificates ADD COLUMN generation INTEGER NOT NULL DEFAULT 1;
CREATE UNIQUE INDEX one_root_per_generation ON certificates(generation) WHERE role = 'root';
CREATE INDEX certificates_by_generation ON certificates(generation, role);

-- A root key belongs to a generation (NULL for the audit key).
DROP TRIGGER token_keys_append_only_update;
ALTER TABLE token_keys ADD COLUMN generation INTEGER;
UPDATE token_keys SET generation = 1 WHERE purpose = 'root';
CREATE TRIGGER token_keys_append_only_update BEFORE UPDATE ON token_keys
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;

-- CRLs are numbered per generation: the table is keyed by the event that issued each.
CREATE TABLE crls_by_generation (
    event_seq   INTEGER PRIMARY KEY REFERENCES events(seq),
    generation  INTEGER NOT NULL,
    number      INTEGER NOT NULL,           -- 1, 2, 3, ... within the generation
    this_update TEXT    NOT NULL,
    next_update TEXT    NOT NULL,
    entries     INTEGER NOT NULL,
    sha256      TEXT    NOT NULL,
    der         BLOB    NOT NULL,
    UNIQUE (generation, number)
) STRICT;
INSERT INTO crls_by_generation (event_seq, generation, number, this_update, next_update, entries, sha256, der)
    SELECT event_seq, 1, number, this_update, next_update, entries, sha256, der FROM crls;
DROP TABLE crls;
ALTER TABLE crls_by_generation RENAME TO crls;
CREATE TRIGGER crls_append_only_update BEFORE UPDATE ON crls
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;
CREATE TRIGGER crls_append_only_delete BEFORE DELETE ON crls
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;

-- Each status a generation took, and the event that gave it; its status now is the newest.
CREATE TABLE root_status (
    id            TEXT    PRIMARY KEY,      -- 'GENERATION@SEQ'
    generation    INTEGER NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('pending', 'active', 'trusted', 'retired')),
    key_destroyed INTEGER NOT NULL,         -- 1 once its key was destroyed on the token
    event_seq     INTEGER NOT NULL REFERENCES events(seq)
) STRICT;
CREATE INDEX root_status_by_generation ON root_status(generation, event_seq);
INSERT INTO root_status (id, generation, status, key_destroyed, event_seq)
    SELECT '1@' || event_seq, 1, 'active', 0, event_seq FROM certificates WHERE role = 'root';

-- The certificates around a generation's own: the cross-certificate of a rotated root (its
-- key certified by the generation before it), and the chain an imported certificate was
-- issued through, from its issuer up to and including the enterprise anchor.
CREATE TABLE root_links (
    id          TEXT    PRIMARY KEY,        -- 'GENERATION/cross' or 'GENERATION/chain/POSITION'
    generation  INTEGER NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('cross', 'chain')),
    position    INTEGER NOT NULL,           -- 0 for the cross-certificate and the issuer
    serial      TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    sha256      TEXT    NOT NULL,
    der         BLOB    NOT NULL,
    event_seq   INTEGER NOT NULL REFERENCES events(seq)
) STRICT;

CREATE TRIGGER root_status_append_only_update BEFORE UPDATE ON root_status
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;
CREATE TRIGGER root_status_append_only_delete BEFORE DELETE ON root_status
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;
CREATE TRIGGER root_links_append_only_update BEFORE UPDATE ON root_links
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;
CREATE TRIGGER root_links_append_only_delete BEFORE DELETE ON root_links
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;
