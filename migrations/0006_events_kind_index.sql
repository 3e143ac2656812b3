-- rootvault ledger, schema version 6: events found by kind.
--
-- Before each token action the vault compares the running binary with the last one recorded
-- (the newest `software_changed` event, else `vault_initialised`); this index finds that
-- event without reading the chain, so the check costs the same at a million events as at ten.

CREATE INDEX events_by_kind ON events(kind, seq);
