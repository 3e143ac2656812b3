//! age recipients and identities, parsed and checked once, where the command line (or the TUI)
//! hands them over: exports and backups are encrypted to [`Recipients`]; restore decrypts with
//! [`Identities`]. Error messages never repeat a secret key: a secret key given where a public
//! one belongs is named by its kind only.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// How many characters of a bad recipient an error message repeats.
const RECIPIENT_PREFIX_CHARS: usize = 24;
/// Largest identity file read.
const MAX_IDENTITY_FILE: u64 = 1 << 20;

/// Why recipients were refused (exit 3) or encryption failed (exit 1).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecipientError {
    /// An age recipient could not be parsed.
    #[error("age recipient {position} ({prefix:?}) is not usable: {reason}")]
    BadRecipient {
        /// Its position in the list given, counting from 1.
        position: usize,
        /// The start of the text given (never any of a secret key's text).
        prefix: String,
        /// What is wrong with it and what to pass instead.
        reason: String,
    },
    /// An empty list of recipients was given.
    #[error("no age recipient was given; pass at least one (an age1… public key or an SSH public key line)")]
    NoRecipients,
    /// age could not encrypt.
    #[error("age encryption failed: {0}; check the recipients")]
    Encrypt(String),
}

impl RecipientError {
    /// Whether the caller's input was refused (exit 3) rather than encryption failing.
    pub fn is_input_rejection(&self) -> bool {
        !matches!(self, RecipientError::Encrypt(_))
    }
}

/// Parsed age recipients: native X25519 keys (`age1…`) and SSH public keys (`ssh-ed25519`,
/// `ssh-rsa`).
pub struct Recipients {
    given: Vec<String>,
    keys: Vec<Box<dyn age::Recipient + Send + Sync>>,
}

impl Recipients {
    /// Parses each recipient: an age public key (`age1…`) or an SSH public key line
    /// (`ssh-ed25519 AAAA… comment`, `ssh-rsa AAAA… comment`), with the whitespace around it
    /// ignored. The first bad one is reported by its position; an empty list is refused.
    pub fn parse(list: &[String]) -> Result<Recipients, RecipientError> {
        if list.is_empty() {
            return Err(RecipientError::NoRecipients);
        }
        let mut given = Vec::with_capacity(list.len());
        let mut keys: Vec<Box<dyn age::Recipient + Send + Sync>> = Vec::with_capacity(list.len());
        for (i, raw) in list.iter().enumerate() {
            let text = raw.trim();
            let key = parse_recipient(text).map_err(|reason| RecipientError::BadRecipient {
                position: i + 1,
                prefix: recipient_prefix(text),
                reason,
            })?;
            given.push(text.to_owned());
            keys.push(key);
        }
        Ok(Recipients { given, keys })
    }

    /// The recipients as given (without surrounding whitespace), for the ledger: public
    /// keys, safe to log.
    pub fn describe(&self) -> Vec<String> {
        self.given.clone()
    }

    /// The recipients as given, in order.
    pub fn given(&self) -> &[String] {
        &self.given
    }

    /// An age writer that encrypts what is written to it for these recipients into `output`
    /// (streaming, for inputs too large to hold in memory). Call `finish` on it at the end:
    /// without that the age file is incomplete and will not decrypt.
    pub fn wrap_output<W: Write>(
        &self,
        output: W,
    ) -> Result<age::stream::StreamWriter<W>, RecipientError> {
        age::Encryptor::with_recipients(self.keys.iter().map(|k| k.as_ref() as &dyn age::Recipient))
            .map_err(|e| RecipientError::Encrypt(e.to_string()))?
            .wrap_output(output)
            .map_err(|e| RecipientError::Encrypt(e.to_string()))
    }

    /// `plaintext` encrypted to these recipients, in the age binary format.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, RecipientError> {
        let encryptor = age::Encryptor::with_recipients(
            self.keys.iter().map(|k| k.as_ref() as &dyn age::Recipient),
        )
        .map_err(|e| RecipientError::Encrypt(e.to_string()))?;
        let mut out = Vec::with_capacity(plaintext.len() + 512);
        let mut writer = encryptor
            .wrap_output(&mut out)
            .map_err(|e| RecipientError::Encrypt(e.to_string()))?;
        writer
            .write_all(plaintext)
            .and_then(|()| writer.finish().map(drop))
            .map_err(|e| RecipientError::Encrypt(e.to_string()))?;
        Ok(out)
    }
}

impl Clone for Recipients {
    fn clone(&self) -> Recipients {
        Recipients::parse(&self.given).expect("recipients that parsed once parse again")
    }
}

impl PartialEq for Recipients {
    fn eq(&self, other: &Recipients) -> bool {
        self.given == other.given
    }
}

impl Eq for Recipients {}

impl fmt::Debug for Recipients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Recipients").field(&self.given).finish()
    }
}

fn parse_recipient(text: &str) -> Result<Box<dyn age::Recipient + Send + Sync>, String> {
    if text.is_empty() {
        return Err("it is empty; pass an age public key (age1…) or an SSH public key line (ssh-ed25519 …, ssh-rsa …)".into());
    }
    if text.to_ascii_uppercase().starts_with("AGE-SECRET-KEY-") {
        return Err("this is an age secret key, not a recipient: pass its public key (age-keygen -y KEYFILE) and treat the secret key as exposed".into());
    }
    if text.contains("PRIVATE KEY") {
        return Err("this is a private key, not a recipient: pass the public key (the .pub file) and treat the private key as exposed".into());
    }
    if text.to_ascii_lowercase().starts_with("age1") {
        return text
            .parse::<age::x25519::Recipient>()
            .map(|r| Box::new(r) as Box<dyn age::Recipient + Send + Sync>)
            .map_err(|e| match e {
                "incorrect HRP" => "it is an age plugin recipient (age1NAME1…), which rootvault does not support; use a native age key".to_owned(),
                "incorrect pubkey length" => "the key has the wrong length; copy the whole line age-keygen printed".to_owned(),
                _ => "it is not a valid age public key (its checksum fails: truncated or mistyped); copy the whole line age-keygen printed".to_owned(),
            });
    }
    if text.starts_with("ssh-") || text.starts_with("ecdsa-") || text.starts_with("sk-") {
        use age::ssh::ParseRecipientKeyError as E;
        return text
            .parse::<age::ssh::Recipient>()
            .map(|r| Box::new(r) as Box<dyn age::Recipient + Send + Sync>)
            .map_err(|e| match e {
                E::Unsupported(kind) => format!("SSH keys of type {kind} cannot be age recipients; use an ssh-ed25519 or ssh-rsa key"),
                E::RsaModulusTooSmall => "the ssh-rsa key is shorter than 2048 bits, too weak for age; use an ssh-ed25519 key or a longer ssh-rsa key".to_owned(),
                E::RsaModulusTooLarge => "the ssh-rsa key is larger than age supports; use an ssh-ed25519 key".to_owned(),
                E::Ignore | E::Invalid(_) => "it is not a valid SSH public key line (truncated or mistyped?); copy the whole line of the .pub file".to_owned(),
            });
    }
    Err(
        "it is neither an age public key (age1…) nor an SSH public key line (ssh-ed25519 …, ssh-rsa …); pass the public key the cluster team sent (age-keygen prints it; for SSH, the .pub file)"
            .into(),
    )
}

/// The start of a recipient as given, for error messages; a secret key shows only its kind.
fn recipient_prefix(text: &str) -> String {
    if text.to_ascii_uppercase().starts_with("AGE-SECRET-KEY-") {
        return "AGE-SECRET-KEY-…".into();
    }
    if text.contains("PRIVATE KEY") {
        return "(a private key)".into();
    }
    let mut prefix: String = text.chars().take(RECIPIENT_PREFIX_CHARS).collect();
    if prefix.len() < text.len() {
        prefix.push('…');
    }
    prefix
}

/// Why an identity file cannot be used to decrypt (exit 3).
#[derive(Debug, thiserror::Error)]
#[error("the identity file {} {why}", path.display())]
pub struct IdentityError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub why: IdentityProblem,
}

/// What is wrong with an identity file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityProblem {
    /// It cannot be read.
    #[error("cannot be read: {0}")]
    Unreadable(#[source] std::io::Error),
    /// It is larger than any identity file.
    #[error("is far larger than any identity file")]
    TooLarge,
    /// age refused its identities.
    #[error("is not usable: {0}")]
    Unusable(String),
    /// A passphrase-protected SSH key.
    #[error("is a passphrase-protected SSH key, which rootvault cannot unlock; decrypt a copy on the offline machine (ssh-keygen -p) or use an age identity")]
    Passphrase,
    /// An SSH key age cannot decrypt with.
    #[error("is an SSH key of a type age cannot decrypt with; use an ed25519 or RSA key, or an age identity")]
    UnsupportedSsh,
    /// Neither an age identity nor an SSH private key.
    #[error("holds neither an age identity (AGE-SECRET-KEY-1… lines, as age-keygen writes) nor an unencrypted SSH private key")]
    NotAnIdentity,
}

/// The identities of an age identity file (`AGE-SECRET-KEY-1…` lines, as `age-keygen`
/// writes) or of an unencrypted SSH private key (ed25519 or RSA).
pub struct Identities {
    path: PathBuf,
    keys: Vec<Box<dyn age::Identity>>,
}

impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identities")
            .field("path", &self.path)
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl Identities {
    /// Reads the identities in `path`.
    pub fn read(path: &Path) -> Result<Identities, IdentityError> {
        let fail = |why| IdentityError {
            path: path.to_owned(),
            why,
        };
        let file = std::fs::File::open(path).map_err(|e| fail(IdentityProblem::Unreadable(e)))?;
        let mut text = Zeroizing::new(Vec::new());
        file.take(MAX_IDENTITY_FILE + 1)
            .read_to_end(&mut text)
            .map_err(|e| fail(IdentityProblem::Unreadable(e)))?;
        if text.len() as u64 > MAX_IDENTITY_FILE {
            return Err(fail(IdentityProblem::TooLarge));
        }
        let keep = |keys| Identities {
            path: path.to_owned(),
            keys,
        };
        if let Ok(file) = age::IdentityFile::from_buffer(&text[..]) {
            let identities = file
                .into_identities()
                .map_err(|e| fail(IdentityProblem::Unusable(e.to_string())))?;
            if !identities.is_empty() {
                return Ok(keep(identities));
            }
        }
        match age::ssh::Identity::from_buffer(&text[..], None) {
            Ok(id @ age::ssh::Identity::Unencrypted(_)) => Ok(keep(vec![Box::new(id)])),
            Ok(age::ssh::Identity::Encrypted(_)) => Err(fail(IdentityProblem::Passphrase)),
            Ok(age::ssh::Identity::Unsupported(_)) => Err(fail(IdentityProblem::UnsupportedSsh)),
            Err(_) => Err(fail(IdentityProblem::NotAnIdentity)),
        }
    }

    /// The file they were read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The identities, as age's decryptor takes them.
    pub fn iter(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.keys.iter().map(|i| i.as_ref() as &dyn age::Identity)
    }
}
