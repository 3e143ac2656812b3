//! Benchmarks for issue 7 item 5, driven by `benches/run.sh` (see `docs/performance.md`).
//!
//! Each subcommand prints `key value` lines (times in microseconds) that the script collects:
//!
//!   ledger_bench commit-floor DIR N            durable SQLite commit (WAL, synchronous=FULL)
//!   ledger_bench token-sign MODULE LABEL PIN N raw C_Sign per signature: P-384, RSA-3072, P-256
//!   ledger_bench append DIR SAMPLES            durable single-event append at 0, 100k, 1M events
//!   ledger_bench prefill DB N                  grow a ledger to N events with refusals
//!   ledger_bench verify DB                     Ledger::verify (run under /usr/bin/time -v)
//!   ledger_bench sha DB                        raw SHA-256 over the same canonical bytes
//!   ledger_bench crl N...                      CrlDraft → lint_crl → sign_crl, software P-384
//!
//! The token must be a throwaway SoftHSM2 token (`SOFTHSM2_CONF` set by the caller).

use std::path::Path;
use std::time::Instant;

use rootvault::keys::{KeyAlg, KeyType, PublicKey, RawSigner, SignFailure};
use rootvault::ledger::{Event, EventFields, Ledger, SigningRejected, GENESIS};
use rusqlite::{params, Connection};
use sha2::{Digest, Sha256};

fn stats(name: &str, mut v: Vec<f64>) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    let mean = v.iter().sum::<f64>() / n as f64;
    let p = |q: f64| v[((n as f64 - 1.0) * q).round() as usize];
    println!(
        "{name}_median_us {:.1}\n{name}_mean_us {:.1}\n{name}_p90_us {:.1}\n{name}_n {n}",
        p(0.5),
        mean,
        p(0.9)
    );
}

fn us(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e6
}

/// One durable commit of one small row, same pragmas as the ledger.
fn commit_floor(dir: &Path, n: usize) {
    let path = dir.join("floor.sqlite");
    let _ = std::fs::remove_file(&path);
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        .unwrap();
    let row = "x".repeat(600);
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        conn.execute("INSERT INTO t (v) VALUES (?1)", [&row])
            .unwrap();
        conn.execute_batch("COMMIT").unwrap();
        v.push(us(t));
    }
    stats("commit", v);
}

/// Raw token signing: one C_Sign (with the digest the key type uses) over a TBS-sized message.
fn token_sign(module: &Path, label: &str, pin: &str, n: usize) {
    use rootvault::hsm::{Module, TokenSelector};
    let m = Module::load(module).unwrap();
    let token = m
        .open_token(&TokenSelector::Label(label.to_owned()))
        .unwrap();
    let session = token
        .login(&secrecy::SecretString::from(pin.to_owned()))
        .unwrap();
    let msg = vec![0x5au8; 900];
    for (kt, name) in [
        (KeyType::EcdsaP384, "sign_p384"),
        (KeyType::Rsa3072, "sign_rsa3072"),
        (KeyType::EcdsaP256, "sign_p256"),
    ] {
        let key = session
            .generate_key_pair(kt, &format!("bench-{name}"))
            .unwrap();
        key.sign(&msg).unwrap();
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            key.sign(&msg).unwrap();
            v.push(us(t));
        }
        stats(name, v);
    }
}

fn event(i: u64) -> Event {
    Event::SigningRejected(SigningRejected {
        cluster: Some(format!("cluster-{:06}", i % 1000)),
        input_sha256: hex::encode(Sha256::digest(i.to_le_bytes())),
        reasons: vec![
            "the request's key is RSA-1024; the policy requires at least RSA-2048 or P-256".into(),
        ],
    })
}

/// Bulk pre-fill: the same rows `Appender::append` writes for this event kind (which implies
/// no derived rows), chained with the library's canonical encoding, in transactions of 50k.
/// Not through `append`, because each `append` runs `SELECT count(*) FROM events`.
fn prefill(path: &Path, upto: i64) {
    let mut conn = Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    let (mut seq, mut prev): (i64, String) = conn
        .query_row(
            "SELECT count(*), coalesce((SELECT hash FROM events ORDER BY seq DESC LIMIT 1), ?1) FROM events",
            [GENESIS],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    while seq < upto {
        let tx = conn.transaction().unwrap();
        {
            let mut st = tx
                .prepare("INSERT INTO events (seq, time, kind, actor, payload, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
                .unwrap();
            let end = (seq + 50_000).min(upto);
            while seq < end {
                seq += 1;
                let ev = event(seq as u64);
                let payload = ev.payload_json();
                let f = EventFields {
                    seq,
                    time: &time,
                    kind: ev.kind(),
                    actor: "bench-operator",
                    payload: &payload,
                    prev_hash: &prev,
                };
                let hash = f.hash_hex();
                st.execute(params![
                    seq,
                    time,
                    ev.kind(),
                    "bench-operator",
                    payload,
                    prev,
                    hash
                ])
                .unwrap();
                prev = hash;
            }
        }
        tx.commit().unwrap();
    }
}

/// Durable single-event appends (`begin`, `append`, `commit`) at 0, 100k and 1M events.
fn append(dir: &Path, samples: usize, sizes: &[i64]) {
    let path = dir.join("ledger.sqlite");
    let _ = std::fs::remove_file(&path);
    for ext in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
    drop(Ledger::create(&path).unwrap());
    for &size in sizes {
        let t = Instant::now();
        prefill(&path, size);
        println!("prefill_to_{size}_s {:.1}", t.elapsed().as_secs_f64());
        let mut ledger = Ledger::open(&path).unwrap();
        // Warm-up, not timed: the first appends after opening read the index pages from disk.
        for i in 0..20 {
            let a = ledger.begin().unwrap();
            a.append("bench-operator", &event(8_000_000 + i)).unwrap();
            a.commit().unwrap();
        }
        let mut v = Vec::with_capacity(samples);
        for i in 0..samples {
            let ev = event(9_000_000 + i as u64);
            let t = Instant::now();
            let a = ledger.begin().unwrap();
            a.append("bench-operator", &ev).unwrap();
            a.commit().unwrap();
            v.push(us(t));
        }
        stats(&format!("append_at_{size}"), v);
        // Where the time goes: the head read `append` does before every insert.
        let conn = Connection::open(&path).unwrap();
        let mut hv = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            let _: i64 = conn
                .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
                .unwrap();
            hv.push(us(t));
        }
        stats(&format!("count_star_at_{size}"), hv);
    }
}

fn verify(db: &Path) {
    let ledger = Ledger::open(db).unwrap();
    let t = Instant::now();
    let r = ledger.verify().unwrap();
    let el = t.elapsed().as_secs_f64();
    println!(
        "verify_s {el:.3}\nverify_events {}\nverify_ok {}",
        r.events, r.ok
    );
    if !r.ok {
        println!("verify_first_problem {:?}", r.problems.first());
    }
}

/// The physical limit for verify: SHA-256 over exactly the canonical bytes verify hashes,
/// read and encoded first (timed separately), then hashed per event as the chain requires.
fn sha(db: &Path) {
    let conn = Connection::open(db).unwrap();
    let t = Instant::now();
    let mut buf: Vec<u8> = Vec::new();
    let mut ends: Vec<usize> = Vec::new();
    let mut st = conn
        .prepare("SELECT seq, time, kind, actor, payload, prev_hash FROM events ORDER BY seq")
        .unwrap();
    let mut rows = st.query([]).unwrap();
    while let Some(r) = rows.next().unwrap() {
        let (seq, time, kind, actor, payload, prev): (i64, String, String, String, String, String) = (
            r.get(0).unwrap(),
            r.get(1).unwrap(),
            r.get(2).unwrap(),
            r.get(3).unwrap(),
            r.get(4).unwrap(),
            r.get(5).unwrap(),
        );
        let f = EventFields {
            seq,
            time: &time,
            kind: &kind,
            actor: &actor,
            payload: &payload,
            prev_hash: &prev,
        };
        buf.extend_from_slice(&f.encode());
        ends.push(buf.len());
    }
    let read_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut start = 0;
    let mut acc = 0u8;
    for &e in &ends {
        let h = Sha256::digest(&buf[start..e]);
        acc ^= h[0];
        start = e;
    }
    let sha_s = t.elapsed().as_secs_f64();
    println!(
        "sha_events {}\nsha_bytes {}\nsha_s {sha_s:.3}\nread_encode_s {read_s:.3}\nsha_xor {acc}",
        ends.len(),
        buf.len()
    );
}

struct Soft {
    key: rcgen::KeyPair,
    public: PublicKey,
}

impl RawSigner for Soft {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignFailure> {
        use rcgen::SigningKey;
        SigningKey::sign(&self.key, msg).map_err(|e| SignFailure(e.to_string()))
    }
}

fn crl(sizes: &[usize]) {
    use rootvault::x509::{lint_crl, sign_crl, CrlDraft, CrlEntry, RevocationReason};
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let public = PublicKey::new(KeyAlg::EcP384, key.public_key_raw().to_vec());
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Bench Root CA");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    params.key_identifier_method = rcgen::KeyIdMethod::PreSpecified(public.key_identifier());
    let root = params.self_signed(&key).unwrap();
    let signer = Soft { key, public };
    let now = chrono::Utc::now();
    for &n in sizes {
        let entries: Vec<CrlEntry> = (0..n as u64)
            .map(|i| {
                let mut s = [0u8; 16];
                s[0] = 0x41;
                s[8..].copy_from_slice(&i.to_be_bytes());
                CrlEntry {
                    serial: s.to_vec(),
                    revoked_at: now - chrono::Duration::seconds(i as i64),
                    reason: RevocationReason::KeyCompromise,
                }
            })
            .collect();
        let t = Instant::now();
        let draft = CrlDraft::new(
            7,
            now,
            now + chrono::Duration::days(30),
            entries,
            root.der().to_vec(),
            signer.public.clone(),
        )
        .unwrap();
        let linted = lint_crl(draft).unwrap();
        let t_lint = t.elapsed().as_secs_f64();
        let issued = sign_crl(linted, &signer).unwrap();
        let total = t.elapsed().as_secs_f64();
        println!(
            "crl_{n}_s {total:.3}\ncrl_{n}_lint_s {t_lint:.3}\ncrl_{n}_sign_verify_s {:.3}\ncrl_{n}_der_bytes {}",
            total - t_lint,
            issued.der().len()
        );
    }
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let p = |i: usize| Path::new(&a[i]).to_owned();
    match a.first().map(String::as_str) {
        Some("commit-floor") => commit_floor(&p(1), a[2].parse().unwrap()),
        Some("token-sign") => token_sign(&p(1), &a[2], &a[3], a[4].parse().unwrap()),
        Some("append") => {
            let sizes: Vec<i64> = a
                .get(3)
                .map(|s| s.split(',').map(|x| x.parse().unwrap()).collect())
                .unwrap_or_else(|| vec![0, 100_000, 1_000_000]);
            append(&p(1), a[2].parse().unwrap(), &sizes)
        }
        Some("prefill") => prefill(&p(1), a[2].parse().unwrap()),
        Some("verify") => verify(&p(1)),
        Some("sha") => sha(&p(1)),
        Some("crl") => crl(&a[1..]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect::<Vec<_>>()),
        _ => {
            eprintln!("usage: see the comment at the top of examples/ledger_bench.rs");
            std::process::exit(2)
        }
    }
}
