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
//! | `istio` | a directory | `ca-cert.pem` (the intermediate), `cert-chain.pem` (the intermediate, then its chain up to and including its root, as Istio's own tools write it), `root-cert.pem` (the trust bundle: every root of the current phase, docs/rotation.md), `README.txt` (what to do with them); `ca-key.pem` too when the vault generated the key |
//! | `istio-secret` | one YAML file | a `v1` Secret `cacerts` in `istio-system`, type `Opaque`, with those files as `data` |
//! | `tls-secret` | one YAML file | a `kubernetes.io/tls` Secret `cacerts` in `istio-system` with `tls.crt` (the intermediate, then its chain), `tls.key` and `ca.crt` (the trust bundle), the names istiod also reads |
//! | `pem-bundle` | one file | the intermediate, then its chain up to its root (Vault PKI's `intermediate/set-signed`, cert-manager's CA issuer); then the key when the vault generated it |
//!
//! Normally a cluster makes its own intermediate key and it never leaves the cluster, so the
//! export has no key: the Secrets then say in a header comment how the cluster adds it
//! (`istio-secret` lacks `ca-key.pem`; `tls-secret` has `tls.key: ""` because the API server
//! requires the entry in a `kubernetes.io/tls` Secret, and the comment gives the `sed` that
//! fills it in). A key the vault generated ([`Material::key_pem`]) is only ever written
//! encrypted: without recipients the export is refused ([`ExportError::KeyNeedsRecipients`]).
//!
//! The code is split by concern: `render` turns checked material into names and bytes (pure),
//! [`crate::x509::material`] checks the certificates and key, [`crate::recipients`] parses
//! age recipients, and [`crate::fsio`] writes; this module puts them together.
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
//! ([`crate::fsio::FsError::OutputExists`]), and a file is never replaced by a directory or the other
//! way round ([`crate::fsio::FsError::OutputKind`]). A file is written to a temporary file in the same
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
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::fsio::{self, FsError, ReservedDir, ReservedFile};
use crate::recipients::{RecipientError, Recipients};
use crate::x509::material::Checked;
pub use crate::x509::material::{Material, MaterialError};

mod render;
#[cfg(test)]
mod tests;

/// The command that creates istiod's Secret from the four files of an `istio` export.
pub const KUBECTL_CREATE_CACERTS: &str = "kubectl create secret generic cacerts -n istio-system --from-file=ca-cert.pem --from-file=ca-key.pem --from-file=root-cert.pem --from-file=cert-chain.pem";

/// The command, given in the README of an encrypted `istio` export, that decrypts its files.
pub const AGE_DECRYPT_ALL: &str = r#"for f in *.age; do age -d -i KEY -o "${f%.age}" "$f"; done"#;

/// The extension of an encrypted file in an `istio` directory.
const AGE_SUFFIX: &str = ".age";

/// The name of the file in an `istio` directory that says what to do with the others.
const README: &str = "README.txt";

/// Why an export was not written. Nothing was written in any case.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A certificate, the key or the cluster name given to [`export`] is not usable.
    #[error(transparent)]
    BadInput(#[from] MaterialError),
    /// The export would hold a private key and no age recipient was given.
    #[error("this export holds the intermediate's private key, generated by the vault, and a private key is never written unencrypted; pass the cluster team's age recipient (--age-recipient age1… or an SSH public key)")]
    KeyNeedsRecipients,
    /// The recipients were refused, or age could not encrypt.
    #[error(transparent)]
    Recipients(#[from] RecipientError),
    /// Writing the output failed, or it exists.
    #[error(transparent)]
    Fs(#[from] FsError),
}

impl ExportError {
    /// Whether this is a refusal of the caller's input (exit code 3): a bad certificate, key,
    /// cluster name or recipient, no recipients, or a key without recipients. The output
    /// already existing and I/O failures are not (exit code 1).
    pub fn is_input_rejection(&self) -> bool {
        match self {
            ExportError::BadInput(_) | ExportError::KeyNeedsRecipients => true,
            ExportError::Recipients(e) => e.is_input_rejection(),
            ExportError::Fs(_) => false,
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
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    if format.is_directory() {
        // Everything is rendered and encrypted first: once writing starts, only the file
        // system can fail.
        for (name, plain) in render::render_istio(&checked, recipients) {
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
        ReservedDir::reserve(out, force)?.commit(
            &files,
            fsio::PUBLIC_FILE_MODE,
            fsio::PUBLIC_DIR_MODE,
        )?;
    } else {
        let plain = render::render_file(format, &checked);
        let bytes = match recipients {
            Some(r) => r.encrypt(&plain)?,
            None => plain.to_vec(),
        };
        let file = ReservedFile::reserve(out, force, 0)?.with_mode(fsio::PUBLIC_FILE_MODE)?;
        let file_name = file_name(out);
        let receipt_file = receipt
            .map(|r| {
                let path = out.with_file_name(format!("{file_name}.receipt.json"));
                let reserved =
                    ReservedFile::reserve(&path, force, 0)?.with_mode(fsio::PUBLIC_FILE_MODE)?;
                Ok::<_, FsError>((reserved, r))
            })
            .transpose()?;
        files.push((file_name.clone(), bytes));
        match receipt_file {
            None => file.commit(&files[0].1)?,
            Some((reserved, r)) => {
                fsio::commit_all(vec![(file, &files[0].1[..]), (reserved, r.as_bytes())])?;
                files.push((format!("{file_name}.receipt.json"), r.as_bytes().to_vec()));
            }
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

/// The file name of an output that [`ReservedFile::reserve`] accepted.
fn file_name(out: &Path) -> String {
    out.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
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
