//! The command line as clap parses it, and the one fallible step that turns it into the
//! modes the dispatcher runs: values become domain types while parsing (`Dn`, `KeyType`,
//! `ClusterName`, `Format`, `RevocationReason`), and flags that choose a mode become an enum,
//! so no arm of the dispatcher relies on clap having checked a combination.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use rootvault::ceremony;
use rootvault::export::Format;
use rootvault::keys::{KeyAlg, KeyType};
use rootvault::policy::{ClusterName, TrustDomain};
use rootvault::witness::WitnessName;
use rootvault::x509::{Dn, RevocationReason};

/// An offline root CA for service meshes, with its key on a PKCS#11 token.
#[derive(Debug, Parser)]
#[command(
    name = "rootvault",
    about,
    max_term_width = 100,
    disable_version_flag = true
)]
pub struct Cli {
    /// Print the version, the git commit it was built from and the SHA-256 of this binary.
    #[arg(long, short = 'V')]
    pub version: bool,
    /// The vault directory.
    #[arg(
        long,
        global = true,
        env = "ROOTVAULT_DIR",
        default_value = "./vault",
        value_name = "DIR"
    )]
    pub vault: PathBuf,
    /// Read the user PIN from the first line of FILE (else ROOTVAULT_PIN, else a prompt).
    #[arg(long, global = true, value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
    /// The operator recorded in the ledger (default: the login name).
    #[arg(long, global = true, value_name = "NAME")]
    pub operator: Option<String>,
    /// Print one JSON document on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Without a command, on a terminal, the ceremony TUI starts.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a vault bound to an existing, initialised token.
    Init {
        /// Path of the PKCS#11 module.
        #[arg(long, value_name = "PATH")]
        module: PathBuf,
        /// The token's label, or an RFC 7512 pkcs11: URI.
        #[arg(long, value_name = "LABEL|URI")]
        token: String,
        /// The mesh's SPIFFE trust domain: every intermediate is name-constrained to it (URIs
        /// in it only, no IP or email addresses) unless a cluster's policy says otherwise.
        #[arg(long, value_name = "TD", default_value = rootvault::policy::DEFAULT_TRUST_DOMAIN, value_parser = parse_trust_domain)]
        trust_domain: TrustDomain,
    },
    /// Show the token and the vault's key objects on it.
    Token {
        #[command(subcommand)]
        check: Option<TokenCommand>,
    },
    /// Check CSRs before signing.
    #[command(subcommand)]
    Csr(CsrCommand),
    /// Sign a cluster's CSR as its intermediate CA, after confirmation.
    ///
    /// With --generate-key (for clusters that cannot make a CSR), the vault generates the
    /// intermediate key in memory instead and writes it only inside an age-encrypted export.
    Sign(SignArgs),
    /// Revoke an intermediate by serial, or every valid one of a cluster.
    Revoke {
        /// The certificate's serial (hex).
        #[arg(
            long,
            value_name = "HEX",
            conflicts_with = "cluster",
            required_unless_present = "cluster"
        )]
        serial: Option<String>,
        /// Revoke every unrevoked certificate of this cluster.
        #[arg(long, value_name = "NAME", value_parser = parse_cluster)]
        cluster: Option<ClusterName>,
        /// RFC 5280 reason: keyCompromise, cACompromise, affiliationChanged, superseded,
        /// cessationOfOperation, privilegeWithdrawn, unspecified.
        #[arg(long, value_name = "REASON", value_parser = parse_reason)]
        reason: RevocationReason,
        /// Confirm without a prompt: at least 16 hex digits of the serial (or, for several
        /// certificates, of the SHA-256 of their sorted serials, one per line).
        #[arg(long, value_name = "HEX")]
        confirm: Option<String>,
        #[command(flatten)]
        witness: WitnessArgs,
    },
    /// Issue the next CRL of a root generation, signed by its key.
    Crl {
        /// The root generation whose CRL this is (default: the active one); each generation
        /// numbers its own CRLs.
        #[arg(long, value_name = "N")]
        generation: Option<u32>,
        /// Days until nextUpdate (1 to 365).
        #[arg(long, value_name = "N", default_value_t = ceremony::DEFAULT_CRL_DAYS, value_parser = clap::value_parser!(u32).range(1..=365))]
        days: u32,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Export a cluster's current intermediate in the form its software loads.
    Export {
        /// The cluster.
        #[arg(long, value_name = "NAME", value_parser = parse_cluster)]
        cluster: ClusterName,
        /// istio (directory), istio-secret, tls-secret or pem-bundle.
        #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
        format: Format,
        /// Where to write (a directory for istio).
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
        /// Encrypt to this age recipient (age1… or an SSH public key); repeatable.
        #[arg(long = "age-recipient", value_name = "R")]
        age_recipients: Vec<String>,
        /// Replace PATH if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Write an age-encrypted backup of the vault: its configuration and a consistent
    /// snapshot of its ledger (never a private key: those stay on the token).
    Backup {
        /// The backup file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Encrypt to this age recipient (age1… or an SSH public key); repeatable.
        #[arg(long = "age-recipient", value_name = "R", required = true)]
        age_recipients: Vec<String>,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Restore a backup into a new vault directory (--vault DIR, which must not exist); the
    /// restored ledger is verified before it is kept.
    Restore {
        /// The backup file.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// An age identity file (as age-keygen writes) or an unencrypted SSH private key.
        #[arg(long, value_name = "KEYFILE")]
        identity: PathBuf,
    },
    /// Sign many clusters in one ceremony: every line of MANIFEST (`cluster  spki-sha256
    /// csr-path`) is checked before any is signed; one confirmation of the manifest's SHA-256.
    SignBatch {
        /// The manifest.
        manifest: PathBuf,
        /// Validity in days for every certificate (default and maximum from the policy).
        #[arg(long, value_name = "N")]
        days: Option<u32>,
        /// Confirm without a prompt: at least 16 hex digits of the manifest's SHA-256.
        #[arg(long, value_name = "HEX")]
        confirm: Option<String>,
        /// Directory for the certificates, one CLUSTER.pem each (created if missing; existing
        /// files are never overwritten).
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
        /// Sign lines whose key already has a valid certificate for another cluster (or is
        /// another line's key); each is shown in the confirmation. A key revoked for
        /// keyCompromise or cACompromise is refused anyway.
        #[arg(long)]
        allow_key_reuse: bool,
        #[command(flatten)]
        witness: WitnessArgs,
    },
    /// List issued intermediate certificates with their status.
    List {
        /// Only this cluster's.
        #[arg(long, value_name = "NAME", value_parser = parse_cluster)]
        cluster: Option<ClusterName>,
    },
    /// Create and inspect the root.
    #[command(subcommand)]
    Root(RootCommand),
    /// Register witnesses and require them for every trust-changing action.
    #[command(subcommand)]
    Witness(WitnessCommand),
    /// Check and read the ledger.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// A complete ceremony on a throwaway SoftHSM2 token: root, two clusters, revocation,
    /// CRL, exports in every format, each output checked.
    Demo {
        /// Where to put the demo (a new or empty directory; default: a new temporary one).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// The ceremony terminal UI over the same vault (also `rootvault` alone, on a terminal).
    Tui,
    /// Print a shell completion script on stdout (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout.
    Man,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The CSR, PEM or DER (not with --generate-key).
    #[arg(
        required_unless_present = "generate_key",
        conflicts_with = "generate_key"
    )]
    pub file: Option<PathBuf>,
    /// The cluster the intermediate is for (a DNS label).
    #[arg(long, value_name = "NAME", value_parser = parse_cluster)]
    pub cluster: ClusterName,
    /// Validity in days (default and maximum from the vault's policy).
    #[arg(long, value_name = "N")]
    pub days: Option<u32>,
    /// Confirm without a prompt: at least 16 hex digits of the CSR's SPKI SHA-256 (with
    /// --generate-key: of the SHA-256 of the sorted recipients, one per line).
    #[arg(long, value_name = "HEX")]
    pub confirm: Option<String>,
    /// Sign even if the CSR's key already has a valid certificate for another cluster; the
    /// confirmation shows it. A key revoked for keyCompromise or cACompromise is refused
    /// anyway.
    #[arg(long, conflicts_with = "generate_key")]
    pub allow_key_reuse: bool,
    /// Generate the cluster's key in the vault instead of reading a CSR.
    #[arg(long, requires_all = ["key_type", "age_recipients", "out"])]
    pub generate_key: bool,
    /// With --generate-key: ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072 or rsa-4096.
    #[arg(long, value_name = "TYPE", value_parser = parse_key_alg, requires = "generate_key")]
    pub key_type: Option<KeyAlg>,
    /// With --generate-key: the age recipient(s) the key is encrypted to; repeatable.
    #[arg(long = "age-recipient", value_name = "R", requires = "generate_key")]
    pub age_recipients: Vec<String>,
    /// With --generate-key: the export format holding key and chain.
    #[arg(long, value_name = "FORMAT", value_parser = parse_format, default_value = "istio-secret", requires = "generate_key")]
    pub format: Format,
    #[command(flatten)]
    pub out: OutArgs,
    #[command(flatten)]
    pub witness: WitnessArgs,
}

#[derive(Debug, Subcommand)]
pub enum WitnessCommand {
    /// Register a witness's SSH public key (ed25519, ecdsa-sha2-nistp256/384, rsa >= 3072
    /// bits), after confirming its fingerprint.
    Add {
        /// The witness's name (names their signature files).
        #[arg(value_parser = parse_witness_name)]
        name: WitnessName,
        /// The witness's public key file (`ssh-keygen` wrote it as KEY.pub).
        #[arg(long, value_name = "FILE.pub")]
        ssh_key: PathBuf,
        /// Confirm without a prompt: at least 16 characters of the key's fingerprint as
        /// `ssh-keygen -l -E sha256 -f FILE.pub` prints it, without `SHA256:`.
        #[arg(long, value_name = "FPR")]
        confirm: Option<String>,
        #[command(flatten)]
        witness: WitnessArgs,
    },
    /// The registered witnesses and how many each trust-changing action needs.
    List,
    /// Remove a witness.
    Remove {
        /// The witness's name.
        #[arg(value_parser = parse_witness_name)]
        name: WitnessName,
        #[command(flatten)]
        witness: WitnessArgs,
    },
    /// From now on every trust-changing action needs M distinct registered witnesses (0:
    /// none).
    Require {
        /// M.
        required: u32,
        #[command(flatten)]
        witness: WitnessArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Approve the PKCS#11 module vault.toml names (after it was updated on purpose): its
    /// path and SHA-256 are recorded, and from then on it is loaded. Check the SHA-256 shown
    /// against its publisher's before confirming.
    ApproveModule {
        /// Confirm without a prompt: at least 16 hex digits of the module's SHA-256.
        #[arg(long, value_name = "HEX")]
        confirm: Option<String>,
        #[command(flatten)]
        witness: WitnessArgs,
    },
    /// Before a ceremony (no vault needed): what this module can do for a vault. Generates
    /// and signs with throwaway keys of every key type, reads back their protection, tries a
    /// private data object, and removes everything it made. Exit 0 when the token can host a
    /// vault, 3 when not, naming what is missing.
    Check(super::token_check::CheckArgs),
}

#[derive(Debug, Subcommand)]
pub enum CsrCommand {
    /// What would be signed for FILE, and the policy verdict (exit 0 acceptable, 3 not).
    Inspect {
        /// The CSR, PEM or DER.
        file: PathBuf,
        /// The cluster to judge it for (default: the file name, if it is a valid cluster name).
        #[arg(long, value_name = "NAME", value_parser = parse_cluster)]
        cluster: Option<ClusterName>,
        /// Validity in days to judge.
        #[arg(long, value_name = "N")]
        days: Option<u32>,
        /// Judge as `sign --allow-key-reuse` would.
        #[arg(long)]
        allow_key_reuse: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RootCommand {
    /// Generate the root key on the token and self-sign the root certificate.
    Create(RootCreateArgs),
    /// Describe the root and every root generation.
    Show,
    /// Print (or write) a root certificate, the trust bundle, or a cross-certificate, as PEM.
    Cert(RootCertArgs),
    /// Rotate: a new root key and self-signed root (the next generation) on the token, and a
    /// cross-certificate of it signed by the active root; the new root becomes active, the
    /// old one trusted. Re-export every cluster afterwards (docs/rotation.md).
    Rotate(RootRotateArgs),
    /// Retire a trusted generation: it leaves every trust bundle and signs only its own CRLs.
    /// Refused while a valid intermediate it issued remains.
    Retire {
        /// The generation to retire.
        #[arg(long, value_name = "N")]
        generation: u32,
        /// Confirm without a prompt: at least 16 hex digits of its certificate's SHA-256.
        #[arg(long, value_name = "HEX")]
        confirm: Option<String>,
        #[command(flatten)]
        witness: WitnessArgs,
    },
    /// Destroy a retired generation's key on the token (it can never sign again, not even a
    /// CRL); recorded in the ledger.
    DestroyKey {
        /// The retired generation.
        #[arg(long, value_name = "N")]
        generation: u32,
        /// Confirm without a prompt: at least 16 hex digits of the key's SPKI SHA-256.
        #[arg(long, value_name = "HEX")]
        confirm: Option<String>,
        #[command(flatten)]
        witness: WitnessArgs,
    },
    /// For a vault under an enterprise root: a new root key on the token (a pending
    /// generation) and a certificate request for it, signed on the token.
    Csr(RootCsrArgs),
    /// Import the certificate the enterprise root issued for the pending key, with its chain;
    /// the pending generation becomes active (the one before it trusted).
    Import {
        /// The certificate (PEM or DER; a PEM file may hold its chain after it).
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
        /// Its chain: the certificates from its issuer up to and including the enterprise's
        /// self-signed root, PEM.
        #[arg(long, value_name = "FILE")]
        chain: Option<PathBuf>,
        /// Confirm without a prompt: at least 16 hex digits of the certificate's SHA-256.
        #[arg(long, value_name = "HEX")]
        confirm: Option<String>,
        #[command(flatten)]
        witness: WitnessArgs,
    },
}

#[derive(Debug, Args)]
pub struct RootCertArgs {
    /// This generation's certificate (default: the active one).
    #[arg(long, value_name = "N")]
    pub generation: Option<u32>,
    /// The trust bundle: every active and trusted root (a subordinate's enterprise anchor),
    /// active first.
    #[arg(long, conflicts_with = "cross")]
    pub bundle: bool,
    /// The cross-certificate of --generation N (its key certified by generation N-1).
    #[arg(long, requires = "generation")]
    pub cross: bool,
    #[command(flatten)]
    pub out: OutArgs,
}

#[derive(Debug, Args)]
pub struct RootRotateArgs {
    /// The new root's subject.
    #[arg(long, value_name = "DN", value_parser = parse_dn)]
    pub subject: Dn,
    /// Key type generated on the token for the new root.
    #[arg(long, value_name = "TYPE", default_value = "ecdsa-p384", value_parser = parse_key_type)]
    pub key_type: KeyType,
    /// Validity of the new root in days.
    #[arg(long, value_name = "N", default_value_t = ceremony::DEFAULT_ROOT_DAYS, value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub days: u32,
    /// basicConstraints pathLenConstraint of the new root (default: none).
    #[arg(long, value_name = "N")]
    pub path_len: Option<u8>,
    /// CKA_LABEL of the new key pair (default: rootvault-root-gN).
    #[arg(long, value_name = "LABEL")]
    pub key_label: Option<String>,
    /// Confirm without a prompt: at least 16 hex digits of the active root certificate's
    /// SHA-256.
    #[arg(long, value_name = "HEX")]
    pub confirm: Option<String>,
    #[command(flatten)]
    pub witness: WitnessArgs,
}

#[derive(Debug, Args)]
pub struct RootCsrArgs {
    /// The subject to request.
    #[arg(long, value_name = "DN", value_parser = parse_dn)]
    pub subject: Dn,
    /// Key type generated on the token.
    #[arg(long, value_name = "TYPE", default_value = "ecdsa-p384", value_parser = parse_key_type)]
    pub key_type: KeyType,
    /// CKA_LABEL of the key pair (default: rootvault-root, or rootvault-root-gN after the
    /// first generation).
    #[arg(long, value_name = "LABEL")]
    pub key_label: Option<String>,
    /// Where to write the request (PEM).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Overwrite FILE if it exists.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub witness: WitnessArgs,
}

#[derive(Debug, Args)]
pub struct RootCreateArgs {
    /// Subject, e.g. "CN=Example Root CA,O=Example,C=GB" or "/C=GB/O=Example/CN=Example Root CA".
    #[arg(long, value_name = "DN", value_parser = parse_dn)]
    pub subject: Dn,
    /// Key type generated on the token.
    #[arg(long, value_name = "TYPE", default_value = "ecdsa-p384", value_parser = parse_key_type)]
    pub key_type: KeyType,
    /// Validity in days.
    #[arg(long, value_name = "N", default_value_t = ceremony::DEFAULT_ROOT_DAYS, value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub days: u32,
    /// basicConstraints pathLenConstraint (default: none).
    #[arg(long, value_name = "N")]
    pub path_len: Option<u8>,
    /// CKA_LABEL of the key pair on the token.
    #[arg(long, value_name = "LABEL", default_value = ceremony::DEFAULT_ROOT_LABEL)]
    pub key_label: String,
    #[command(flatten)]
    pub witness: WitnessArgs,
}

/// The two steps of a witnessed action (shared cli.md, "Witnesses").
#[derive(Debug, Args, Clone, Default)]
pub struct WitnessArgs {
    /// Check everything, touch no key, and write the statement the witnesses sign to FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "witness_sigs")]
    pub statement_out: Option<PathBuf>,
    /// A witness's signature of the statement (`ssh-keygen -Y sign -f KEY -n
    /// rootvault-witness FILE` writes FILE.sig); repeatable.
    #[arg(long = "witness-sig", value_name = "SIG")]
    pub witness_sigs: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct OutArgs {
    /// Write to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Overwrite FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Recompute the hash chain and cross-check the derived tables (exit 4 if broken).
    Verify {
        /// Also prove the ledger still contains the head recorded in this receipt
        /// (`ledger-receipt.json` from an export).
        #[arg(long, value_name = "FILE")]
        receipt: Option<PathBuf>,
        /// Also compare the ledger with the head the token attested (needs the PIN).
        #[arg(long)]
        with_token: bool,
    },
    /// Record that the ledger's tail is lost for good (the ledger is behind its token: the
    /// disk died and the newest backup is older). Names what was lost; numbers go on.
    Recover {
        /// Confirm without a prompt: at least 16 hex digits of the lost head's hash (the
        /// refused command printed it).
        #[arg(long, value_name = "HEX")]
        confirm: Option<String>,
        /// The statement (`--statement-out`) names the lost events, which only the token
        /// knows: writing it needs the PIN, and no key is used.
        #[command(flatten)]
        witness: WitnessArgs,
    },
    /// Print events.
    Show {
        /// First event to show.
        #[arg(long, value_name = "SEQ", default_value_t = 1)]
        since: i64,
    },
    /// Write every event, with its hashes, as JSON lines.
    Export {
        /// The file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Overwrite FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// The auditor's copy of every witnessed event: DIR/SEQ/statement.txt, DIR/SEQ/NAME.sig
    /// and DIR/allowed_signers, for `ssh-keygen -Y verify`.
    Witnesses {
        /// The directory to create (must not exist).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// A printable record of a ceremony (events, fingerprints, hashes, the closing signed
    /// checkpoint) with lines for the operator's and the witness's signatures.
    Transcript {
        /// The ceremony's first event (default: the whole ledger).
        #[arg(long, value_name = "SEQ", default_value_t = 1)]
        since: i64,
        #[command(flatten)]
        out: OutArgs,
    },
}

fn parse_witness_name(s: &str) -> std::result::Result<WitnessName, String> {
    s.parse()
}

fn parse_dn(s: &str) -> std::result::Result<Dn, String> {
    Dn::parse(s)
}

fn parse_reason(s: &str) -> std::result::Result<RevocationReason, String> {
    s.parse()
}

fn parse_format(s: &str) -> std::result::Result<Format, String> {
    s.parse()
        .map_err(|e: rootvault::export::ParseFormatError| e.0)
}

fn parse_key_alg(s: &str) -> std::result::Result<KeyAlg, String> {
    s.parse()
}

fn parse_cluster(s: &str) -> std::result::Result<ClusterName, String> {
    s.parse()
}

fn parse_trust_domain(s: &str) -> std::result::Result<TrustDomain, String> {
    s.parse()
}

fn parse_key_type(s: &str) -> std::result::Result<KeyType, String> {
    s.parse()
}

impl OutArgs {
    /// The output file, if one was named.
    pub fn output(&self) -> Option<ceremony::Output> {
        self.out.as_ref().map(|path| ceremony::Output {
            path: path.clone(),
            force: self.force,
        })
    }
}

/// What `sign` is asked to do: the two modes its flags choose between.
pub enum SignMode {
    /// Sign a CSR file.
    Csr {
        /// The CSR.
        file: PathBuf,
        /// Where to write the certificate, if not stdout.
        out: Option<ceremony::Output>,
    },
    /// Generate the cluster's key in the vault, sign it, write both encrypted.
    Generate {
        /// The key to generate.
        key: KeyAlg,
        /// The age recipients, as given (parsed by the dispatcher: a bad one is exit 3).
        recipients: Vec<String>,
        /// The export format.
        format: Format,
        /// Where to write.
        out: ceremony::Output,
    },
}

impl SignArgs {
    /// The mode the flags choose; a combination clap let through but that names no mode is a
    /// usage error, never a panic.
    pub fn mode(&self) -> Result<SignMode, String> {
        match (self.generate_key, &self.file, self.key_type, &self.out.out) {
            (false, Some(file), _, _) => Ok(SignMode::Csr {
                file: file.clone(),
                out: self.out.output(),
            }),
            (true, None, Some(key), Some(out)) => Ok(SignMode::Generate {
                key,
                recipients: self.age_recipients.clone(),
                format: self.format,
                out: ceremony::Output {
                    path: out.clone(),
                    force: self.out.force,
                },
            }),
            (true, Some(_), _, _) => Err("--generate-key signs no CSR: drop FILE".into()),
            (true, None, _, _) => Err("--generate-key needs --key-type and --out".into()),
            (false, None, _, _) => Err("name the CSR file to sign (or use --generate-key)".into()),
        }
    }
}
