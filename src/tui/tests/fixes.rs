//! Issue 16, without a token: each fixed behaviour driven by keys and drawn on ratatui's
//! TestBackend. The same behaviours against a SoftHSM2 token are in `tests/tui.rs` and, in a
//! real terminal, `tests/tui_tmux.rs`.

use std::path::Path;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::super::job::Question;
use super::super::modals::confirm::ConfirmDialog;
use super::super::modals::operator::OperatorPrompt;
use super::super::modals::prompt::Prompt;
use super::super::screens::inbox::REMEMBERED_PATHS;
use super::*;
use crate::ceremony::{ConfirmRequest, MIN_CONFIRM_DIGITS};

fn ctrl(app: &mut App, c: char) {
    app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL));
}

fn last_line(s: &str) -> &str {
    s.lines().last().unwrap()
}

#[test]
fn switching_to_unlock_never_starts_typing_and_the_key_that_opens_the_field_is_not_typed() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), false);
    // `2`, then `1`: the `1` switches back, it is not a PIN digit.
    press(&mut app, KeyCode::Char('2'));
    assert_eq!(app.screen(), Screen::Unlock);
    press(&mut app, KeyCode::Char('1'));
    assert_eq!(app.screen(), Screen::Overview);
    // `u` elsewhere only switches; on Unlock it opens the field, and is not typed.
    press(&mut app, KeyCode::Char('u'));
    assert_eq!(app.screen(), Screen::Unlock);
    assert!(text(&app, 80, 24).contains("User PIN: press u or Enter to type it"));
    press(&mut app, KeyCode::Char('u'));
    assert_eq!(
        app.typed_pin_len(),
        0,
        "the u that opened the field is not in it"
    );
    typing(&mut app, "u1");
    assert_eq!(app.typed_pin_len(), 2);
    let s = text(&app, 80, 24);
    assert!(s.contains("User PIN:  ••"), "{s}");
    assert!(last_line(&s).contains("Ctrl-U clear"), "{s}");
    ctrl(&mut app, 'u');
    assert_eq!(app.typed_pin_len(), 0, "Ctrl-U clears the PIN field");
    // Tab away and back: the field is closed again and empty.
    typing(&mut app, "12");
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.typed_pin_len(), 0);
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.screen(), Screen::Unlock);
    press(&mut app, KeyCode::Char('3'));
    assert_eq!(
        app.screen(),
        Screen::Inbox,
        "the field was not open: 3 switched"
    );
}

#[test]
fn a_failed_login_closes_the_field_so_the_next_key_is_not_a_pin_character() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), false);
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Char('u'));
    typing(&mut app, "1234");
    press(&mut app, KeyCode::Enter);
    assert!(app.wait_for_job(Duration::from_secs(10)));
    assert!(app.wait_for_job(Duration::from_secs(10)));
    press(&mut app, KeyCode::Char('5'));
    assert_eq!(app.screen(), Screen::Crl);
    assert_eq!(app.typed_pin_len(), 0);
}

#[test]
fn text_fields_move_the_cursor_erase_words_complete_paths_and_keep_their_text_after_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), false);
    let usb = tempfile::tempdir().unwrap();
    std::fs::create_dir(usb.path().join("stick")).unwrap();
    std::fs::write(usb.path().join("stick/prod-east.csr"), "not a csr").unwrap();
    let base = usb.path().display().to_string();
    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Char('o'));
    let prompt = |app: &App| {
        app.modal_as::<Prompt>()
            .expect("the prompt")
            .text()
            .to_owned()
    };
    // `o` opened the prompt; it is not in the field.
    assert_eq!(prompt(&app), "");
    typing(&mut app, &format!("{base}/st"));
    press(&mut app, KeyCode::Tab);
    assert_eq!(prompt(&app), format!("{base}/stick/"));
    press(&mut app, KeyCode::Tab);
    assert_eq!(prompt(&app), format!("{base}/stick/prod-east.csr"));
    ctrl(&mut app, 'w');
    assert_eq!(prompt(&app), format!("{base}/stick/"));
    ctrl(&mut app, 'u');
    assert_eq!(prompt(&app), "");
    // Cursor keys: type in the middle, Delete, Home, End.
    typing(&mut app, "/nonexistnt/usb");
    for _ in 0..6 {
        press(&mut app, KeyCode::Left);
    }
    typing(&mut app, "e");
    press(&mut app, KeyCode::Home);
    press(&mut app, KeyCode::Delete);
    press(&mut app, KeyCode::End);
    typing(&mut app, "2");
    assert_eq!(prompt(&app), "nonexistent/usb2");
    press(&mut app, KeyCode::Home);
    typing(&mut app, "/");
    // A path that is not there: said under the field, which keeps the text.
    press(&mut app, KeyCode::Enter);
    let e = app.error_shown().expect("the problem is shown").to_owned();
    assert!(
        e.starts_with("cannot read the request /nonexistent/usb2"),
        "{e}"
    );
    assert_eq!(prompt(&app), "/nonexistent/usb2");
    let s = text(&app, 80, 24);
    assert!(
        s.contains("Add to the inbox") && s.contains("cannot read the request"),
        "{s}"
    );
    // Fixed in place, it is added.
    press(&mut app, KeyCode::End);
    ctrl(&mut app, 'w');
    assert_eq!(prompt(&app), "/nonexistent/");
    ctrl(&mut app, 'u');
    typing(&mut app, &format!("{base}/stick"));
    press(&mut app, KeyCode::Enter);
    assert!(app.modals.is_empty(), "{:?}", app.error_shown());
    assert!(text(&app, 120, 40).contains("prod-east.csr"));
}

#[test]
fn a_status_line_belongs_to_its_screen_and_item_and_goes_when_they_change() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), false);
    press(&mut app, KeyCode::Char('5'));
    press(&mut app, KeyCode::Char('i'));
    assert!(app.message().unwrap().contains("the token is locked"));
    press(&mut app, KeyCode::Char('6'));
    assert_eq!(app.message(), None, "not on the Ledger screen");
    press(&mut app, KeyCode::Char('5'));
    assert_eq!(app.message(), None, "gone once the screen was left");

    // Two requests: what was said about the first is not shown for the second.
    std::fs::create_dir_all(dir.path().join("inbox")).unwrap();
    std::fs::write(dir.path().join("inbox/edge-a.csr"), "x").unwrap();
    std::fs::write(dir.path().join("inbox/edge-b.csr"), "x").unwrap();
    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Char('d'));
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.message(), Some("cancelled"));
    press(&mut app, KeyCode::Down);
    assert_eq!(app.message(), None, "another request");
    press(&mut app, KeyCode::Up);
    assert_eq!(app.message(), None, "cleared, not just hidden");
}

#[test]
fn the_operator_is_asked_once_when_the_system_gives_none_and_shown_on_the_overview() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = App::new(
        vault(dir.path()),
        Options {
            operator: None,
            pin_file: None,
            theme: Theme::new(false),
        },
    );
    assert!(app.wait_for_job(Duration::from_secs(10)));
    assert!(app.modal_as::<OperatorPrompt>().is_some());
    let s = text(&app, 80, 24);
    assert!(s.contains("The system gives no name for you"), "{s}");
    // It cannot be dismissed, and q is a letter of a name.
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Enter);
    assert!(app.error_shown().unwrap().starts_with("type your name"));
    typing(&mut app, "q");
    assert!(!app.should_quit());
    ctrl(&mut app, 'u');
    typing(&mut app, "  Ada Lovelace ");
    press(&mut app, KeyCode::Enter);
    assert!(app.modals.is_empty());
    assert_eq!(app.operator().0, "Ada Lovelace");
    let s = text(&app, 120, 40);
    assert!(
        s.contains("operator              Ada Lovelace (typed at the start of this session"),
        "{s}"
    );
    // With a name from the system, nothing is asked.
    let app2 = super::app(tempfile::tempdir().unwrap().path(), false);
    assert!(app2.modals.is_empty());
    assert!(text(&app2, 120, 40).contains("unit-test (from the system"));
}

#[test]
fn added_inbox_paths_are_remembered_in_the_vault_and_listed_next_time() {
    let dir = tempfile::tempdir().unwrap();
    let usb = tempfile::tempdir().unwrap();
    std::fs::write(usb.path().join("prod-west.csr"), "x").unwrap();
    let mut app = app(dir.path(), false);
    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Char('o'));
    typing(&mut app, usb.path().to_str().unwrap());
    press(&mut app, KeyCode::Enter);
    let file = dir.path().join(REMEMBERED_PATHS);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!("{}\n", usb.path().display())
    );
    drop(app);
    let mut again = App::new(
        Vault::open(dir.path()).unwrap(),
        Options {
            operator: Some(Operator("unit-test".into())),
            pin_file: None,
            theme: Theme::new(false),
        },
    );
    assert!(again.wait_for_job(Duration::from_secs(10)));
    press(&mut again, KeyCode::Char('3'));
    let s = text(&again, 120, 40);
    assert!(s.contains("prod-west.csr"), "{s}");
    assert!(s.contains("also (remembered in the vault):"), "{s}");
    // Gone from the disk: still remembered, and said so.
    drop(usb);
    press(&mut again, KeyCode::Char('R'));
    assert!(text(&again, 120, 40).contains("(not there now)"));
}

#[test]
fn footers_show_every_key_of_the_state_at_80_columns_help_and_quit_on_the_bottom_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("inbox")).unwrap();
    std::fs::write(dir.path().join("inbox/edge-a.csr"), "x").unwrap();
    let mut app = app(dir.path(), false);
    // Locked, no root: unlocking is the next step, not a root that needs unlocking first.
    let s = text(&app, 80, 24);
    assert!(last_line(&s).contains("u unlock"), "{s}");
    assert!(!s.contains("n new root"), "{s}");
    press(&mut app, KeyCode::Char('3'));
    for (w, h) in [(80, 24), (120, 40)] {
        let s = text(&app, w, h);
        let footer: String = s.lines().rev().take(2).collect::<Vec<_>>().join("\n");
        for k in [
            "Enter review",
            "s sign",
            "c cluster",
            "d days",
            "o add path",
            "b batch",
            "n new key",
        ] {
            assert!(footer.contains(k), "{k} at {w}x{h}:\n{s}");
        }
        assert!(last_line(&s).contains("? help  q quit"), "{w}x{h}:\n{s}");
    }
    // In a dialog, its own keys only.
    press(&mut app, KeyCode::Char('c'));
    let s = text(&app, 80, 24);
    assert!(
        last_line(&s).starts_with("Enter OK  Esc cancel  Ctrl-U clear"),
        "{s}"
    );
}

#[test]
fn cut_cells_end_in_an_ellipsis() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("inbox")).unwrap();
    std::fs::write(
        dir.path()
            .join("inbox/a-request-file-with-a-very-long-name-indeed.csr"),
        "x",
    )
    .unwrap();
    let mut app = app(dir.path(), false);
    press(&mut app, KeyCode::Char('3'));
    let s = text(&app, 80, 24);
    let row = s
        .lines()
        .find(|l| l.contains("a-request-file"))
        .unwrap_or_else(|| panic!("{s}"));
    // The file name, the cluster (from it) and the verdict are all cut, and say so.
    assert!(
        row.starts_with("a-request-file-with-a-v… a-request-file-… "),
        "{row}"
    );
    assert!(
        row.trim_end().ends_with("error: this vault has no …"),
        "{row}"
    );
}

#[test]
fn ctrl_c_asks_in_the_middle_of_a_flow_and_a_second_ctrl_c_quits() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), false);
    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Char('o'));
    typing(&mut app, "/media");
    ctrl(&mut app, 'c');
    assert!(!app.should_quit());
    assert!(text(&app, 80, 24).contains("Quit in the middle of answering a question?"));
    ctrl(&mut app, 'c');
    assert!(app.should_quit());
}

fn question(expected: &str) -> Box<Question> {
    Box::new(Question {
        request: ConfirmRequest {
            action: "sign",
            summary: vec![
                ("cluster".into(), "edge-1".into()),
                ("SPKI SHA-256".into(), expected.into()),
            ],
            subject: "the SPKI SHA-256 fingerprint",
            expected: expected.into(),
        },
        source: "Have the cluster team read out their key's SPKI SHA-256.",
        extra: vec![("write to".into(), "nowhere".into())],
        warning: vec!["ACKNOWLEDGED: this key already has a valid certificate".into()],
    })
}

#[test]
fn the_confirmation_never_shows_the_value_keeps_what_was_typed_and_explains_each_mistake() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), false);
    let expected = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
    app.modals
        .push(Box::new(ConfirmDialog::new(question(expected))));
    for (w, h) in [(80, 24), (120, 40)] {
        let s = text(&app, w, h);
        assert!(
            s.contains("Confirm: sign") && s.contains("This will sign:"),
            "{s}"
        );
        assert!(s.contains("edge-1") && s.contains("nowhere"), "{s}");
        assert!(s.contains("! ACKNOWLEDGED: this key already has"), "{s}");
        assert!(s.contains("(not shown: you type it below)"), "{s}");
        assert!(
            !s.contains(&expected[..8]),
            "the value is not on the screen:\n{s}"
        );
        assert!(
            s.contains(&format!("Type at least {MIN_CONFIRM_DIGITS}")),
            "{s}"
        );
    }
    // A letter that is not hex: said exactly, the text kept.
    typing(&mut app, "850fq115db63b");
    press(&mut app, KeyCode::Enter);
    assert_eq!(
        app.error_shown(),
        Some(
            "'q' is not a hex digit: type 0-9 and a-f from the SPKI SHA-256 fingerprint (colons and spaces are ignored)"
        )
    );
    assert!(text(&app, 80, 24).contains("> 850fq115db63b"));
    // Too short: how many so far.
    ctrl(&mut app, 'u');
    typing(&mut app, &expected[..MIN_CONFIRM_DIGITS - 1]);
    press(&mut app, KeyCode::Enter);
    assert_eq!(
        app.error_shown(),
        Some(
            format!(
                "type at least {MIN_CONFIRM_DIGITS} hex digits of the SPKI SHA-256 fingerprint ({} so far)",
                MIN_CONFIRM_DIGITS - 1
            )
            .as_str()
        )
    );
    // Not a prefix: ceremony's own check says so, and the dialog stays.
    ctrl(&mut app, 'u');
    typing(&mut app, &"f".repeat(MIN_CONFIRM_DIGITS));
    press(&mut app, KeyCode::Enter);
    assert_eq!(
        app.error_shown(),
        Some("the confirmation does not match the SPKI SHA-256 fingerprint; nothing was signed")
    );
    assert_eq!(app.modals.len(), 1);
    // Right, with colons and capitals: answered and closed.
    ctrl(&mut app, 'u');
    let typed: Vec<String> = expected.as_bytes()[..MIN_CONFIRM_DIGITS]
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).to_uppercase())
        .collect();
    typing(&mut app, &typed.join(":"));
    press(&mut app, KeyCode::Enter);
    assert!(app.modals.is_empty());
}

#[test]
fn a_long_confirmation_scrolls_its_summary_and_always_shows_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), false);
    let mut q = question(&"ab".repeat(32));
    for i in 0..30 {
        q.request
            .summary
            .push((format!("line {i}"), format!("value {i}")));
    }
    app.modals.push(Box::new(ConfirmDialog::new(q)));
    let s = text(&app, 80, 24);
    assert!(s.contains("> "), "the field is shown:\n{s}");
    assert!(
        s.contains("line(s) above,") && s.contains("below: ↑↓ scroll"),
        "{s}"
    );
    assert!(!s.contains("line 29 "), "{s}");
    for _ in 0..40 {
        press(&mut app, KeyCode::Down);
    }
    assert!(text(&app, 80, 24).contains("value 29"));
}

#[test]
fn no_message_of_the_help_or_the_screens_names_a_cli_flag() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = App::new(
        vault(dir.path()),
        Options {
            operator: Some(Operator("unit-test".into())),
            pin_file: Some(Path::new("/run/pin").to_owned()),
            theme: Theme::new(false),
        },
    );
    assert!(app.wait_for_job(Duration::from_secs(10)));
    for k in ['1', '2', '3', '4', '5', '6', '?'] {
        press(&mut app, KeyCode::Char(k));
        let s = text(&app, 120, 40);
        for flag in ["--pin-file", "--force", "--confirm", "`rootvault"] {
            assert!(!s.contains(flag), "{flag} on screen {k}:\n{s}");
        }
        press(&mut app, KeyCode::Esc);
    }
}

#[test]
fn a_crl_written_into_a_missing_folder_says_so_and_keeps_the_path() {
    use super::super::modals::prompt::PromptKind;
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path(), false);
    let missing = dir.path().join("no-such-folder");
    app.modals.push(Box::new(Prompt::new(
        PromptKind::CrlOut(1, vec![0x30, 0x00]),
        &missing.join("crl-1.pem").display().to_string(),
    )));
    press(&mut app, KeyCode::Enter);
    let said = format!(
        "the folder {} does not exist: create it, or choose another path; nothing was written",
        missing.display()
    );
    assert_eq!(app.error_shown(), Some(said.as_str()));
    assert_eq!(
        app.modal_as::<Prompt>().unwrap().text(),
        missing.join("crl-1.pem").display().to_string()
    );
    // Created, the same Enter writes it.
    std::fs::create_dir(&missing).unwrap();
    press(&mut app, KeyCode::Enter);
    assert!(app.modals.is_empty());
    assert!(missing.join("crl-1.pem").is_file());
}
