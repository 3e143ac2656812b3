//! `token check` on a module without private data objects: none of the implementations tested
//! here lacks them, so a failure injected at `hsm.create_object` (the module answering
//! CKR_TEMPLATE_INCONSISTENT to a private CKO_DATA template) stands in for one. In-process on a
//! real SoftHSM2 token, in a binary of its own because the module is loaded once per process.
#![cfg(feature = "fault-injection")]

mod common;

use std::process::Command;

use common::{run, PIN, SO_PIN};
use rootvault::ceremony::{token_check, Hosting};
use rootvault::pin::PinSource;
use secrecy::SecretString;

#[test]
fn a_module_without_private_data_objects_can_host_a_vault_only_in_the_weaker_mode() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(Command::new(common::repo().join("hsm-test/make-token.sh"))
        .arg(dir.path().join("hsm"))
        .args(["weaker", SO_PIN, PIN]))
    .expect(0);
    let conf = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("export SOFTHSM2_CONF="))
        .unwrap()
        .to_owned();
    // The only thread of this test binary that touches the environment, before the module.
    std::env::set_var("SOFTHSM2_CONF", conf);
    let pins = PinSource {
        typed: Some(SecretString::from(PIN)),
        ..PinSource::default()
    };

    rootvault::fault::fail_at("hsm.create_object", 0);
    let report = token_check(&common::module(), "weaker", &pins, None, |_| {}).unwrap();
    rootvault::fault::clear();

    assert!(!report.ok);
    assert_eq!(report.hosting, Hosting::Weaker);
    assert!(!report.data_objects.ok);
    assert_eq!(report.data_objects.missing, ["create"]);
    assert_eq!(
        report.data_objects.details,
        [
            "create: the token cannot store private data objects: C_CreateObject of a private \
          CKO_DATA object answered TemplateInconsistent; without them the token cannot protect \
          the ledger's head (see `rootvault token check`)"
        ]
    );
    assert_eq!(
        report.missing,
        ["private data objects (create): the token cannot keep the ledger's attested head"]
    );
    // Keys are fine: every key type is still reported as working.
    assert!(report.key_types.iter().all(|(_, c)| c.ok));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["hosting"], "weaker");
    assert_eq!(json["ok"], false);
    assert_eq!(
        json["data_objects"]["missing"],
        serde_json::json!(["create"])
    );
}
