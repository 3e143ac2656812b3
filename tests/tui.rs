//! Issue 5: the ceremony TUI against real SoftHSM2 vaults, driven by key events into
//! `App::update` and drawn with ratatui's `TestBackend` at 80×24 and 120×40.
//!
//! SoftHSM reads `SOFTHSM2_CONF` once per process, so every test in this file shares one
//! configuration (set once, before the first PKCS#11 call) and one token directory, with a
//! token of its own in it; the tests take turns through a mutex. Vaults are made by the real
//! `rootvault` binary as child processes with the same configuration; what the TUI did is
//! checked afterwards the same way (`list --json`, `ledger show --json`, `openssl`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use common::*;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use rootvault::ceremony::Operator;
use rootvault::tui::{App, Options, Screen, Theme};
use rootvault::vault::Vault;
use sha2::{Digest, Sha256};

/// The process-wide SoftHSM configuration and its token directory.
struct World {
    hsm_dir: PathBuf,
    conf: PathBuf,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let hsm_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("tui-hsm-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&hsm_dir);
        make_token(&hsm_dir, "tui-first");
        let conf = hsm_dir.join("softhsm2.conf");
        // Before any PKCS#11 call in this process (edition 2021: not `unsafe`). Every test
        // holds the lock below from its first line, so no other thread reads the
        // environment meanwhile.
        std::env::set_var("SOFTHSM2_CONF", &conf);
        std::env::remove_var(rootvault::pin::PIN_ENV);
        World { hsm_dir, conf }
    })
}

/// One test at a time: they share the token directory and the process's SoftHSM.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn make_token(hsm_dir: &Path, label: &str) {
    let out = Command::new(repo().join("hsm-test/make-token.sh"))
        .arg(hsm_dir)
        .arg(label)
        .arg(SO_PIN)
        .arg(PIN)
        .output()
        .expect("run hsm-test/make-token.sh");
    assert!(
        out.status.success(),
        "make-token.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A vault with a root on a fresh token labelled `label`, in `/tmp/rvtuiXXXXXX` (a path of
/// fixed length, so the screens wrap the same way on every machine).
fn ceremony(label: &str) -> Hsm {
    let w = world();
    make_token(&w.hsm_dir, label);
    let dir = tempfile::Builder::new()
        .prefix("rvtui")
        .rand_bytes(6)
        .tempdir_in("/tmp")
        .unwrap();
    write_private(&dir.path().join("pin"), format!("{PIN}\n"));
    let hsm = Hsm {
        dir,
        conf: w.conf.clone(),
        label: label.to_owned(),
    };
    hsm.vault_with_root("ecdsa-p384").expect(0);
    hsm
}

/// A P-256 CSR made by OpenSSL in the vault's inbox as `NAME.csr`; returns the SPKI SHA-256.
fn inbox_csr(hsm: &Hsm, name: &str) -> String {
    let inbox = hsm.vault().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let csr = inbox.join(format!("{name}.csr"));
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        hsm.path(&format!("{name}.key")).to_str().unwrap(),
        "-subj",
        "/CN=whatever the cluster asks",
        "-out",
        csr.to_str().unwrap(),
    ])
    .expect(0);
    let pubkey = openssl(&["req", "-in", csr.to_str().unwrap(), "-pubkey", "-noout"]).expect(0);
    let der_file = hsm.path(&format!("{name}.spki.der"));
    let pem_file = hsm.path(&format!("{name}.pub.pem"));
    std::fs::write(&pem_file, pubkey.stdout).unwrap();
    openssl(&[
        "pkey",
        "-pubin",
        "-in",
        pem_file.to_str().unwrap(),
        "-outform",
        "DER",
        "-out",
        der_file.to_str().unwrap(),
    ])
    .expect(0);
    hex::encode(Sha256::digest(std::fs::read(der_file).unwrap()))
}

fn open_app(hsm: &Hsm, pin_file: Option<PathBuf>) -> App {
    let mut app = App::new(
        Vault::open(&hsm.vault()).unwrap(),
        Options {
            operator: Operator("tui-test".into()),
            pin_file,
            theme: Theme::new(false),
        },
    );
    settle(&mut app);
    app
}

/// Waits for the running job (and any it starts) to finish.
#[track_caller]
fn settle(app: &mut App) {
    assert!(
        app.wait_for_job(Duration::from_secs(120)),
        "a job did not finish in two minutes"
    );
}

fn press(app: &mut App, code: KeyCode) {
    app.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn ctrl(app: &mut App, c: char) {
    app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL));
}

fn typing(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

/// The screen as text, one line per row.
fn screen(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| f.render_widget(app, f.area())).unwrap();
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..h {
        let line: String = (0..w).map(|x| buf[(x, y)].symbol()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Asserts that `needles` are on the screen at both sizes.
#[track_caller]
fn shows(app: &App, needles: &[&str]) {
    for (w, h) in [(80, 24), (120, 40)] {
        let s = screen(app, w, h);
        for n in needles {
            assert!(s.contains(n), "{n:?} not on the {w}x{h} screen:\n{s}");
        }
    }
}

/// Times, dates and hex (serials, fingerprints, hashes) replaced by placeholders of the same
/// width, and the test's directory by a fixed name, so a snapshot holds only the layout and
/// the words.
fn redact(s: &str, hsm: &Hsm) -> String {
    let dir = hsm.dir.path().to_str().unwrap();
    let mut s = s.replace(dir, &"/tmp/rvtui######"[..dir.len().min(16)]);
    s = s.replace(module().to_str().unwrap(), "[module]");
    if let Ok(canon) = std::fs::canonicalize(module()) {
        s = s.replace(canon.to_str().unwrap(), "[module]");
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out: Vec<char> = chars.clone();
    // Hex runs of 8 or more (serials, hashes, fingerprint groups).
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        while i < chars.len() && (chars[i].is_ascii_digit() || ('a'..='f').contains(&chars[i])) {
            i += 1;
        }
        let boundary_before = start == 0 || !chars[start - 1].is_ascii_alphanumeric();
        let boundary_after = i == chars.len() || !chars[i].is_ascii_alphanumeric();
        if i - start >= 8 && boundary_before && boundary_after {
            for c in &mut out[start..i] {
                *c = '#';
            }
        }
        if i == start {
            i += 1;
        }
    }
    // Dates and times: every digit of YYYY-MM-DD and hh:mm:ss.
    let text: String = out.into_iter().collect();
    let mut out: Vec<char> = text.chars().collect();
    let is = |v: &[char], at: usize, pat: &str| {
        pat.chars().enumerate().all(|(k, p)| {
            v.get(at + k).is_some_and(|c| {
                if p == '9' {
                    c.is_ascii_digit()
                } else {
                    *c == p
                }
            })
        })
    };
    for at in 0..out.len() {
        for pat in ["9999-99-99", "99:99:99"] {
            if is(&out, at, pat) {
                for (k, p) in pat.chars().enumerate() {
                    if p == '9' {
                        out[at + k] = '0';
                    }
                }
            }
        }
    }
    out.into_iter().collect()
}

fn list(hsm: &Hsm) -> serde_json::Value {
    run(hsm.rv().args(["list", "--json"])).expect(0).json()
}

fn events(hsm: &Hsm) -> Vec<serde_json::Value> {
    run(hsm.rv().args(["ledger", "show", "--json"]))
        .expect(0)
        .json()
        .as_array()
        .unwrap()
        .clone()
}

fn kinds(hsm: &Hsm) -> Vec<String> {
    events(hsm)
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// Unlocks by typing the PIN on the Unlock screen.
fn unlock(app: &mut App) {
    if app.screen() != Screen::Unlock {
        press(app, KeyCode::Char('2'));
    }
    assert_eq!(app.screen(), Screen::Unlock);
    typing(app, PIN);
    assert_eq!(app.typed_pin_len(), PIN.len());
    press(app, KeyCode::Enter);
    assert_eq!(
        app.typed_pin_len(),
        0,
        "the PIN buffer is wiped when handed over"
    );
    settle(app);
    assert!(app.is_unlocked(), "{:?}", app.message());
}

#[test]
fn a_whole_ceremony_by_keys_unlock_sign_export_revoke_crl_verify() {
    let _turn = serial();
    let hsm = ceremony("tui-ceremony");
    let spki = inbox_csr(&hsm, "prod-eu1");
    let mut app = open_app(&hsm, None);

    // Overview, before anything.
    shows(
        &app,
        &[
            "1 Overview",
            "\"tui-ceremony\"",
            "not logged in",
            "CN=Test Root CA, O=Example Org, C=GB",
            "0 valid · 0 revoked · 0 expired",
            "CRL",
            "none issued yet",
            "u unlock",
        ],
    );
    insta::assert_snapshot!("overview_80x24", redact(&screen(&app, 80, 24), &hsm));

    // Unlock: a wrong PIN shows the token's words, then the right one logs in.
    press(&mut app, KeyCode::Char('2'));
    typing(&mut app, "not-the-pin");
    shows(&app, &["User PIN:  •••••••••••", "Enter log in"]);
    insta::assert_snapshot!("unlock_typing_80x24", redact(&screen(&app, 80, 24), &hsm));
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    assert!(!app.is_unlocked());
    shows(&app, &["login failed: the token rejected the PIN"]);
    unlock(&mut app);
    shows(&app, &["UNLOCKED", "LOGGED IN"]);

    // Inbox: the request, its cluster from the file name, key type and verdict.
    press(&mut app, KeyCode::Char('3'));
    shows(
        &app,
        &["prod-eu1.csr", "prod-eu1", "ecdsa-p256", "acceptable"],
    );
    insta::assert_snapshot!("inbox_80x24", redact(&screen(&app, 80, 24), &hsm));

    // Review: everything `csr inspect` shows, and the profile.
    press(&mut app, KeyCode::Enter);
    let grouped = spki
        .as_bytes()
        .chunks(8)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>();
    shows(
        &app,
        &[
            "Review",
            "verdict",
            "SPKI SHA-256",
            grouped[0],
            "CSR SHA-256",
            "requested subject",
            "CN=whatever the cluster asks (not copied)",
            "signature algorithm",
            "would sign: subject",
            "CA:TRUE, pathlen:0 (critical)",
        ],
    );
    insta::assert_snapshot!("review_120x40", redact(&screen(&app, 120, 40), &hsm));

    // The confirmation modal; the fingerprint typed with colons and in capitals.
    press(&mut app, KeyCode::Char('s'));
    shows(&app, &["Confirm: sign", "Have the cluster team read out"]);
    insta::assert_snapshot!("confirm_sign_80x24", redact(&screen(&app, 80, 24), &hsm));
    let typed = spki.as_bytes()[..16]
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":")
        .to_uppercase();
    typing(&mut app, &typed);
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    let certs = list(&hsm);
    let certs = certs.as_array().unwrap();
    assert_eq!(certs.len(), 1, "{certs:?}");
    let serial = certs[0]["serial"].as_str().unwrap().to_owned();
    assert_eq!(certs[0]["cluster"], "prod-eu1");
    shows(&app, &["Signed", &serial, "e exports it"]);
    insta::assert_snapshot!("signed_80x24", redact(&screen(&app, 80, 24), &hsm));

    // The export offered after signing: pem-bundle, read by openssl verify.
    press(&mut app, KeyCode::Char('e'));
    shows(&app, &["Export prod-eu1", "pem-bundle", "write to"]);
    for _ in 0..3 {
        press(&mut app, KeyCode::Right);
    }
    press(&mut app, KeyCode::Tab);
    for _ in 0.."prod-eu1-chain.pem".len() {
        press(&mut app, KeyCode::Backspace);
    }
    let bundle = hsm.path("inter.pem");
    typing(&mut app, bundle.to_str().unwrap());
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    assert!(
        bundle.is_file(),
        "{:?} {:?}",
        app.message(),
        app.error_shown()
    );
    let root = hsm.root_pem();
    let v = openssl(&[
        "verify",
        "-CAfile",
        root.to_str().unwrap(),
        bundle.to_str().unwrap(),
    ])
    .expect(0);
    assert!(v.stdout.contains(": OK"), "{v:?}");
    assert_eq!(kinds(&hsm).last().unwrap(), "bundle_exported");

    // Certificates: the table, then revoke with a reason and the serial typed.
    press(&mut app, KeyCode::Char('4'));
    shows(
        &app,
        &["CLUSTER", "SERIAL", "STATUS", "prod-eu1", &serial, "valid"],
    );
    insta::assert_snapshot!("certificates_80x24", redact(&screen(&app, 80, 24), &hsm));
    press(&mut app, KeyCode::Enter);
    shows(&app, &["Certificate", "SHA-256", "not after"]);
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('r'));
    shows(&app, &["keyCompromise", "cessationOfOperation"]);
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Enter);
    shows(&app, &["Confirm: revoke", "keyCompromise"]);
    typing(&mut app, &serial[..16]);
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    assert_eq!(list(&hsm)[0]["status"], "revoked");
    shows(&app, &["revoked"]);

    // CRL: issue the next one, write it, and openssl checks it against the root.
    press(&mut app, KeyCode::Char('5'));
    shows(&app, &["none issued yet", "Revocations (1)", &serial]);
    press(&mut app, KeyCode::Char('i'));
    shows(&app, &["Issue CRL 1", "180"]);
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    shows(&app, &["number 1", "entries", "CRL 1 issued: 1 revoked"]);
    insta::assert_snapshot!("crl_80x24", redact(&screen(&app, 80, 24), &hsm));
    press(&mut app, KeyCode::Char('w'));
    for _ in 0.."crl-1.pem".len() {
        press(&mut app, KeyCode::Backspace);
    }
    let crl = hsm.path("crl.pem");
    typing(&mut app, crl.to_str().unwrap());
    press(&mut app, KeyCode::Enter);
    let c = openssl(&[
        "crl",
        "-in",
        crl.to_str().unwrap(),
        "-CAfile",
        root.to_str().unwrap(),
        "-noout",
        "-text",
    ])
    .expect(0);
    assert!(
        c.stderr.contains("verify OK") || c.stdout.contains("verify OK"),
        "{c:?}"
    );
    assert!(
        c.stdout.to_uppercase().contains(&serial.to_uppercase()),
        "{c:?}"
    );

    // Ledger: the events, details, and verification.
    press(&mut app, KeyCode::Char('6'));
    shows(
        &app,
        &[
            "certificate_issued",
            "certificate_revoked",
            "crl_issued",
            "bundle_exported",
        ],
    );
    press(&mut app, KeyCode::Char('v'));
    settle(&mut app);
    shows(&app, &["intact:", "ledger intact"]);
    insta::assert_snapshot!("ledger_80x24", redact(&screen(&app, 80, 24), &hsm));
    press(&mut app, KeyCode::Enter);
    shows(&app, &["Event", "prev hash", "payload"]);
    press(&mut app, KeyCode::Esc);

    // The overview adds it up; every action was recorded as the TUI's operator.
    press(&mut app, KeyCode::Char('1'));
    shows(
        &app,
        &["0 valid · 1 revoked · 0 expired", "LOGGED IN", "intact at"],
    );
    let actors: Vec<String> = events(&hsm)
        .iter()
        .filter(|e| e["kind"] != "vault_initialised" && e["kind"] != "root_created")
        .filter(|e| e["kind"] != "audit_key_created")
        .map(|e| e["actor"].as_str().unwrap().to_owned())
        .collect();
    assert!(actors.iter().all(|a| a == "tui-test"), "{actors:?}");

    press(&mut app, KeyCode::Char('q'));
    assert!(app.should_quit());
}

#[test]
fn a_wrong_fingerprint_in_the_modal_signs_nothing_and_says_what_the_cli_says() {
    let _turn = serial();
    let hsm = ceremony("tui-wrong-fpr");
    let spki = inbox_csr(&hsm, "prod-us1");
    let wrong = if spki.starts_with("00") {
        "1111111111111111"
    } else {
        "0000000000000000"
    };
    let before = (list(&hsm), events(&hsm));

    // The command line's words for the same mistake (it fails before touching the token).
    let cli = run(hsm
        .rv_pin()
        .arg("sign")
        .arg(hsm.vault().join("inbox/prod-us1.csr"))
        .args(["--cluster", "prod-us1", "--confirm", wrong]))
    .expect(6);
    let cli_error = cli
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("rootvault: error: "))
        .unwrap()
        .to_owned();

    let mut app = open_app(&hsm, None);
    unlock(&mut app);
    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Char('s'));
    typing(&mut app, wrong);
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    assert_eq!(app.error_shown(), Some(cli_error.as_str()));
    shows(&app, &["Not signed", "does not match the SPKI SHA-256"]);
    // Too short is refused by ceremony too, in its words.
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Char('s'));
    typing(&mut app, &spki[..15]);
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    assert!(
        app.error_shown()
            .is_some_and(|e| e.contains("at least 16 hex digits")),
        "{:?}",
        app.error_shown()
    );
    drop(app);
    assert_eq!((list(&hsm), events(&hsm)), before);
}

#[test]
fn quitting_in_the_middle_of_a_flow_leaves_the_vault_unchanged() {
    let _turn = serial();
    let hsm = ceremony("tui-quit");
    let spki = inbox_csr(&hsm, "prod-ap1");
    let before = (list(&hsm), events(&hsm));

    // In the confirmation modal, with the right fingerprint typed but not sent: Ctrl-C.
    let mut app = open_app(&hsm, None);
    unlock(&mut app);
    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Char('s'));
    typing(&mut app, &spki[..16]);
    ctrl(&mut app, 'c');
    assert!(!app.should_quit(), "it asks first");
    shows(
        &app,
        &["Quit in the middle of confirming a signature?", "y quit"],
    );
    insta::assert_snapshot!("quit_question_80x24", redact(&screen(&app, 80, 24), &hsm));
    press(&mut app, KeyCode::Char('y'));
    assert!(app.should_quit());
    drop(app);
    assert_eq!((list(&hsm), events(&hsm)), before);

    // In the reason picker of a revocation (a certificate signed on the command line): q.
    run(hsm
        .rv_pin()
        .arg("sign")
        .arg(hsm.vault().join("inbox/prod-ap1.csr"))
        .args(["--cluster", "prod-ap1", "--confirm", &spki[..16]]))
    .expect(0);
    let before = (list(&hsm), events(&hsm));
    let mut app = open_app(&hsm, None);
    unlock(&mut app);
    press(&mut app, KeyCode::Char('4'));
    press(&mut app, KeyCode::Char('r'));
    press(&mut app, KeyCode::Char('q'));
    assert!(!app.should_quit());
    shows(&app, &["Quit in the middle of revoking a certificate?"]);
    press(&mut app, KeyCode::Char('n'));
    shows(&app, &["Revoke: reason"]);
    press(&mut app, KeyCode::Enter);
    typing(&mut app, &before.0[0]["serial"].as_str().unwrap()[..16]);
    ctrl(&mut app, 'c');
    press(&mut app, KeyCode::Char('y'));
    assert!(app.should_quit());
    drop(app);

    // In the export form: q, then y; nothing written, nothing recorded.
    let mut app = open_app(&hsm, None);
    unlock(&mut app);
    press(&mut app, KeyCode::Char('4'));
    press(&mut app, KeyCode::Char('e'));
    shows(&app, &["Export prod-ap1"]);
    press(&mut app, KeyCode::Char('q'));
    press(&mut app, KeyCode::Char('y'));
    assert!(app.should_quit());
    drop(app);
    assert_eq!((list(&hsm), events(&hsm)), before);
    assert!(std::fs::read_dir(std::env::current_dir().unwrap())
        .unwrap()
        .all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("prod-ap1")));
}

#[test]
fn the_pin_file_unlocks_when_the_field_is_left_empty() {
    let _turn = serial();
    let hsm = ceremony("tui-pin-file");
    let mut app = open_app(&hsm, Some(hsm.pin_file()));
    press(&mut app, KeyCode::Char('2'));
    shows(&app, &["--pin-file"]);
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    assert!(app.is_unlocked(), "{:?}", app.message());
    press(&mut app, KeyCode::Char('l'));
    settle(&mut app);
    assert!(!app.is_unlocked());
    shows(&app, &["not logged in", "logged out of the token"]);
}

#[test]
fn a_refused_export_reads_as_the_command_line_prints_it() {
    let _turn = serial();
    let hsm = ceremony("tui-same-words");
    let spki = inbox_csr(&hsm, "prod-sa1");
    run(hsm
        .rv_pin()
        .arg("sign")
        .arg(hsm.vault().join("inbox/prod-sa1.csr"))
        .args(["--cluster", "prod-sa1", "--confirm", &spki[..16]]))
    .expect(0);
    let taken = hsm.path("taken.pem");
    std::fs::write(&taken, "already here").unwrap();

    let mut app = open_app(&hsm, None);
    unlock(&mut app);
    press(&mut app, KeyCode::Char('4'));
    press(&mut app, KeyCode::Char('e'));
    press(&mut app, KeyCode::Tab);
    for _ in 0.."prod-sa1-cacerts".len() {
        press(&mut app, KeyCode::Backspace);
    }
    typing(&mut app, taken.to_str().unwrap());
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    let tui_error = app.error_shown().expect("refused").to_owned();
    shows(&app, &["Not exported", "already exists"]);
    drop(app);

    let cli = run(hsm.rv_pin().args([
        "export",
        "--cluster",
        "prod-sa1",
        "--format",
        "istio",
        "--out",
        taken.to_str().unwrap(),
    ]))
    .expect(1);
    assert_eq!(
        cli.stderr.trim_end(),
        format!("rootvault: error: {tui_error}")
    );
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "already here");
}

#[test]
fn verifying_a_large_ledger_shows_progress_and_keys_keep_working() {
    let _turn = serial();
    let hsm = ceremony("tui-big-ledger");
    {
        let mut ledger =
            rootvault::ledger::Ledger::open(&hsm.vault().join("ledger.sqlite")).unwrap();
        let tx = ledger.begin().unwrap();
        for i in 0..20_000 {
            tx.append(
                "bulk",
                &rootvault::ledger::Event::SigningRejected(rootvault::ledger::SigningRejected {
                    cluster: Some("bulk".into()),
                    input_sha256: format!("{i:064x}"),
                    reasons: vec!["bulk".into()],
                }),
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let total = events(&hsm).len();
    // What feeds the bar: the count so far, every VERIFY_PROGRESS_STEP events, then the end.
    let mut reported = Vec::new();
    rootvault::ledger::Ledger::open(&hsm.vault().join("ledger.sqlite"))
        .unwrap()
        .verify_with_progress(|n| reported.push(n))
        .unwrap();
    let step = rootvault::ledger::VERIFY_PROGRESS_STEP;
    let mut expected: Vec<u64> = (1..=total as u64 / step).map(|k| k * step).collect();
    expected.push(total as u64);
    assert_eq!(reported, expected);
    let mut app = open_app(&hsm, None);
    press(&mut app, KeyCode::Char('6'));
    press(&mut app, KeyCode::Char('v'));
    assert!(app.busy());
    // Keys keep working while it runs: move around and come back.
    press(&mut app, KeyCode::Char('1'));
    assert_eq!(app.screen(), Screen::Overview);
    press(&mut app, KeyCode::Char('6'));
    press(&mut app, KeyCode::Up);
    let s = screen(&app, 80, 24);
    assert!(
        s.contains("verifying the ledger…")
            && (s.contains("counting events") || s.contains("verifying ")),
        "{s}"
    );
    assert!(s.contains('█'), "a progress bar:\n{s}");
    settle(&mut app);
    shows(&app, &[&format!("intact: {total} events")]);
}

#[test]
fn a_typed_usb_path_a_typed_cluster_and_an_age_encrypted_export() {
    let _turn = serial();
    let hsm = ceremony("tui-usb");
    // A "USB stick" with a request whose file name is not a cluster name.
    let usb = hsm.path("usb");
    std::fs::create_dir_all(&usb).unwrap();
    let spki = inbox_csr(&hsm, "Request_From_Team");
    std::fs::rename(
        hsm.vault().join("inbox/Request_From_Team.csr"),
        usb.join("Request_From_Team.csr"),
    )
    .unwrap();
    let mut app = open_app(&hsm, None);
    unlock(&mut app);
    press(&mut app, KeyCode::Char('3'));
    shows(&app, &["No requests"]);
    press(&mut app, KeyCode::Char('o'));
    typing(&mut app, usb.to_str().unwrap());
    press(&mut app, KeyCode::Enter);
    shows(
        &app,
        &["Request_From_Team.csr", "REFUSED: no cluster given"],
    );
    // Name the cluster, ask for fewer days, and the verdict follows.
    press(&mut app, KeyCode::Char('c'));
    typing(&mut app, "Not A Name");
    press(&mut app, KeyCode::Enter);
    assert!(app.error_shown().is_some(), "a bad cluster name is refused");
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Char('c'));
    typing(&mut app, "edge-7");
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Char('d'));
    typing(&mut app, "30");
    press(&mut app, KeyCode::Enter);
    shows(&app, &["edge-7*", "acceptable"]);
    press(&mut app, KeyCode::Enter);
    shows(&app, &["edge-7 (typed)", "30 days", "days asked"]);
    press(&mut app, KeyCode::Char('s'));
    typing(&mut app, &spki[..16]);
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    let certs = list(&hsm);
    assert_eq!(certs[0]["cluster"], "edge-7", "{certs}");

    // Export for the cluster, encrypted to an age recipient typed in the form.
    let identity = hsm.path("age.key");
    run(Command::new("age-keygen").arg("-o").arg(&identity)).expect(0);
    let recipient = run(Command::new("age-keygen").arg("-y").arg(&identity)).expect(0);
    let recipient = recipient.stdout.trim();
    press(&mut app, KeyCode::Char('e'));
    press(&mut app, KeyCode::Right); // istio-secret
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    typing(&mut app, recipient);
    press(&mut app, KeyCode::Enter); // adds the recipient
    shows(&app, &["Encrypted with age", "edge-7-cacerts.yaml.age"]);
    press(&mut app, KeyCode::BackTab);
    for _ in 0.."edge-7-cacerts.yaml.age".len() {
        press(&mut app, KeyCode::Backspace);
    }
    let out = hsm.path("edge-7.yaml.age");
    typing(&mut app, out.to_str().unwrap());
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    assert!(out.is_file(), "{:?} {:?}", app.message(), app.error_shown());
    shows(&app, &["(age-encrypted)"]);
    let plain = run(Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&identity)
        .arg(&out))
    .expect(0);
    assert!(plain.stdout.contains("name: cacerts"), "{plain:?}");
}

#[test]
fn the_root_is_created_from_the_overview_with_progress_on_a_worker() {
    let _turn = serial();
    let w = world();
    make_token(&w.hsm_dir, "tui-new-root");
    let dir = tempfile::Builder::new()
        .prefix("rvtui")
        .rand_bytes(6)
        .tempdir_in("/tmp")
        .unwrap();
    write_private(&dir.path().join("pin"), format!("{PIN}\n"));
    let hsm = Hsm {
        dir,
        conf: w.conf.clone(),
        label: "tui-new-root".into(),
    };
    hsm.init().expect(0);
    let mut app = open_app(&hsm, None);
    shows(
        &app,
        &["this vault has no root yet", "press n to create it"],
    );
    press(&mut app, KeyCode::Char('n'));
    assert!(app.message().unwrap().contains("unlock it first"));
    unlock(&mut app);
    press(&mut app, KeyCode::Char('1'));
    press(&mut app, KeyCode::Char('n'));
    shows(
        &app,
        &["Create the root", "ecdsa-p384", "rsa-4096", "key label"],
    );
    typing(&mut app, "no equals sign");
    press(&mut app, KeyCode::Enter);
    shows(&app, &["subject:"]);
    for _ in 0.."no equals sign".len() {
        press(&mut app, KeyCode::Backspace);
    }
    typing(&mut app, "CN=TUI Root CA,O=Example Org,C=GB");
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Right); // ecdsa-p256
    press(&mut app, KeyCode::Enter);
    assert!(app.busy());
    shows(&app, &["generating the root key"]);
    settle(&mut app);
    shows(
        &app,
        &["root created", "CN=TUI Root CA, O=Example Org, C=GB"],
    );
    let root = run(hsm.rv().args(["root", "show", "--json"]))
        .expect(0)
        .json();
    assert_eq!(root["key_type"], "ecdsa-p256");
    assert!(kinds(&hsm).iter().all(|k| k != "signing_rejected"));
}

/// CSRs for `clusters` made on a "USB stick" (`usb/` in the test's directory), and a manifest
/// naming them by relative path, plus `extra` lines; returns the manifest and its SHA-256.
fn batch_manifest(hsm: &Hsm, clusters: &[&str], extra: &str) -> (PathBuf, String) {
    let usb = hsm.path("usb");
    std::fs::create_dir_all(&usb).unwrap();
    let mut manifest = String::from("# cluster  spki-sha256  csr-path\n");
    for c in clusters {
        let csr = make_cluster_csr(&usb, c, P256);
        manifest += &format!("{c}  {}  {c}.csr\n", csr.spki_sha256);
    }
    manifest += extra;
    let path = usb.join("batch.txt");
    std::fs::write(&path, &manifest).unwrap();
    (path, hex::encode(Sha256::digest(manifest.as_bytes())))
}

/// From the inbox: `b`, the manifest typed, Enter; waits for the check.
fn open_batch(app: &mut App, manifest: &Path) {
    press(app, KeyCode::Char('3'));
    press(app, KeyCode::Char('b'));
    typing(app, manifest.to_str().unwrap());
    press(app, KeyCode::Enter);
    settle(app);
}

#[test]
fn a_batch_is_signed_by_keys_after_one_confirmation_of_the_manifest() {
    let _turn = serial();
    let hsm = ceremony("tui-batch");
    let clusters = ["prod-eu1", "prod-us1", "staging"];
    let (manifest, sha) = batch_manifest(&hsm, &clusters, "");
    let out = hsm.path("usb/signed");
    let mut app = open_app(&hsm, None);
    unlock(&mut app);

    // The form: the output directory follows the manifest (a `signed` directory next to it).
    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Char('b'));
    shows(&app, &["Sign a batch", "manifest", "write to", "days"]);
    typing(&mut app, manifest.to_str().unwrap());
    shows(&app, &[out.to_str().unwrap(), "Enter check"]);
    press(&mut app, KeyCode::Enter);
    settle(&mut app);

    // The checked lines and the manifest's SHA-256; nothing signed yet.
    let grouped: Vec<&str> = sha
        .as_bytes()
        .chunks(8)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    shows(
        &app,
        &[
            "Batch batch.txt 3 requests, acceptable",
            "LINE",
            "CLUSTER",
            "SPKI SHA-256",
            "DAYS",
            "prod-eu1",
            "prod-us1",
            "staging",
            "ecdsa-p256",
            "manifest SHA-256",
            grouped[0],
            "s sign all",
        ],
    );
    insta::assert_snapshot!("batch_checked_80x24", redact(&screen(&app, 80, 24), &hsm));
    insta::assert_snapshot!("batch_checked_120x40", redact(&screen(&app, 120, 40), &hsm));
    assert_eq!(list(&hsm).as_array().unwrap().len(), 0);

    // One confirmation: a prefix of the manifest's SHA-256, with colons and in capitals.
    press(&mut app, KeyCode::Char('s'));
    shows(
        &app,
        &[
            "Confirm: sign the batch",
            "3 (prod-eu1, prod-us1, staging)",
            grouped[1],
        ],
    );
    insta::assert_snapshot!("confirm_batch_80x24", redact(&screen(&app, 80, 24), &hsm));
    let typed = sha.as_bytes()[..16]
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":")
        .to_uppercase();
    typing(&mut app, &typed);
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    let certs = list(&hsm);
    let certs = certs.as_array().unwrap();
    assert_eq!(certs.len(), 3, "{certs:?} {:?}", app.error_shown());
    let message = format!("signed 3 certificates into {}", out.display());
    shows(&app, &["3 signed", "SERIAL", "prod-eu1.pem", &message]);
    insta::assert_snapshot!("batch_signed_120x40", redact(&screen(&app, 120, 40), &hsm));

    // Every certificate is in the ledger, on disk, and verifies against the root.
    let root = hsm.root_pem();
    for c in clusters {
        let cert = certs.iter().find(|x| x["cluster"] == c).expect(c);
        shows(&app, &[cert["serial"].as_str().unwrap()]);
        let pem = out.join(format!("{c}.pem"));
        let v = verify_strict(&root, &pem).expect(0);
        assert!(v.stdout.contains(": OK"), "{v:?}");
        // The file is the certificate the ledger recorded.
        let der = hsm.path(&format!("{c}.der"));
        openssl(&[
            "x509",
            "-in",
            pem.to_str().unwrap(),
            "-outform",
            "DER",
            "-out",
            der.to_str().unwrap(),
        ])
        .expect(0);
        assert_eq!(
            hex::encode(Sha256::digest(std::fs::read(&der).unwrap())),
            cert["sha256"].as_str().unwrap()
        );
    }
    let issued: Vec<_> = events(&hsm)
        .into_iter()
        .filter(|e| e["kind"] == "certificate_issued")
        .collect();
    assert_eq!(issued.len(), 3, "one event per certificate");
    assert!(
        issued.iter().all(|e| e["actor"] == "tui-test"),
        "{issued:?}"
    );

    // The certificate list followed.
    press(&mut app, KeyCode::Char('4'));
    shows(&app, &["prod-eu1", "prod-us1", "staging", "valid"]);
    press(&mut app, KeyCode::Char('q'));
    assert!(app.should_quit());
}

#[test]
fn a_wrong_batch_confirmation_or_esc_signs_nothing_and_says_what_the_cli_says() {
    let _turn = serial();
    let hsm = ceremony("tui-batch-wrong");
    let (manifest, sha) = batch_manifest(&hsm, &["prod-eu2", "prod-us2"], "");
    let wrong = if sha.starts_with("00") {
        "1111111111111111"
    } else {
        "0000000000000000"
    };
    let out = hsm.path("usb/signed");
    let before = (list(&hsm), events(&hsm));

    // The command line's words for the same mistake.
    let cli = run(hsm
        .rv_pin()
        .arg("sign-batch")
        .arg(&manifest)
        .args(["--confirm", wrong, "--out-dir"])
        .arg(&out))
    .expect(6);
    let cli_error = cli
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("rootvault: error: "))
        .unwrap()
        .to_owned();

    let mut app = open_app(&hsm, None);
    unlock(&mut app);
    // Esc in the form: nothing.
    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Char('b'));
    typing(&mut app, manifest.to_str().unwrap());
    press(&mut app, KeyCode::Esc);
    shows(&app, &["cancelled; nothing was signed"]);

    // A wrong prefix: ceremony refuses, in the CLI's words.
    open_batch(&mut app, &manifest);
    press(&mut app, KeyCode::Char('s'));
    typing(&mut app, wrong);
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    assert_eq!(app.error_shown(), Some(cli_error.as_str()));
    shows(
        &app,
        &["Not signed", "does not match the manifest's SHA-256"],
    );
    press(&mut app, KeyCode::Enter);
    shows(&app, &["Enter checks the manifest again"]);
    press(&mut app, KeyCode::Char('s'));
    shows(&app, &["check the manifest again first"]);

    // Checked again; the right prefix typed, then Esc: nothing.
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    press(&mut app, KeyCode::Char('s'));
    typing(&mut app, &sha[..16]);
    press(&mut app, KeyCode::Esc);
    shows(&app, &["not confirmed; nothing was signed"]);

    // And quitting from the checked batch asks first, then leaves it unsigned.
    press(&mut app, KeyCode::Char('q'));
    assert!(!app.should_quit(), "it asks first");
    shows(&app, &["Quit in the middle of reviewing a batch?"]);
    press(&mut app, KeyCode::Char('y'));
    assert!(app.should_quit());
    drop(app);

    assert_eq!((list(&hsm), events(&hsm)), before);
    assert!(!out.exists(), "no output directory, no files");
}

#[test]
fn a_manifest_with_a_bad_line_shows_every_problem_and_signs_nothing() {
    let _turn = serial();
    let hsm = ceremony("tui-batch-bad");
    let usb = hsm.path("usb");
    std::fs::create_dir_all(&usb).unwrap();
    let stray = make_cluster_csr(&usb, "stray", P256);
    // Line 4 names a request whose key is not the one the manifest names.
    let (manifest, _) = batch_manifest(
        &hsm,
        &["prod-eu3", "prod-us3"],
        &format!("edge-9  {}  prod-eu3.csr\n", stray.spki_sha256),
    );
    let out = hsm.path("usb/signed");
    let before = events(&hsm).len();

    let mut app = open_app(&hsm, None);
    unlock(&mut app);
    open_batch(&mut app, &manifest);
    shows(
        &app,
        &[
            "Batch batch.txt REFUSED",
            "batch refused, nothing was signed:",
            "  line 4: /tmp/",
            "prod-eu3.csr has SPKI SHA-256",
            &stray.spki_sha256[..32],
            "Fix the manifest",
            "every problem is listed above",
        ],
    );
    insta::assert_snapshot!("batch_refused_80x24", redact(&screen(&app, 80, 24), &hsm));
    press(&mut app, KeyCode::Char('s'));
    shows(&app, &["this batch was refused"]);
    press(&mut app, KeyCode::Esc);
    shows(&app, &["Inbox"]);
    drop(app);

    assert_eq!(list(&hsm).as_array().unwrap().len(), 0);
    assert!(!out.exists());
    // The refusal is recorded, as on the command line.
    let new: Vec<_> = events(&hsm).into_iter().skip(before).collect();
    assert_eq!(new.len(), 1, "{new:?}");
    assert_eq!(new[0]["kind"], "signing_rejected");
}

/// An age recipient and an SSH recipient (public keys only; nothing is decrypted with them),
/// fixed so that the snapshots hold the same text on every run.
const FIXED_AGE: &str = "age1hsfdq2j0rwm959aq8m7q34kf4z53ak3ahk204akfe3t3czau055qzq4fe9";
const FIXED_SSH: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPwnEsodOA4/EkkGxKOuJLLw1teazCeqlNF82hYzfSc+ team@gen";

/// The SHA-256 of `lines`, one per line, sorted: `printf '%s\n' R… | sort | sha256sum`.
fn sorted_lines_sha256(lines: &[&str]) -> String {
    let mut sorted = lines.to_vec();
    sorted.sort_unstable();
    let text: String = sorted.iter().map(|l| format!("{l}\n")).collect();
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A hex string in groups of eight, as the modals show it.
fn grouped(hex: &str) -> Vec<&str> {
    hex.as_bytes()
        .chunks(8)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect()
}

/// From the inbox: `n`, then the form filled in: `cluster`, key type and format as offered
/// (ecdsa-p256, istio-secret), `out` in place of the suggested path, and each recipient
/// added with Enter. The focus is left on the (empty) recipient field.
fn fill_generate_form(app: &mut App, cluster: &str, out: &Path, recipients: &[&str]) {
    press(app, KeyCode::Char('3'));
    press(app, KeyCode::Char('n'));
    typing(app, cluster);
    for _ in 0..4 {
        press(app, KeyCode::Tab);
    }
    for _ in 0..format!("{cluster}-cacerts.yaml.age").len() {
        press(app, KeyCode::Backspace);
    }
    typing(app, out.to_str().unwrap());
    press(app, KeyCode::Tab);
    for r in recipients {
        typing(app, r);
        press(app, KeyCode::Enter);
    }
}

#[test]
fn a_key_generated_by_keys_is_signed_and_written_only_age_encrypted() {
    let _turn = serial();
    let hsm = ceremony("tui-generate");
    let identity = hsm.path("age.key");
    let age_pub = age_identity(&identity);
    let ssh_key = hsm.path("team_ed25519");
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "team@east", "-f"])
        .arg(&ssh_key))
    .expect(0);
    let ssh_pub = std::fs::read_to_string(hsm.path("team_ed25519.pub")).unwrap();
    let ssh_pub = ssh_pub.trim().to_owned();
    let fingerprint = sorted_lines_sha256(&[&age_pub, &ssh_pub]);
    let out = hsm.path("gen-east.pem.age");
    let before = events(&hsm).len();

    // Locked: `n` says where to unlock, and opens nothing.
    let mut app = open_app(&hsm, None);
    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Char('n'));
    assert!(app.message().unwrap().contains("unlock it first"));
    assert!(!screen(&app, 80, 24).contains("Generate a key and sign"));
    unlock(&mut app);

    // The form: the suggested output follows cluster and format until it is edited.
    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Char('n'));
    shows(
        &app,
        &[
            "Generate a key and sign",
            "cluster",
            "ecdsa-p256",
            "rsa-4096",
            "istio-secret",
            "pem-bundle",
            "age recipient",
        ],
    );
    typing(&mut app, "gen-east");
    shows(&app, &["gen-east-cacerts.yaml.age"]);
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Right); // ecdsa-p384
    press(&mut app, KeyCode::Tab);
    typing(&mut app, "30");
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Right);
    press(&mut app, KeyCode::Right); // pem-bundle
    shows(&app, &["gen-east-chain.pem.age"]);
    press(&mut app, KeyCode::Tab);
    for _ in 0.."gen-east-chain.pem.age".len() {
        press(&mut app, KeyCode::Backspace);
    }
    typing(&mut app, out.to_str().unwrap());
    press(&mut app, KeyCode::Tab);
    typing(&mut app, &age_pub);
    press(&mut app, KeyCode::Enter); // adds it
    typing(&mut app, &ssh_pub); // taken as it is on Enter
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Enter);

    // The confirmation: everything, and the recipients' SHA-256 (sorted lines).
    let g = grouped(&fingerprint);
    shows(
        &app,
        &[
            "Confirm: generate a key and sign",
            "gen-east",
            "ecdsa-p384",
            "pem-bundle",
            "gen-east.pem.age",
            "recipients SHA-256",
            &age_pub[..40],
            "ssh-ed25519",
            g[0],
            g[7],
        ],
    );
    assert_eq!(
        events(&hsm).len(),
        before,
        "nothing happens before the confirmation"
    );
    typing(&mut app, &fingerprint[..16].to_uppercase());
    press(&mut app, KeyCode::Enter);
    assert!(app.busy());
    settle(&mut app);
    assert!(app.error_shown().is_none(), "{:?}", app.error_shown());

    // The result: serial and path; the ledger has it, generated by the vault.
    let certs = list(&hsm);
    let cert = certs
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["cluster"] == "gen-east")
        .unwrap_or_else(|| panic!("{certs}"))
        .clone();
    let serial = cert["serial"].as_str().unwrap();
    assert_eq!(cert["key_type"], "ecdsa-p384", "{cert}");
    let message = format!(
        "signed: cluster gen-east serial {serial}; key and chain written encrypted to {}",
        out.display()
    );
    assert_eq!(app.message(), Some(message.as_str()));
    shows(&app, &["Generated and signed", serial, "gen-east.pem.age"]);
    let new: Vec<_> = events(&hsm).into_iter().skip(before).collect();
    assert_eq!(new.len(), 2, "an issue and an export: {new:?}");
    assert_eq!(new[0]["kind"], "certificate_issued");
    assert_eq!(new[0]["payload"]["key_source"], "generated", "{}", new[0]);
    assert_eq!(new[0]["actor"], "tui-test");
    assert_eq!(new[1]["kind"], "bundle_exported");
    assert_eq!(
        new[1]["payload"]["contains_generated_key"], true,
        "{}",
        new[1]
    );
    assert_eq!(new[1]["payload"]["serial"], serial);

    // Only encrypted on disk; it decrypts with the age identity to a chain that verifies and
    // a key that is the certificate's.
    let sealed = std::fs::read(&out).unwrap();
    assert!(!sealed.windows(10).any(|w| w == b"-----BEGIN"));
    let plain = hsm.path("gen-east.pem");
    run(Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&identity)
        .arg("-o")
        .arg(&plain)
        .arg(&out))
    .expect(0);
    let plain_s = plain.to_str().unwrap();
    let root = hsm.root_pem();
    let v = verify_strict(&root, &plain).expect(0);
    assert!(v.stdout.contains(": OK"), "{v:?}");
    let der = hsm.path("gen-east.der");
    openssl(&[
        "x509",
        "-in",
        plain_s,
        "-outform",
        "DER",
        "-out",
        der.to_str().unwrap(),
    ])
    .expect(0);
    assert_eq!(
        hex::encode(Sha256::digest(std::fs::read(&der).unwrap())),
        cert["sha256"].as_str().unwrap(),
        "the bundle's certificate is the recorded one"
    );
    let key_pub = openssl(&["pkey", "-in", plain_s, "-pubout"])
        .expect(0)
        .stdout;
    let cert_pub = openssl(&["x509", "-in", plain_s, "-pubkey", "-noout"])
        .expect(0)
        .stdout;
    assert!(key_pub.contains("PUBLIC KEY"), "{key_pub}");
    assert_eq!(key_pub, cert_pub, "the key is the certificate's");

    // The certificate list followed.
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Char('4'));
    shows(&app, &["gen-east", "valid"]);
    press(&mut app, KeyCode::Char('q'));
    assert!(app.should_quit());
}

#[test]
fn a_wrong_recipients_prefix_or_esc_generates_nothing_and_says_what_the_cli_says() {
    let _turn = serial();
    let hsm = ceremony("tui-generate-wrong");
    let fingerprint = sorted_lines_sha256(&[FIXED_AGE, FIXED_SSH]);
    let wrong = if fingerprint.starts_with("00") {
        "1111111111111111"
    } else {
        "0000000000000000"
    };
    let out = hsm.path("gen-west.yaml.age");
    let before = (list(&hsm), events(&hsm));

    // The command line's words for the same mistake.
    let cli = run(hsm
        .rv_pin()
        .args([
            "sign",
            "--generate-key",
            "--key-type",
            "ecdsa-p256",
            "--cluster",
            "gen-west",
            "--age-recipient",
            FIXED_AGE,
            "--age-recipient",
            FIXED_SSH,
            "--confirm",
            wrong,
            "--out",
        ])
        .arg(&out))
    .expect(6);
    let cli_error = cli
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("rootvault: error: "))
        .unwrap()
        .to_owned();
    assert!(!out.exists());

    let mut app = open_app(&hsm, None);
    unlock(&mut app);
    // Esc in the form: nothing.
    fill_generate_form(&mut app, "gen-west", &out, &[FIXED_AGE]);
    insta::assert_snapshot!("generate_form_80x24", redact(&screen(&app, 80, 24), &hsm));
    press(&mut app, KeyCode::Esc);
    shows(&app, &["cancelled; nothing was generated or signed"]);

    // A wrong prefix: ceremony refuses, in the CLI's words.
    fill_generate_form(&mut app, "gen-west", &out, &[FIXED_SSH, FIXED_AGE]);
    press(&mut app, KeyCode::Enter);
    shows(
        &app,
        &[
            "Confirm: generate a key and sign",
            "istio-secret",
            "team@gen",
            grouped(&fingerprint)[3],
        ],
    );
    insta::assert_snapshot!(
        "confirm_generate_80x24",
        redact(&screen(&app, 80, 24), &hsm)
    );
    typing(&mut app, wrong);
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    assert_eq!(app.error_shown(), Some(cli_error.as_str()));
    shows(
        &app,
        &[
            "Not signed",
            "does not match the SHA-256 of the age recipients",
        ],
    );
    press(&mut app, KeyCode::Enter);

    // The right prefix typed, then Esc: nothing.
    fill_generate_form(&mut app, "gen-west", &out, &[FIXED_AGE, FIXED_SSH]);
    press(&mut app, KeyCode::Enter);
    typing(&mut app, &fingerprint[..16]);
    press(&mut app, KeyCode::Esc);
    shows(&app, &["not confirmed; nothing was generated or signed"]);

    // Quitting from the form asks first, then leaves the vault as it was.
    fill_generate_form(&mut app, "gen-west", &out, &[FIXED_AGE]);
    press(&mut app, KeyCode::Char('q'));
    assert!(!app.should_quit(), "q is typed into the recipient field");
    ctrl(&mut app, 'c');
    shows(
        &app,
        &["Quit in the middle of generating a key for a cluster?"],
    );
    press(&mut app, KeyCode::Char('y'));
    assert!(app.should_quit());
    drop(app);

    assert_eq!((list(&hsm), events(&hsm)), before);
    assert!(!out.exists(), "no output");
}

#[test]
fn a_bad_recipient_is_refused_in_the_cli_words_and_nothing_is_generated() {
    let _turn = serial();
    let hsm = ceremony("tui-generate-bad");
    // Cut short: its checksum fails.
    let bad = &FIXED_AGE[..FIXED_AGE.len() - 4];
    let out = hsm.path("gen-north.yaml.age");
    let before = (list(&hsm), events(&hsm));

    let cli = run(hsm
        .rv_pin()
        .args([
            "sign",
            "--generate-key",
            "--key-type",
            "ecdsa-p256",
            "--cluster",
            "gen-north",
            "--age-recipient",
            FIXED_SSH,
            "--age-recipient",
            bad,
            "--confirm",
            "0000000000000000",
            "--out",
        ])
        .arg(&out))
    .expect(3);
    let cli_error = cli
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("rootvault: error: "))
        .unwrap()
        .to_owned();
    assert!(cli_error.contains("age recipient 2"), "{cli_error}");

    let mut app = open_app(&hsm, None);
    unlock(&mut app);
    fill_generate_form(&mut app, "gen-north", &out, &[FIXED_SSH, bad]);
    press(&mut app, KeyCode::Enter);
    // Refused before any confirmation, in the words the command line printed.
    assert_eq!(app.message(), Some(format!("error: {cli_error}").as_str()));
    shows(
        &app,
        &[
            "Generate a key and sign",
            "age recipient 2",
            "is not usable",
        ],
    );
    assert!(!screen(&app, 80, 24).contains("Confirm:"));
    assert!(!app.busy());

    // No recipient at all: refused too.
    press(&mut app, KeyCode::Backspace);
    press(&mut app, KeyCode::Backspace);
    press(&mut app, KeyCode::Enter);
    shows(&app, &["no age recipient was given"]);

    // Fixed, it goes on to the confirmation; Esc there leaves everything as it was.
    typing(&mut app, FIXED_AGE);
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Enter);
    shows(&app, &["Confirm: generate a key and sign"]);
    press(&mut app, KeyCode::Esc);
    drop(app);

    assert_eq!((list(&hsm), events(&hsm)), before);
    assert!(!out.exists(), "no output");
}
