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
use std::time::{Duration, Instant};

use common::*;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use rootvault::ceremony::{Operator, MIN_CONFIRM_DIGITS};
use rootvault::tui::{Action, App, Options, Screen, Setup, Theme};
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
            operator: Some(Operator("tui-test".into())),
            pin_file,
            theme: Theme::new(false),
        },
    );
    settle(&mut app);
    app
}

/// Waits for the running job to finish, or to ask for the operator's confirmation.
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
fn screen<T>(app: &T, w: u16, h: u16) -> String
where
    for<'a> &'a T: ratatui::widgets::Widget,
{
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

/// The first `MIN_CONFIRM_DIGITS` of `hex`: the shortest confirmation ceremony takes.
fn prefix(hex: &str) -> &str {
    &hex[..MIN_CONFIRM_DIGITS]
}

/// Asserts that `needles` are on the 120x40 screen (a long confirmation scrolls at 80x24).
#[track_caller]
fn shows_wide(app: &App, needles: &[&str]) {
    let s = screen(app, 120, 40);
    for n in needles {
        assert!(s.contains(n), "{n:?} not on the 120x40 screen:\n{s}");
    }
}

/// Asserts that `needle` is on neither screen.
#[track_caller]
fn hides(app: &App, needle: &str) {
    for (w, h) in [(80, 24), (120, 40)] {
        let s = screen(app, w, h);
        assert!(
            !s.contains(needle),
            "{needle:?} on the {w}x{h} screen:\n{s}"
        );
    }
}

/// Snapshots of the screen at 80x24 and 120x40, as `NAME_80x24` and `NAME_120x40`.
#[track_caller]
fn snap_both<T>(app: &T, hsm: &Hsm, name: &str)
where
    for<'a> &'a T: ratatui::widgets::Widget,
{
    for (w, h) in [(80, 24), (120, 40)] {
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), redact(&screen(app, w, h), hsm));
    }
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
    let cwd = std::env::current_dir().unwrap();
    s = s.replace(cwd.to_str().unwrap(), "[cwd]");
    // The days left to the root's end depend on the second the test runs at.
    if let Some(i) = s.find(" days so that it ends with the root certificate") {
        if let Some(j) = s[..i].rfind(" to ") {
            s.replace_range(j + 4..i, "####");
        }
    }
    // The checkout's path differs in length from machine to machine: on a line that shows it,
    // the padding up to the box's right edge is one space, whatever the path's length.
    s = s
        .lines()
        .map(|l| match (l.contains("[cwd]"), l.rfind('│')) {
            (true, Some(edge)) if edge > 0 => {
                format!("{} {}", l[..edge].trim_end(), &l[edge..])
            }
            _ => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    if let Ok(canon) = std::fs::canonicalize(module()) {
        s = s.replace(canon.to_str().unwrap(), "[module]");
    }
    // SSH key fingerprints (base64, not hex).
    while let Some(at) = s.find("SHA256:") {
        let end = s[at + 7..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/'))
            .map_or(s.len(), |e| at + 7 + e);
        let hidden = format!("sha256:{}", "#".repeat(end - at - 7));
        s.replace_range(at..end, &hidden);
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
        // Fractions of a second too.
        if is(&out, at, "99:99:99.") {
            let mut k = at + 9;
            while out.get(k).is_some_and(|c| c.is_ascii_digit()) {
                out[k] = '0';
                k += 1;
            }
        }
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

/// Unlocks as the operator does: `2`, `u`, the PIN, Enter.
fn unlock(app: &mut App) {
    press(app, KeyCode::Char('2'));
    assert_eq!(app.screen(), Screen::Unlock);
    assert_eq!(app.typed_pin_len(), 0, "switching never starts typing");
    press(app, KeyCode::Char('u'));
    assert_eq!(app.typed_pin_len(), 0, "the u is not in the PIN");
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
    snap_both(&app, &hsm, "overview");

    // Unlock: a wrong PIN shows the token's words, then the right one logs in.
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Char('u'));
    typing(&mut app, "not-the-pin");
    shows(&app, &["User PIN:  •••••••••••", "Enter log in"]);
    snap_both(&app, &hsm, "unlock_typing");
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
    snap_both(&app, &hsm, "inbox");

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
    snap_both(&app, &hsm, "review");

    // The confirmation: ceremony's summary, without the fingerprint; it is typed with colons
    // and in capitals.
    press(&mut app, KeyCode::Char('s'));
    settle(&mut app);
    shows(
        &app,
        &[
            "Confirm: sign",
            "Have the cluster team read out",
            "This will sign:",
        ],
    );
    hides(&app, &spki[..8]);
    snap_both(&app, &hsm, "confirm_sign");
    let typed = prefix(&spki)
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap().to_uppercase())
        .collect::<Vec<_>>()
        .join(":");
    typing(&mut app, &typed);
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    let certs = list(&hsm);
    let certs = certs.as_array().unwrap();
    assert_eq!(certs.len(), 1, "{certs:?}");
    let serial = certs[0]["serial"].as_str().unwrap().to_owned();
    assert_eq!(certs[0]["cluster"], "prod-eu1");
    shows(&app, &["Signed", &serial, "e exports it"]);
    snap_both(&app, &hsm, "signed");

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
    snap_both(&app, &hsm, "certificates");
    press(&mut app, KeyCode::Enter);
    shows(&app, &["Certificate", "SHA-256", "not after"]);
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('r'));
    shows(
        &app,
        &["keyCompromise", "cessationOfOperation", "cluster prod-eu1"],
    );
    snap_both(&app, &hsm, "revoke_reason");
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    shows(&app, &["Confirm: revoke", "keyCompromise", "prod-eu1"]);
    hides(&app, &serial[..8]);
    snap_both(&app, &hsm, "confirm_revoke");
    typing(&mut app, prefix(&serial));
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
    snap_both(&app, &hsm, "crl");
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
    snap_both(&app, &hsm, "ledger");
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
    let wrong = if spki.starts_with('0') { "1" } else { "0" }.repeat(MIN_CONFIRM_DIGITS);
    let wrong = wrong.as_str();
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
    settle(&mut app);
    typing(&mut app, wrong);
    press(&mut app, KeyCode::Enter);
    // Ceremony's own check, in its words (the CLI's); the dialog stays with what was typed.
    assert_eq!(app.error_shown(), Some(cli_error.as_str()));
    shows(
        &app,
        &["Confirm: sign", "does not match the SPKI SHA-256", wrong],
    );
    snap_both(&app, &hsm, "confirm_sign_mismatch");
    // Too short: how many digits so far; the text stays.
    for _ in 0..wrong.len() {
        press(&mut app, KeyCode::Backspace);
    }
    typing(&mut app, &spki[..MIN_CONFIRM_DIGITS - 1]);
    press(&mut app, KeyCode::Enter);
    let short = format!(
        "type at least {MIN_CONFIRM_DIGITS} hex digits of the SPKI SHA-256 fingerprint ({} so far)",
        MIN_CONFIRM_DIGITS - 1
    );
    assert_eq!(app.error_shown(), Some(short.as_str()));
    // Esc: ceremony hears no, and nothing happens.
    press(&mut app, KeyCode::Esc);
    settle(&mut app);
    shows(&app, &["not confirmed; nothing was signed"]);
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
    settle(&mut app);
    typing(&mut app, prefix(&spki));
    ctrl(&mut app, 'c');
    assert!(!app.should_quit(), "it asks first");
    shows(
        &app,
        &["Quit in the middle of confirming a signature?", "y quit"],
    );
    snap_both(&app, &hsm, "quit_question");
    press(&mut app, KeyCode::Char('y'));
    // The question is answered no; the job ends, then the app.
    settle(&mut app);
    assert!(app.should_quit());
    drop(app);
    assert_eq!((list(&hsm), events(&hsm)), before);

    // In the reason picker of a revocation (a certificate signed on the command line): q.
    run(hsm
        .rv_pin()
        .arg("sign")
        .arg(hsm.vault().join("inbox/prod-ap1.csr"))
        .args(["--cluster", "prod-ap1", "--confirm", prefix(&spki)]))
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
    settle(&mut app);
    typing(&mut app, prefix(before.0[0]["serial"].as_str().unwrap()));
    ctrl(&mut app, 'c');
    shows(&app, &["Quit in the middle of revoking a certificate?"]);
    press(&mut app, KeyCode::Char('y'));
    settle(&mut app);
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
    press(&mut app, KeyCode::Enter);
    shows(
        &app,
        &["Enter logs in with the PIN in the file given at start"],
    );
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    assert!(app.is_unlocked(), "{:?}", app.message());
    press(&mut app, KeyCode::Char('l'));
    settle(&mut app);
    assert!(!app.is_unlocked());
    shows(&app, &["not logged in", "logged out of the token"]);
}

#[test]
fn a_refused_export_is_said_in_the_tuis_words_and_the_form_keeps_its_path() {
    let _turn = serial();
    let hsm = ceremony("tui-same-words");
    let spki = inbox_csr(&hsm, "prod-sa1");
    run(hsm
        .rv_pin()
        .arg("sign")
        .arg(hsm.vault().join("inbox/prod-sa1.csr"))
        .args(["--cluster", "prod-sa1", "--confirm", prefix(&spki)]))
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
    // The same fact as the command line's, without its --force: the form stays, path and all.
    let said = format!(
        "{} already exists, and nothing is ever written over a file: choose another path",
        taken.display()
    );
    assert_eq!(app.error_shown(), Some(said.as_str()));
    shows(
        &app,
        &["Export prod-sa1", "already exists", taken.to_str().unwrap()],
    );
    hides(&app, "--force");
    snap_both(&app, &hsm, "export_refused");
    // Fixed in place: Ctrl-W takes the file name, and the export is written.
    ctrl(&mut app, 'w');
    typing(&mut app, "free.pem");
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    assert!(hsm.path("free.pem").exists(), "{:?}", app.error_shown());
    shows(&app, &["exported cluster prod-sa1"]);
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
    assert!(cli.stderr.contains("already exists"), "{cli:?}");
    assert!(
        cli.stderr.contains("--force"),
        "the CLI names its flag: {cli:?}"
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
    shows(&app, &["Request_From_Team.csr", "REFUSED: no cluster"]);
    shows_wide(&app, &["REFUSED: no cluster given"]);
    // `s` before a cluster is named: said, and nothing is recorded (the CLI cannot ask it).
    let before = events(&hsm).len();
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(
        app.message(),
        Some("name the cluster first: c (the file name is not a cluster name)")
    );
    assert!(!app.busy());
    press(&mut app, KeyCode::Esc);
    // Name the cluster, ask for fewer days, and the verdict follows. A bad name is
    // explained under the field, which keeps it; no suggestion that is itself invalid.
    press(&mut app, KeyCode::Char('c'));
    typing(&mut app, "Prod East!");
    press(&mut app, KeyCode::Enter);
    let e = app
        .error_shown()
        .expect("a bad cluster name is refused")
        .to_owned();
    assert!(e.starts_with("cluster name \"Prod East!\""), "{e}");
    assert!(!e.contains("try \"prod east!\""), "{e}");
    shows(&app, &["> Prod East!"]);
    ctrl(&mut app, 'u');
    typing(&mut app, "edge-7");
    press(&mut app, KeyCode::Enter);
    assert_eq!(events(&hsm).len(), before);
    press(&mut app, KeyCode::Char('d'));
    typing(&mut app, "30");
    press(&mut app, KeyCode::Enter);
    shows(&app, &["edge-7*", "acceptable"]);
    press(&mut app, KeyCode::Enter);
    shows(&app, &["edge-7 (typed)", "30 days"]);
    // The review scrolls at 80x24: the notes are below the name constraints.
    for _ in 0..6 {
        press(&mut app, KeyCode::Down);
    }
    shows(&app, &["days asked"]);
    press(&mut app, KeyCode::Char('s'));
    settle(&mut app);
    typing(&mut app, prefix(&spki));
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
    // Read now: while the TUI is logged in it holds the token.
    let serial = run(hsm.rv().args(["token", "--json"])).expect(0).json()["serial"]
        .as_str()
        .unwrap()
        .to_owned();
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
    snap_both(&app, &hsm, "root_form");
    press(&mut app, KeyCode::Enter);
    assert!(app.busy());
    shows(&app, &["generating the root key"]);
    settle(&mut app);

    // Enter created nothing: the confirmation is up, and the fingerprint it wants is the
    // ceremony script's, computed here by the shell as the script's author would.
    let sha = run(Command::new("sh").arg("-c").arg(format!(
        "printf 'subject=%s\\nkey-type=%s\\ndays=%s\\npath-len=%s\\ntoken-serial=%s\\n' 'CN=TUI Root CA, O=Example Org, C=GB' ecdsa-p256 3650 none {serial} | sha256sum"
    )))
    .expect(0)
    .stdout[..64]
        .to_owned();
    shows(&app, &["Confirm: create the root", "ceremony script"]);
    shows_wide(
        &app,
        &["CN=TUI Root CA, O=Example Org, C=GB", "ecdsa-p256", &serial],
    );
    hides(&app, &sha[..8]);
    snap_both(&app, &hsm, "confirm_root");
    run(hsm.rv().args(["root", "show"])).expect(3);
    assert!(!kinds(&hsm).iter().any(|k| k == "root_created"));

    // Esc: back to the form, everything kept; still no root.
    press(&mut app, KeyCode::Esc);
    settle(&mut app);
    shows(
        &app,
        &[
            "Create the root",
            "not confirmed; no root was created",
            "CN=TUI Root CA,O=Example Org,C=GB",
        ],
    );
    run(hsm.rv().args(["root", "show"])).expect(3);

    // Enter again, and the script's SHA-256: the root is made.
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    typing(&mut app, &sha[..MIN_CONFIRM_DIGITS]);
    press(&mut app, KeyCode::Enter);
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
    snap_both(&app, &hsm, "batch_checked");
    assert_eq!(list(&hsm).as_array().unwrap().len(), 0);

    // One confirmation, ceremony's summary of the batch without the manifest's SHA-256; a
    // prefix of it typed with colons and in capitals.
    press(&mut app, KeyCode::Char('s'));
    settle(&mut app);
    shows(
        &app,
        &["Confirm: sign the batch", "requests", "prod-eu1", "staging"],
    );
    shows_wide(&app, &["prod-us1", "CLUSTER.pem, never over"]);
    hides(&app, grouped[0]);
    snap_both(&app, &hsm, "confirm_batch");
    let typed = prefix(&sha)
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap().to_uppercase())
        .collect::<Vec<_>>()
        .join(":");
    typing(&mut app, &typed);
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    let certs = list(&hsm);
    let certs = certs.as_array().unwrap();
    assert_eq!(certs.len(), 3, "{certs:?} {:?}", app.error_shown());
    let message = format!("signed 3 certificates into {}", out.display());
    shows(&app, &["3 signed", "SERIAL", "prod-eu1.pem", &message]);
    snap_both(&app, &hsm, "batch_signed");

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
    let wrong = if sha.starts_with('0') { "1" } else { "0" }.repeat(MIN_CONFIRM_DIGITS);
    let wrong = wrong.as_str();
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

    // A wrong prefix: ceremony's own check refuses it, in the CLI's words; the dialog stays.
    open_batch(&mut app, &manifest);
    press(&mut app, KeyCode::Char('s'));
    settle(&mut app);
    typing(&mut app, wrong);
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.error_shown(), Some(cli_error.as_str()));
    shows(
        &app,
        &[
            "Confirm: sign the batch",
            "does not match the manifest's SHA-256",
        ],
    );

    // Esc: ceremony hears no; the manifest is checked again, ready for another try.
    press(&mut app, KeyCode::Esc);
    settle(&mut app);
    shows(&app, &["not confirmed; nothing was signed", "s sign all"]);

    // The right prefix typed, then Esc: nothing either.
    press(&mut app, KeyCode::Char('s'));
    settle(&mut app);
    typing(&mut app, prefix(&sha));
    press(&mut app, KeyCode::Esc);
    settle(&mut app);
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
    snap_both(&app, &hsm, "batch_refused");
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
    settle(&mut app);

    // The confirmation: ceremony's summary, and what the TUI adds (format, path); the
    // recipients' SHA-256 is not shown: the cluster team computes it.
    shows(
        &app,
        &["Confirm: generate a key and sign", "gen-east", "ecdsa-p384"],
    );
    shows_wide(
        &app,
        &[
            "pem-bundle",
            "gen-east.pem.age",
            "recipients SHA-256",
            &age_pub[..40],
            "ssh-ed25519",
        ],
    );
    for g in grouped(&fingerprint) {
        hides(&app, g);
    }
    hides(&app, &fingerprint[..16]);
    assert_eq!(
        events(&hsm).len(),
        before,
        "nothing happens before the confirmation"
    );
    typing(&mut app, &prefix(&fingerprint).to_uppercase());
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
    // This test process is another binary than the rootvault that made the vault, so its
    // first token action is preceded by software_changed (docs/ledger.md).
    let new: Vec<_> = events(&hsm)
        .into_iter()
        .skip(before)
        .filter(|e| e["kind"] != "software_changed")
        .collect();
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
    let wrong = if fingerprint.starts_with('0') {
        "1"
    } else {
        "0"
    }
    .repeat(MIN_CONFIRM_DIGITS);
    let wrong = wrong.as_str();
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
    snap_both(&app, &hsm, "generate_form");
    press(&mut app, KeyCode::Esc);
    shows(&app, &["cancelled; nothing was generated or signed"]);

    // A wrong prefix: ceremony's own check refuses it, in the CLI's words; the dialog stays.
    fill_generate_form(&mut app, "gen-west", &out, &[FIXED_SSH, FIXED_AGE]);
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    shows(&app, &["Confirm: generate a key and sign"]);
    shows_wide(&app, &["istio-secret", "team@gen"]);
    hides(&app, grouped(&fingerprint)[3]);
    snap_both(&app, &hsm, "confirm_generate");
    typing(&mut app, wrong);
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.error_shown(), Some(cli_error.as_str()));
    shows(&app, &["does not match the SHA-256 of the age recipients"]);

    // Esc: no; the form is back with everything typed and says so.
    press(&mut app, KeyCode::Esc);
    settle(&mut app);
    shows(
        &app,
        &[
            "Generate a key and sign",
            "not confirmed; nothing was generated or signed",
        ],
    );
    press(&mut app, KeyCode::Esc);

    // The right prefix typed, then Esc: nothing.
    fill_generate_form(&mut app, "gen-west", &out, &[FIXED_AGE, FIXED_SSH]);
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    typing(&mut app, prefix(&fingerprint));
    press(&mut app, KeyCode::Esc);
    settle(&mut app);
    shows(&app, &["not confirmed; nothing was generated or signed"]);
    press(&mut app, KeyCode::Esc);

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
            "00000000",
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
    settle(&mut app);
    shows(&app, &["Confirm: generate a key and sign"]);
    press(&mut app, KeyCode::Esc);
    settle(&mut app);
    drop(app);

    assert_eq!((list(&hsm), events(&hsm)), before);
    assert!(!out.exists(), "no output");
}

// ---- Issue 16: what a first-time operator ran into, fixed, on SoftHSM2 vaults ----

#[test]
fn a_second_signing_of_the_same_key_is_flagged_and_needs_an_acknowledgement() {
    let _turn = serial();
    let hsm = ceremony("tui-resign");
    let spki = inbox_csr(&hsm, "prod-re1");
    // Signed once already (on the command line, as another ceremony might have).
    run(hsm
        .rv_pin()
        .arg("sign")
        .arg(hsm.vault().join("inbox/prod-re1.csr"))
        .args(["--cluster", "prod-re1", "--confirm", prefix(&spki)]))
    .expect(0);
    let first = list(&hsm)[0]["serial"].as_str().unwrap().to_owned();

    let mut app = open_app(&hsm, None);
    unlock(&mut app);
    press(&mut app, KeyCode::Char('3'));
    shows(&app, &["acceptable (signed before)"]);
    press(&mut app, KeyCode::Enter);
    shows(&app, &["ALREADY SIGNED", &first[..16]]);
    snap_both(&app, &hsm, "review_signed_before");

    // `s`: the warning first; Esc there signs nothing.
    press(&mut app, KeyCode::Char('s'));
    assert!(!app.busy(), "nothing runs before the acknowledgement");
    shows(
        &app,
        &[
            "Signed before",
            "already has a valid certificate",
            "y sign another",
        ],
    );
    snap_both(&app, &hsm, "signed_before");
    press(&mut app, KeyCode::Esc);
    shows(&app, &["not signed: the key keeps the certificate it has"]);
    assert_eq!(list(&hsm).as_array().unwrap().len(), 1);

    // Acknowledged: the confirmation says so too, then the prefix signs.
    press(&mut app, KeyCode::Char('s'));
    press(&mut app, KeyCode::Char('y'));
    settle(&mut app);
    shows(
        &app,
        &[
            "Confirm: sign",
            "ACKNOWLEDGED: this key already has a valid",
        ],
    );
    typing(&mut app, prefix(&spki));
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    let certs = list(&hsm);
    let certs = certs.as_array().unwrap();
    assert_eq!(certs.len(), 2, "{certs:?} {:?}", app.error_shown());
    assert!(certs.iter().all(|c| c["status"] == "valid"));
}

#[test]
fn a_refused_request_signed_from_the_tui_is_recorded_as_the_cli_records_it() {
    let _turn = serial();
    let hsm = ceremony("tui-refused");
    inbox_csr(&hsm, "prod-far");
    let before = events(&hsm).len();
    let mut app = open_app(&hsm, None);
    press(&mut app, KeyCode::Char('3'));
    // More days than the policy allows: refused, whether the token is unlocked or not.
    press(&mut app, KeyCode::Char('d'));
    typing(&mut app, "5000");
    press(&mut app, KeyCode::Enter);
    shows(&app, &["REFUSED"]);
    press(&mut app, KeyCode::Char('s'));
    settle(&mut app);
    let said = app.error_shown().expect("the refusal is shown").to_owned();
    assert!(
        said.starts_with("request refused, nothing was signed: ")
            && said.ends_with(
                "The refusal is recorded in the ledger (screen 6), as the command line records it."
            ),
        "{said}"
    );
    shows(&app, &["Refused, and recorded"]);
    snap_both(&app, &hsm, "refused_recorded");
    let new: Vec<_> = events(&hsm).into_iter().skip(before).collect();
    assert_eq!(new.len(), 1, "{new:?}");
    assert_eq!(new[0]["kind"], "signing_rejected");
    assert_eq!(new[0]["actor"], "tui-test");
    assert_eq!(new[0]["payload"]["cluster"], "prod-far");
    // The command line records the same request's refusal the same way.
    run(hsm
        .rv()
        .arg("sign")
        .arg(hsm.vault().join("inbox/prod-far.csr"))
        .args(["--cluster", "prod-far", "--days", "5000"]))
    .expect(3);
    let all = events(&hsm);
    let (tui, cli) = (&all[before], &all[before + 1]);
    assert_eq!(cli["kind"], "signing_rejected");
    assert_eq!(tui["payload"], cli["payload"]);
    assert_eq!(list(&hsm).as_array().unwrap().len(), 0);
}

#[test]
fn eligibility_is_checked_before_a_form_opens() {
    let _turn = serial();
    let hsm = ceremony("tui-eligible");
    let spki = inbox_csr(&hsm, "prod-el1");
    run(hsm
        .rv_pin()
        .arg("sign")
        .arg(hsm.vault().join("inbox/prod-el1.csr"))
        .args(["--cluster", "prod-el1", "--confirm", prefix(&spki)]))
    .expect(0);
    let serial = list(&hsm)[0]["serial"].as_str().unwrap().to_owned();
    let mut app = open_app(&hsm, None);
    // Locked: revoke, export, CRL and a generated key say so and open nothing.
    press(&mut app, KeyCode::Char('4'));
    for k in ['r', 'e'] {
        press(&mut app, KeyCode::Char(k));
        assert!(!screen(&app, 80, 24).contains("┌"), "{k} opened a dialog");
        assert!(
            app.message().unwrap().contains("the token is locked"),
            "{k}"
        );
    }
    press(&mut app, KeyCode::Char('5'));
    press(&mut app, KeyCode::Char('i'));
    assert!(app.message().unwrap().contains("the token is locked"));
    unlock(&mut app);
    // Revoked on the command line meanwhile: neither revoke nor export opens.
    drop(app);
    run(hsm.rv_pin().args([
        "revoke",
        "--serial",
        &serial,
        "--reason",
        "superseded",
        "--confirm",
        prefix(&serial),
    ]))
    .expect(0);
    let mut app = open_app(&hsm, None);
    unlock(&mut app);
    press(&mut app, KeyCode::Char('4'));
    press(&mut app, KeyCode::Char('r'));
    assert!(app.modals_open() == 0);
    let m = app.message().unwrap().to_owned();
    assert!(
        m.starts_with(&format!(
            "error: certificate {serial} of cluster prod-el1 was already revoked at"
        )),
        "{m}"
    );
    press(&mut app, KeyCode::Char('e'));
    assert!(app.modals_open() == 0);
    assert_eq!(
        app.message(),
        Some("error: cluster prod-el1 has no valid certificate (all are revoked or expired); sign a new one first")
    );
}

#[test]
fn the_operator_typed_at_the_start_is_recorded_with_what_they_do() {
    let _turn = serial();
    let hsm = ceremony("tui-operator");
    inbox_csr(&hsm, "prod-op1");
    let before = events(&hsm).len();
    let mut app = App::new(
        Vault::open(&hsm.vault()).unwrap(),
        Options {
            operator: None,
            pin_file: None,
            theme: Theme::new(false),
        },
    );
    settle(&mut app);
    shows(&app, &["Operator", "The system gives no name for you"]);
    snap_both(&app, &hsm, "operator");
    typing(&mut app, "Grace Hopper");
    press(&mut app, KeyCode::Enter);
    shows_wide(&app, &["Grace Hopper (typed at the start of this session"]);
    // A refused request, recorded with the name.
    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Char('d'));
    typing(&mut app, "5000");
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Char('s'));
    settle(&mut app);
    let new: Vec<_> = events(&hsm).into_iter().skip(before).collect();
    assert_eq!(new.len(), 1, "{new:?}");
    assert_eq!(new[0]["actor"], "Grace Hopper");
}

/// Every screen and dialog at 80x24 and 120x40, in one walk through a vault with a signed,
/// revoked and reissued cluster, a CRL and a request in the inbox.
#[test]
fn every_screen_and_dialog_at_80x24_and_120x40() {
    let _turn = serial();
    let hsm = ceremony("tui-gallery");
    let spki = inbox_csr(&hsm, "prod-ga1");
    let mut app = open_app(&hsm, None);
    let snap = |app: &App, name: &str| {
        for (w, h) in [(80, 24), (120, 40)] {
            insta::assert_snapshot!(
                format!("gallery_{name}_{w}x{h}"),
                redact(&screen(app, w, h), &hsm)
            );
        }
    };
    snap(&app, "overview_locked");
    press(&mut app, KeyCode::Char('?'));
    snap(&app, "help");
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('2'));
    snap(&app, "unlock_locked");
    unlock(&mut app);
    snap(&app, "unlock_unlocked");
    press(&mut app, KeyCode::Char('1'));
    snap(&app, "overview_unlocked");
    press(&mut app, KeyCode::Char('3'));
    snap(&app, "inbox");
    press(&mut app, KeyCode::Enter);
    snap(&app, "review");
    press(&mut app, KeyCode::Char('c'));
    snap(&app, "prompt_cluster");
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('d'));
    typing(&mut app, "many");
    press(&mut app, KeyCode::Enter);
    snap(&app, "prompt_days_problem");
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('o'));
    snap(&app, "prompt_path");
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('s'));
    settle(&mut app);
    snap(&app, "confirm_sign");
    typing(&mut app, prefix(&spki));
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    snap(&app, "signed");
    press(&mut app, KeyCode::Char('e'));
    snap(&app, "export_form");
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('b'));
    snap(&app, "batch_form");
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('n'));
    snap(&app, "generate_form");
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('4'));
    snap(&app, "certificates");
    press(&mut app, KeyCode::Enter);
    snap(&app, "certificate_details");
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('r'));
    snap(&app, "revoke_reason");
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    snap(&app, "confirm_revoke");
    press(&mut app, KeyCode::Esc);
    settle(&mut app);
    press(&mut app, KeyCode::Char('5'));
    snap(&app, "crl_none");
    press(&mut app, KeyCode::Char('i'));
    snap(&app, "issue_crl");
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    snap(&app, "crl_issued");
    press(&mut app, KeyCode::Char('w'));
    snap(&app, "prompt_crl_out");
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('6'));
    snap(&app, "ledger");
    // The same details box as a certificate's (snapshotted above); an event's payload holds
    // this machine's module path, so it is checked here rather than snapshotted.
    press(&mut app, KeyCode::Home);
    press(&mut app, KeyCode::Enter);
    shows(
        &app,
        &[
            "Event 1",
            "vault_initialised",
            "prev hash",
            "payload",
            // (The binary's identity, recorded since, pushes token_label below the box at
            // 80x24; the version line is above it.)
            "\"rootvault_version\": \"0.1.0\"",
        ],
    );
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('q'));
    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Char('q'));
    snap(&app, "quit_question");
    press(&mut app, KeyCode::Char('n'));
    press(&mut app, KeyCode::Char('o'));
    typing(&mut app, "/no/such/stick");
    press(&mut app, KeyCode::Enter);
    snap(&app, "prompt_path_problem");
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('1'));
    let small = redact(&screen(&app, 60, 15), &hsm);
    assert!(
        small.contains("terminal too small (needs 80×24)"),
        "{small}"
    );
    insta::assert_snapshot!("gallery_too_small_60x15", small);
}

// ---- root generations, witnesses, the token check (issues 13, 14, 15, 18) -----------------

/// Ticks the app as its loop does until `what` is on the 120x40 screen (at most 30 s);
/// returns that screen.
#[track_caller]
fn tick_until(app: &mut App, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        app.update(Action::Tick);
        let s = screen(app, 120, 40);
        if s.contains(what) {
            return s;
        }
        assert!(Instant::now() < deadline, "{what:?} never appeared:\n{s}");
        std::thread::sleep(Duration::from_millis(30));
    }
}

/// `root show --json`'s roots.
fn roots(hsm: &Hsm) -> Vec<serde_json::Value> {
    run(hsm.rv().args(["root", "show", "--json"]))
        .expect(0)
        .json()["roots"]
        .as_array()
        .unwrap()
        .clone()
}

/// Generation `g`'s `field` from `root show --json`.
fn root_field(hsm: &Hsm, g: u64, field: &str) -> String {
    roots(hsm)
        .iter()
        .find(|r| r["generation"] == g)
        .unwrap_or_else(|| panic!("no generation {g}"))[field]
        .as_str()
        .unwrap()
        .to_owned()
}

fn statuses(hsm: &Hsm) -> Vec<(u64, String)> {
    roots(hsm)
        .iter()
        .map(|r| {
            (
                r["generation"].as_u64().unwrap(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Erases the focused text field (Ctrl-U) and types `text` into it.
fn retype(app: &mut App, text: &str) {
    ctrl(app, 'u');
    typing(app, text);
}

#[test]
fn a_rotation_from_the_overview_waits_for_its_typed_confirmation_then_crls_go_per_generation() {
    let _turn = serial();
    let hsm = ceremony("tui-rotate");
    let active_sha = root_field(&hsm, 1, "sha256");
    let mut app = open_app(&hsm, None);
    // Locked: the form does not open.
    press(&mut app, KeyCode::Char('r'));
    assert_eq!(app.modals_open(), 0);
    assert!(app.message().unwrap().contains("the token is locked"));
    unlock(&mut app);
    press(&mut app, KeyCode::Char('1'));
    press(&mut app, KeyCode::Char('r'));
    shows(
        &app,
        &["Rotate the root", "Make generation 2", "rootvault-root-g2"],
    );
    snap_both(&app, &hsm, "rotate_form");
    typing(&mut app, "CN=Test Root CA 2, O=Example Org, C=GB");
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    // The confirmation: what happens, and the active root's SHA-256 hidden everywhere.
    shows_wide(
        &app,
        &[
            "Confirm: rotate the root",
            "This will rotate the root:",
            "generation 2: CN=Test Root CA 2, O=Example Org, C=GB",
            "cross-certificate",
            "(not shown: you type it below)",
            "the active root certificate's SHA-256",
        ],
    );
    hides(&app, &active_sha[..16]);
    hides(&app, &active_sha[..8]);
    snap_both(&app, &hsm, "confirm_rotate");
    // Nothing has happened before the typed confirmation.
    assert!(!kinds(&hsm).contains(&"root_rotated".to_owned()));
    assert_eq!(statuses(&hsm), vec![(1, "active".to_owned())]);
    typing(&mut app, "0123456789abcdef");
    press(&mut app, KeyCode::Enter);
    assert_eq!(
        app.error_shown(),
        Some("the confirmation does not match the active root certificate's SHA-256; nothing was rotated")
    );
    assert!(!kinds(&hsm).contains(&"root_rotated".to_owned()));
    retype(&mut app, prefix(&active_sha));
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    assert_eq!(
        statuses(&hsm),
        vec![(1, "trusted".to_owned()), (2, "active".to_owned())]
    );
    assert!(kinds(&hsm).contains(&"root_rotated".to_owned()));
    assert!(app
        .message()
        .unwrap()
        .starts_with("root rotated: generation 2 active, generation 1 trusted"));
    shows_wide(&app, &["Generation 2 is active", "cross SHA-256"]);
    snap_both(&app, &hsm, "rotated");
    press(&mut app, KeyCode::Esc);
    shows(&app, &["›2  active", " 1  trusted", "CN=Test Root CA 2"]);
    snap_both(&app, &hsm, "overview_rotated");

    // CRLs: the active generation's by default, ←→ picks the other.
    press(&mut app, KeyCode::Char('5'));
    shows(&app, &["generation            2 (active)"]);
    press(&mut app, KeyCode::Left);
    shows(&app, &["generation            1 (trusted)"]);
    press(&mut app, KeyCode::Char('i'));
    shows(&app, &["Issue CRL 1 of root generation 1"]);
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    assert!(
        app.message().unwrap().contains("(root generation 1)"),
        "{:?}",
        app.message()
    );
    snap_both(&app, &hsm, "crl_generation_1");
    let crl = events(&hsm)
        .into_iter()
        .rev()
        .find(|e| e["kind"] == "crl_issued")
        .unwrap();
    assert_eq!(crl["payload"]["generation"], 1, "{crl}");
    run(hsm.rv().args(["ledger", "verify"])).expect(0);
}

#[test]
fn a_retire_is_refused_while_an_intermediate_of_that_generation_is_valid_then_retire_and_destroy() {
    let _turn = serial();
    let hsm = ceremony("tui-retire");
    let spki = inbox_csr(&hsm, "prod");
    let csr = hsm.vault().join("inbox/prod.csr");
    run(hsm
        .rv_pin()
        .args(["sign", csr.to_str().unwrap(), "--cluster", "prod"])
        .args(["--confirm", prefix(&spki), "--out"])
        .arg(hsm.path("prod.pem")))
    .expect(0);
    std::fs::remove_file(&csr).unwrap();
    run(hsm
        .rv_pin()
        .args([
            "export",
            "--cluster",
            "prod",
            "--format",
            "pem-bundle",
            "--out",
        ])
        .arg(hsm.path("prod-bundle.pem")))
    .expect(0);
    let g1_sha = root_field(&hsm, 1, "sha256");
    run(hsm
        .rv_pin()
        .args([
            "root",
            "rotate",
            "--subject",
            "CN=Test Root CA 2, O=Example Org, C=GB",
        ])
        .args(["--confirm", prefix(&g1_sha)]))
    .expect(0);
    let serial = list(&hsm)[0]["serial"].as_str().unwrap().to_owned();

    let mut app = open_app(&hsm, None);
    // The export made before the rotation is stale for this phase.
    shows_wide(
        &app,
        &[
            "cluster prod: its last export (pem-bundle",
            "is stale for this phase",
        ],
    );
    snap_both(&app, &hsm, "overview_generations");
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char('x'));
    let refusal = format!(
        "root generation 1 still has valid intermediates, for cluster(s) prod (serial {serial}): re-key each (sign a new CSR under the active root and export it) and revoke the old one (screen 4, r, reason superseded), then retire; nothing was retired"
    );
    assert_eq!(app.error_shown(), Some(refusal.as_str()));
    snap_both(&app, &hsm, "retire_refused");
    assert!(!kinds(&hsm).contains(&"root_retired".to_owned()));
    press(&mut app, KeyCode::Esc);

    // Once the intermediate is revoked, generation 1 retires after its typed confirmation.
    run(hsm
        .rv_pin()
        .args(["revoke", "--serial", &serial, "--reason", "superseded"])
        .args(["--confirm", &serial[..16]]))
    .expect(0);
    press(&mut app, KeyCode::Char('R'));
    settle(&mut app);
    press(&mut app, KeyCode::Char('x'));
    assert!(app.message().unwrap().contains("the token is locked"));
    unlock(&mut app);
    press(&mut app, KeyCode::Char('1'));
    press(&mut app, KeyCode::Char('x'));
    settle(&mut app);
    shows_wide(
        &app,
        &[
            "Confirm: retire the root",
            "generation 1: CN=Test Root CA, O=Example Org, C=GB",
            "the retiring root certificate's SHA-256",
        ],
    );
    hides(&app, &g1_sha[..16]);
    snap_both(&app, &hsm, "confirm_retire");
    typing(&mut app, prefix(&g1_sha));
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    assert_eq!(
        app.message(),
        Some("generation 1 retired: it is in no trust bundle and signs only its own CRLs; export every cluster again (4, e)")
    );
    assert_eq!(
        statuses(&hsm),
        vec![(1, "retired".to_owned()), (2, "active".to_owned())]
    );

    // Its key goes after a confirmation of its SPKI SHA-256, said in the TUI's words.
    let g1_spki = root_field(&hsm, 1, "spki_sha256");
    press(&mut app, KeyCode::Char('D'));
    settle(&mut app);
    shows_wide(
        &app,
        &[
            "Confirm: destroy the retired root's key",
            "screen 5: ←→ picks the generation",
            "the retired key's SPKI SHA-256",
        ],
    );
    hides(&app, "rootvault crl");
    hides(&app, &g1_spki[..16]);
    snap_both(&app, &hsm, "confirm_destroy");
    typing(&mut app, prefix(&g1_spki));
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    assert_eq!(
        app.message(),
        Some("the key of generation 1 was destroyed on the token; it signs nothing any more")
    );
    assert!(kinds(&hsm).contains(&"root_key_destroyed".to_owned()));
    shows(&app, &["1  retired destroyed"]);
    run(hsm.rv().args(["ledger", "verify"])).expect(0);
}

/// `ssh-keygen -t …` for witness `name`: the private key's path (`.pub` beside it).
fn ssh_keygen(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let key = dir.join(format!("{name}.key"));
    run(Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-C", name])
        .args(args)
        .arg("-f")
        .arg(&key))
    .expect(0);
    key
}

/// `ssh-keygen -Y sign -n rootvault-witness` over a copy of `statement`, the signature
/// renamed to `DIR/NAME.sig` (written elsewhere first, so the file appears whole).
fn witness_signs(key: &Path, statement: &Path, dir: &Path, name: &str) {
    let work = key.with_extension("statement");
    std::fs::copy(statement, &work).unwrap();
    run(Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", "rootvault-witness", "-f"])
        .arg(key)
        .arg(&work))
    .expect(0);
    std::fs::rename(
        format!("{}.sig", work.display()),
        dir.join(format!("{name}.sig")),
    )
    .unwrap();
}

/// Registers `name`'s key (while no witnesses are required yet).
fn register(hsm: &Hsm, name: &str, key: &Path) {
    let public = PathBuf::from(format!("{}.pub", key.display()));
    let out = run(Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(&public))
    .expect(0);
    let fpr = out.stdout.split_whitespace().nth(1).unwrap();
    let fpr = fpr.strip_prefix("SHA256:").unwrap();
    run(hsm
        .rv_pin()
        .args(["witness", "add", name, "--ssh-key"])
        .arg(&public)
        .args(["--confirm", &fpr[..16]]))
    .expect(0);
}

#[test]
fn a_witnessed_signing_counts_signature_files_as_they_appear_and_names_each_invalid_one() {
    let _turn = serial();
    let hsm = ceremony("tui-witness");
    let keys = hsm.path("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let alice = ssh_keygen(&keys, "alice", &["-t", "ed25519"]);
    let bob = ssh_keygen(&keys, "bob", &["-t", "ecdsa", "-b", "256"]);
    let carol = ssh_keygen(&keys, "carol", &["-t", "ed25519"]);
    let mallory = ssh_keygen(&keys, "mallory", &["-t", "ed25519"]);
    for (name, key) in [("alice", &alice), ("bob", &bob), ("carol", &carol)] {
        register(&hsm, name, key);
    }
    run(hsm.rv_pin().args(["witness", "require", "2"])).expect(0);
    let spki = inbox_csr(&hsm, "prod");
    let sigs = hsm.path("usb");
    std::fs::create_dir_all(&sigs).unwrap();

    let mut app = open_app(&hsm, None);
    shows_wide(
        &app,
        &[
            "witnesses",
            "2 of 3 must sign every trust-changing action: alice, bob, carol",
        ],
    );
    unlock(&mut app);
    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.modals_open(), 1);
    tick_until(&mut app, "1. Write it where the witnesses read it");
    shows_wide(
        &app,
        &[
            "Witnesses: sign the request",
            "2 of the 3 registered witnesses (alice, bob, carol) must sign",
            "statement             sign, at ledger event",
            "statement-sign-",
        ],
    );
    snap_both(&app, &hsm, "witness_statement");
    // The statement goes to the medium the operator names; the directory follows it.
    let statement = sigs.join("statement.txt");
    retype(&mut app, statement.to_str().unwrap());
    press(&mut app, KeyCode::Enter);
    let written = std::fs::read_to_string(&statement).unwrap();
    assert!(
        written.contains("action: sign\ncluster: prod\n"),
        "{written}"
    );
    assert!(written.contains(&spki), "{written}");
    press(&mut app, KeyCode::Enter);
    tick_until(&mut app, "0/2 signed; watching for more");
    assert!(!kinds(&hsm).contains(&"certificate_issued".to_owned()));
    // Enter before enough signed says so and goes nowhere.
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.error_shown(), Some("2 witnesses must sign; 0 so far"));

    witness_signs(&mallory, &statement, &sigs, "mallory");
    witness_signs(&alice, &statement, &sigs, "alice");
    let s = tick_until(&mut app, "1/2 signed (alice); watching for more");
    assert!(s.contains("ok alice.sig: alice"), "{s}");
    assert!(s.contains("NO mallory.sig: it was made by the key"), "{s}");
    assert!(
        s.contains("registered witness's (the Overview lists them)"),
        "{s}"
    );
    snap_both(&app, &hsm, "witness_progress");

    witness_signs(&bob, &statement, &sigs, "bob");
    tick_until(
        &mut app,
        "2/2 signed (alice, bob): enough. Enter goes on to the confirmation",
    );
    snap_both(&app, &hsm, "witness_enough");
    assert!(!kinds(&hsm).contains(&"certificate_issued".to_owned()));
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    shows_wide(&app, &["Confirm: sign"]);
    typing(&mut app, prefix(&spki));
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    assert!(app.message().unwrap().starts_with("signed: cluster prod"));
    let all = events(&hsm);
    let at = all
        .iter()
        .position(|e| e["kind"] == "certificate_issued")
        .expect("issued");
    let witnessed = all[..at]
        .iter()
        .rev()
        .find(|e| e["kind"] == "action_witnessed")
        .expect("witnessed");
    assert_eq!(witnessed["kind"], "action_witnessed", "{witnessed}");
    let who: Vec<&str> = witnessed["payload"]["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["witness"].as_str().unwrap())
        .collect();
    assert_eq!(who, ["alice", "bob"]);
    assert_eq!(
        witnessed["payload"]["statement"].as_str().unwrap(),
        written,
        "the statement recorded is the file the witnesses signed"
    );
    run(hsm.rv().args(["ledger", "verify"])).expect(0);
}

#[test]
fn a_subordinate_root_key_request_and_its_import_by_keys() {
    let _turn = serial();
    let w = world();
    let label = "tui-subordinate";
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
    hsm.init().expect(0);
    let config = std::fs::read_to_string(hsm.vault().join("vault.toml")).unwrap();
    let token_serial = config
        .lines()
        .find_map(|l| l.trim().strip_prefix("serial = "))
        .unwrap()
        .trim_matches('"')
        .to_owned();
    let mut app = open_app(&hsm, None);
    unlock(&mut app);
    press(&mut app, KeyCode::Char('1'));
    press(&mut app, KeyCode::Char('c'));
    shows(
        &app,
        &["A root key for an enterprise root", "Make generation 1"],
    );
    typing(&mut app, "CN=Mesh CA, O=Example Org, C=GB");
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    let csr = hsm.path("mesh.csr");
    retype(&mut app, csr.to_str().unwrap());
    snap_both(&app, &hsm, "root_csr_form");
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    let lines = format!(
        "subject=CN=Mesh CA, O=Example Org, C=GB\nkey-type=ecdsa-p384\ntoken-serial={token_serial}\n"
    );
    let fingerprint = hex::encode(Sha256::digest(lines.as_bytes()));
    shows_wide(
        &app,
        &[
            "Confirm: make a root key and its certificate request",
            "1 (pending until its certificate is imported)",
            "the SHA-256 of the request's lines",
        ],
    );
    hides(&app, &fingerprint[..16]);
    snap_both(&app, &hsm, "confirm_root_csr");
    assert!(!csr.exists(), "nothing is written before the confirmation");
    typing(&mut app, prefix(&fingerprint));
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    assert!(csr.exists(), "{:?}", app.message());
    assert_eq!(statuses(&hsm), vec![(1, "pending".to_owned())]);
    press(&mut app, KeyCode::Esc);
    shows_wide(&app, &["generation 1 is pending: import the certificate"]);

    // An enterprise CA made with OpenSSL issues the certificate; it is imported by keys.
    let ent = hsm.path("enterprise");
    std::fs::create_dir_all(&ent).unwrap();
    std::fs::write(
        ent.join("ext.cnf"),
        "[mesh]\nbasicConstraints=critical,CA:TRUE,pathlen:1\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    )
    .unwrap();
    let e = |name: &str| ent.join(name).to_str().unwrap().to_owned();
    openssl(&[
        "req",
        "-x509",
        "-new",
        "-nodes",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-384",
        "-sha384",
        "-days",
        "30",
        "-subj",
        "/C=GB/O=Enterprise/CN=Enterprise Root",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout",
        &e("root.key"),
        "-out",
        &e("root.pem"),
    ])
    .expect(0);
    openssl(&[
        "x509",
        "-req",
        "-in",
        csr.to_str().unwrap(),
        "-CA",
        &e("root.pem"),
        "-CAkey",
        &e("root.key"),
        "-CAcreateserial",
        "-days",
        "10",
        "-sha384",
        "-extfile",
        &e("ext.cnf"),
        "-extensions",
        "mesh",
        "-out",
        &e("mesh.pem"),
    ])
    .expect(0);
    let der = openssl(&[
        "x509",
        "-in",
        &e("mesh.pem"),
        "-outform",
        "DER",
        "-out",
        &e("mesh.der"),
    ]);
    der.expect(0);
    let cert_sha = hex::encode(Sha256::digest(std::fs::read(e("mesh.der")).unwrap()));

    press(&mut app, KeyCode::Char('i'));
    shows(
        &app,
        &["Import the root certificate", "pending generation 1"],
    );
    typing(&mut app, &e("mesh.pem"));
    press(&mut app, KeyCode::Tab);
    typing(&mut app, &e("root.pem"));
    snap_both(&app, &hsm, "import_form");
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    shows_wide(
        &app,
        &[
            "Confirm: import the root certificate",
            "CN=Enterprise Root",
            "the imported certificate's SHA-256",
        ],
    );
    hides(&app, &cert_sha[..16]);
    snap_both(&app, &hsm, "confirm_import");
    typing(&mut app, prefix(&cert_sha));
    press(&mut app, KeyCode::Enter);
    settle(&mut app);
    assert!(
        app.message()
            .unwrap()
            .starts_with("imported: generation 1 is active (CN=Mesh CA, O=Example Org, C=GB)"),
        "{:?}",
        app.message()
    );
    assert_eq!(statuses(&hsm), vec![(1, "active".to_owned())]);
    run(hsm.rv().args(["ledger", "verify"])).expect(0);
}

#[test]
fn before_init_the_token_check_shows_the_report_token_check_prints() {
    let _turn = serial();
    let w = world();
    make_token(&w.hsm_dir, "tui-check");
    let dir = tempfile::Builder::new()
        .prefix("rvtui")
        .rand_bytes(6)
        .tempdir_in("/tmp")
        .unwrap();
    let hsm = Hsm {
        dir,
        conf: w.conf.clone(),
        label: "tui-check".to_owned(),
    };
    let mut setup = Setup::new(
        &hsm.vault(),
        Options {
            operator: Some(Operator("tui-test".into())),
            pin_file: None,
            theme: Theme::new(false),
        },
    );
    let key = |setup: &mut Setup, code: KeyCode| {
        setup.handle_key(KeyEvent::new(code, KeyModifiers::NONE))
    };
    let text = |setup: &mut Setup, t: &str| {
        for c in t.chars() {
            setup.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
    };
    let s = screen(&setup, 120, 40);
    assert!(
        s.contains("no vault at") && s.contains("Token check"),
        "{s}"
    );
    // Enter with nothing typed says what is missing.
    key(&mut setup, KeyCode::Enter);
    assert!(screen(&setup, 80, 24).contains("module: type the path of the PKCS#11 module"));
    text(&mut setup, module().to_str().unwrap());
    key(&mut setup, KeyCode::Tab);
    text(&mut setup, "tui-check");
    key(&mut setup, KeyCode::Tab);
    text(&mut setup, PIN);
    assert_eq!(setup.typed_pin_len(), PIN.len());
    for (w, h) in [(80, 24), (120, 40)] {
        assert!(
            !screen(&setup, w, h).contains(PIN),
            "the PIN is never shown"
        );
    }
    snap_both(&setup, &hsm, "token_check_form");
    key(&mut setup, KeyCode::Enter);
    assert_eq!(
        setup.typed_pin_len(),
        0,
        "the PIN is wiped as it is handed over"
    );
    assert!(setup.busy());
    assert!(screen(&setup, 120, 40).contains("checking…"));
    assert!(setup.wait_for_check(Duration::from_secs(120)));
    let report = setup.report().unwrap().expect("a report");
    assert!(report.ok);
    // The same facts as `token check --json`.
    let cli = run(hsm
        .rv()
        .args(["token", "check", "--module"])
        .arg(module())
        .args(["--token", "tui-check", "--json"])
        .env("ROOTVAULT_PIN", PIN))
    .expect(0)
    .json();
    let s = screen(&setup, 120, 40);
    for (name, check) in cli["key_types"].as_object().unwrap() {
        let line = s
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} not in\n{s}"));
        assert_eq!(
            line.contains(" ok: generated, signed with "),
            check["ok"] == true,
            "{line}"
        );
    }
    for needle in [
        "data objects          ok: private, hidden without login, modifiable, removed again",
        "hosting               full",
        "this token can host a vault",
    ] {
        assert!(s.contains(needle), "{needle:?} not in\n{s}");
    }
    snap_both(&setup, &hsm, "token_check_report");
    assert!(!hsm.vault().exists(), "the check makes no vault");
    key(&mut setup, KeyCode::Esc);
    assert!(setup.should_quit());
}
