//! Test helpers: every test gets its own token directory (made by `hsm-test/make-token.sh`,
//! SoftHSM2 unless a test asks for another implementation) and runs the real `rootvault`
//! binary as a child process with that token's environment, because SoftHSM (like the other
//! modules) reads its configuration once per process.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A distinctive user PIN, so a test can grep for it anywhere.
pub const PIN: &str = "Pin-7431-zebra";
/// The SO PIN of test tokens.
pub const SO_PIN: &str = "SoPin-8812-okapi";

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The SoftHSM2 module on this machine.
pub fn module() -> PathBuf {
    let out = Command::new(repo().join("hsm-test/module-path.sh"))
        .output()
        .expect("run hsm-test/module-path.sh");
    assert!(
        out.status.success(),
        "SoftHSM2 is not installed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// One test's world: a token of its own, a vault path, a PIN file.
pub struct Hsm {
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
    pub label: String,
}

/// A finished command.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with both streams unless the exit code is `code`.
    #[track_caller]
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}, got {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", self.stdout))
    }
}

/// Runs a command to completion, stdin closed (no terminal).
pub fn run(cmd: &mut Command) -> Run {
    let out: Output = cmd.stdin(Stdio::null()).output().expect("spawn");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Where [`Hsm::with_impl`] keeps what make-token.sh printed (the token's environment and
/// `MODULE=`), relative to the test's directory. A file rather than a field, so that tests
/// sharing one SoftHSM directory can still build an `Hsm` as a plain struct.
const TOKEN_ENV: &str = "hsm/token.env";

/// The PKCS#11 implementations `hsm-test/make-token.sh --list` can make.
pub fn implementations() -> Vec<String> {
    let r = run(Command::new(repo().join("hsm-test/make-token.sh")).arg("--list")).expect(0);
    r.stdout.lines().map(str::to_owned).collect()
}

impl Hsm {
    /// A fresh SoftHSM2 token labelled `label` in a directory of its own.
    pub fn new(label: &str) -> Hsm {
        Hsm::with_impl("softhsm2", label)
    }

    /// A fresh token of implementation `implementation` (a name `make-token.sh --list`
    /// prints) labelled `label`, in a directory of its own. Daemons it needs (swtpm,
    /// tpm2-abrmd) run until the `Hsm` is dropped.
    pub fn with_impl(implementation: &str, label: &str) -> Hsm {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = Command::new(repo().join("hsm-test/make-token.sh"))
            .args(["--impl", implementation])
            .arg(dir.path().join("hsm"))
            .arg(label)
            .arg(SO_PIN)
            .arg(PIN)
            .output()
            .expect("run hsm-test/make-token.sh");
        let hsm = Hsm {
            conf: dir.path().join("hsm/softhsm2.conf"),
            label: label.to_owned(),
            dir,
        };
        // Written before the check, so that a half-made token's daemons are still stopped.
        std::fs::write(hsm.path(TOKEN_ENV), &out.stdout).unwrap();
        assert!(
            out.status.success(),
            "make-token.sh --impl {implementation} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        write_private(&hsm.path("pin"), format!("{PIN}\n"));
        hsm
    }

    /// The token's environment: what make-token.sh printed, or SoftHSM's configuration for a
    /// token made without [`Hsm::with_impl`].
    pub fn token_env(&self) -> Vec<(String, String)> {
        match std::fs::read_to_string(self.path(TOKEN_ENV)) {
            Ok(text) => text
                .lines()
                .filter_map(|l| l.strip_prefix("export "))
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            Err(_) => vec![("SOFTHSM2_CONF".to_owned(), self.conf.display().to_string())],
        }
    }

    /// The token's PKCS#11 module.
    pub fn module(&self) -> PathBuf {
        std::fs::read_to_string(self.path(TOKEN_ENV))
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("MODULE=").map(PathBuf::from))
            })
            .unwrap_or_else(module)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn vault(&self) -> PathBuf {
        self.path("vault")
    }

    pub fn pin_file(&self) -> PathBuf {
        self.path("pin")
    }

    /// `rootvault` with this test's token configuration and vault, and no PIN.
    pub fn rv(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rootvault"));
        c.envs(self.token_env())
            .env("ROOTVAULT_DIR", self.vault())
            .env("USER", "test-operator")
            .env_remove("ROOTVAULT_PIN")
            .current_dir(self.dir.path());
        c
    }

    /// `rootvault` with the PIN file given.
    pub fn rv_pin(&self) -> Command {
        let mut c = self.rv();
        c.arg("--pin-file").arg(self.pin_file());
        c
    }

    /// `rootvault init` on this token.
    pub fn init(&self) -> Run {
        run(self
            .rv_pin()
            .args(["init", "--module"])
            .arg(self.module())
            .args(["--token", &self.label]))
    }

    /// `init` then `root create` with `key_type`.
    pub fn vault_with_root(&self, key_type: &str) -> Run {
        self.init().expect(0);
        run(self.rv_pin().args([
            "root",
            "create",
            "--subject",
            "CN=Test Root CA,O=Example Org,C=GB",
            "--key-type",
            key_type,
        ]))
    }

    /// Writes the root certificate PEM to `root.pem` and returns its path.
    pub fn root_pem(&self) -> PathBuf {
        let p = self.path("root.pem");
        run(self.rv().args(["root", "cert", "--force", "--out"]).arg(&p)).expect(0);
        p
    }

    /// `pkcs11-tool` (OpenSC) against this test's token.
    pub fn pkcs11_tool(&self, args: &[&str]) -> Run {
        run(Command::new("pkcs11-tool")
            .envs(self.token_env())
            .arg("--module")
            .arg(self.module())
            .args(["--token-label", &self.label])
            .args(args))
    }

    /// Runs SQL on the vault's ledger with the sqlite3 CLI (an attacker with file access).
    pub fn sqlite(&self, sql: &str) -> Run {
        run(Command::new("sqlite3")
            .arg(self.vault().join("ledger.sqlite"))
            .arg(sql))
    }
}

impl Drop for Hsm {
    /// Stops the daemons a TPM token runs (nothing to do for the soft tokens).
    fn drop(&mut self) {
        if self.path("hsm/swtpm.pid").exists() {
            let _ = Command::new(repo().join("hsm-test/make-token.sh"))
                .arg("--stop")
                .arg(self.path("hsm"))
                .status();
        }
    }
}

/// Writes `path` with mode 0600, as a PIN file must be (rootvault refuses one that group or
/// others can access).
pub fn write_private(path: &Path, contents: impl AsRef<[u8]>) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, contents).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// `openssl` with arguments.
pub fn openssl(args: &[&str]) -> Run {
    run(Command::new("openssl").args(args))
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Contents of every file under `dir`, for "nothing changed" assertions.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    files_under(dir)
        .into_iter()
        .filter(|p| {
            // SQLite's shared-memory index is rewritten by readers, and an empty write-ahead
            // log (left when the disk was too full to remove it) holds no data.
            let name = p.to_string_lossy();
            !(name.ends_with("-shm")
                || name.ends_with("-wal") && std::fs::metadata(p).is_ok_and(|m| m.len() == 0))
        })
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect()
}

/// pkilint (DigiCert's RFC 5280 / CA/B Forum linter, installed by hsm-test/install-deps.sh)
/// on a PEM certificate: panics with its findings unless there are none at WARNING or above.
#[track_caller]
pub fn pkilint_clean(linter: &str, extra: &[&str], pem: &Path) {
    let r = run(Command::new(linter)
        .arg("lint")
        .args(extra)
        .args(["-s", "WARNING"])
        .arg(pem));
    assert!(
        r.code == 0 && r.stdout.trim().is_empty(),
        "{linter} found problems in {} (exit {}):\n{}{}\n(is pkilint installed? hsm-test/install-deps.sh installs it)",
        pem.display(),
        r.code,
        r.stdout,
        r.stderr
    );
}

/// `openssl req` arguments for a P-256 key signed with SHA-256.
pub const P256: &[&str] = &[
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-sha256",
];

/// A key and CSR made by `openssl req` the way a cluster's platform team makes them.
pub struct ClusterCsr {
    /// The CSR (PEM).
    pub csr: PathBuf,
    /// The cluster's private key (stays with the "cluster").
    pub key: PathBuf,
    /// SHA-256 of the CSR's SubjectPublicKeyInfo, as shared/cli.md tells the team to compute it.
    pub spki_sha256: String,
}

/// Makes `DIR/NAME.key` and `DIR/NAME.csr` (subject `/O=Cluster Team/CN=NAME`) with the key
/// chosen by `keyargs` (e.g. [`P256`]), and computes the fingerprint with OpenSSL and sha256sum.
pub fn make_cluster_csr(dir: &Path, name: &str, keyargs: &[&str]) -> ClusterCsr {
    let csr = dir.join(format!("{name}.csr"));
    let key = dir.join(format!("{name}.key"));
    run(Command::new("openssl")
        .args([
            "req",
            "-new",
            "-nodes",
            "-subj",
            &format!("/O=Cluster Team/CN={name}"),
        ])
        .args(keyargs)
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&csr))
    .expect(0);
    let spki_sha256 = run(Command::new("sh")
        .arg("-c")
        .arg("openssl req -in \"$1\" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1")
        .arg("sh")
        .arg(&csr))
    .expect(0)
    .stdout
    .trim()
    .to_owned();
    assert_eq!(
        spki_sha256.len(),
        64,
        "no fingerprint for {}",
        csr.display()
    );
    ClusterCsr {
        csr,
        key,
        spki_sha256,
    }
}

/// Makes an age identity at `path` with `age-keygen` and returns its recipient (`age1…`).
pub fn age_identity(path: &Path) -> String {
    run(Command::new("age-keygen").arg("-o").arg(path)).expect(0);
    run(Command::new("age-keygen").arg("-y").arg(path))
        .expect(0)
        .stdout
        .trim()
        .to_owned()
}

/// `openssl verify -x509_strict -CAfile ROOT CERT`.
pub fn verify_strict(root: &Path, cert: &Path) -> Run {
    openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        root.to_str().unwrap(),
        cert.to_str().unwrap(),
    ])
}

impl Hsm {
    /// Moves SoftHSM's token directory aside and leaves an empty one, as if the token's
    /// objects had vanished; [`Hsm::restore_token`] puts them back.
    pub fn hide_token(&self) {
        std::fs::rename(self.path("hsm/tokens"), self.path("hsm/tokens-away")).unwrap();
        std::fs::create_dir(self.path("hsm/tokens")).unwrap();
    }

    /// Undoes [`Hsm::hide_token`].
    pub fn restore_token(&self) {
        std::fs::remove_dir(self.path("hsm/tokens")).unwrap();
        std::fs::rename(self.path("hsm/tokens-away"), self.path("hsm/tokens")).unwrap();
    }

    /// A P-256 CSR for each of `clusters` and a `sign-batch` manifest naming them, at
    /// `manifest`; returns the manifest's path and SHA-256.
    pub fn batch_manifest(&self, clusters: &[&str]) -> (PathBuf, String) {
        let mut manifest = String::new();
        for c in clusters {
            let csr = make_cluster_csr(self.dir.path(), c, P256);
            manifest += &format!("{c}  {}  {}\n", csr.spki_sha256, csr.csr.display());
        }
        let path = self.path("manifest");
        std::fs::write(&path, &manifest).unwrap();
        (path, rootvault::keys::sha256_hex(manifest.as_bytes()))
    }
}

/// Runs `cmd` with `ROOTVAULT_FAULT=POINT:wait` (a `fault-injection` build), runs `meanwhile`
/// once the process has reached the point, then lets it go on; returns how it ended.
pub fn with_pause(mut cmd: Command, point: &str, meanwhile: impl FnOnce()) -> Run {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut child = cmd
        .env("ROOTVAULT_FAULT", format!("{point}:wait"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "{point} was never reached:\n{seen}"
        );
        seen += &line;
        if line.trim() == format!("paused at {point}") {
            break;
        }
    }
    meanwhile();
    writeln!(child.stdin.take().unwrap()).unwrap();
    stderr.read_to_string(&mut seen).unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: seen,
    }
}
