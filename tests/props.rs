//! Issue 7 item 3: hostile input. Property tests mutate valid CSRs, PEM wrappers, vault
//! configurations, receipts and backups (both the encrypted file and the archive inside it)
//! and assert "refused cleanly or accepted correctly, never a panic". The cargo-fuzz targets
//! under fuzz/ run the CSR, receipt and config entry points for longer.

mod common;

use std::process::Command;
use std::sync::OnceLock;

use proptest::prelude::*;
use rootvault::ledger::Receipt;
use rootvault::x509::Csr;

/// A real CSR made by OpenSSL, DER and PEM.
fn seed_csr() -> &'static (Vec<u8>, String) {
    static SEED: OnceLock<(Vec<u8>, String)> = OnceLock::new();
    SEED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let pem_path = dir.path().join("c.csr");
        let out = Command::new("openssl")
            .args([
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-subj",
                "/CN=seed",
                "-keyout",
            ])
            .arg(dir.path().join("k"))
            .arg("-out")
            .arg(&pem_path)
            .output()
            .unwrap();
        assert!(out.status.success());
        let pem = std::fs::read_to_string(&pem_path).unwrap();
        let der = ::pem::parse(&pem).unwrap().into_contents();
        (der, pem)
    })
}

/// A mutation of a byte string: flip, insert, delete or truncate.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(
        prop_oneof![
            (any::<usize>(), 1u8..=255).prop_map(|(i, b)| Mutation::Flip(i, b)),
            (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
            any::<usize>().prop_map(Mutation::Delete),
            any::<usize>().prop_map(Mutation::Truncate),
        ],
        1..6,
    )
}

fn apply(mut bytes: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        if bytes.is_empty() {
            break;
        }
        let n = bytes.len();
        match *m {
            Mutation::Flip(i, b) => bytes[i % n] ^= b,
            Mutation::Insert(i, b) => bytes.insert(i % (n + 1), b),
            Mutation::Delete(i) => {
                bytes.remove(i % n);
            }
            Mutation::Truncate(i) => bytes.truncate(i % n),
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// A mutated DER request is refused, or (if the mutation kept it a valid, self-signed
    /// request) accepted with a key whose SPKI is byte-identical to the one it carries.
    #[test]
    fn mutated_der_csrs_are_refused_or_accepted_correctly(muts in mutations()) {
        let (der, _) = seed_csr();
        let input = apply(der.clone(), &muts);
        if let Ok(csr) = Csr::intake(&input) {
            // Accepted: the self-signature verified, so the key must be internally consistent.
            prop_assert_eq!(csr.public_key().spki_sha256_hex().len(), 64);
            prop_assert!(csr.der().len() <= input.len());
        }
    }

    /// The same for the PEM wrapper: mutated armour, base64 and labels never panic.
    #[test]
    fn mutated_pem_csrs_never_panic(muts in mutations()) {
        let (_, pem) = seed_csr();
        let input = apply(pem.as_bytes().to_vec(), &muts);
        let _ = Csr::intake(&input);
    }

    /// Arbitrary bytes never panic intake.
    #[test]
    fn arbitrary_bytes_never_panic_intake(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Csr::intake(&bytes);
    }

    /// A mutated vault configuration is refused with a message, or parses to a policy that
    /// validates.
    #[test]
    fn mutated_configs_are_refused_cleanly_or_valid(muts in mutations()) {
        let text = "format = 1\n[token]\nmodule = \"/usr/lib/softhsm/libsofthsm2.so\"\nselector = \"t\"\nserial = \"abc\"\n[policy]\ndefault_days = 365\nmax_days = 730\nsan_dns = [\"istiod.istio-system.svc\"]\n[policy.clusters.prod-eu]\npermitted_dns = [\"istiod.istio-system.svc\"]\n";
        let input = apply(text.as_bytes().to_vec(), &muts);
        if let Ok(s) = std::str::from_utf8(&input) {
            match rootvault::vault::parse_config(s) {
                Ok(c) => prop_assert!(c.policy.validate().is_ok()),
                Err(e) => prop_assert!(!e.is_empty()),
            }
        }
    }

    /// A mutated receipt never parses as valid unless the mutation left its meaning intact:
    /// its signature binds seq, hash and time.
    #[test]
    fn mutated_receipts_never_verify_with_changed_contents(muts in mutations()) {
        let (text, original) = sample_receipt();
        let input = apply(text.as_bytes().to_vec(), &muts);
        if let Ok(s) = std::str::from_utf8(&input) {
            if let Ok(r) = Receipt::parse(s) {
                prop_assert_eq!(r.seq, original.seq);
                prop_assert_eq!(&r.hash, &original.hash);
                prop_assert_eq!(&r.time, &original.time);
            }
        }
    }
}

/// A real vault (SoftHSM token, root, one intermediate) and a backup of it made by
/// `rootvault backup`: the age identity, the encrypted backup, the tar inside it, and the
/// ledger head it holds.
struct BackupSeed {
    hsm: common::Hsm,
    identity: std::path::PathBuf,
    recipient: String,
    encrypted: Vec<u8>,
    tar: Vec<u8>,
    head: String,
}

fn backup_seed() -> &'static BackupSeed {
    static SEED: OnceLock<BackupSeed> = OnceLock::new();
    SEED.get_or_init(|| {
        let h = common::Hsm::new("props-backup");
        h.vault_with_root("ecdsa-p256").expect(0);
        let c = common::make_cluster_csr(h.dir.path(), "east", common::P256);
        common::run(h.rv_pin().arg("sign").arg(&c.csr).args([
            "--cluster",
            "east",
            "--confirm",
            &c.spki_sha256[..16],
        ]))
        .expect(0);
        let identity = h.path("age.key");
        let recipient = common::age_identity(&identity);
        let file = h.path("vault.backup");
        common::run(
            h.rv_pin()
                .args(["backup", "--age-recipient", &recipient, "--out"])
                .arg(&file),
        )
        .expect(0);
        let out = Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(&identity)
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success());
        let head = common::run(h.rv().args(["ledger", "verify", "--json"]))
            .expect(0)
            .json()["head"]
            .as_str()
            .unwrap()
            .to_owned();
        BackupSeed {
            encrypted: std::fs::read(&file).unwrap(),
            tar: out.stdout,
            hsm: h,
            identity,
            recipient,
            head,
        }
    })
}

/// Restores `bytes` (an encrypted backup) into a new directory and checks the outcome:
/// refused with exit 3 or 4 and nothing left behind, or restored to a vault whose ledger
/// verifies with the original head.
fn restore_is_clean_or_correct(bytes: &[u8]) -> Result<(), TestCaseError> {
    let seed = backup_seed();
    let dir = tempfile::tempdir_in(seed.hsm.dir.path()).unwrap();
    let from = dir.path().join("mutated.backup");
    std::fs::write(&from, bytes).unwrap();
    let into = dir.path().join("restored");
    let identities = rootvault::recipients::Identities::read(&seed.identity).unwrap();
    match rootvault::ceremony::restore(&from, &identities, &into) {
        Ok(report) => {
            prop_assert_eq!(&report.head, &seed.head);
            let ledger = rootvault::ledger::Ledger::open(&into.join("ledger.sqlite")).unwrap();
            prop_assert!(ledger.verify().unwrap().ok);
        }
        Err(e) => {
            let code = e.exit_code() as i32;
            prop_assert!(code == 3 || code == 4, "exit {} for: {}", code, e);
            prop_assert!(!into.exists(), "a refused restore left {}", into.display());
            let left: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .filter(|n| n != "mutated.backup")
                .collect();
            prop_assert!(left.is_empty(), "a refused restore left {:?}", left);
        }
    }
    Ok(())
}

/// Encrypts `plain` to the seed's recipient, as `rootvault backup` does.
fn encrypt(plain: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let recipient: age::x25519::Recipient = backup_seed().recipient.parse().unwrap();
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .unwrap();
    let mut out = Vec::new();
    let mut w = encryptor.wrap_output(&mut out).unwrap();
    w.write_all(plain).unwrap();
    w.finish().unwrap();
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// A mutated encrypted backup (header, stanzas, ciphertext, cut) is refused, never half
    /// restored.
    #[test]
    fn mutated_backup_files_are_refused_or_restored_correctly(muts in mutations()) {
        let seed = backup_seed();
        restore_is_clean_or_correct(&apply(seed.encrypted.clone(), &muts))?;
    }

    /// A backup whose archive was altered and then encrypted again to the right recipient (so
    /// decryption succeeds) is refused by the manifest, the archive checks or the ledger's own
    /// verification, or restores the very same ledger.
    #[test]
    fn altered_archives_in_a_valid_encryption_are_refused_or_restored_correctly(
        muts in mutations()
    ) {
        let seed = backup_seed();
        restore_is_clean_or_correct(&encrypt(&apply(seed.tar.clone(), &muts)))?;
    }
}

/// A genuine receipt signed with a software P-256 key (the format is the same as the
/// token's; only the signer differs).
fn sample_receipt() -> &'static (String, Receipt) {
    static SAMPLE: OnceLock<(String, Receipt)> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        use base64::Engine as _;
        use rcgen::SigningKey as _;
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let (seq, hash, time) = (7, "ab".repeat(32), "2026-11-28T12:00:00Z".to_owned());
        let msg = rootvault::ledger::Checkpoint::message(seq, &hash, &time);
        let sig = key.sign(msg.as_bytes()).unwrap();
        let cp = rootvault::ledger::Checkpoint {
            seq,
            hash,
            time,
            key_label: "k".into(),
            signature: base64::engine::general_purpose::STANDARD.encode(sig),
        };
        let receipt = Receipt::new(&cp, &rcgen::PublicKeyData::subject_public_key_info(&key));
        let text = serde_json::to_string_pretty(&receipt).unwrap();
        let parsed = Receipt::parse(&text).expect("the genuine receipt verifies");
        (text, parsed)
    })
}
