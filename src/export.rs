//! Exports: a cluster's signed intermediate in the exact form its software loads, optionally
//! encrypted with age, written so that no half-written output is ever left behind.
//!
//! [`export`] takes the PEMs ([`Material`]) from its caller, which reads them from the ledger
//! and records the returned [`Written::sha256`] there; this module touches neither the ledger
//! nor the token.
//!
//! # Formats
//! | [`Format`] | output | content |
//! |---|---|---|
//! | `istio` | a directory | `ca-cert.pem` (the intermediate), `cert-chain.pem` (the intermediate, then the root, as Istio's own tools write it), `root-cert.pem` (the root), `README.txt` (what to do with them); `ca-key.pem` too when the vault generated the key |
//! | `istio-secret` | one YAML file | a `v1` Secret `cacerts` in `istio-system`, type `Opaque`, with those files as `data` |
//! | `tls-secret` | one YAML file | a `kubernetes.io/tls` Secret `cacerts` in `istio-system` with `tls.crt` (the intermediate, then the root), `tls.key` and `ca.crt` (the root), the names istiod also reads |
//! | `pem-bundle` | one file | the intermediate, then the root (Vault PKI's `intermediate/set-signed`, cert-manager's CA issuer); then the key when the vault generated it |
//!
//! Normally a cluster makes its own intermediate key and it never leaves the cluster, so the
//! export has no key: the Secrets then say in a header comment how the cluster adds it
//! (`istio-secret` lacks `ca-key.pem`; `tls-secret` has `tls.key: ""` because the API server
//! requires the entry in a `kubernetes.io/tls` Secret, and the comment gives the `sed` that
//! fills it in). A key the vault generated ([`Material::key_pem`]) is only ever written
//! encrypted: without recipients the export is refused ([`ExportError::KeyNeedsRecipients`]).
//!
//! Certificates are written in canonical PEM (one block, 64-column base64, `\n` line
//! endings), which is byte for byte what OpenSSL and rcgen write. The key is written as
//! given, without the whitespace around it.
//!
//! # Encryption
//! With [`Recipients`], a one-file export is the age binary format of exactly the bytes the
//! unencrypted export would hold (`age -d -i KEY OUT` gives them back). In an `istio`
//! directory each file `NAME` becomes `NAME.age`, encrypted on its own, except `README.txt`,
//! which stays readable and says how to decrypt.
//!
//! # Writing
//! Everything is rendered and encrypted in memory first, so once writing begins only the
//! file system can fail. An existing output is never replaced unless `force` is given
//! ([`ExportError::OutputExists`]), and a file is never replaced by a directory or the other
//! way round ([`ExportError::OutputKind`]). A file is written to a temporary file in the same
//! directory, synced, and renamed into place. A directory is assembled in a hidden staging
//! directory next to the output (`.NAME.staging-XXXXXX`), synced, and renamed into place in
//! one step; with `force`, the old directory is first renamed aside (`.NAME.old-XXXXXX`), the
//! new one is renamed in, and the old one deleted; should the second rename fail, the old
//! directory is put back. The parent directory is synced after the rename. On any error no
//! staging directory or partial output remains. Written files get mode 0644 and the
//! directory 0755: nothing written is secret in the clear.
//!
//! # Digests
//! [`Written::sha256`] covers the whole export, as written (ciphertext when encrypted):
//! - a single file: the SHA-256 of its bytes (`sha256sum OUT`);
//! - a directory: the SHA-256 of its manifest, one line per file, sorted by name (byte
//!   order), each line the lowercase hex SHA-256 of the file, two spaces, the file name and
//!   `\n`, which is what `sha256sum` prints. So `cd OUT && LC_ALL=C sha256sum -- * | sha256sum`
//!   recomputes it.
//!
//! Plaintext that holds the key lives only in buffers that are zeroed when dropped.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rsa::pkcs8::PrivateKeyInfo;
use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey as ParsedKey;
use zeroize::Zeroizing;

use crate::policy::ClusterName;

/// The command that creates istiod's Secret from the four files of an `istio` export.
pub const KUBECTL_CREATE_CACERTS: &str = "kubectl create secret generic cacerts -n istio-system --from-file=ca-cert.pem --from-file=ca-key.pem --from-file=root-cert.pem --from-file=cert-chain.pem";

/// The command, given in the README of an encrypted `istio` export, that decrypts its files.
pub const AGE_DECRYPT_ALL: &str = r#"for f in *.age; do age -d -i KEY -o "${f%.age}" "$f"; done"#;

/// The extension of an encrypted file in an `istio` directory.
const AGE_SUFFIX: &str = ".age";

/// The name of the file in an `istio` directory that says what to do with the others.
const README: &str = "README.txt";

/// How many characters of a bad recipient an error message repeats.
const RECIPIENT_PREFIX_CHARS: usize = 24;

const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";

/// Why an export was not written. Nothing was written in any case.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A certificate, the key or the cluster name given to [`export`] is not usable.
    #[error("{what} cannot be exported: {reason}")]
    BadInput {
        /// Which input: `the intermediate certificate`, `the root certificate`, `the key`,
        /// `the cluster name`.
        what: &'static str,
        /// What is wrong with it and what to do.
        reason: String,
    },
    /// The export would hold a private key and no age recipient was given.
    #[error("this export holds the intermediate's private key, generated by the vault, and a private key is never written unencrypted; pass the cluster team's age recipient (--age-recipient age1… or an SSH public key)")]
    KeyNeedsRecipients,
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
    /// The output exists and `force` was not given.
    #[error("{} already exists; choose another path or pass --force to replace it", .0.display())]
    OutputExists(PathBuf),
    /// The output exists and is a directory where a file would be written, or the reverse;
    /// `force` does not replace one kind with the other.
    #[error("{} is {found}, but this export is {wanted}; choose another path, or remove it first", .path.display())]
    OutputKind {
        /// The output path.
        path: PathBuf,
        /// What is there: `a directory` or `a file`.
        found: &'static str,
        /// What the format writes: `a directory` or `one file`.
        wanted: &'static str,
    },
    /// The output path does not name a file or directory that could be created.
    #[error("{} cannot be an output path; name the file or directory to create, such as ./cacerts", .0.display())]
    BadOutputPath(PathBuf),
    /// age could not encrypt.
    #[error("age encryption failed: {0}; check the recipients")]
    Encrypt(String),
    /// Reading or writing the file system failed.
    #[error("{context} {}: {source}; check that the directory exists and is writable and that the disk has room", .path.display())]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl ExportError {
    /// Whether this is a refusal of the caller's input (exit code 3): a bad certificate, key,
    /// cluster name or recipient, no recipients, or a key without recipients. The output
    /// already existing and I/O failures are not (exit code 1).
    pub fn is_input_rejection(&self) -> bool {
        matches!(
            self,
            ExportError::BadInput { .. }
                | ExportError::KeyNeedsRecipients
                | ExportError::BadRecipient { .. }
                | ExportError::NoRecipients
        )
    }

    fn io(context: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        ExportError::Io {
            context,
            path: path.into(),
            source,
        }
    }

    fn bad(what: &'static str, reason: impl Into<String>) -> Self {
        ExportError::BadInput {
            what,
            reason: reason.into(),
        }
    }
}

/// The forms an export can take; see the [module documentation](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// A directory of the files istiod loads from its `cacerts` Secret, and a README.
    Istio,
    /// The `cacerts` Secret (type `Opaque`) as one Kubernetes YAML file.
    IstioSecret,
    /// The `cacerts` Secret as a `kubernetes.io/tls` Secret (`tls.crt`, `tls.key`, `ca.crt`).
    TlsSecret,
    /// One PEM file: the intermediate, then the root.
    PemBundle,
}

impl Format {
    /// Every format, in the order the command line lists them.
    pub const ALL: [Format; 4] = [
        Format::Istio,
        Format::IstioSecret,
        Format::TlsSecret,
        Format::PemBundle,
    ];

    /// The name on the command line: `istio`, `istio-secret`, `tls-secret`, `pem-bundle`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Istio => "istio",
            Format::IstioSecret => "istio-secret",
            Format::TlsSecret => "tls-secret",
            Format::PemBundle => "pem-bundle",
        }
    }

    /// Whether the export is a directory (`istio`) rather than one file.
    pub fn is_directory(self) -> bool {
        self == Format::Istio
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = ParseFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| ParseFormatError(s.to_owned()))
    }
}

/// A name that is not one of the [`Format`]s (a usage error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown export format {0:?}; use one of istio, istio-secret, tls-secret, pem-bundle")]
pub struct ParseFormatError(pub String);

/// What is exported: the cluster's intermediate, the root above it, and, only when the vault
/// generated it, the intermediate's key.
#[derive(Clone, Copy)]
pub struct Material<'a> {
    /// The cluster's name, as in the ledger; it appears in the README and comments.
    pub cluster: &'a str,
    /// The cluster's intermediate certificate: one `CERTIFICATE` PEM block.
    pub intermediate_pem: &'a str,
    /// The root certificate that issued it: one `CERTIFICATE` PEM block.
    pub root_pem: &'a str,
    /// The intermediate's private key as one unencrypted PKCS#8 `PRIVATE KEY` PEM block, only
    /// for a key the vault generated (`sign --generate-key`); it is only ever written
    /// encrypted.
    pub key_pem: Option<&'a str>,
}

impl fmt::Debug for Material<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Material")
            .field("cluster", &self.cluster)
            .field("intermediate_pem", &self.intermediate_pem)
            .field("root_pem", &self.root_pem)
            .field("key_pem", &self.key_pem.map(|_| "[private key elided]"))
            .finish()
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
    pub fn parse(list: &[String]) -> Result<Recipients, ExportError> {
        if list.is_empty() {
            return Err(ExportError::NoRecipients);
        }
        let mut given = Vec::with_capacity(list.len());
        let mut keys: Vec<Box<dyn age::Recipient + Send + Sync>> = Vec::with_capacity(list.len());
        for (i, raw) in list.iter().enumerate() {
            let text = raw.trim();
            let key = parse_recipient(text).map_err(|reason| ExportError::BadRecipient {
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

    /// An age writer that encrypts what is written to it for these recipients into `output`
    /// (streaming, for inputs too large to hold in memory). Call `finish` on it at the end:
    /// without that the age file is incomplete and will not decrypt.
    pub(crate) fn wrap_output<W: Write>(
        &self,
        output: W,
    ) -> Result<age::stream::StreamWriter<W>, ExportError> {
        age::Encryptor::with_recipients(self.keys.iter().map(|k| k.as_ref() as &dyn age::Recipient))
            .map_err(|e| ExportError::Encrypt(e.to_string()))?
            .wrap_output(output)
            .map_err(|e| ExportError::Encrypt(e.to_string()))
    }

    fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, ExportError> {
        let encryptor = age::Encryptor::with_recipients(
            self.keys.iter().map(|k| k.as_ref() as &dyn age::Recipient),
        )
        .map_err(|e| ExportError::Encrypt(e.to_string()))?;
        let mut out = Vec::with_capacity(plaintext.len() + 512);
        let mut writer = encryptor
            .wrap_output(&mut out)
            .map_err(|e| ExportError::Encrypt(e.to_string()))?;
        writer
            .write_all(plaintext)
            .and_then(|()| writer.finish().map(drop))
            .map_err(|e| ExportError::Encrypt(e.to_string()))?;
        Ok(out)
    }
}

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

/// One file of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenFile {
    /// Its name: the file name of the output for a one-file export, the name inside the
    /// directory for `istio` (with `.age` when encrypted).
    pub name: String,
    /// The SHA-256 of the bytes written, lowercase hex.
    pub sha256: String,
    /// How many bytes were written.
    pub bytes: usize,
}

/// What [`export`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The output path, as given.
    pub path: PathBuf,
    /// The files written, sorted by name.
    pub files: Vec<WrittenFile>,
    /// The digest of the whole export, lowercase hex: for a file, the SHA-256 of its bytes;
    /// for a directory, the SHA-256 of the manifest, lines `SHA256  NAME\n` sorted by name
    /// (what `LC_ALL=C sha256sum -- *` prints in it). See the [module documentation](self).
    pub sha256: String,
    /// Whether the files (all but `README.txt`) are age-encrypted.
    pub encrypted: bool,
}

/// Renders `material` as `format`, encrypts it to `recipients` when given, and writes it to
/// `out`: a directory for [`Format::Istio`], one file otherwise. An existing `out` is
/// replaced only with `force`. On error nothing was written.
pub fn export(
    format: Format,
    material: &Material,
    recipients: Option<&Recipients>,
    out: &Path,
    force: bool,
) -> Result<Written, ExportError> {
    export_with_receipt(format, material, recipients, None, out, force)
}

/// The name of the ledger receipt inside a directory export.
pub const RECEIPT_FILE: &str = "ledger-receipt.json";

/// [`export`], plus a ledger receipt (public, never encrypted): `ledger-receipt.json` inside a
/// directory export, `OUT.receipt.json` beside a single-file one.
pub fn export_with_receipt(
    format: Format,
    material: &Material,
    recipients: Option<&Recipients>,
    receipt: Option<&str>,
    out: &Path,
    force: bool,
) -> Result<Written, ExportError> {
    let checked = Checked::new(material)?;
    if checked.key.is_some() && recipients.is_none() {
        return Err(ExportError::KeyNeedsRecipients);
    }
    let file_name = out
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ExportError::BadOutputPath(out.to_owned()))?
        .to_owned();
    let existing = existing_kind(out)?;
    match existing {
        Some(_) if !force => return Err(ExportError::OutputExists(out.to_owned())),
        Some(is_dir) if is_dir != format.is_directory() => {
            return Err(ExportError::OutputKind {
                path: out.to_owned(),
                found: if is_dir { "a directory" } else { "a file" },
                wanted: if format.is_directory() {
                    "a directory"
                } else {
                    "one file"
                },
            })
        }
        _ => {}
    }

    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    if format.is_directory() {
        for (name, plain) in render_istio(&checked, recipients) {
            match recipients {
                Some(r) if name != README => {
                    files.push((format!("{name}{AGE_SUFFIX}"), r.encrypt(&plain)?))
                }
                _ => files.push((name, plain.to_vec())),
            }
        }
        if let Some(r) = receipt {
            files.push((RECEIPT_FILE.to_owned(), r.as_bytes().to_vec()));
        }
        files.sort_by(|a, b| a.0.cmp(&b.0));
        write_dir_atomic(out, &file_name, &files, existing.is_some())?;
    } else {
        let plain = render_file(format, &checked);
        let bytes = match recipients {
            Some(r) => r.encrypt(&plain)?,
            None => plain.to_vec(),
        };
        let receipt_path = out.with_file_name(format!("{file_name}.receipt.json"));
        if receipt.is_some() && !force && receipt_path.exists() {
            return Err(ExportError::OutputExists(receipt_path));
        }
        files.push((file_name.clone(), bytes));
        write_file_atomic(out, &file_name, &files[0].1, force)?;
        if let Some(r) = receipt {
            let name = format!("{file_name}.receipt.json");
            if let Err(e) = write_file_atomic(&receipt_path, &name, r.as_bytes(), force) {
                let _ = std::fs::remove_file(out);
                return Err(e);
            }
            files.push((name, r.as_bytes().to_vec()));
        }
    }

    let written: Vec<WrittenFile> = files
        .iter()
        .map(|(name, bytes)| WrittenFile {
            name: name.clone(),
            sha256: hex::encode(Sha256::digest(bytes)),
            bytes: bytes.len(),
        })
        .collect();
    let sha256 = if format.is_directory() {
        hex::encode(Sha256::digest(manifest(&written)))
    } else {
        written[0].sha256.clone()
    };
    Ok(Written {
        path: out.to_owned(),
        files: written,
        sha256,
        encrypted: recipients.is_some(),
    })
}

/// The manifest a directory's digest is taken over: `SHA256  NAME\n` per file, by name.
fn manifest(files: &[WrittenFile]) -> String {
    let mut sorted: Vec<&WrittenFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    sorted
        .iter()
        .map(|f| format!("{}  {}\n", f.sha256, f.name))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Input checks
// ---------------------------------------------------------------------------------------

/// The material, checked: canonical certificate PEMs and the key as written.
struct Checked {
    cluster: String,
    intermediate: String,
    root: String,
    key: Option<Zeroizing<Vec<u8>>>,
}

impl Checked {
    fn new(m: &Material) -> Result<Checked, ExportError> {
        let cluster = m
            .cluster
            .parse::<ClusterName>()
            .map_err(|e| ExportError::bad("the cluster name", e))?;
        let (intermediate, int_der) =
            one_certificate("the intermediate certificate", m.intermediate_pem)?;
        let (root, root_der) = one_certificate("the root certificate", m.root_pem)?;
        let int_cert = parse_certificate("the intermediate certificate", &int_der)?;
        let root_cert = parse_certificate("the root certificate", &root_der)?;
        if int_der == root_der {
            return Err(ExportError::bad(
                "the intermediate certificate",
                "it is the root certificate itself; pass the cluster's intermediate",
            ));
        }
        if int_cert.issuer().as_raw() != root_cert.subject().as_raw()
            || int_cert
                .verify_signature(Some(root_cert.public_key()))
                .is_err()
        {
            return Err(ExportError::bad(
                "the intermediate certificate",
                format!(
                    "it was not issued by the root given (its issuer is {}, the root is {}); pass the root that signed it",
                    int_cert.issuer(),
                    root_cert.subject()
                ),
            ));
        }
        match int_cert.basic_constraints() {
            Ok(Some(bc)) if bc.value.ca => {}
            _ => {
                return Err(ExportError::bad(
                    "the intermediate certificate",
                    "it is not a CA certificate (no basicConstraints CA:TRUE), so istiod would refuse it; pass the cluster's intermediate CA certificate",
                ))
            }
        }
        let key = match m.key_pem {
            None => None,
            Some(text) => Some(check_key(text, &int_cert)?),
        };
        Ok(Checked {
            cluster: cluster.as_str().to_owned(),
            intermediate,
            root,
            key,
        })
    }
}

/// The canonical PEM and the DER of the one `CERTIFICATE` block in `text`.
fn one_certificate(what: &'static str, text: &str) -> Result<(String, Vec<u8>), ExportError> {
    let blocks = pem::parse_many(text).map_err(|e| {
        ExportError::bad(
            what,
            format!("its PEM cannot be decoded ({e}); pass the certificate as the vault wrote it"),
        )
    })?;
    let begins = text.matches("-----BEGIN ").count();
    if blocks.len() != begins {
        return Err(ExportError::bad(
            what,
            "it holds a damaged PEM block; pass the certificate as the vault wrote it",
        ));
    }
    match blocks.as_slice() {
        [] => Err(ExportError::bad(
            what,
            "it holds no PEM block; pass one -----BEGIN CERTIFICATE----- block",
        )),
        [one] if one.tag() == "CERTIFICATE" => {
            let der = one.contents().to_vec();
            let canonical = pem::encode_config(
                &pem::Pem::new("CERTIFICATE", der.clone()),
                pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
            );
            Ok((canonical, der))
        }
        [one] => Err(ExportError::bad(
            what,
            format!(
                "it is a {} block, not a CERTIFICATE; pass one -----BEGIN CERTIFICATE----- block",
                one.tag()
            ),
        )),
        many => Err(ExportError::bad(
            what,
            format!(
                "it holds {} PEM blocks; pass exactly one CERTIFICATE block",
                many.len()
            ),
        )),
    }
}

fn parse_certificate<'a>(
    what: &'static str,
    der: &'a [u8],
) -> Result<X509Certificate<'a>, ExportError> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err(ExportError::bad(
            what,
            "the certificate has trailing bytes; pass the certificate as the vault wrote it",
        )),
        Err(e) => Err(ExportError::bad(
            what,
            format!("it is not a well-formed X.509 certificate ({e}); pass the certificate as the vault wrote it"),
        )),
    }
}

/// Checks that `text` is one unencrypted PKCS#8 key that belongs to `cert`, and returns the
/// bytes to write: the block without surrounding whitespace, and a final newline.
fn check_key(text: &str, cert: &X509Certificate) -> Result<Zeroizing<Vec<u8>>, ExportError> {
    const WHAT: &str = "the key";
    const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
    const END: &str = "-----END PRIVATE KEY-----";
    let trimmed = text.trim();
    if trimmed.matches("-----BEGIN ").count() > 1 {
        return Err(ExportError::bad(
            WHAT,
            "it holds more than one PEM block; pass exactly one PRIVATE KEY block",
        ));
    }
    if !trimmed.starts_with(BEGIN) || !trimmed.ends_with(END) {
        let reason = if trimmed.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            "it is encrypted, and istiod needs it unencrypted (the export encrypts it with age); pass the unencrypted PKCS#8 key"
        } else if trimmed.starts_with("-----BEGIN EC PRIVATE KEY-----")
            || trimmed.starts_with("-----BEGIN RSA PRIVATE KEY-----")
        {
            "it is in the older SEC1/PKCS#1 form; pass it as PKCS#8 (-----BEGIN PRIVATE KEY-----, openssl pkcs8 -topk8 -nocrypt)"
        } else {
            "it is not one -----BEGIN PRIVATE KEY----- (PKCS#8) PEM block with nothing around it"
        };
        return Err(ExportError::bad(WHAT, reason));
    }
    let body = &trimmed[BEGIN.len()..trimmed.len() - END.len()];
    let mut b64 = Zeroizing::new(String::with_capacity(body.len()));
    b64.extend(body.chars().filter(|c| !c.is_ascii_whitespace()));
    let mut der = Zeroizing::new(Vec::with_capacity(b64.len().div_ceil(4) * 3 + 3));
    STANDARD.decode_vec(b64.as_bytes(), &mut der).map_err(|_| {
        ExportError::bad(
            WHAT,
            "its base64 is damaged; pass the key as it was generated",
        )
    })?;
    key_matches(&der, cert)?;
    let mut out = Zeroizing::new(Vec::with_capacity(trimmed.len() + 1));
    out.extend_from_slice(trimmed.as_bytes());
    out.push(b'\n');
    Ok(out)
}

/// Checks that the PKCS#8 key `der` holds the public key of `cert`, by comparing the public
/// parts the key carries: an RSA key's modulus and exponent, an EC key's curve and point.
fn key_matches(der: &[u8], cert: &X509Certificate) -> Result<(), ExportError> {
    const WHAT: &str = "the key";
    let info = PrivateKeyInfo::try_from(der).map_err(|e| {
        ExportError::bad(WHAT, format!("it is not a well-formed PKCS#8 private key ({e}); pass the key as it was generated"))
    })?;
    let spki = cert.public_key();
    let mismatch = || {
        ExportError::bad(
            WHAT,
            "it does not belong to the intermediate certificate (their public keys differ), so istiod would refuse both; pass the key the certificate was issued for",
        )
    };
    let key_alg = info.algorithm.oid.to_string();
    if key_alg != spki.algorithm.algorithm.to_id_string() {
        return Err(mismatch());
    }
    match key_alg.as_str() {
        OID_RSA_ENCRYPTION => {
            let key = rsa::pkcs1::RsaPrivateKey::try_from(info.private_key).map_err(|e| {
                ExportError::bad(
                    WHAT,
                    format!("its RSA key is malformed ({e}); pass the key as it was generated"),
                )
            })?;
            let Ok(ParsedKey::RSA(public)) = spki.parsed() else {
                return Err(mismatch());
            };
            let same = strip_zeros(key.modulus.as_bytes()) == strip_zeros(public.modulus)
                && strip_zeros(key.public_exponent.as_bytes()) == strip_zeros(public.exponent);
            if same {
                Ok(())
            } else {
                Err(mismatch())
            }
        }
        OID_EC_PUBLIC_KEY => {
            let curve = info.algorithm.parameters_oid().map_err(|_| {
                ExportError::bad(
                    WHAT,
                    "its EC key names no curve; pass the key as it was generated",
                )
            })?;
            let cert_curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            if cert_curve.as_deref() != Some(curve.to_string().as_str()) {
                return Err(mismatch());
            }
            let point = ec_public_point(info.private_key)
                .map_err(|reason| ExportError::bad(WHAT, reason))?;
            if point.as_slice() == spki.subject_public_key.data.as_ref() {
                Ok(())
            } else {
                Err(mismatch())
            }
        }
        other => Err(ExportError::bad(
            WHAT,
            format!("its algorithm {other} is not RSA or ECDSA, which istiod needs"),
        )),
    }
}

/// The public point an RFC 5915 `ECPrivateKey` carries in its optional `publicKey` field.
fn ec_public_point(ec_private_key: &[u8]) -> Result<Vec<u8>, String> {
    let parsed = yasna::parse_der(ec_private_key, |r| {
        r.read_sequence(|r| {
            let _version = r.next().read_u8()?;
            let _secret = Zeroizing::new(r.next().read_bytes()?);
            let _params =
                r.read_optional(|r| r.read_tagged(yasna::Tag::context(0), |r| r.read_der()))?;
            r.read_optional(|r| r.read_tagged(yasna::Tag::context(1), |r| r.read_bitvec_bytes()))
        })
    });
    match parsed {
        Ok(Some((point, _bits))) => Ok(point),
        Ok(None) => Err("the EC key does not carry its public key, so it cannot be checked against the certificate; re-encode it with openssl pkey, which adds it".into()),
        Err(_) => Err("its EC key is malformed; pass the key as it was generated".into()),
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

// ---------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------

/// A byte buffer for plaintext that may hold the key: growing it copies into a new zeroizing
/// buffer, so no copy is left behind in freed memory.
struct SecretBuf(Zeroizing<Vec<u8>>);

impl SecretBuf {
    fn new() -> Self {
        SecretBuf(Zeroizing::new(Vec::with_capacity(4096)))
    }

    fn reserve(&mut self, more: usize) {
        let needed = self.0.len() + more;
        if needed > self.0.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(needed.max(2 * self.0.capacity())));
            bigger.extend_from_slice(&self.0);
            self.0 = bigger;
        }
    }

    fn push(&mut self, bytes: &[u8]) -> &mut Self {
        self.reserve(bytes.len());
        self.0.extend_from_slice(bytes);
        self
    }

    fn push_str(&mut self, s: &str) -> &mut Self {
        self.push(s.as_bytes())
    }

    /// Appends `bytes` in base64, encoded in place.
    fn push_base64(&mut self, bytes: &[u8]) -> &mut Self {
        let n = base64::encoded_len(bytes.len(), true).expect("an export is far below usize::MAX");
        self.reserve(n);
        let start = self.0.len();
        self.0.resize(start + n, 0);
        let written = STANDARD
            .encode_slice(bytes, &mut self.0[start..])
            .expect("the slice is sized by encoded_len");
        debug_assert_eq!(written, n);
        self
    }

    fn into_inner(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

impl Checked {
    fn chain(&self) -> SecretBuf {
        let mut b = SecretBuf::new();
        b.push_str(&self.intermediate).push_str(&self.root);
        b
    }
}

/// The plaintext of a one-file export.
fn render_file(format: Format, c: &Checked) -> Zeroizing<Vec<u8>> {
    match format {
        Format::IstioSecret => render_istio_secret(c),
        Format::TlsSecret => render_tls_secret(c),
        Format::PemBundle => {
            let mut b = c.chain();
            if let Some(key) = &c.key {
                b.push(key);
            }
            b.into_inner()
        }
        Format::Istio => unreachable!("istio is a directory"),
    }
}

fn secret_head(b: &mut SecretBuf, kind: &str) {
    b.push_str("apiVersion: v1\nkind: Secret\nmetadata:\n  name: cacerts\n  namespace: istio-system\ntype: ")
        .push_str(kind)
        .push_str("\ndata:\n");
}

fn data_entry(b: &mut SecretBuf, name: &str, value: &[u8]) {
    b.push_str("  ")
        .push_str(name)
        .push_str(": ")
        .push_base64(value)
        .push_str("\n");
}

fn render_istio_secret(c: &Checked) -> Zeroizing<Vec<u8>> {
    let mut b = SecretBuf::new();
    b.push_str(&format!(
        "# Istio plug-in CA certificates (the cacerts Secret) for cluster {}, exported by rootvault.\n",
        c.cluster
    ));
    match &c.key {
        Some(_) => b.push_str(
            "# ca-key.pem is the intermediate's private key, generated by the vault; the vault kept no\n\
             # copy. Apply this file with kubectl apply -f, then delete the decrypted copy.\n",
        ),
        None => b.push_str(
            "# ca-key.pem is missing: it is the cluster's own intermediate key, which never left the\n\
             # cluster, and istiod needs it. Add it when applying, from the directory that holds\n\
             # ca-key.pem (cacerts.yaml being this file; GNU base64):\n\
             #   { cat cacerts.yaml; printf '  ca-key.pem: %s\\n' \"$(base64 -w0 ca-key.pem)\"; } | kubectl apply -f -\n",
        ),
    };
    secret_head(&mut b, "Opaque");
    data_entry(&mut b, "ca-cert.pem", c.intermediate.as_bytes());
    if let Some(key) = &c.key {
        data_entry(&mut b, "ca-key.pem", key);
    }
    data_entry(&mut b, "cert-chain.pem", &c.chain().into_inner());
    data_entry(&mut b, "root-cert.pem", c.root.as_bytes());
    b.into_inner()
}

fn render_tls_secret(c: &Checked) -> Zeroizing<Vec<u8>> {
    let mut b = SecretBuf::new();
    b.push_str(&format!(
        "# Istio plug-in CA certificates (the cacerts Secret, kubernetes.io/tls form) for cluster {},\n\
         # exported by rootvault. tls.crt is the intermediate then the root, ca.crt the root.\n",
        c.cluster
    ));
    match &c.key {
        Some(_) => b.push_str(
            "# tls.key is the intermediate's private key, generated by the vault; the vault kept no\n\
             # copy. Apply this file with kubectl apply -f, then delete the decrypted copy.\n",
        ),
        None => b.push_str(
            "# tls.key is empty: it must hold the cluster's own intermediate key, which never left the\n\
             # cluster (a kubernetes.io/tls Secret must have the entry, and istiod needs the key).\n\
             # Fill it in when applying, from the directory that holds the key (cacerts.yaml being\n\
             # this file; GNU base64):\n\
             #   sed \"s|^  tls.key: \\\"\\\"$|  tls.key: $(base64 -w0 ca-key.pem)|\" cacerts.yaml | kubectl apply -f -\n",
        ),
    };
    secret_head(&mut b, "kubernetes.io/tls");
    data_entry(&mut b, "ca.crt", c.root.as_bytes());
    data_entry(&mut b, "tls.crt", &c.chain().into_inner());
    match &c.key {
        Some(key) => data_entry(&mut b, "tls.key", key),
        None => {
            b.push_str("  tls.key: \"\"\n");
        }
    }
    b.into_inner()
}

/// The plaintext files of an `istio` directory, by name.
fn render_istio(c: &Checked, recipients: Option<&Recipients>) -> Vec<(String, Zeroizing<Vec<u8>>)> {
    let plain = |s: &str| Zeroizing::new(s.as_bytes().to_vec());
    let mut files = vec![
        ("ca-cert.pem".to_owned(), plain(&c.intermediate)),
        ("cert-chain.pem".to_owned(), c.chain().into_inner()),
        ("root-cert.pem".to_owned(), plain(&c.root)),
    ];
    if let Some(key) = &c.key {
        files.push(("ca-key.pem".to_owned(), key.clone()));
    }
    files.push((README.to_owned(), plain(&readme(c, recipients))));
    files
}

fn readme(c: &Checked, recipients: Option<&Recipients>) -> String {
    let age = if recipients.is_some() { AGE_SUFFIX } else { "" };
    let mut r = format!(
        "Istio plug-in CA certificates (the cacerts Secret) for cluster {cluster}, exported by rootvault.\n\
         \n\
         ca-cert.pem{age}     the cluster's intermediate CA certificate, signed by the root\n\
         cert-chain.pem{age}  the intermediate, then the root\n\
         root-cert.pem{age}   the root certificate, the mesh's trust anchor\n",
        cluster = c.cluster
    );
    if c.key.is_some() {
        r.push_str(&format!(
            "ca-key.pem{age}      the intermediate's private key\n\
             \n\
             ca-key.pem was generated by the vault (rootvault sign --generate-key), because this\n\
             cluster did not make its own key and request. It exists only in this encrypted\n\
             export: the vault kept no copy. Keep the decrypted ca-key.pem only until the Secret\n\
             is created, then delete it.\n"
        ));
    } else {
        r.push_str(
            "\n\
             ca-key.pem is not here: it is the cluster's own intermediate key, made inside the\n\
             cluster together with the certificate signing request, and it never left the\n\
             cluster. Put these files beside it.\n",
        );
    }
    if let Some(recipients) = recipients {
        r.push_str(&format!(
            "\n\
             The .age files are encrypted with age. Decrypt them here with the identity of one of\n\
             the recipients below (an age key file from age-keygen, or an SSH private key such as\n\
             ~/.ssh/id_ed25519) in place of KEY:\n\
             \n  {AGE_DECRYPT_ALL}\n\
             \n\
             Recipients:\n"
        ));
        for given in &recipients.given {
            r.push_str(&format!("  {given}\n"));
        }
    }
    r.push_str(&format!(
        "\n\
         Check the files, then create the Secret istiod loads, in the directory holding all four:\n\
         \n  openssl verify -x509_strict -CAfile root-cert.pem -untrusted cert-chain.pem ca-cert.pem\n\
         \x20 diff <(openssl pkey -in ca-key.pem -pubout) <(openssl x509 -in ca-cert.pem -pubkey -noout)\n\
         \x20 {KUBECTL_CREATE_CACERTS}\n\
         \n\
         If the Secret exists already, add --dry-run=client -o yaml | kubectl apply -f - to the\n\
         last command to replace it. Then restart istiod so that it loads the new certificates:\n\
         \n  kubectl rollout restart deployment/istiod -n istio-system\n"
    ));
    r
}

// ---------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------

/// Whether `path` exists, and if so whether it is a directory (following a symbolic link).
fn existing_kind(path: &Path) -> Result<Option<bool>, ExportError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(Some(path.is_dir())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ExportError::io("cannot look at", path, e)),
    }
}

fn parent_dir(out: &Path) -> PathBuf {
    match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn sync_dir(dir: &Path) -> Result<(), ExportError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| ExportError::io("cannot sync directory", dir, e))
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// Writes one file: a temporary file in the same directory, synced, renamed into place (over
/// an existing file only with `force`), then the directory synced.
fn write_file_atomic(out: &Path, name: &str, bytes: &[u8], force: bool) -> Result<(), ExportError> {
    let dir = parent_dir(out);
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.staging-"))
        .tempfile_in(&dir)
        .map_err(|e| ExportError::io("cannot create a temporary file in", &dir, e))?;
    set_mode(tmp.path(), 0o644)
        .and_then(|()| checkpoint("write"))
        .and_then(|()| tmp.write_all(bytes))
        .and_then(|()| tmp.as_file().sync_all())
        .and_then(|()| checkpoint("rename"))
        .map_err(|e| ExportError::io("cannot write", tmp.path().to_owned(), e))?;
    if force {
        tmp.persist(out)
            .map_err(|e| ExportError::io("cannot write", out, e.error))?;
    } else {
        tmp.persist_noclobber(out).map_err(|e| {
            if e.error.kind() == io::ErrorKind::AlreadyExists {
                ExportError::OutputExists(out.to_owned())
            } else {
                ExportError::io("cannot write", out, e.error)
            }
        })?;
    }
    sync_dir(&dir)
}

/// Writes a directory: assembled in a hidden staging directory next to `out`, synced, and
/// renamed into place; an existing `out` (only passed in with `force`) is renamed aside
/// first and deleted after, or put back if the new one cannot be renamed in.
fn write_dir_atomic(
    out: &Path,
    name: &str,
    files: &[(String, Vec<u8>)],
    replace: bool,
) -> Result<(), ExportError> {
    let parent = parent_dir(out);
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.staging-"))
        .tempdir_in(&parent)
        .map_err(|e| ExportError::io("cannot create a staging directory in", &parent, e))?;
    set_mode(staging.path(), 0o755)
        .map_err(|e| ExportError::io("cannot set the mode of", staging.path(), e))?;
    for (file, bytes) in files {
        let path = staging.path().join(file);
        checkpoint("write")
            .and_then(|()| {
                let mut f = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)?;
                f.write_all(bytes)?;
                f.sync_all()
            })
            .and_then(|()| set_mode(&path, 0o644))
            .map_err(|e| ExportError::io("cannot write", &path, e))?;
    }
    sync_dir(staging.path())?;

    if !replace {
        checkpoint("rename")
            .and_then(|()| fs::rename(staging.path(), out))
            .map_err(|e| match e.kind() {
                io::ErrorKind::AlreadyExists | io::ErrorKind::DirectoryNotEmpty => {
                    ExportError::OutputExists(out.to_owned())
                }
                _ => ExportError::io("cannot rename the staging directory to", out, e),
            })?;
        let _ = staging.keep();
        return sync_dir(&parent);
    }

    // An empty directory that the old output is renamed onto; dropping it deletes the old
    // output.
    let aside = tempfile::Builder::new()
        .prefix(&format!(".{name}.old-"))
        .tempdir_in(&parent)
        .map_err(|e| ExportError::io("cannot create a directory in", &parent, e))?;
    fs::rename(out, aside.path())
        .map_err(|e| ExportError::io("cannot move aside the existing", out, e))?;
    if let Err(e) = checkpoint("rename").and_then(|()| fs::rename(staging.path(), out)) {
        if let Err(back) = fs::rename(aside.path(), out) {
            // Keep the old export where it is rather than delete it; say where it is.
            let kept = aside.keep();
            return Err(ExportError::io(
                "cannot rename the staging directory into place, nor the old export back from",
                kept,
                io::Error::new(back.kind(), format!("{e}; then {back}")),
            ));
        }
        return Err(ExportError::io(
            "cannot rename the staging directory to",
            out,
            e,
        ));
    }
    let _ = staging.keep();
    sync_dir(&parent)?;
    // The export is in place; failing to delete the old one leaves a hidden directory but
    // does not undo it.
    let _ = aside.close();
    Ok(())
}

#[cfg(test)]
thread_local! {
    /// A failure to inject: at the n-th (from 0) checkpoint of this name.
    static FAIL_AT: std::cell::Cell<Option<(&'static str, u32)>> = const { std::cell::Cell::new(None) };
}

/// A point where tests can make writing fail; does nothing outside tests.
fn checkpoint(point: &'static str) -> io::Result<()> {
    if point == "rename" {
        crate::fault::point("file.before_rename");
    }
    #[cfg(test)]
    {
        if let Some((name, n)) = FAIL_AT.with(|f| f.get()) {
            if name == point {
                if n == 0 {
                    FAIL_AT.with(|f| f.set(None));
                    return Err(io::Error::other(format!("injected failure at {point}")));
                }
                FAIL_AT.with(|f| f.set(Some((name, n - 1))));
            }
        }
    }
    let _ = point;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    /// Runs a shell command in `dir`, panicking with its output if it fails; returns stdout.
    fn sh(dir: &Path, script: &str) -> String {
        let out = Command::new("bash")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "{script}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A root, an intermediate signed by it, and keys, made with the openssl CLI.
    struct Pki {
        dir: tempfile::TempDir,
        root: String,
        intermediate: String,
        /// The intermediate's key (PKCS#8, as for a vault-generated key).
        key: String,
        /// Another EC P-256 key (PKCS#8) that does not match the intermediate.
        other_key: String,
    }

    impl Pki {
        fn new() -> Pki {
            let dir = tempfile::tempdir().unwrap();
            sh(
                dir.path(),
                r#"set -e
                cat > ext.cnf <<'EOF'
[int]
basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always
EOF
                openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes \
                    -keyout root.key -out root.pem -subj "/O=Test/CN=Test Root" -days 30 \
                    -addext "basicConstraints=critical,CA:TRUE" \
                    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
                openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out int.key
                openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key
                openssl req -new -key int.key -subj "/O=Istio/CN=Intermediate CA/L=c1" -out int.csr
                openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -days 10 \
                    -extfile ext.cnf -extensions int -out int.pem 2>/dev/null
                "#,
            );
            let read = |n: &str| fs::read_to_string(dir.path().join(n)).unwrap();
            Pki {
                root: read("root.pem"),
                intermediate: read("int.pem"),
                key: read("int.key"),
                other_key: read("other.key"),
                dir,
            }
        }

        fn path(&self) -> &Path {
            self.dir.path()
        }

        fn material(&self, with_key: bool) -> Material<'_> {
            Material {
                cluster: "c1",
                intermediate_pem: &self.intermediate,
                root_pem: &self.root,
                key_pem: with_key.then_some(self.key.as_str()),
            }
        }

        /// An age identity in `name`, and its recipient.
        fn age_identity(&self, name: &str) -> String {
            sh(
                self.path(),
                &format!("age-keygen -o {name} 2>/dev/null && age-keygen -y {name}"),
            )
            .trim()
            .to_owned()
        }

        /// An SSH ed25519 key in `name`, and its public key line.
        fn ssh_identity(&self, name: &str) -> String {
            sh(
                self.path(),
                &format!("ssh-keygen -q -t ed25519 -N '' -C 'team@c1' -f {name} && cat {name}.pub"),
            )
            .trim()
            .to_owned()
        }

        fn decrypt(&self, identity: &str, file: &Path) -> Vec<u8> {
            let out = Command::new("age")
                .arg("-d")
                .arg("-i")
                .arg(self.path().join(identity))
                .arg(file)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    /// The Secret at `path`, parsed by PyYAML, as JSON.
    fn yaml(path: &Path) -> serde_json::Value {
        let out = Command::new("python3")
            .arg("-c")
            .arg("import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))")
            .arg(path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn data(secret: &serde_json::Value, key: &str) -> String {
        let v = secret["data"][key]
            .as_str()
            .unwrap_or_else(|| panic!("no data.{key}"));
        String::from_utf8(STANDARD.decode(v).unwrap()).unwrap()
    }

    fn data_keys(secret: &serde_json::Value) -> Vec<String> {
        let mut keys: Vec<String> = secret["data"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    }

    fn assert_secret_head(secret: &serde_json::Value, kind: &str) {
        assert_eq!(secret["apiVersion"], "v1");
        assert_eq!(secret["kind"], "Secret");
        assert_eq!(secret["metadata"]["name"], "cacerts");
        assert_eq!(secret["metadata"]["namespace"], "istio-system");
        assert_eq!(secret["type"], kind);
        assert_eq!(secret["metadata"].as_object().unwrap().len(), 2);
    }

    fn recipients(list: &[&str]) -> Recipients {
        Recipients::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn format_names_round_trip_and_unknown_names_are_refused() {
        for f in Format::ALL {
            assert_eq!(f.to_string().parse::<Format>().unwrap(), f);
        }
        let names: Vec<String> = Format::ALL.iter().map(|f| f.to_string()).collect();
        assert_eq!(names, ["istio", "istio-secret", "tls-secret", "pem-bundle"]);
        let e = "istio_secret".parse::<Format>().unwrap_err();
        assert!(e.to_string().contains("istio-secret"), "{e}");
    }

    #[test]
    fn istio_directory_holds_the_three_pems_and_a_readme_and_verifies_with_openssl() {
        let pki = Pki::new();
        let out = pki.path().join("cacerts");
        let w = export(Format::Istio, &pki.material(false), None, &out, false).unwrap();
        assert_eq!(
            names(&out),
            [
                "README.txt",
                "ca-cert.pem",
                "cert-chain.pem",
                "root-cert.pem"
            ]
        );
        let read = |n: &str| fs::read_to_string(out.join(n)).unwrap();
        assert_eq!(read("ca-cert.pem"), pki.intermediate);
        assert_eq!(read("root-cert.pem"), pki.root);
        assert_eq!(
            read("cert-chain.pem"),
            format!("{}{}", pki.intermediate, pki.root)
        );
        let verified = sh(
            &out,
            "openssl verify -x509_strict -CAfile root-cert.pem -untrusted cert-chain.pem ca-cert.pem",
        );
        assert_eq!(verified.trim(), "ca-cert.pem: OK");
        let readme = read("README.txt");
        assert!(
            readme.contains(&format!("\n  {KUBECTL_CREATE_CACERTS}\n")),
            "{readme}"
        );
        assert!(readme.contains(
            "kubectl create secret generic cacerts -n istio-system --from-file=ca-cert.pem --from-file=ca-key.pem --from-file=root-cert.pem --from-file=cert-chain.pem"
        ));
        assert!(readme.contains("never left the\ncluster"), "{readme}");
        assert!(readme.contains("cluster c1"));
        assert!(!readme.contains("age"), "{readme}");
        assert!(!w.encrypted);
        // Nothing but the output next to it: no staging directory.
        assert!(names(pki.path()).iter().all(|n| !n.starts_with('.')));
    }

    #[test]
    fn a_directory_digest_is_the_sha256_of_the_sorted_sha256sum_manifest() {
        let pki = Pki::new();
        let out = pki.path().join("cacerts");
        let w = export(Format::Istio, &pki.material(false), None, &out, false).unwrap();
        let names: Vec<&str> = w.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "README.txt",
                "ca-cert.pem",
                "cert-chain.pem",
                "root-cert.pem"
            ]
        );
        for f in &w.files {
            let bytes = fs::read(out.join(&f.name)).unwrap();
            assert_eq!(f.bytes, bytes.len());
            assert_eq!(f.sha256, hex::encode(Sha256::digest(&bytes)));
        }
        let by_shell = sh(&out, "LC_ALL=C sha256sum -- * | sha256sum");
        assert_eq!(by_shell.split_whitespace().next().unwrap(), w.sha256);

        let file = pki.path().join("bundle.pem");
        let w = export(Format::PemBundle, &pki.material(false), None, &file, false).unwrap();
        let by_shell = sh(pki.path(), "sha256sum bundle.pem");
        assert_eq!(by_shell.split_whitespace().next().unwrap(), w.sha256);
        assert_eq!(w.files.len(), 1);
        assert_eq!(w.files[0].name, "bundle.pem");
        assert_eq!(w.files[0].sha256, w.sha256);
    }

    #[test]
    fn istio_secret_parses_as_yaml_and_its_data_decodes_to_the_input_pems() {
        let pki = Pki::new();
        let out = pki.path().join("cacerts.yaml");
        export(Format::IstioSecret, &pki.material(false), None, &out, false).unwrap();
        let text = fs::read_to_string(&out).unwrap();
        assert!(text.starts_with("# "), "{text}");
        assert!(text.contains("ca-key.pem is missing"), "{text}");
        let secret = yaml(&out);
        assert_secret_head(&secret, "Opaque");
        assert_eq!(
            data_keys(&secret),
            ["ca-cert.pem", "cert-chain.pem", "root-cert.pem"]
        );
        assert_eq!(data(&secret, "ca-cert.pem"), pki.intermediate);
        assert_eq!(data(&secret, "root-cert.pem"), pki.root);
        assert_eq!(
            data(&secret, "cert-chain.pem"),
            format!("{}{}", pki.intermediate, pki.root)
        );

        // The command in the comment adds the cluster's key and gives a complete Secret.
        sh(pki.path(), "cp int.key ca-key.pem");
        let command = text
            .lines()
            .find_map(|l| l.strip_prefix("#   "))
            .expect("a command in the comment");
        let completed = sh(
            pki.path(),
            &command.replace("| kubectl apply -f -", "> completed.yaml"),
        );
        assert!(completed.is_empty());
        let secret = yaml(&pki.path().join("completed.yaml"));
        assert_eq!(
            data_keys(&secret),
            [
                "ca-cert.pem",
                "ca-key.pem",
                "cert-chain.pem",
                "root-cert.pem"
            ]
        );
        assert_eq!(data(&secret, "ca-key.pem"), pki.key);
    }

    #[test]
    fn tls_secret_parses_as_yaml_with_an_empty_key_that_its_comment_fills_in() {
        let pki = Pki::new();
        let out = pki.path().join("cacerts.yaml");
        export(Format::TlsSecret, &pki.material(false), None, &out, false).unwrap();
        let text = fs::read_to_string(&out).unwrap();
        assert!(text.contains("tls.key is empty"), "{text}");
        let secret = yaml(&out);
        assert_secret_head(&secret, "kubernetes.io/tls");
        assert_eq!(data_keys(&secret), ["ca.crt", "tls.crt", "tls.key"]);
        assert_eq!(
            data(&secret, "tls.crt"),
            format!("{}{}", pki.intermediate, pki.root)
        );
        assert_eq!(data(&secret, "ca.crt"), pki.root);
        assert_eq!(secret["data"]["tls.key"], "");

        sh(pki.path(), "cp int.key ca-key.pem");
        let command = text.lines().find_map(|l| l.strip_prefix("#   ")).unwrap();
        sh(
            pki.path(),
            &command.replace("| kubectl apply -f -", "> completed.yaml"),
        );
        let secret = yaml(&pki.path().join("completed.yaml"));
        assert_eq!(data(&secret, "tls.key"), pki.key);
        assert_eq!(
            data(&secret, "tls.crt"),
            format!("{}{}", pki.intermediate, pki.root)
        );
    }

    #[test]
    fn pem_bundle_is_the_intermediate_then_the_root() {
        let pki = Pki::new();
        let out = pki.path().join("bundle.pem");
        export(Format::PemBundle, &pki.material(false), None, &out, false).unwrap();
        assert_eq!(
            fs::read_to_string(&out).unwrap(),
            format!("{}{}", pki.intermediate, pki.root)
        );
        let verified = sh(
            pki.path(),
            "openssl verify -x509_strict -CAfile root.pem -untrusted bundle.pem int.pem",
        );
        assert_eq!(verified.trim(), "int.pem: OK");
    }

    #[test]
    fn every_encrypted_export_decrypts_with_the_age_cli_to_the_plaintext_export() {
        let pki = Pki::new();
        let age_recipient = pki.age_identity("key.txt");
        let r = recipients(&[&age_recipient]);
        for format in Format::ALL {
            let plain = pki.path().join(format!("plain-{format}"));
            let sealed = pki.path().join(format!("sealed-{format}"));
            export(format, &pki.material(false), None, &plain, false).unwrap();
            let w = export(format, &pki.material(false), Some(&r), &sealed, false).unwrap();
            assert!(w.encrypted);
            if format.is_directory() {
                assert_eq!(
                    names(&sealed),
                    [
                        "README.txt",
                        "ca-cert.pem.age",
                        "cert-chain.pem.age",
                        "root-cert.pem.age"
                    ]
                );
                for name in ["ca-cert.pem", "cert-chain.pem", "root-cert.pem"] {
                    let file = sealed.join(format!("{name}.age"));
                    let bytes = fs::read(&file).unwrap();
                    assert!(bytes.starts_with(b"age-encryption.org/v1\n"));
                    assert!(!String::from_utf8_lossy(&bytes).contains("-----BEGIN"));
                    assert_eq!(
                        pki.decrypt("key.txt", &file),
                        fs::read(plain.join(name)).unwrap()
                    );
                }
                let readme = fs::read_to_string(sealed.join("README.txt")).unwrap();
                assert!(readme.contains(AGE_DECRYPT_ALL), "{readme}");
                assert!(readme.contains(&age_recipient), "{readme}");
                // The README's loop decrypts every file in place.
                sh(&sealed, &AGE_DECRYPT_ALL.replace("KEY", "../key.txt"));
                for name in ["ca-cert.pem", "cert-chain.pem", "root-cert.pem"] {
                    assert_eq!(
                        fs::read(sealed.join(name)).unwrap(),
                        fs::read(plain.join(name)).unwrap()
                    );
                }
            } else {
                let bytes = fs::read(&sealed).unwrap();
                assert!(!String::from_utf8_lossy(&bytes).contains("-----BEGIN"));
                assert!(!String::from_utf8_lossy(&bytes).contains("apiVersion"));
                assert_eq!(pki.decrypt("key.txt", &sealed), fs::read(&plain).unwrap());
            }
        }
    }

    #[test]
    fn an_ssh_ed25519_recipient_decrypts_with_age_and_the_ssh_private_key() {
        let pki = Pki::new();
        let ssh = pki.ssh_identity("id_ed25519");
        let age_recipient = pki.age_identity("key.txt");
        let r = recipients(&[&ssh, &age_recipient]);
        assert_eq!(r.describe(), [ssh.clone(), age_recipient]);
        let out = pki.path().join("bundle.pem.age");
        export(
            Format::PemBundle,
            &pki.material(true),
            Some(&r),
            &out,
            false,
        )
        .unwrap();
        let expected = format!("{}{}{}", pki.intermediate, pki.root, pki.key);
        assert_eq!(pki.decrypt("id_ed25519", &out), expected.as_bytes());
        assert_eq!(pki.decrypt("key.txt", &out), expected.as_bytes());
    }

    #[test]
    fn a_vault_generated_key_is_exported_encrypted_and_matches_the_intermediate() {
        let pki = Pki::new();
        let r = recipients(&[&pki.age_identity("key.txt")]);
        let m = pki.material(true);

        let out = pki.path().join("cacerts");
        export(Format::Istio, &m, Some(&r), &out, false).unwrap();
        assert_eq!(
            names(&out),
            [
                "README.txt",
                "ca-cert.pem.age",
                "ca-key.pem.age",
                "cert-chain.pem.age",
                "root-cert.pem.age"
            ]
        );
        let key = fs::read(out.join("ca-key.pem.age")).unwrap();
        assert!(!String::from_utf8_lossy(&key).contains("PRIVATE KEY"));
        let readme = fs::read_to_string(out.join("README.txt")).unwrap();
        assert!(readme.contains("generated by the vault"), "{readme}");
        sh(&out, &AGE_DECRYPT_ALL.replace("KEY", "../key.txt"));
        assert_eq!(fs::read_to_string(out.join("ca-key.pem")).unwrap(), pki.key);
        let same = sh(
            &out,
            "cmp <(openssl pkey -in ca-key.pem -pubout) <(openssl x509 -in ca-cert.pem -pubkey -noout) && echo same",
        );
        assert_eq!(same.trim(), "same");
        sh(
            &out,
            "openssl verify -x509_strict -CAfile root-cert.pem -untrusted cert-chain.pem ca-cert.pem",
        );

        for (format, key_entry) in [
            (Format::IstioSecret, "ca-key.pem"),
            (Format::TlsSecret, "tls.key"),
        ] {
            let sealed = pki.path().join(format!("{format}.age"));
            export(format, &m, Some(&r), &sealed, false).unwrap();
            let plain = pki.path().join(format!("{format}.yaml"));
            fs::write(&plain, pki.decrypt("key.txt", &sealed)).unwrap();
            // What was encrypted is exactly what would be rendered.
            let checked = Checked::new(&m).unwrap();
            assert_eq!(
                fs::read(&plain).unwrap(),
                render_file(format, &checked).to_vec()
            );
            let secret = yaml(&plain);
            assert_eq!(data(&secret, key_entry), pki.key);
        }
        let secret = yaml(&pki.path().join("istio-secret.yaml"));
        assert_eq!(
            data_keys(&secret),
            [
                "ca-cert.pem",
                "ca-key.pem",
                "cert-chain.pem",
                "root-cert.pem"
            ]
        );
        assert_eq!(
            data(&secret, "cert-chain.pem"),
            format!("{}{}", pki.intermediate, pki.root)
        );
    }

    #[test]
    fn a_key_without_recipients_is_refused_and_nothing_is_written() {
        let pki = Pki::new();
        let before = names(pki.path());
        for format in Format::ALL {
            let out = pki.path().join(format!("out-{format}"));
            let e = export(format, &pki.material(true), None, &out, false).unwrap_err();
            assert!(matches!(e, ExportError::KeyNeedsRecipients), "{e}");
            assert!(e.is_input_rejection());
            assert!(e.to_string().contains("--age-recipient"), "{e}");
        }
        assert_eq!(names(pki.path()), before);
    }

    #[test]
    fn bad_recipients_are_refused_by_position_without_echoing_secrets() {
        let pki = Pki::new();
        let good = pki.age_identity("key.txt");
        let secret = sh(pki.path(), "grep AGE-SECRET-KEY key.txt")
            .trim()
            .to_owned();
        let parse = |list: &[&str]| {
            Recipients::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap_err()
        };
        let cases: [(&[&str], usize, &str); 7] = [
            (&[&good, "garbage"], 2, "neither an age public key"),
            (&[&good[..good.len() - 5]], 1, "checksum"),
            (&[&good, &good, &secret], 3, "age secret key"),
            (&["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGarbage"], 1, "SSH public key"),
            (&["age1yubikey1qwt50d05nh5vutpdzmlg5wn80xq5negm4uj9ghv0snvdd3yysf5yw3rhl3t"], 1, "plugin"),
            (&["  "], 1, "empty"),
            (
                &["ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg="],
                1,
                "ssh-ed25519 or ssh-rsa",
            ),
        ];
        for (list, position, why) in cases {
            let e = parse(list);
            match &e {
                ExportError::BadRecipient {
                    position: p,
                    prefix,
                    reason,
                } => {
                    assert_eq!(*p, position, "{e}");
                    assert!(reason.contains(why), "{e}");
                    assert!(prefix.chars().count() <= RECIPIENT_PREFIX_CHARS + 1);
                }
                other => panic!("{other}"),
            }
            assert!(e.is_input_rejection());
            assert!(!e.to_string().contains(&secret[16..]), "{e}");
        }
        let e = Recipients::parse(&[]).unwrap_err();
        assert!(matches!(e, ExportError::NoRecipients) && e.is_input_rejection());
        // Parsing happens before export is called, so nothing was written.
        assert!(!names(pki.path())
            .iter()
            .any(|n| n.starts_with("out") || n.starts_with('.')));
    }

    #[test]
    fn an_existing_output_is_refused_untouched_and_force_replaces_it() {
        let pki = Pki::new();
        for format in Format::ALL {
            let out = pki.path().join(format!("out-{format}"));
            if format.is_directory() {
                fs::create_dir(&out).unwrap();
                fs::write(out.join("old.txt"), "old").unwrap();
            } else {
                fs::write(&out, "old").unwrap();
            }
            let e = export(format, &pki.material(false), None, &out, false).unwrap_err();
            assert!(matches!(e, ExportError::OutputExists(_)), "{e}");
            assert!(!e.is_input_rejection());
            assert!(e.to_string().contains("--force"), "{e}");
            if format.is_directory() {
                assert_eq!(names(&out), ["old.txt"]);
            } else {
                assert_eq!(fs::read_to_string(&out).unwrap(), "old");
            }

            let w = export(format, &pki.material(false), None, &out, true).unwrap();
            if format.is_directory() {
                assert_eq!(
                    names(&out),
                    [
                        "README.txt",
                        "ca-cert.pem",
                        "cert-chain.pem",
                        "root-cert.pem"
                    ]
                );
            } else {
                assert_eq!(
                    w.sha256,
                    hex::encode(Sha256::digest(fs::read(&out).unwrap()))
                );
            }
        }
        // No staging or old directories are left next to the outputs.
        assert!(
            names(pki.path()).iter().all(|n| !n.starts_with('.')),
            "{:?}",
            names(pki.path())
        );
    }

    #[test]
    fn a_file_is_never_replaced_by_a_directory_or_the_reverse() {
        let pki = Pki::new();
        let dir = pki.path().join("a-dir");
        fs::create_dir(&dir).unwrap();
        let e = export(Format::PemBundle, &pki.material(false), None, &dir, true).unwrap_err();
        assert!(matches!(e, ExportError::OutputKind { .. }), "{e}");
        let file = pki.path().join("a-file");
        fs::write(&file, "x").unwrap();
        let e = export(Format::Istio, &pki.material(false), None, &file, true).unwrap_err();
        assert!(matches!(e, ExportError::OutputKind { .. }), "{e}");
        assert_eq!(fs::read_to_string(&file).unwrap(), "x");
        assert!(names(&dir).is_empty());
        let e = export(
            Format::PemBundle,
            &pki.material(false),
            None,
            Path::new("/"),
            true,
        )
        .unwrap_err();
        assert!(matches!(e, ExportError::BadOutputPath(_)), "{e}");
    }

    #[test]
    fn a_failure_while_writing_leaves_no_staging_behind_and_keeps_the_old_output() {
        let pki = Pki::new();
        let r = recipients(&[&pki.age_identity("key.txt")]);
        let before = names(pki.path());
        let out = pki.path().join("cacerts");
        let file = pki.path().join("cacerts.yaml");
        // A new output: failing on the third file or at the rename leaves nothing.
        for fail in [("write", 2), ("rename", 0)] {
            FAIL_AT.with(|f| f.set(Some(fail)));
            let e = export(Format::Istio, &pki.material(true), Some(&r), &out, false).unwrap_err();
            assert!(
                matches!(e, ExportError::Io { .. }) && !e.is_input_rejection(),
                "{e}"
            );
            assert_eq!(names(pki.path()), before, "{fail:?}");
            FAIL_AT.with(|f| f.set(Some((fail.0, 0))));
            let e =
                export(Format::TlsSecret, &pki.material(false), None, &file, false).unwrap_err();
            assert!(matches!(e, ExportError::Io { .. }), "{e}");
            assert_eq!(names(pki.path()), before, "{fail:?}");
        }
        // Replacing with force: the old output stays as it was.
        export(Format::Istio, &pki.material(false), None, &out, false).unwrap();
        export(Format::TlsSecret, &pki.material(false), None, &file, false).unwrap();
        let old_dir: Vec<Vec<u8>> = names(&out)
            .iter()
            .map(|n| fs::read(out.join(n)).unwrap())
            .collect();
        let old_file = fs::read(&file).unwrap();
        let after = names(pki.path());
        for fail in [("write", 1), ("rename", 0)] {
            FAIL_AT.with(|f| f.set(Some(fail)));
            export(Format::Istio, &pki.material(true), Some(&r), &out, true).unwrap_err();
            FAIL_AT.with(|f| f.set(Some((fail.0, 0))));
            export(
                Format::TlsSecret,
                &pki.material(true),
                Some(&r),
                &file,
                true,
            )
            .unwrap_err();
            assert_eq!(names(pki.path()), after, "{fail:?}");
            let now: Vec<Vec<u8>> = names(&out)
                .iter()
                .map(|n| fs::read(out.join(n)).unwrap())
                .collect();
            assert_eq!(now, old_dir);
            assert_eq!(fs::read(&file).unwrap(), old_file);
        }
        FAIL_AT.with(|f| f.set(None));
    }

    #[test]
    fn inputs_that_are_not_one_certificate_or_a_matching_pkcs8_key_are_refused() {
        let pki = Pki::new();
        let csr = fs::read_to_string(pki.path().join("int.csr")).unwrap();
        let sec1 = sh(pki.path(), "openssl ec -in int.key 2>/dev/null");
        let two = format!("{}{}", pki.intermediate, pki.root);
        let base = pki.material(false);
        let cases: Vec<(Material, &str, &str)> = vec![
            (
                Material {
                    intermediate_pem: &two,
                    ..base
                },
                "intermediate",
                "2 PEM blocks",
            ),
            (
                Material {
                    intermediate_pem: &csr,
                    ..base
                },
                "intermediate",
                "CERTIFICATE REQUEST",
            ),
            (
                Material {
                    intermediate_pem: "",
                    ..base
                },
                "intermediate",
                "no PEM block",
            ),
            (
                Material {
                    root_pem: &pki.key,
                    ..base
                },
                "root",
                "PRIVATE KEY block",
            ),
            (
                Material {
                    intermediate_pem: &pki.root,
                    ..base
                },
                "intermediate",
                "root certificate itself",
            ),
            (
                Material {
                    intermediate_pem: &pki.root,
                    root_pem: &pki.intermediate,
                    ..base
                },
                "intermediate",
                "not issued by the root",
            ),
            (
                Material {
                    key_pem: Some(&pki.other_key),
                    ..base
                },
                "key",
                "does not belong",
            ),
            (
                Material {
                    key_pem: Some(&sec1),
                    ..base
                },
                "key",
                "PKCS#8",
            ),
            (
                Material {
                    key_pem: Some(&pki.intermediate),
                    ..base
                },
                "key",
                "PRIVATE KEY",
            ),
            (
                Material {
                    cluster: "Bad Name",
                    ..base
                },
                "cluster name",
                "DNS labels",
            ),
        ];
        let r = recipients(&[&pki.age_identity("key.txt")]);
        let before = names(pki.path());
        for (m, what, why) in cases {
            let e = export(
                Format::PemBundle,
                &m,
                Some(&r),
                &pki.path().join("out"),
                false,
            )
            .unwrap_err();
            match &e {
                ExportError::BadInput { what: w, reason } => {
                    assert!(w.contains(what), "{e}");
                    assert!(reason.contains(why), "{e}");
                }
                other => panic!("{other}"),
            }
            assert!(e.is_input_rejection());
        }
        assert_eq!(names(pki.path()), before);
        // Text around a block and CRLF line endings are accepted; the output is canonical.
        let noisy = format!(
            "subject=O=Istio\r\n{}",
            pki.intermediate.replace('\n', "\r\n")
        );
        let out = pki.path().join("canonical.pem");
        export(
            Format::PemBundle,
            &Material {
                intermediate_pem: &noisy,
                ..base
            },
            None,
            &out,
            false,
        )
        .unwrap();
        assert_eq!(
            fs::read_to_string(&out).unwrap(),
            format!("{}{}", pki.intermediate, pki.root)
        );
    }

    #[test]
    fn an_rsa_key_is_checked_against_the_intermediate_by_modulus_and_exponent() {
        let pki = Pki::new();
        sh(
            pki.path(),
            r#"set -e
            openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key 2>/dev/null
            openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa-other.key 2>/dev/null
            openssl req -new -key rsa.key -subj "/O=Istio/CN=Intermediate CA/L=c1" -out rsa.csr
            openssl x509 -req -in rsa.csr -CA root.pem -CAkey root.key -days 10 \
                -extfile ext.cnf -extensions int -out rsa.pem 2>/dev/null
            "#,
        );
        let read = |n: &str| fs::read_to_string(pki.path().join(n)).unwrap();
        let (cert, key, other) = (read("rsa.pem"), read("rsa.key"), read("rsa-other.key"));
        let r = recipients(&[&pki.age_identity("key.txt")]);
        let m = Material {
            intermediate_pem: &cert,
            key_pem: Some(&key),
            ..pki.material(false)
        };
        let out = pki.path().join("rsa-bundle.age");
        export(Format::PemBundle, &m, Some(&r), &out, false).unwrap();
        let expected = format!("{cert}{}{key}", pki.root);
        assert_eq!(pki.decrypt("key.txt", &out), expected.as_bytes());
        for wrong in [other.as_str(), pki.key.as_str()] {
            let m = Material {
                key_pem: Some(wrong),
                ..m
            };
            let e = export(
                Format::PemBundle,
                &m,
                Some(&r),
                &pki.path().join("x"),
                false,
            )
            .unwrap_err();
            assert!(e.to_string().contains("does not belong"), "{e}");
        }
    }

    #[test]
    fn material_debug_never_shows_the_key() {
        let pki = Pki::new();
        let shown = format!("{:?}", pki.material(true));
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
        assert!(shown.contains("elided"));
    }
}
