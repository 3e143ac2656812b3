//! The canonical encoding an event's hash is computed over (specified in `docs/ledger.md`).
//!
//! Each field is written as a netstring, `<decimal byte length>:<bytes>,`, in this order:
//! the domain tag `rootvault-ledger-v1`, seq in decimal, time, kind, actor, payload, and the
//! previous event's hash in lowercase hex. The hash is the SHA-256 of the concatenation.

use sha2::{Digest, Sha256};

/// Domain-separation tag, the first field of every encoding.
pub const DOMAIN: &str = "rootvault-ledger-v1";

/// The `prev_hash` of the first event: 32 zero bytes, in hex.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields of one event, as stored.
#[derive(Debug, Clone, Copy)]
pub struct EventFields<'a> {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// RFC 3339 UTC time.
    pub time: &'a str,
    /// Event kind.
    pub kind: &'a str,
    /// Who did it.
    pub actor: &'a str,
    /// The JSON payload, exactly as stored.
    pub payload: &'a str,
    /// Hex hash of the previous event.
    pub prev_hash: &'a str,
}

impl EventFields<'_> {
    /// The canonical byte encoding.
    pub fn encode(&self) -> Vec<u8> {
        let seq = self.seq.to_string();
        let fields: [&str; 7] = [
            DOMAIN,
            &seq,
            self.time,
            self.kind,
            self.actor,
            self.payload,
            self.prev_hash,
        ];
        let mut out = Vec::with_capacity(fields.iter().map(|f| f.len() + 8).sum());
        for f in fields {
            out.extend_from_slice(f.len().to_string().as_bytes());
            out.push(b':');
            out.extend_from_slice(f.as_bytes());
            out.push(b',');
        }
        out
    }

    /// Lowercase hex SHA-256 of the canonical encoding.
    pub fn hash_hex(&self) -> String {
        hex::encode(Sha256::digest(self.encode()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_netstrings_in_documented_order() {
        let f = EventFields {
            seq: 1,
            time: "2026-01-01T00:00:00.000000Z",
            kind: "k",
            actor: "ana",
            payload: "{}",
            prev_hash: GENESIS,
        };
        let expected = format!(
            "19:rootvault-ledger-v1,1:1,27:2026-01-01T00:00:00.000000Z,1:k,3:ana,2:{{}},64:{GENESIS},"
        );
        assert_eq!(f.encode(), expected.as_bytes());
        assert_eq!(
            f.hash_hex(),
            hex::encode(Sha256::digest(expected.as_bytes()))
        );
    }

    #[test]
    fn lengths_count_bytes_not_characters() {
        let f = EventFields {
            seq: 12,
            time: "t",
            kind: "k",
            actor: "zoë",
            payload: "{}",
            prev_hash: "",
        };
        let needle = b"4:zo\xc3\xab,";
        assert!(f.encode().windows(needle.len()).any(|w| w == needle));
    }
}
