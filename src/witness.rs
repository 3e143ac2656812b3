//! Witnesses: their names and SSH keys, the statement they sign, and the check of an SSHSIG
//! signature (`ssh-keygen -Y sign -n rootvault-witness`) against the registered keys.
//!
//! Pure: no token, no ledger. The SSHSIG format and its cryptography are the `ssh-key`
//! crate's; this module only decides which keys are acceptable, what the statement says, and
//! why a signature does not count. The ledger-aware half (the registry folded from events, the
//! gate each trust-changing action passes) is `ceremony::witness`.

use std::fmt;

use ssh_key::{Algorithm, HashAlg, PublicKey, SshSig};

use crate::keys::sha256_hex;

/// The SSHSIG namespace every witness signature must be made for.
pub const NAMESPACE: &str = "rootvault-witness";

/// The first line of every statement.
pub const STATEMENT_TITLE: &str = "rootvault witness statement";

/// The statement format this build writes.
pub const STATEMENT_FORMAT: u32 = 1;

/// The fewest RSA modulus bits a witness key may have.
pub const MIN_RSA_BITS: usize = 3072;

/// The fewest characters of a key's SHA-256 fingerprint `witness add` accepts as confirmation.
pub const MIN_FINGERPRINT_CHARS: usize = 16;

/// A witness's name: what `ledger witnesses` names its signature files after and what
/// `allowed_signers` lists as the principal. 1 to 64 characters of `A-Z a-z 0-9 . _ -`, not
/// starting with `.` or `-`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WitnessName(String);

impl WitnessName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for WitnessName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && !s.starts_with(['.', '-'])
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if ok {
            Ok(WitnessName(s.to_owned()))
        } else {
            Err(format!(
                "{s:?} is not a witness name: use 1 to 64 of A-Z a-z 0-9 . _ - (not starting with . or -); it names the witness's signature files"
            ))
        }
    }
}

impl fmt::Display for WitnessName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why an SSH public key cannot be a witness key (exit 3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRefused {
    /// Not an OpenSSH public key line.
    #[error("it is not an OpenSSH public key ({0}); give the .pub file ssh-keygen wrote")]
    Malformed(String),
    /// A key type witnesses may not use.
    #[error("{0} keys cannot be witness keys; use ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384 or rsa with at least 3072 bits")]
    Type(String),
    /// An RSA key that is too short.
    #[error("the RSA key has {0} bits; a witness key needs at least {MIN_RSA_BITS}")]
    RsaTooShort(usize),
}

/// A public key a witness may sign with: ed25519, ECDSA P-256 or P-384, RSA ≥ 3072 bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessKey {
    key: PublicKey,
}

impl WitnessKey {
    /// Parses one OpenSSH public key line (`TYPE BASE64 [COMMENT]`); the comment is dropped.
    pub fn parse(line: &str) -> Result<WitnessKey, KeyRefused> {
        let line = line.trim();
        let key =
            PublicKey::from_openssh(line).map_err(|e| KeyRefused::Malformed(e.to_string()))?;
        Self::accept(key.key_data().clone())
    }

    fn accept(data: ssh_key::public::KeyData) -> Result<WitnessKey, KeyRefused> {
        match data.algorithm() {
            Algorithm::Ed25519 => {}
            Algorithm::Ecdsa {
                curve: ssh_key::EcdsaCurve::NistP256 | ssh_key::EcdsaCurve::NistP384,
            } => {}
            Algorithm::Rsa { .. } => {
                let rsa = data.rsa().expect("an RSA key has RSA key data");
                let n = rsa.n.as_positive_bytes().unwrap_or_default();
                let bits = n
                    .iter()
                    .position(|&b| b != 0)
                    .map_or(0, |i| (n.len() - i) * 8 - n[i].leading_zeros() as usize);
                if bits < MIN_RSA_BITS {
                    return Err(KeyRefused::RsaTooShort(bits));
                }
            }
            other => return Err(KeyRefused::Type(other.as_str().to_owned())),
        }
        Ok(WitnessKey {
            key: PublicKey::from(data),
        })
    }

    /// `TYPE BASE64`, without a comment: what the ledger records and `allowed_signers` lists.
    pub fn openssh(&self) -> String {
        self.key
            .to_openssh()
            .expect("a parsed public key encodes again")
    }

    /// The SHA-256 fingerprint as `ssh-keygen -l -E sha256` prints it: `SHA256:…`.
    pub fn fingerprint(&self) -> String {
        self.key.fingerprint(HashAlg::Sha256).to_string()
    }

    /// The key type, as OpenSSH names it (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`).
    pub fn key_type(&self) -> String {
        self.key.algorithm().as_str().to_owned()
    }

    fn data(&self) -> &ssh_key::public::KeyData {
        self.key.key_data()
    }
}

/// One line of a statement: a label and its value (one line; newlines become spaces).
pub type Line = (String, String);

/// What an action's statement says beyond the vault and the ledger head: the action and
/// every value the operator confirms, in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// The action, as the CLI names it: `sign`, `revoke`, `root create`, `witness add`, …
    pub action: &'static str,
    /// The values, in the order the action's statement lists them.
    pub lines: Vec<Line>,
}

impl Body {
    /// A body for `action`.
    pub fn new(action: &'static str) -> Body {
        Body {
            action,
            lines: Vec::new(),
        }
    }

    /// Adds a line.
    pub fn line(&mut self, label: &str, value: impl fmt::Display) -> &mut Body {
        self.lines.push((label.to_owned(), value.to_string()));
        self
    }
}

/// The vault a statement is about: what names it for a witness who has never seen it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultId {
    /// The token's serial number.
    pub token_serial: String,
    /// SHA-256 of the audit key's SubjectPublicKeyInfo (`none` before the vault has one).
    pub audit_key_sha256: String,
}

/// A ledger head: the last event's seq and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Seq (0 for an empty ledger).
    pub seq: i64,
    /// Hash, lowercase hex.
    pub hash: String,
}

/// The text a witness signs. Canonical: the same vault, head and body always give the same
/// bytes (UTF-8, `\n` line ends, no time of "now").
///
/// ```text
/// rootvault witness statement
/// format: 1
/// vault token serial: 4c8a2b1e0f9d3a77
/// vault audit key SHA-256: 5e0c…
/// ledger head: event 12, hash 9b1f…
/// action: sign
/// cluster: prod-eu
/// …
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    text: String,
    head: Head,
    vault: VaultId,
    body: Body,
}

impl Statement {
    /// The statement of `body` for the vault `vault` at ledger head `head`.
    pub fn new(vault: &VaultId, head: &Head, body: &Body) -> Statement {
        let mut text = format!("{STATEMENT_TITLE}\n");
        let mut put = |label: &str, value: &str| {
            let value: String = value
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            text += &format!("{label}: {value}\n");
        };
        put("format", &STATEMENT_FORMAT.to_string());
        put("vault token serial", &vault.token_serial);
        put("vault audit key SHA-256", &vault.audit_key_sha256);
        put(
            "ledger head",
            &format!("event {}, hash {}", head.seq, head.hash),
        );
        put("action", body.action);
        for (label, value) in &body.lines {
            put(label, value);
        }
        Statement {
            text,
            head: head.clone(),
            vault: vault.clone(),
            body: body.clone(),
        }
    }

    /// The same statement for another ledger head.
    pub fn at(&self, head: &Head) -> Statement {
        Statement::new(&self.vault, head, &self.body)
    }

    /// The text, exactly as signed.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// SHA-256 of the text, lowercase hex: what the ledger records and `sha256sum` prints.
    pub fn sha256(&self) -> String {
        sha256_hex(self.text.as_bytes())
    }

    /// The ledger head it applies to.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// The action.
    pub fn action(&self) -> &'static str {
        self.body.action
    }
}

/// The ledger head a recorded statement names (its `ledger head:` line), if it has one.
pub fn statement_head(text: &str) -> Option<Head> {
    let line = text.lines().find_map(|l| l.strip_prefix("ledger head: "))?;
    let (seq, hash) = line.strip_prefix("event ")?.split_once(", hash ")?;
    Some(Head {
        seq: seq.parse().ok()?,
        hash: hash.to_owned(),
    })
}

/// A witness signature file that was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    sig: SshSig,
    armored: String,
    fingerprint: String,
}

impl Signature {
    /// Parses an armored SSHSIG (`-----BEGIN SSH SIGNATURE-----`).
    pub fn parse(bytes: &[u8]) -> Result<Signature, Invalid> {
        let text = std::str::from_utf8(bytes).map_err(|_| Invalid::Malformed("not text".into()))?;
        let sig = SshSig::from_pem(text.trim()).map_err(|e| Invalid::Malformed(e.to_string()))?;
        let fingerprint = sig.public_key().fingerprint(HashAlg::Sha256).to_string();
        Ok(Signature {
            armored: text.trim().to_owned() + "\n",
            sig,
            fingerprint,
        })
    }

    /// The armored signature, as `ssh-keygen -Y sign` wrote it.
    pub fn armored(&self) -> &str {
        &self.armored
    }

    /// The signing key's SHA-256 fingerprint (`SHA256:…`).
    pub fn key_fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The namespace it was made for.
    pub fn namespace(&self) -> &str {
        self.sig.namespace()
    }

    /// Whether it is a signature of `message` by `key` in [`NAMESPACE`].
    pub fn check(&self, key: &WitnessKey, message: &[u8]) -> Result<(), Invalid> {
        if self.sig.namespace() != NAMESPACE {
            return Err(Invalid::Namespace(self.sig.namespace().to_owned()));
        }
        if self.sig.public_key() != key.data() {
            return Err(Invalid::OtherKey);
        }
        if let Algorithm::Rsa { hash: None } = self.sig.algorithm() {
            return Err(Invalid::Malformed("an RSA signature with SHA-1".into()));
        }
        key.key
            .verify(NAMESPACE, message, &self.sig)
            .map_err(|_| Invalid::NotThisStatement)
    }

    /// Whether the signing key is `key`.
    pub fn is_by(&self, key: &WitnessKey) -> bool {
        self.sig.public_key() == key.data()
    }
}

/// Why one signature does not count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Invalid {
    /// Not an SSH signature.
    #[error("it is not an SSH signature made by `ssh-keygen -Y sign` ({0})")]
    Malformed(String),
    /// Made for another namespace.
    #[error("it was made for the namespace {0:?}, not {NAMESPACE:?}: sign with `ssh-keygen -Y sign -f KEY -n {NAMESPACE} FILE`")]
    Namespace(String),
    /// Made by a key that no registered witness holds.
    #[error("it was made by the key {0}, which is not a registered witness's (`rootvault witness list`)")]
    Unregistered(String),
    /// Made by another key than the one checked against (internal).
    #[error("it was made by another key")]
    OtherKey,
    /// A valid signature, but of the statement for an earlier ledger head.
    #[error("it signs this action's statement for ledger event {then_seq} (hash {then_hash}), but the ledger has moved on to event {now_seq}: write the statement again with --statement-out and have it signed again")]
    Moved {
        /// The head it was signed for.
        then_seq: i64,
        /// That head's hash.
        then_hash: String,
        /// The head now.
        now_seq: i64,
    },
    /// It does not verify over this statement.
    #[error("it does not sign this statement (it was made for another action, other inputs, another vault, or the file was altered): compare the statement with --statement-out")]
    NotThisStatement,
    /// The witness signed already, in another file.
    #[error("witness {witness} signed already (in {first}); each witness counts once")]
    Twice {
        /// The witness.
        witness: String,
        /// The file that counted.
        first: String,
    },
}

/// One step of the running digest the token keeps of the witness registry:
/// `SHA-256(prev "\n" op "\n" name "\n" fingerprint "\n")`, lowercase hex, `op` `added` or
/// `removed`, starting from 64 zeros.
pub fn registry_step(prev: &str, op: &str, name: &str, fingerprint: &str) -> String {
    sha256_hex(format!("{prev}\n{op}\n{name}\n{fingerprint}\n").as_bytes())
}

/// One line of an OpenSSH `allowed_signers` file for `name`'s key.
pub fn allowed_signers_line(name: &str, key_openssh: &str) -> String {
    format!("{name} namespaces=\"{NAMESPACE}\" {key_openssh}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMwz20D+YcusIs8ENOBbqBiJ5NeBTIcZg/DjkXaWH3rb alice@example";

    #[test]
    fn witness_names_are_file_and_principal_safe() {
        for ok in ["alice", "Bob.Smith", "w_1", "a-b"] {
            ok.parse::<WitnessName>().unwrap();
        }
        for bad in ["", ".hidden", "-x", "a b", "a/b", "ä", &"x".repeat(65)] {
            assert!(bad.parse::<WitnessName>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_statement_is_canonical_and_names_its_head() {
        let vault = VaultId {
            token_serial: "abc".into(),
            audit_key_sha256: "f".repeat(64),
        };
        let head = Head {
            seq: 7,
            hash: "9".repeat(64),
        };
        let mut body = Body::new("sign");
        body.line("cluster", "prod").line("note", "two\nlines");
        let a = Statement::new(&vault, &head, &body);
        assert_eq!(a, Statement::new(&vault, &head, &body));
        assert_eq!(
            a.text(),
            format!(
                "rootvault witness statement\nformat: 1\nvault token serial: abc\nvault audit key SHA-256: {}\nledger head: event 7, hash {}\naction: sign\ncluster: prod\nnote: two lines\n",
                "f".repeat(64),
                "9".repeat(64)
            )
        );
        assert_eq!(statement_head(a.text()), Some(head));
    }

    #[test]
    fn an_ed25519_key_is_accepted_without_its_comment() {
        let k = WitnessKey::parse(ED).unwrap();
        assert_eq!(k.key_type(), "ssh-ed25519");
        assert!(!k.openssh().contains("alice@example"));
        // As `ssh-keygen -l -E sha256` prints it.
        assert_eq!(
            k.fingerprint(),
            "SHA256:KijMNedMyuP733FrpriaRzTNhCdZZ0k/lXiH16hWBwk"
        );
        assert!(matches!(
            WitnessKey::parse("ssh-ed25519 AAAA"),
            Err(KeyRefused::Malformed(_))
        ));
    }
}
