//! The app without a token: a vault whose module does not exist, so every screen, key and
//! overlay can be driven and drawn in-process. Flows against a real token are in
//! `tests/tui.rs` and `tests/tui_tmux.rs`.

use std::collections::VecDeque;
use std::path::Path;
use std::time::Duration;

use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;
use ratatui::Terminal;

use super::modals::batch_form::BatchForm;
use super::modals::generate::GenerateForm;
use super::modals::prompt::Prompt;
use super::widgets::{group_hex, wrap};
use super::*;
use crate::ceremony::Operator;

/// A vault directory with a configuration and an empty ledger, bound to a module that is
/// not there.
fn vault(dir: &Path) -> Vault {
    std::fs::write(
        dir.join(crate::vault::CONFIG_FILE),
        "format = 1\n[token]\nmodule = \"/nonexistent/libpkcs11-module.so\"\nselector = \"no-such-token\"\nserial = \"0000\"\n",
    )
    .unwrap();
    crate::ledger::Ledger::create(&dir.join(crate::vault::LEDGER_FILE)).unwrap();
    Vault::open(dir).unwrap()
}

fn app(dir: &Path, color: bool) -> App {
    let mut app = App::new(
        vault(dir),
        Options {
            operator: Some(Operator("unit-test".into())),
            pin_file: None,
            theme: Theme::new(color),
        },
    );
    assert!(app.wait_for_job(Duration::from_secs(10)));
    app
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn press(app: &mut App, code: KeyCode) {
    app.handle_key(key(code));
}

fn typing(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

fn draw(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| f.render_widget(app, f.area())).unwrap();
    t
}

fn text(app: &App, w: u16, h: u16) -> String {
    let t = draw(app, w, h);
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn every_screen_draws_at_80x24_and_120x40_with_tabs_and_footer() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), true);
    let titles = [
        "Overview",
        "Unlock the token",
        "Inbox",
        "Certificates",
        "CRL",
        "Ledger",
    ];
    for (i, title) in titles.iter().enumerate() {
        press(&mut app, KeyCode::Char(char::from(b'1' + i as u8)));
        if app.screen() == Screen::Unlock {
            // The PIN field took the focus; Esc gives the keys back.
            press(&mut app, KeyCode::Esc);
        }
        for (w, h) in [(80, 24), (120, 40)] {
            let s = text(&app, w, h);
            let lines: Vec<&str> = s.lines().collect();
            assert!(
                lines[0].contains("1 Overview") && lines[0].contains("6 Ledger"),
                "{s}"
            );
            assert!(lines[1].contains(title), "screen {title} at {w}x{h}:\n{s}");
            assert!(lines[h as usize - 1].contains("q quit"), "{s}");
        }
    }
}

#[test]
fn the_overview_says_what_is_missing_in_ceremony_words() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), true);
    let s = text(&app, 120, 40);
    assert!(s.contains("this vault has no root yet"), "{s}");
    assert!(s.contains("cannot load the PKCS#11 module"), "{s}");
    assert!(s.contains("0 valid · 0 revoked · 0 expired"), "{s}");
    assert!(s.contains("not verified in this session"), "{s}");
}

#[test]
fn tab_shift_tab_and_number_keys_move_between_screens() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), true);
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.screen(), Screen::Unlock);
    press(&mut app, KeyCode::Tab); // the PIN field has the focus: Tab still moves on
    assert_eq!(app.screen(), Screen::Inbox);
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.screen(), Screen::Overview);
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.screen(), Screen::Ledger);
    press(&mut app, KeyCode::Char('4'));
    assert_eq!(app.screen(), Screen::Certificates);
}

#[test]
fn help_shows_every_key_and_any_key_closes_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), true);
    press(&mut app, KeyCode::Char('?'));
    let s = text(&app, 80, 24);
    for k in [
        "Tab / Shift-Tab",
        "Ctrl-C",
        "r revoke",
        "v verify",
        "i issue",
    ] {
        assert!(s.contains(k), "{k} missing from the help:\n{s}");
    }
    press(&mut app, KeyCode::Char('x'));
    assert!(!text(&app, 80, 24).contains("Shift-Tab"));
}

#[test]
fn q_quits_at_once_when_nothing_is_under_way() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), true);
    press(&mut app, KeyCode::Char('q'));
    assert!(app.should_quit());
}

#[test]
fn quitting_in_the_middle_of_a_flow_asks_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), true);
    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Char('o')); // a prompt for a path: a flow
    typing(&mut app, "/media/usb");
    app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(!app.should_quit());
    assert!(text(&app, 80, 24).contains("Quit in the middle of answering a question?"));
    press(&mut app, KeyCode::Char('n'));
    assert!(!app.should_quit());
    assert_eq!(app.modal_as::<Prompt>().unwrap().text(), "/media/usb");
    app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    press(&mut app, KeyCode::Char('y'));
    assert!(app.should_quit());
}

#[test]
fn the_pin_field_takes_q_and_digits_masks_them_and_forgets_them_on_leaving() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), true);
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Char('u'));
    typing(&mut app, "q1w2");
    assert_eq!(app.screen(), Screen::Unlock);
    assert!(!app.should_quit());
    assert_eq!(app.typed_pin_len(), 4);
    let s = text(&app, 80, 24);
    assert!(s.contains("User PIN:  ••••"), "{s}");
    assert!(!s.contains("q1w2"));
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.typed_pin_len(), 0);
}

#[test]
fn a_login_failure_wipes_the_typed_pin_and_shows_the_ceremony_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), true);
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Enter);
    typing(&mut app, "1234");
    assert_eq!(app.typed_pin_len(), 4);
    press(&mut app, KeyCode::Enter);
    assert_eq!(
        app.typed_pin_len(),
        0,
        "wiped as soon as it was handed over"
    );
    assert!(app.wait_for_job(Duration::from_secs(10)));
    assert!(app.wait_for_job(Duration::from_secs(10)));
    let expected = crate::ceremony::unlock(
        &Vault::open(dir.path()).unwrap(),
        &crate::pin::PinSource {
            typed: Some("1234".into()),
            ..Default::default()
        },
    )
    .err()
    .unwrap();
    // Ceremony's error, in the TUI's words (the module path is in vault.toml here).
    let expected = super::words::say(&expected);
    assert!(
        expected.contains("check the module path in vault.toml"),
        "{expected}"
    );
    assert_eq!(app.screens.unlock.error(), Some(expected.as_str()));
    assert!(text(&app, 120, 40).contains("cannot load the PKCS#11 module"));
}

#[test]
fn signing_without_unlocking_points_to_the_unlock_screen() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), true);
    press(&mut app, KeyCode::Char('5'));
    press(&mut app, KeyCode::Char('i'));
    assert!(app.modals.is_empty());
    assert!(app.message().unwrap().contains("unlock it first"));
}

#[test]
fn the_inbox_directory_is_created_and_a_typed_path_that_is_not_there_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), true);
    press(&mut app, KeyCode::Char('3'));
    assert!(dir.path().join("inbox").is_dir());
    assert!(text(&app, 80, 24).contains("No requests"));
    press(&mut app, KeyCode::Char('o'));
    typing(&mut app, "/nonexistent/usb");
    press(&mut app, KeyCode::Enter);
    let e = app.error_shown().unwrap();
    assert!(
        e.starts_with("cannot read the request /nonexistent/usb"),
        "{e}"
    );
}

#[test]
fn a_bad_csr_in_the_inbox_is_listed_with_the_intake_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), true);
    std::fs::create_dir_all(dir.path().join("inbox")).unwrap();
    std::fs::write(dir.path().join("inbox/prod-eu1.csr"), "not a csr").unwrap();
    std::fs::write(dir.path().join("inbox/.hidden"), "x").unwrap();
    press(&mut app, KeyCode::Char('3'));
    assert_eq!(app.screens.inbox.entries.len(), 1);
    let e = &app.screens.inbox.entries[0];
    assert_eq!(e.cluster.as_ref().unwrap().as_str(), "prod-eu1");
    // No root yet: ceremony refuses to judge, and says why.
    let s = text(&app, 120, 40);
    assert!(
        s.contains("prod-eu1.csr") && s.contains("error: this vault has no root yet"),
        "{s}"
    );
}

#[test]
fn below_80x24_the_terminal_too_small_screen_replaces_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), true);
    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Char('o')); // a dialog that would be cut off
    for (w, h) in [(60, 15), (79, 24), (80, 23), (40, 10)] {
        let s = text(&app, w, h);
        assert!(
            s.contains("terminal too small (needs 80×24)"),
            "{w}x{h}:\n{s}"
        );
        assert!(s.contains(&format!("This one is {w}×{h}")), "{w}x{h}:\n{s}");
        assert!(
            !s.contains("Add to the inbox") && !s.contains("1 Overview"),
            "{s}"
        );
    }
    assert!(!text(&app, 80, 24).contains("too small"));
    assert!(text(&app, 80, 24).contains("Add to the inbox"));
}

#[test]
fn no_color_draws_without_any_colour() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), false);
    for screen in ['1', '2', '3', '4', '5', '6', '?'] {
        press(&mut app, KeyCode::Char(screen));
        let t = draw(&app, 80, 24);
        for cell in t.backend().buffer().content() {
            assert!(
                matches!(cell.fg, Color::Reset) && matches!(cell.bg, Color::Reset),
                "screen {screen}: coloured cell {cell:?}"
            );
        }
        press(&mut app, KeyCode::Esc);
    }
    // With colour, something is coloured.
    let coloured = app_with_color_draws_colour(dir.path());
    assert!(coloured);
}

fn app_with_color_draws_colour(dir: &Path) -> bool {
    let mut app = App::new(
        Vault::open(dir).unwrap(),
        Options {
            operator: Some(Operator("unit-test".into())),
            pin_file: None,
            theme: Theme::new(true),
        },
    );
    app.wait_for_job(Duration::from_secs(10));
    draw(&app, 80, 24)
        .backend()
        .buffer()
        .content()
        .iter()
        .any(|c| c.fg != Color::Reset || c.bg != Color::Reset)
}

/// Events from a script, then nothing.
struct Script(VecDeque<Event>);

impl EventSource for Script {
    fn next(&mut self, _: Duration) -> std::io::Result<Option<Event>> {
        Ok(self.0.pop_front())
    }
}

#[test]
fn the_loop_runs_on_a_test_backend_follows_resizes_and_ends_on_q() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), true);
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let mut script = Script(VecDeque::from([
        Event::Key(key(KeyCode::Char('6'))),
        Event::Resize(120, 40),
        Event::Key(key(KeyCode::Char('4'))),
        Event::Key(key(KeyCode::Char('q'))),
    ]));
    // The test backend does not resize itself: do it as a terminal would, after the event.
    terminal.backend_mut().resize(120, 40);
    run_loop(&mut terminal, &mut app, &mut script).unwrap();
    assert!(app.should_quit());
    assert_eq!(app.screen(), Screen::Certificates);
    assert_eq!(terminal.backend().buffer().area.width, 120);
}

#[test]
fn text_wraps_at_spaces_and_cuts_long_words() {
    assert_eq!(wrap("abcd efgh ij", 9), vec!["abcd efgh", "ij"]);
    assert_eq!(wrap("abcdefghijkl", 8), vec!["abcdefgh", "ijkl"]);
    assert_eq!(group_hex("0123456789abcdef01"), "01234567 89abcdef 01");
}

#[test]
fn the_batch_form_suggests_a_signed_directory_next_to_the_manifest_until_edited() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), true);
    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Char('b'));
    assert_eq!(
        app.modal_as::<BatchForm>().unwrap().out_dir.text(),
        "signed"
    );
    typing(&mut app, "/media/usb/batch.txt");
    for (w, h) in [(80, 24), (120, 40)] {
        let s = text(&app, w, h);
        assert!(
            s.contains("Sign a batch") && s.contains("/media/usb/signed"),
            "{w}x{h}:\n{s}"
        );
        assert!(s.contains("Enter check"), "{w}x{h}:\n{s}");
    }
    // Edited, the output stays as typed whatever the manifest becomes.
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Backspace);
    typing(&mut app, "-here");
    press(&mut app, KeyCode::BackTab);
    typing(&mut app, ".bak");
    let f = app.modal_as::<BatchForm>().expect("the form is open");
    assert_eq!(f.manifest.text(), "/media/usb/batch.txt.bak");
    assert_eq!(f.out_dir.text(), "/media/usb/signe-here");
    // Days that are not a number are refused in the form, before anything runs.
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    typing(&mut app, "ten");
    press(&mut app, KeyCode::Enter);
    assert!(!app.busy());
    assert!(text(&app, 80, 24).contains("days: \"ten\" is not a whole number of days"));
    // Quitting from the form asks first; Esc closes it and nothing ran.
    press(&mut app, KeyCode::Char('q'));
    assert!(!app.should_quit(), "q is typed into the field");
    app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(text(&app, 80, 24).contains("Quit in the middle of opening a batch?"));
    press(&mut app, KeyCode::Char('n'));
    press(&mut app, KeyCode::Esc);
    assert!(app.modals.is_empty() && app.screens.inbox.batch.is_none());
    assert_eq!(app.message(), Some("cancelled; nothing was signed"));
}

#[test]
fn a_batch_that_ceremony_refuses_is_shown_with_its_words_and_cannot_be_signed() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), true);
    let manifest = dir.path().join("batch.txt");
    std::fs::write(&manifest, "prod-eu1  00  prod-eu1.csr\n").unwrap();
    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Char('b'));
    typing(&mut app, manifest.to_str().unwrap());
    press(&mut app, KeyCode::Enter);
    assert!(app.wait_for_job(Duration::from_secs(10)));
    // No root: ceremony refuses before reading a line, and the view says so in its words.
    let expected =
        crate::ceremony::check_batch(&Vault::open(dir.path()).unwrap(), &manifest, None, false)
            .err()
            .unwrap();
    let expected = super::words::say(&expected);
    for (w, h) in [(80, 24), (120, 40)] {
        let s = text(&app, w, h);
        assert!(s.contains("Batch batch.txt REFUSED"), "{w}x{h}:\n{s}");
        for piece in wrap(&expected, w as usize) {
            assert!(s.contains(&piece), "{piece:?} at {w}x{h}:\n{s}");
        }
        assert!(s.contains("Fix the manifest"), "{w}x{h}:\n{s}");
        assert!(
            s.lines().last().unwrap().contains("Esc close"),
            "{w}x{h}:\n{s}"
        );
    }
    press(&mut app, KeyCode::Char('s'));
    assert!(app.modals.is_empty());
    assert_eq!(
        app.message(),
        Some("this batch was refused; nothing can be signed from it")
    );
    // `b` reopens the form as it was; Esc there, then Esc closes the batch.
    press(&mut app, KeyCode::Char('b'));
    let f = app.modal_as::<BatchForm>().expect("the form is open");
    assert!(f.manifest.text() == manifest.to_str().unwrap() && !f.out_edited);
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Esc);
    assert!(app.screens.inbox.batch.is_none());
    assert!(text(&app, 80, 24).contains("No requests"));
}

#[test]
fn the_generate_form_follows_cluster_and_format_until_edited_and_parses_as_the_cli_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), true);
    // Locked: `n` on the inbox says where to unlock and opens nothing.
    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Char('n'));
    assert!(app.modals.is_empty());
    assert!(app.message().unwrap().contains("unlock it first"));

    // The form itself (opening it needs an unlocked token).
    app.modals.push(Box::new(GenerateForm::new()));
    typing(&mut app, "edge-1");
    let form = |app: &App| {
        app.modal_as::<GenerateForm>()
            .expect("the form is open")
            .clone()
    };
    assert_eq!(form(&app).out.text(), "edge-1-cacerts.yaml.age");
    press(&mut app, KeyCode::Tab); // key type
    press(&mut app, KeyCode::Left); // rsa-4096
    press(&mut app, KeyCode::Tab); // days
    typing(&mut app, "ten");
    press(&mut app, KeyCode::Tab); // format
    press(&mut app, KeyCode::Left); // istio: a directory, no .age
    assert_eq!(form(&app).out.text(), "edge-1-cacerts");
    press(&mut app, KeyCode::Enter);
    assert!(!app.busy());
    assert!(text(&app, 80, 24).contains("days: \"ten\" is not a whole number of days"));
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::Backspace);
    press(&mut app, KeyCode::Backspace);
    press(&mut app, KeyCode::Backspace);
    // Edited, the output stays as typed whatever the cluster becomes.
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    typing(&mut app, "-here");
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab); // round to the cluster
    typing(&mut app, "2");
    assert_eq!(form(&app).cluster.text(), "edge-12");
    assert_eq!(form(&app).out.text(), "edge-1-cacerts-here");

    // The parsed request: the recipients' SHA-256 is ceremony's, whatever their order.
    let a = "age1hsfdq2j0rwm959aq8m7q34kf4z53ak3ahk204akfe3t3czau055qzq4fe9";
    let b = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPwnEsodOA4/EkkGxKOuJLLw1teazCeqlNF82hYzfSc+ t@x";
    let mut f = form(&app);
    f.recipients = vec![format!("  {b} "), a.to_owned()];
    let spec = f.spec().unwrap();
    assert_eq!(spec.request.key.name(), "rsa-4096");
    assert_eq!(spec.request.format, crate::export::Format::Istio);
    assert_eq!(spec.request.days, None);
    assert_eq!(spec.request.recipients.given(), [b, a]);
    assert_eq!(
        spec.fingerprint,
        crate::ceremony::recipients_fingerprint(&[a.to_owned(), b.to_owned()])
    );
    f.cluster.set("Not A Name");
    assert!(f.spec().unwrap_err().starts_with("cluster: "));

    // Esc cancels; nothing ran.
    press(&mut app, KeyCode::Esc);
    assert!(app.modals.is_empty());
    assert_eq!(
        app.message(),
        Some("cancelled; nothing was generated or signed")
    );
}

mod fixes;
