//! The token-held private data objects (`UserSession::{read,write,destroy}_data_object`), used
//! in-process against real SoftHSM2 tokens. SoftHSM reads its configuration once per process,
//! so this binary loads one module over one token directory holding a token per test (each
//! test its own login state), and judges the objects from outside with OpenSC's pkcs11-tool.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use common::{run, Run, PIN, SO_PIN};
use rootvault::hsm::{HsmError, Module, TokenSelector, UserSession};
use secrecy::SecretString;

const TOKENS: &[&str] = &[
    "do-cycle",
    "do-public",
    "do-dupes",
    "do-hidden",
    "do-empty",
    "do-refuse",
];

struct World {
    dir: PathBuf,
    module: Module,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("data_objects_tokens");
        let _ = std::fs::remove_dir_all(&dir);
        let mut conf = None;
        for label in TOKENS {
            let out = run(Command::new(common::repo().join("hsm-test/make-token.sh"))
                .arg(&dir)
                .arg(label)
                .arg(SO_PIN)
                .arg(PIN))
            .expect(0);
            conf = Some(
                out.stdout
                    .lines()
                    .find_map(|l| l.strip_prefix("export SOFTHSM2_CONF="))
                    .expect("make-token.sh prints the SOFTHSM2_CONF line")
                    .to_owned(),
            );
        }
        // Before the module is loaded, and before any other thread of this process exists
        // that could read the environment.
        std::env::set_var("SOFTHSM2_CONF", conf.unwrap());
        let module = Module::load(&common::module()).expect("load SoftHSM2");
        World { dir, module }
    })
}

/// SoftHSM reads a token's files again when another process has changed them; a test's
/// pkcs11-tool writing while another test's thread reads made C_GetTokenInfo fail with
/// CKR_GENERAL_ERROR. The tests take turns.
fn turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

fn login(label: &str) -> UserSession {
    let token = world()
        .module
        .open_token(&TokenSelector::parse(label).unwrap())
        .unwrap();
    token.login(&SecretString::from(PIN)).unwrap()
}

/// pkcs11-tool on the token labelled `label`, logged in or not.
fn tool(label: &str, login: bool, args: &[&str]) -> Run {
    let mut c = Command::new("pkcs11-tool");
    c.env(
        "SOFTHSM2_CONF",
        world().dir.join("softhsm2.conf").to_str().unwrap(),
    )
    .arg("--module")
    .arg(common::module())
    .args(["--token-label", label]);
    if login {
        c.args(["--login", "--pin", PIN]);
    }
    run(c.args(args))
}

#[test]
fn a_data_object_is_created_read_replaced_and_destroyed() {
    let _turn = turn();
    let s = login("do-cycle");
    assert_eq!(s.read_data_object("state").unwrap(), None);
    s.write_data_object("state", b"seq=1").unwrap();
    assert_eq!(
        s.read_data_object("state").unwrap().as_deref(),
        Some(&b"seq=1"[..])
    );
    s.write_data_object("state", b"seq=2, a longer value")
        .unwrap();
    assert_eq!(
        s.read_data_object("state").unwrap().as_deref(),
        Some(&b"seq=2, a longer value"[..])
    );

    // One object, with the attributes the vault relies on, seen by another program.
    let listed = tool("do-cycle", true, &["--list-objects", "--type", "data"])
        .expect(0)
        .stdout;
    assert_eq!(listed.matches("Data object").count(), 1, "{listed}");
    assert!(listed.contains("label:          'state'"), "{listed}");
    assert!(listed.contains("application:    'rootvault'"), "{listed}");
    let flags = listed
        .lines()
        .find(|l| l.trim_start().starts_with("flags:"))
        .unwrap_or_else(|| panic!("no flags line in {listed}"));
    assert!(
        flags.contains("modifiable") && flags.contains("private"),
        "{flags}"
    );
    // Hidden without login.
    let public = tool("do-cycle", false, &["--list-objects", "--type", "data"])
        .expect(0)
        .stdout;
    assert!(!public.contains("Data object"), "{public}");
    let value = tool(
        "do-cycle",
        true,
        &["--read-object", "--type", "data", "--label", "state"],
    )
    .expect(0)
    .stdout;
    assert_eq!(value, "seq=2, a longer value");

    assert!(s.destroy_data_object("state").unwrap());
    assert_eq!(s.read_data_object("state").unwrap(), None);
    assert!(!s.destroy_data_object("state").unwrap());
    let listed = tool("do-cycle", true, &["--list-objects", "--type", "data"])
        .expect(0)
        .stdout;
    assert!(!listed.contains("Data object"), "{listed}");
}

#[test]
fn an_empty_value_is_stored_and_told_apart_from_no_object() {
    let _turn = turn();
    let s = login("do-empty");
    s.write_data_object("empty", b"").unwrap();
    assert_eq!(s.read_data_object("empty").unwrap(), Some(Vec::new()));
    s.write_data_object("empty", b"x").unwrap();
    assert_eq!(s.read_data_object("empty").unwrap(), Some(b"x".to_vec()));
}

#[test]
fn a_public_look_alike_made_without_the_pin_is_never_read_as_state() {
    let _turn = turn();
    // Anyone can create a public token object without logging in.
    let forged = world().dir.join("forged");
    std::fs::write(&forged, b"seq=999").unwrap();
    tool(
        "do-public",
        false,
        &[
            "--write-object",
            forged.to_str().unwrap(),
            "--type",
            "data",
            "--label",
            "state",
            "--application-label",
            "rootvault",
        ],
    )
    .expect(0);

    let s = login("do-public");
    assert_eq!(s.read_data_object("state").unwrap(), None);
    s.write_data_object("state", b"seq=1").unwrap();
    assert_eq!(
        s.read_data_object("state").unwrap(),
        Some(b"seq=1".to_vec())
    );
    // The look-alike is untouched, and destroying the vault's object leaves it too.
    assert!(s.destroy_data_object("state").unwrap());
    let left = tool(
        "do-public",
        false,
        &["--read-object", "--type", "data", "--label", "state"],
    )
    .expect(0)
    .stdout;
    assert_eq!(left, "seq=999");
}

#[test]
fn two_private_objects_with_one_label_are_reported_not_guessed_between() {
    let _turn = turn();
    let file = world().dir.join("dupe");
    std::fs::write(&file, b"v").unwrap();
    for _ in 0..2 {
        tool(
            "do-dupes",
            true,
            &[
                "--write-object",
                file.to_str().unwrap(),
                "--type",
                "data",
                "--label",
                "state",
                "--application-label",
                "rootvault",
                "--private",
            ],
        )
        .expect(0);
    }
    let s = login("do-dupes");
    let err = s.read_data_object("state").unwrap_err();
    assert!(
        matches!(err, HsmError::DataObjectDuplicate { ref label, count: 2 } if label == "state"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the token holds 2 private data objects labelled \"state\" (application \"rootvault\"), \
         where there must be one; an interrupted update leaves two. Inspect them with \
         `pkcs11-tool --login --list-objects --type data` and delete the stale one"
    );
    assert!(matches!(
        s.write_data_object("state", b"new"),
        Err(HsmError::DataObjectDuplicate { count: 2, .. })
    ));
    // Destroying removes every one of them, so the operator can start clean.
    assert!(s.destroy_data_object("state").unwrap());
    assert_eq!(s.read_data_object("state").unwrap(), None);
}

#[test]
fn the_value_is_hidden_from_a_session_without_login() {
    let _turn = turn();
    let s = login("do-hidden");
    s.write_data_object("secret-state", b"head=abc").unwrap();
    let listed = tool("do-hidden", false, &["--list-objects", "--type", "data"])
        .expect(0)
        .stdout;
    assert!(!listed.contains("secret-state"), "{listed}");
    let read = tool(
        "do-hidden",
        false,
        &["--read-object", "--type", "data", "--label", "secret-state"],
    );
    assert_ne!(read.code, 0, "read without login: {read:?}");
    assert!(!read.stdout.contains("head=abc"));
}

/// No module tested here refuses C_SetAttributeValue on a data object's CKA_VALUE, so a
/// failure injected at `hsm.set_value` stands in for one that does: the value is replaced by
/// a new object and the old one destroyed. Without that fallback the write would fail.
#[cfg(feature = "fault-injection")]
#[test]
fn a_module_that_refuses_to_modify_the_value_gets_a_new_object_instead() {
    let _turn = turn();
    let s = login("do-refuse");
    s.write_data_object("state", b"seq=1").unwrap();
    // On this thread only, the next C_SetAttributeValue is taken as refused.
    rootvault::fault::fail_at("hsm.set_value", 0);
    s.write_data_object("state", b"seq=2").unwrap();
    rootvault::fault::clear();
    assert_eq!(
        s.read_data_object("state").unwrap(),
        Some(b"seq=2".to_vec())
    );
    let listed = tool("do-refuse", true, &["--list-objects", "--type", "data"])
        .expect(0)
        .stdout;
    assert_eq!(listed.matches("Data object").count(), 1, "{listed}");
}
