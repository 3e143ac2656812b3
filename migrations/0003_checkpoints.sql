-- rootvault ledger, schema version 3: signed checkpoints.
--
-- A checkpoint is the ledger head (seq, hash, time) signed by the audit key on the token
-- (docs/audit.md gives the signed message byte for byte). Checkpoints are not events: an
-- event cannot attest to itself. `ledger verify` checks every signature against the audit
-- key recorded by the `audit_key_created` event and that each checkpoint's hash is the hash
-- of the event at its seq, so a ledger re-hashed without the token fails.

CREATE TABLE checkpoints (
    seq        INTEGER PRIMARY KEY REFERENCES events(seq),
    hash       TEXT    NOT NULL,
    time       TEXT    NOT NULL,
    key_label  TEXT    NOT NULL,
    signature  TEXT    NOT NULL            -- base64 of the DER ECDSA signature
) STRICT;

CREATE TRIGGER checkpoints_append_only_update BEFORE UPDATE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only');
END;

CREATE TRIGGER checkpoints_append_only_delete BEFORE DELETE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only');
END;
