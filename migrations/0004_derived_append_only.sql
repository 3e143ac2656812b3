-- rootvault ledger, schema version 4: the derived tables are append-only too.
--
-- Every derived row is written in the transaction of the event that implies it and never
-- changes afterwards. These triggers are defence in depth, not the defence: anyone who can
-- write the file can drop them. What stops an edited table from reaching a signature is
-- that CRLs and exports are built from rows proven equal to what the token attested, and
-- that `ledger verify` re-derives every row from the events (docs/ledger.md).

CREATE TRIGGER token_keys_append_only_update BEFORE UPDATE ON token_keys
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;
CREATE TRIGGER token_keys_append_only_delete BEFORE DELETE ON token_keys
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;

CREATE TRIGGER certificates_append_only_update BEFORE UPDATE ON certificates
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;
CREATE TRIGGER certificates_append_only_delete BEFORE DELETE ON certificates
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;

CREATE TRIGGER revocations_append_only_update BEFORE UPDATE ON revocations
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;
CREATE TRIGGER revocations_append_only_delete BEFORE DELETE ON revocations
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;

CREATE TRIGGER crls_append_only_update BEFORE UPDATE ON crls
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;
CREATE TRIGGER crls_append_only_delete BEFORE DELETE ON crls
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;

CREATE TRIGGER exports_append_only_update BEFORE UPDATE ON exports
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;
CREATE TRIGGER exports_append_only_delete BEFORE DELETE ON exports
BEGIN SELECT RAISE(ABORT, 'derived rows are append-only'); END;

-- The few events read by kind before every token action (the modules the operator
-- approved, the audit key) are found through this index, not by a scan of the ledger.
CREATE INDEX events_by_kind ON events(kind);
