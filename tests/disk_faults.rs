//! Issue 7 item 2: a full or read-only disk. The tests mount small tmpfs filesystems (so they
//! need root, as in CI; set `ROOTVAULT_TESTS_NO_MOUNT=1` to skip them knowingly elsewhere) and
//! put either the outputs or the vault itself on them. Each failure must be a clear message
//! and exit 1, and change nothing: no certificate signed and recorded, no file left behind.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// A tmpfs mounted for one test, unmounted when dropped.
struct SmallFs {
    dir: PathBuf,
}

const FILLER: &str = ".filler";

impl SmallFs {
    /// Mounts a tmpfs of `size` (e.g. `1m`) at `dir`. Returns `None` only when mounting is
    /// impossible here and `ROOTVAULT_TESTS_NO_MOUNT` says to skip; otherwise a failed mount
    /// fails the test, so CI can never skip these silently.
    fn mount(dir: &Path, size: &str) -> Option<SmallFs> {
        std::fs::create_dir_all(dir).unwrap();
        let r = run(Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(dir));
        if r.code != 0 {
            if std::env::var_os("ROOTVAULT_TESTS_NO_MOUNT").is_some() {
                eprintln!(
                    "SKIPPED (ROOTVAULT_TESTS_NO_MOUNT): cannot mount tmpfs: {}",
                    r.stderr
                );
                return None;
            }
            panic!(
                "these tests mount small tmpfs filesystems to make a disk full or read-only, and \
                 `mount` failed (exit {}): {}\nRun them as root (CI does), or set \
                 ROOTVAULT_TESTS_NO_MOUNT=1 to skip them knowingly.",
                r.code, r.stderr
            );
        }
        Some(SmallFs {
            dir: dir.to_owned(),
        })
    }

    /// Fills the filesystem until a write fails, leaving about `leave` bytes free.
    fn fill_leaving(&self, leave: u64) {
        let avail = run(Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&self.dir))
        .expect(0)
        .stdout
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse::<u64>()
        .unwrap();
        let mut f = std::fs::File::create(self.dir.join(FILLER)).unwrap();
        let block = vec![0u8; 4096];
        let mut written = 0;
        while written + leave < avail {
            if f.write_all(&block).is_err() {
                break;
            }
            written += block.len() as u64;
        }
        let _ = f.sync_all();
    }

    fn fill(&self) {
        self.fill_leaving(0);
    }

    fn unfill(&self) {
        std::fs::remove_file(self.dir.join(FILLER)).unwrap();
    }

    fn set_read_only(&self, ro: bool) {
        run(Command::new("mount")
            .args(["-o", if ro { "remount,ro" } else { "remount,rw" }])
            .arg(&self.dir))
        .expect(0);
    }

    /// Every file on the filesystem except the filler.
    fn contents(&self) -> Vec<PathBuf> {
        files_under(&self.dir)
            .into_iter()
            .filter(|p| !p.ends_with(FILLER))
            .collect()
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// A vault with a root and one intermediate for `east`, two more CSRs in a manifest, and an
/// age identity for backups.
struct Setup {
    h: Hsm,
    east: ClusterCsr,
    manifest: PathBuf,
    manifest_sha256: String,
    age_recipient: String,
}

fn setup(label: &str) -> Setup {
    let h = Hsm::new(label);
    h.vault_with_root("ecdsa-p256").expect(0);
    let east = make_cluster_csr(h.dir.path(), "east", P256);
    run(h.rv_pin().arg("sign").arg(&east.csr).args([
        "--cluster",
        "east",
        "--confirm",
        &east.spki_sha256[..16],
    ]))
    .expect(0);
    let (manifest, manifest_sha256) = h.batch_manifest(&["west", "north"]);
    let age_recipient = age_identity(&h.path("age.key"));
    Setup {
        manifest_sha256,
        h,
        east,
        manifest,
        age_recipient,
    }
}

/// Every command that writes an output file, writing into `out`: (name, command).
fn writers(s: &Setup, out: &Path) -> Vec<(&'static str, Command)> {
    let h = &s.h;
    let mut sign = h.rv_pin();
    sign.arg("sign").arg(&s.east.csr).args([
        "--cluster",
        "east",
        "--confirm",
        &s.east.spki_sha256[..16],
        "--out",
    ]);
    sign.arg(out.join("east.pem"));
    let mut batch = h.rv_pin();
    batch
        .arg("sign-batch")
        .arg(&s.manifest)
        .args(["--confirm", &s.manifest_sha256[..16], "--out-dir"])
        .arg(out.join("batch"));
    let mut crl = h.rv_pin();
    crl.args(["crl", "--out"]).arg(out.join("crl.pem"));
    let mut istio = h.rv_pin();
    istio
        .args(["export", "--cluster", "east", "--format", "istio", "--out"])
        .arg(out.join("istio"));
    let mut bundle = h.rv_pin();
    bundle
        .args([
            "export",
            "--cluster",
            "east",
            "--format",
            "pem-bundle",
            "--out",
        ])
        .arg(out.join("east-bundle.pem.age"))
        .args(["--age-recipient", &s.age_recipient]);
    let mut generate = h.rv_pin();
    generate
        .args([
            "sign",
            "--generate-key",
            "--key-type",
            "ecdsa-p256",
            "--cluster",
            "south",
            "--format",
            "istio",
            "--age-recipient",
            &s.age_recipient,
            "--confirm",
            &rootvault::keys::sha256_hex(format!("{}\n", s.age_recipient).as_bytes())[..16],
            "--out",
        ])
        .arg(out.join("south"));
    let mut backup = h.rv_pin();
    backup
        .args(["backup", "--age-recipient", &s.age_recipient, "--out"])
        .arg(out.join("vault.backup"));
    let mut root = h.rv();
    root.args(["root", "cert", "--out"])
        .arg(out.join("root.pem"));
    let mut ledger = h.rv();
    ledger
        .args(["ledger", "export", "--out"])
        .arg(out.join("ledger.jsonl"));
    vec![
        ("sign --out", sign),
        ("sign-batch --out-dir", batch),
        ("crl --out", crl),
        ("export istio", istio),
        ("export pem-bundle (age)", bundle),
        ("sign --generate-key", generate),
        ("backup", backup),
        ("root cert --out", root),
        ("ledger export", ledger),
    ]
}

/// With the output filesystem made unusable by `spoil`, every writer exits 1 with a message
/// containing one of `says`, and neither the vault nor the output filesystem changes. After
/// `repair`, every writer works and its output is what the tools expect.
fn outputs_on_a_bad_disk(
    label: &str,
    spoil: impl Fn(&SmallFs),
    repair: impl Fn(&SmallFs),
    says: &[&str],
) {
    let s = setup(label);
    let h = &s.h;
    let Some(fs) = SmallFs::mount(&h.path("out"), "2m") else {
        return;
    };
    spoil(&fs);
    let vault_before = snapshot(&h.vault());
    for (name, mut cmd) in writers(&s, &fs.dir) {
        let r = run(&mut cmd);
        assert_eq!(r.code, 1, "{name}: expected exit 1:\n{}", r.stderr);
        assert!(
            says.iter().any(|w| r.stderr.contains(w)),
            "{name}: the message should say why ({says:?}):\n{}",
            r.stderr
        );
        assert!(
            !r.stderr.contains("panicked"),
            "{name} panicked:\n{}",
            r.stderr
        );
        assert!(
            snapshot(&h.vault()) == vault_before,
            "{name}: the vault changed although the command failed"
        );
        assert_eq!(
            fs.contents(),
            Vec::<PathBuf>::new(),
            "{name}: a file was left behind"
        );
    }
    run(h.rv().args(["ledger", "verify"])).expect(0);

    repair(&fs);
    for (name, mut cmd) in writers(&s, &fs.dir) {
        let r = run(&mut cmd);
        assert_eq!(r.code, 0, "{name} after the repair:\n{}", r.stderr);
    }
    run(h.rv().args(["ledger", "verify"])).expect(0);
    let root = h.root_pem();
    for cert in [
        fs.dir.join("east.pem"),
        fs.dir.join("batch/west.pem"),
        fs.dir.join("batch/north.pem"),
        fs.dir.join("istio/ca-cert.pem"),
    ] {
        verify_strict(&root, &cert).expect(0);
    }
    openssl(&[
        "crl",
        "-in",
        fs.dir.join("crl.pem").to_str().unwrap(),
        "-noout",
        "-CAfile",
        root.to_str().unwrap(),
    ])
    .expect(0);
    run(Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(h.path("age.key"))
        .arg("-o")
        .arg(h.path("bundle.pem"))
        .arg(fs.dir.join("east-bundle.pem.age")))
    .expect(0);
}

#[test]
fn a_full_output_disk_stops_every_writer_before_anything_is_signed_or_recorded() {
    outputs_on_a_bad_disk(
        "full-out",
        SmallFs::fill,
        SmallFs::unfill,
        &["No space left on device", "no storage space"],
    );
}

#[test]
fn a_read_only_output_disk_stops_every_writer_before_anything_is_signed_or_recorded() {
    outputs_on_a_bad_disk(
        "ro-out",
        |fs| fs.set_read_only(true),
        |fs| fs.set_read_only(false),
        &["Read-only file system", "read-only filesystem"],
    );
}

/// Copies the vault onto a tmpfs of `size`; commands use it through `ROOTVAULT_DIR`.
fn vault_on_tmpfs(h: &Hsm, size: &str) -> Option<SmallFs> {
    let fs = SmallFs::mount(&h.path("vaultfs"), size)?;
    run(Command::new("cp")
        .arg("-a")
        .arg(h.vault().join("."))
        .arg(&fs.dir))
    .expect(0);
    Some(fs)
}

#[test]
fn a_vault_on_read_only_media_can_be_read_and_verified_but_refuses_token_actions() {
    let s = setup("ro-vault");
    let h = &s.h;
    let Some(fs) = vault_on_tmpfs(h, "8m") else {
        return;
    };
    fs.set_read_only(true);
    let on = |mut c: Command| {
        c.env("ROOTVAULT_DIR", &fs.dir);
        c
    };
    // An auditor's copy on write-protected media: reading works.
    let listed = run(on(h.rv()).args(["list", "--json"])).expect(0).json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let v = run(on(h.rv()).args(["ledger", "verify", "--json"]))
        .expect(0)
        .json();
    assert_eq!(v["ok"], true);
    run(on(h.rv()).args(["ledger", "show", "--json"])).expect(0);
    run(on(h.rv()).args(["root", "show", "--json"])).expect(0);
    // Token actions are refused before the token is touched.
    let before = snapshot(&fs.dir);
    let mut sign = on(h.rv_pin());
    sign.arg("sign").arg(&s.east.csr).args([
        "--cluster",
        "east",
        "--confirm",
        &s.east.spki_sha256[..16],
    ]);
    let mut revoke = on(h.rv_pin());
    revoke.args([
        "revoke",
        "--cluster",
        "east",
        "--reason",
        "superseded",
        "--confirm",
        listed[0]["serial"].as_str().unwrap(),
    ]);
    let mut crl = on(h.rv_pin());
    crl.arg("crl");
    let mut export = on(h.rv_pin());
    export
        .args(["export", "--cluster", "east", "--format", "istio", "--out"])
        .arg(h.path("istio"));
    for (name, mut cmd) in [
        ("sign", sign),
        ("revoke", revoke),
        ("crl", crl),
        ("export", export),
    ] {
        let r = run(&mut cmd);
        assert_eq!(r.code, 1, "{name}:\n{}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("read-only filesystem") && r.stderr.contains("nothing was done"),
            "{name}:\n{}",
            r.stderr
        );
        assert!(r.stdout.is_empty(), "{name} printed output: {}", r.stdout);
    }
    assert!(snapshot(&fs.dir) == before, "the read-only vault changed");
    assert!(!h.path("istio").exists(), "export wrote files");
    // Writable again, the same vault signs.
    fs.set_read_only(false);
    run(on(h.rv_pin()).arg("sign").arg(&s.east.csr).args([
        "--cluster",
        "east",
        "--confirm",
        &s.east.spki_sha256[..16],
    ]))
    .expect(0);
    run(on(h.rv()).args(["ledger", "verify"])).expect(0);
}

#[test]
fn a_nearly_full_vault_disk_refuses_token_actions_before_signing() {
    let s = setup("full-vault");
    let h = &s.h;
    let Some(fs) = vault_on_tmpfs(h, "8m") else {
        return;
    };
    let on = |mut c: Command| {
        c.env("ROOTVAULT_DIR", &fs.dir);
        c
    };
    let sign = || {
        let mut c = on(h.rv_pin());
        c.arg("sign").arg(&s.east.csr).args([
            "--cluster",
            "east",
            "--confirm",
            &s.east.spki_sha256[..16],
        ]);
        c
    };
    for leave in [0, 256 * 1024] {
        fs.fill_leaving(leave);
        let before = snapshot(&fs.dir);
        let r = run(&mut sign());
        assert_eq!(r.code, 1, "{leave} bytes left:\n{}", r.stderr);
        assert!(
            r.stderr.contains("free") || r.stderr.contains("full"),
            "{leave} bytes left: {}",
            r.stderr
        );
        assert!(r.stdout.is_empty(), "a certificate was printed");
        let after = snapshot(&fs.dir);
        let changed: Vec<_> = after
            .iter()
            .filter(|f| !before.contains(f))
            .map(|f| (&f.0, f.1.len()))
            .collect();
        assert!(
            changed.is_empty() && after.len() == before.len(),
            "{leave} bytes left: the vault changed: {changed:?}\n{}",
            r.stderr
        );
        fs.unfill();
    }
    run(on(h.rv()).args(["ledger", "verify"])).expect(0);
    run(&mut sign()).expect(0);
    let listed = run(on(h.rv()).args(["list", "--json"])).expect(0).json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
}

#[cfg(feature = "fault-injection")]
#[test]
fn a_vault_disk_that_fills_after_the_token_signed_records_nothing_and_recovers() {
    let s = setup("fills-late");
    let h = &s.h;
    let Some(fs) = vault_on_tmpfs(h, "8m") else {
        return;
    };
    let sign = || {
        let mut c = h.rv_pin();
        c.env("ROOTVAULT_DIR", &fs.dir)
            .arg("sign")
            .arg(&s.east.csr)
            .args(["--cluster", "east", "--confirm", &s.east.spki_sha256[..16]]);
        c
    };
    let r = with_pause(sign(), "ledger.before_commit", || fs.fill());
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("is full, so nothing was recorded"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "a certificate was printed");
    fs.unfill();
    let mut verify = h.rv();
    verify
        .env("ROOTVAULT_DIR", &fs.dir)
        .args(["ledger", "verify"]);
    run(&mut verify).expect(0);
    let mut list = h.rv();
    list.env("ROOTVAULT_DIR", &fs.dir).args(["list", "--json"]);
    assert_eq!(run(&mut list).expect(0).json().as_array().unwrap().len(), 1);
    run(&mut sign()).expect(0);
    assert_eq!(run(&mut list).expect(0).json().as_array().unwrap().len(), 2);
}

#[cfg(feature = "fault-injection")]
#[test]
fn an_output_directory_lost_after_the_commit_is_reported_with_how_to_write_it_again() {
    let s = setup("lost-out");
    let h = &s.h;
    let out = h.path("usb");
    std::fs::create_dir(&out).unwrap();
    let mut sign = h.rv_pin();
    sign.arg("sign")
        .arg(&s.east.csr)
        .args(["--cluster", "east", "--confirm", &s.east.spki_sha256[..16]])
        .arg("--out")
        .arg(out.join("east.pem"));
    let serials = |v: serde_json::Value| -> Vec<(String, String)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let field = |k: &str| c[k].as_str().unwrap().to_owned();
                (field("serial"), field("sha256"))
            })
            .collect()
    };
    let before = serials(run(h.rv().args(["list", "--json"])).expect(0).json());
    // The stick is pulled after the ledger recorded the certificate.
    let r = with_pause(sign, "ledger.after_commit", || {
        std::fs::remove_dir_all(&out).unwrap()
    });
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("recorded in the ledger")
            && r.stderr
                .contains("rootvault export --cluster east --format pem-bundle"),
        "{}",
        r.stderr
    );
    run(h.rv().args(["ledger", "verify"])).expect(0);
    let after = serials(run(h.rv().args(["list", "--json"])).expect(0).json());
    let new: Vec<_> = after.iter().filter(|c| !before.contains(c)).collect();
    assert_eq!(new.len(), 1, "the new certificate is recorded");
    assert!(
        r.stderr.contains(&new[0].0),
        "the message names the serial: {}",
        r.stderr
    );
    // The remedy the message gives works, and yields that very certificate.
    std::fs::create_dir(&out).unwrap();
    run(h
        .rv_pin()
        .args([
            "export",
            "--cluster",
            "east",
            "--format",
            "pem-bundle",
            "--out",
        ])
        .arg(out.join("east.pem")))
    .expect(0);
    let bundle = std::fs::read_to_string(out.join("east.pem")).unwrap();
    let first = ::pem::parse(&bundle).unwrap();
    assert_eq!(rootvault::keys::sha256_hex(first.contents()), new[0].1);
}
