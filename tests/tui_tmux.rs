//! Issue 5, end to end: the real `rootvault` binary in a real terminal (tmux), against a
//! SoftHSM2 vault. The operator unlocks by typing the PIN, signs a CSR from the inbox by
//! keystrokes, and quits; then `rootvault list --json` shows the certificate and
//! `openssl verify` accepts it. tmux is installed by hsm-test/install-deps.sh.

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;
use sha2::{Digest, Sha256};

/// A tmux server of the test's own (its own socket), killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is installed (hsm-test/install-deps.sh installs it)")
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "e2e"];
        args.extend(keys);
        assert!(self.cmd(&args).status.success());
        // Let the app read each batch on its own (an Esc followed at once by a key reads as
        // Alt+key).
        std::thread::sleep(Duration::from_millis(150));
    }

    fn literal(&self, text: &str) {
        assert!(self
            .cmd(&["send-keys", "-t", "e2e", "-l", text])
            .status
            .success());
        std::thread::sleep(Duration::from_millis(150));
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "e2e"]).stdout).into_owned()
    }

    /// Polls the screen until it shows every one of `needles` (at most 30 s).
    #[track_caller]
    fn wait_for(&self, needles: &[&str]) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if needles.iter().all(|n| s.contains(n)) {
                return s;
            }
            if start.elapsed() > Duration::from_secs(30) {
                panic!("waited 30s for {needles:?}; the screen is:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

#[test]
fn an_operator_unlocks_and_signs_an_inbox_csr_by_keystrokes_in_a_real_terminal() {
    let hsm = Hsm::new("tmux-e2e");
    hsm.vault_with_root("ecdsa-p384").expect(0);
    let inbox = hsm.vault().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let csr = inbox.join("prod-eu1.csr");
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        hsm.path("prod-eu1.key").to_str().unwrap(),
        "-subj",
        "/CN=prod-eu1",
        "-out",
        csr.to_str().unwrap(),
    ])
    .expect(0);
    let pubkey = openssl(&["req", "-in", csr.to_str().unwrap(), "-pubkey", "-noout"]).expect(0);
    std::fs::write(hsm.path("pub.pem"), pubkey.stdout).unwrap();
    let der = hsm.path("spki.der");
    openssl(&[
        "pkey",
        "-pubin",
        "-in",
        hsm.path("pub.pem").to_str().unwrap(),
        "-outform",
        "DER",
        "-out",
        der.to_str().unwrap(),
    ])
    .expect(0);
    let spki = hex::encode(Sha256::digest(std::fs::read(&der).unwrap()));

    let tmux = Tmux {
        socket: format!("rootvault-e2e-{}", std::process::id()),
    };
    let conf = format!("SOFTHSM2_CONF={}", hsm.conf.display());
    let dir = format!("ROOTVAULT_DIR={}", hsm.vault().display());
    let shell = format!(
        "{} ; echo rootvault-exited-$? ; sleep 120",
        env!("CARGO_BIN_EXE_rootvault")
    );
    let started = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "e2e",
        "-x",
        "120",
        "-y",
        "40",
        "-e",
        &conf,
        "-e",
        &dir,
        "-e",
        "USER=tmux-operator",
        "-e",
        "NO_COLOR=1",
        &shell,
    ]);
    assert!(
        started.status.success(),
        "tmux new-session: {}",
        String::from_utf8_lossy(&started.stderr)
    );
    // `rootvault` with no command, on a terminal: the TUI.
    tmux.wait_for(&["1 Overview", "6 Ledger", "not logged in", "q quit"]);

    // Unlock by typing the PIN; it never appears on the screen.
    tmux.keys(&["2"]);
    tmux.wait_for(&["User PIN:", "Enter log in"]);
    tmux.literal(PIN);
    let typing = tmux.screen();
    assert!(!typing.contains(PIN), "{typing}");
    assert!(typing.contains(&"•".repeat(PIN.len())), "{typing}");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["UNLOCKED", "LOGGED IN"]);

    // The terminal shrinks to 80x24: the screen follows.
    assert!(tmux
        .cmd(&["resize-window", "-t", "e2e", "-x", "80", "-y", "24"])
        .status
        .success());
    let small = tmux.wait_for(&["1 Overview", "UNLOCKED"]);
    assert!(small.lines().all(|l| l.chars().count() <= 80), "{small}");

    // The inbox, the review, the confirmation with the fingerprint typed.
    tmux.keys(&["3"]);
    tmux.wait_for(&["prod-eu1.csr", "acceptable"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Review", "SPKI SHA-256", &spki[..8]]);
    tmux.keys(&["s"]);
    tmux.wait_for(&["Confirm: sign", "Have the cluster team"]);
    tmux.literal(&spki[..16]);
    tmux.keys(&["Enter"]);
    let signed = tmux.wait_for(&["Signed", "e exports it"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["signed "]);

    // Quit: nothing is under way, so no question.
    tmux.keys(&["q"]);
    tmux.wait_for(&["rootvault-exited-0"]);
    drop(tmux);

    let list = run(hsm.rv().args(["list", "--json"])).expect(0).json();
    let certs = list.as_array().unwrap();
    assert_eq!(certs.len(), 1, "{list}");
    assert_eq!(certs[0]["cluster"], "prod-eu1");
    assert_eq!(certs[0]["status"], "valid");
    let serial = certs[0]["serial"].as_str().unwrap();
    assert!(signed.contains(serial), "{signed}");
    let events = run(hsm.rv().args(["ledger", "show", "--json"]))
        .expect(0)
        .json();
    let issued = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "certificate_issued")
        .unwrap()
        .clone();
    assert_eq!(issued["actor"], "tmux-operator");

    // The certificate, as the cluster would receive it, against the root.
    let inter = hsm.path("inter.pem");
    run(hsm.rv_pin().args([
        "export",
        "--cluster",
        "prod-eu1",
        "--format",
        "pem-bundle",
        "--out",
        inter.to_str().unwrap(),
    ]))
    .expect(0);
    let root = hsm.root_pem();
    let v = openssl(&[
        "verify",
        "-CAfile",
        root.to_str().unwrap(),
        inter.to_str().unwrap(),
    ])
    .expect(0);
    assert!(v.stdout.contains(": OK"), "{v:?}");
}

#[test]
fn without_a_command_and_without_a_terminal_it_prints_help_and_exits_2() {
    let r = run(Command::new(env!("CARGO_BIN_EXE_rootvault")).env_remove("ROOTVAULT_DIR"));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("Usage:") && r.stderr.contains("tui"),
        "{r:?}"
    );
    let r = run(Command::new(env!("CARGO_BIN_EXE_rootvault")).arg("tui"));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("the TUI needs a terminal"), "{r:?}");
}
