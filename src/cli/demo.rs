//! `rootvault demo`: a complete ceremony on a throwaway SoftHSM2 token, each step the real
//! command (this binary as a child process, since SoftHSM reads its configuration once per
//! process), each output checked with OpenSSL or age.
//!
//! The throwaway token's PINs are random and passed to `softhsm2-util` on its command line,
//! which is acceptable only because the token exists for this demo and nothing else; the
//! demo itself hands rootvault its PIN through `--pin-file`, as an operator would.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rootvault::{Error, Result};

const MODULES: [&str; 4] = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
];

struct Demo {
    dir: PathBuf,
    conf: PathBuf,
    exe: PathBuf,
}

fn fail(what: String) -> Error {
    Error::Demo(what)
}

fn random_hex(n: usize) -> Result<String> {
    use rand_core::RngCore;
    let mut b = vec![0u8; n];
    rand_core::OsRng
        .try_fill_bytes(&mut b)
        .map_err(|e| fail(format!("no randomness: {e}")))?;
    Ok(hex::encode(b))
}

/// Runs the demo in `dir` (or a new temporary directory).
pub fn run(dir: Option<PathBuf>) -> Result<()> {
    let dir = match dir {
        Some(d) => {
            if d.exists()
                && std::fs::read_dir(&d)
                    .map(|mut e| e.next().is_some())
                    .unwrap_or(true)
            {
                return Err(rootvault::fsio::FsError::OutputExists(d).into());
            }
            std::fs::create_dir_all(&d).map_err(|e| Error::io("cannot create", &d, e))?;
            d
        }
        None => tempfile::Builder::new()
            .prefix("rootvault-demo-")
            .tempdir()
            .map_err(|e| Error::io("cannot create a directory in", std::env::temp_dir(), e))?
            .keep(),
    };
    let dir = std::fs::canonicalize(&dir).map_err(|e| Error::io("cannot resolve", &dir, e))?;
    let module = MODULES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            fail(
                "SoftHSM2 is not installed (apt-get install softhsm2, or run hsm-test/demo.sh)"
                    .into(),
            )
        })?;
    let exe =
        std::env::current_exe().map_err(|e| fail(format!("cannot find this program: {e}")))?;
    let d = Demo {
        conf: dir.join("hsm/softhsm2.conf"),
        dir: dir.clone(),
        exe,
    };

    step("a throwaway SoftHSM2 token");
    let tokens = dir.join("hsm/tokens");
    std::fs::create_dir_all(&tokens).map_err(|e| Error::io("cannot create", &tokens, e))?;
    write(
        &d.conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )?;
    let pin = random_hex(8)?;
    write(&dir.join("pin"), format!("{pin}\n"))?;
    d.tool(
        Command::new("softhsm2-util").args([
            "--init-token",
            "--free",
            "--label",
            "demo-root",
            "--so-pin",
            &random_hex(8)?,
            "--pin",
            &pin,
        ]),
        "softhsm2-util (apt-get install softhsm2)",
    )?;
    drop(pin);

    step("init, root create, root cert");
    d.rv(&[
        "init",
        "--module",
        &module.display().to_string(),
        "--token",
        "demo-root",
    ])?;
    d.rv(&["token"])?;
    d.rv(&[
        "root",
        "create",
        "--subject",
        "CN=Demo Mesh Root CA,O=Demo Mesh,C=GB",
        "--key-type",
        "ecdsa-p384",
    ])?;
    d.rv(&["root", "cert", "--out", &d.path("root.pem")])?;
    d.check(&[
        "openssl",
        "verify",
        "-x509_strict",
        "-CAfile",
        &d.path("root.pem"),
        &d.path("root.pem"),
    ])?;

    step("cluster east: its team makes a key and CSR inside the cluster; the operator confirms the fingerprint they read out");
    d.tool(
        Command::new("openssl")
            .args([
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
                "-sha256",
                "-nodes",
                "-subj",
                "/O=East Platform Team/CN=east",
                "-keyout",
            ])
            .arg(d.path("east-ca-key.pem"))
            .arg("-out")
            .arg(d.path("east.csr")),
        "openssl",
    )?;
    let fp = d.spki_fingerprint(&d.path("east.csr"))?;
    println!("  fingerprint read out by the east team: {}", &fp[..16]);
    d.rv(&["csr", "inspect", &d.path("east.csr"), "--cluster", "east"])?;
    d.rv(&[
        "sign",
        &d.path("east.csr"),
        "--cluster",
        "east",
        "--confirm",
        &fp[..16],
        "--out",
        &d.path("east-ca.pem"),
    ])?;
    d.check(&[
        "openssl",
        "verify",
        "-x509_strict",
        "-CAfile",
        &d.path("root.pem"),
        &d.path("east-ca.pem"),
    ])?;

    step("cluster west cannot make a CSR: the vault generates its key and sends it age-encrypted");
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    {
        use secrecy::ExposeSecret;
        write(
            &dir.join("west-age-identity.txt"),
            format!("{}\n", identity.to_string().expose_secret()),
        )?;
    }
    let confirm = rootvault::ceremony::recipients_fingerprint(std::slice::from_ref(&recipient));
    d.rv(&[
        "sign",
        "--generate-key",
        "--key-type",
        "ecdsa-p256",
        "--cluster",
        "west",
        "--age-recipient",
        &recipient,
        "--format",
        "istio",
        "--out",
        &d.path("west-cacerts"),
        "--confirm",
        &confirm[..16],
    ])?;
    let west = dir.join("west-cacerts");
    for name in [
        "ca-cert.pem",
        "ca-key.pem",
        "cert-chain.pem",
        "root-cert.pem",
    ] {
        let sealed = std::fs::read(west.join(format!("{name}.age")))
            .map_err(|e| Error::io("cannot read", west.join(name), e))?;
        let plain = age::decrypt(&identity, &sealed)
            .map_err(|e| fail(format!("{name}.age does not decrypt: {e}")))?;
        write(&dir.join(format!("west-{name}")), plain)?;
    }
    d.check(&[
        "openssl",
        "verify",
        "-x509_strict",
        "-CAfile",
        &d.path("west-root-cert.pem"),
        "-untrusted",
        &d.path("west-cert-chain.pem"),
        &d.path("west-ca-cert.pem"),
    ])?;
    let key_pub = d.output(&[
        "openssl",
        "pkey",
        "-in",
        &d.path("west-ca-key.pem"),
        "-pubout",
    ])?;
    let cert_pub = d.output(&[
        "openssl",
        "x509",
        "-in",
        &d.path("west-ca-cert.pem"),
        "-pubkey",
        "-noout",
    ])?;
    if key_pub != cert_pub {
        return Err(fail(
            "the generated key does not match its certificate".into(),
        ));
    }
    println!("  decrypted west's ca-key.pem: it matches ca-cert.pem");

    step("cluster legacy is retired: sign, then revoke, then a CRL");
    d.tool(
        Command::new("openssl")
            .args([
                "req",
                "-new",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=legacy",
                "-keyout",
            ])
            .arg(d.path("legacy-key.pem"))
            .arg("-out")
            .arg(d.path("legacy.csr")),
        "openssl",
    )?;
    let fp = d.spki_fingerprint(&d.path("legacy.csr"))?;
    d.rv(&[
        "sign",
        &d.path("legacy.csr"),
        "--cluster",
        "legacy",
        "--confirm",
        &fp[..16],
        "--out",
        &d.path("legacy-ca.pem"),
    ])?;
    let serial = d.output(&[
        "openssl",
        "x509",
        "-in",
        &d.path("legacy-ca.pem"),
        "-noout",
        "-serial",
    ])?;
    let serial = serial.trim().trim_start_matches("serial=").to_lowercase();
    d.rv(&[
        "revoke",
        "--serial",
        &serial,
        "--reason",
        "cessationOfOperation",
        "--confirm",
        &serial[..16],
    ])?;
    d.rv(&["crl", "--out", &d.path("crl.pem")])?;
    d.check(&[
        "openssl",
        "crl",
        "-in",
        &d.path("crl.pem"),
        "-CAfile",
        &d.path("root.pem"),
        "-noout",
    ])?;
    let revoked = d.status(&[
        "openssl",
        "verify",
        "-crl_check",
        "-CRLfile",
        &d.path("crl.pem"),
        "-CAfile",
        &d.path("root.pem"),
        &d.path("legacy-ca.pem"),
    ])?;
    if revoked {
        return Err(fail(
            "the revoked legacy intermediate still verifies against the CRL".into(),
        ));
    }
    println!("  openssl verify -crl_check: legacy is refused as revoked");
    d.check(&[
        "openssl",
        "verify",
        "-crl_check",
        "-CRLfile",
        &d.path("crl.pem"),
        "-CAfile",
        &d.path("root.pem"),
        &d.path("east-ca.pem"),
    ])?;

    step("exports for east in every format");
    d.rv(&[
        "export",
        "--cluster",
        "east",
        "--format",
        "istio",
        "--out",
        &d.path("east-cacerts"),
    ])?;
    d.check(&[
        "openssl",
        "verify",
        "-x509_strict",
        "-CAfile",
        &d.path("east-cacerts/root-cert.pem"),
        "-untrusted",
        &d.path("east-cacerts/cert-chain.pem"),
        &d.path("east-cacerts/ca-cert.pem"),
    ])?;
    d.rv(&[
        "export",
        "--cluster",
        "east",
        "--format",
        "istio-secret",
        "--out",
        &d.path("east-cacerts.yaml"),
    ])?;
    d.rv(&[
        "export",
        "--cluster",
        "east",
        "--format",
        "tls-secret",
        "--out",
        &d.path("east-tls.yaml"),
    ])?;
    d.rv(&[
        "export",
        "--cluster",
        "east",
        "--format",
        "pem-bundle",
        "--out",
        &d.path("east-bundle.pem"),
    ])?;
    d.check(&[
        "openssl",
        "verify",
        "-x509_strict",
        "-CAfile",
        &d.path("root.pem"),
        &d.path("east-bundle.pem"),
    ])?;
    d.rv(&[
        "export",
        "--cluster",
        "east",
        "--format",
        "pem-bundle",
        "--out",
        &d.path("east-bundle.pem.age"),
        "--age-recipient",
        &recipient,
    ])?;
    let sealed = std::fs::read(dir.join("east-bundle.pem.age"))
        .map_err(|e| Error::io("cannot read", dir.join("east-bundle.pem.age"), e))?;
    let plain = age::decrypt(&identity, &sealed)
        .map_err(|e| fail(format!("the encrypted bundle does not decrypt: {e}")))?;
    let clear = std::fs::read(dir.join("east-bundle.pem"))
        .map_err(|e| Error::io("cannot read", dir.join("east-bundle.pem"), e))?;
    if plain != clear {
        return Err(fail(
            "the decrypted bundle differs from the plain one".into(),
        ));
    }
    println!("  the age-encrypted bundle decrypts to the plain bundle");

    step("ledger");
    d.rv(&["list"])?;
    d.rv(&["ledger", "show"])?;
    d.rv(&["ledger", "verify"])?;

    println!();
    println!("Demo complete. Everything is in {}", dir.display());
    println!("  vault:     {}", d.path("vault"));
    println!("  token:     SOFTHSM2_CONF={}", d.conf.display());
    println!("Open it in the ceremony TUI:");
    println!(
        "  SOFTHSM2_CONF={} {} --vault {} --pin-file {} tui",
        d.conf.display(),
        d.exe.display(),
        d.path("vault"),
        d.path("pin")
    );
    Ok(())
}

fn step(what: &str) {
    println!("\n== {what}");
}

/// Creates `path` with `content`, private to the user (0600): the demo writes its PIN and a
/// decrypted private key this way, and a PIN file others can read is refused.
fn write(path: &Path, content: impl AsRef<[u8]>) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(rootvault::fsio::PRIVATE_FILE_MODE)
        .open(path)
        .map_err(|e| Error::io("cannot create", path, e))?;
    f.write_all(content.as_ref())
        .map_err(|e| Error::io("cannot write", path, e))
}

impl Demo {
    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// Runs `rootvault ARGS` on the demo's vault and token; its output goes to the terminal.
    fn rv(&self, args: &[&str]) -> Result<()> {
        println!("$ rootvault {}", args.join(" "));
        let status = Command::new(&self.exe)
            .args([
                "--vault",
                &self.path("vault"),
                "--pin-file",
                &self.path("pin"),
                "--operator",
                "demo-operator",
            ])
            .args(args)
            .env("SOFTHSM2_CONF", &self.conf)
            .stdin(Stdio::null())
            .status()
            .map_err(|e| fail(format!("cannot run rootvault: {e}")))?;
        if status.success() {
            Ok(())
        } else {
            Err(fail(format!(
                "`rootvault {}` failed ({status})",
                args.join(" ")
            )))
        }
    }

    fn tool(&self, cmd: &mut Command, what: &str) -> Result<()> {
        let out = cmd
            .env("SOFTHSM2_CONF", &self.conf)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| fail(format!("cannot run {what}: {e}")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(fail(format!(
                "{what} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    fn status(&self, argv: &[&str]) -> Result<bool> {
        let out = Command::new(argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                fail(format!(
                    "cannot run {} (apt-get install openssl): {e}",
                    argv[0]
                ))
            })?;
        Ok(out.status.success())
    }

    fn output(&self, argv: &[&str]) -> Result<String> {
        let out = Command::new(argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| fail(format!("cannot run {}: {e}", argv[0])))?;
        if !out.status.success() {
            return Err(fail(format!(
                "`{}` failed: {}",
                argv.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Checks an output with an outside tool, showing the command and its verdict.
    fn check(&self, argv: &[&str]) -> Result<()> {
        let verdict = self.output(argv)?;
        println!(
            "  check: {} -> {}",
            argv.join(" "),
            verdict.lines().last().unwrap_or("ok").trim()
        );
        Ok(())
    }

    /// The SPKI SHA-256 of a CSR, computed the way shared/cli.md tells a cluster team to.
    fn spki_fingerprint(&self, csr: &str) -> Result<String> {
        let pubkey = self.output(&["openssl", "req", "-in", csr, "-pubkey", "-noout"])?;
        let mut child = Command::new("openssl")
            .args(["pkey", "-pubin", "-outform", "DER"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| fail(format!("cannot run openssl: {e}")))?;
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(pubkey.as_bytes())
            .map_err(|e| fail(format!("openssl pkey: {e}")))?;
        let out = child
            .wait_with_output()
            .map_err(|e| fail(format!("openssl pkey: {e}")))?;
        Ok(rootvault::keys::sha256_hex(&out.stdout))
    }
}
