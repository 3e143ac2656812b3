//! Every hand check in docs/audit.md and docs/ledger.md, extracted from the Markdown and run
//! as written against a real export (issue 18), so the pages cannot drift from the code.
//!
//! A runnable snippet is a fenced block whose info string is `sh` or `python`, preceded by a
//! line `<!-- snippet: NAME -->`; illustrations use `text`, `json` or no info string. Each
//! runs in a directory holding what the page names: `ledger.jsonl` (a `ledger export`),
//! `audit.pem` (the pinned key, from `root show --json`), `ledger-receipt.json`,
//! `east/ledger-receipt.json`, `west-bundle.pem.receipt.json`, `handed-out/` and `docs/`.
//! Shell snippets run under `sh` with PATH limited to python3, openssl, sha256sum and a
//! shell: what the page promises an auditor needs.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

#[derive(Clone)]
struct Snippet {
    doc: &'static str,
    name: String,
    lang: String,
    code: String,
    /// The Markdown before the snippet (for the value the page states).
    before: String,
}

fn snippets(doc: &'static str) -> Vec<Snippet> {
    let text = std::fs::read_to_string(repo().join(doc)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(lang) = line.trim_start().strip_prefix("```") {
            let lang = lang.trim().to_owned();
            let start = i;
            i += 1;
            let mut code = String::new();
            while !lines[i].trim_start().starts_with("```") {
                code += lines[i];
                code.push('\n');
                i += 1;
            }
            if lang == "sh" || lang == "python" {
                let marker = lines[start - 1];
                let name = marker
                    .strip_prefix("<!-- snippet: ")
                    .and_then(|m| m.strip_suffix(" -->"))
                    .unwrap_or_else(|| {
                        panic!(
                            "{doc}:{}: a {lang} block without a `<!-- snippet: NAME -->` line before it",
                            start + 1
                        )
                    })
                    .to_owned();
                out.push(Snippet {
                    doc,
                    name,
                    lang,
                    code,
                    before: lines[..start].join("\n"),
                });
            }
        }
        i += 1;
    }
    out
}

/// A directory with only python3, openssl, sha256sum and sh, for PATH.
fn auditor_path(dir: &Path) -> PathBuf {
    let bin = dir.join("auditor-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["python3", "openssl", "sha256sum", "sh"] {
        // The real executable (python3 may be a version manager's shim script).
        let find = if tool == "python3" {
            "python3 -c 'import sys; print(sys.executable)'".to_owned()
        } else {
            format!("readlink -f \"$(command -v {tool})\"")
        };
        let found = run(Command::new("sh").arg("-c").arg(find))
            .expect(0)
            .stdout
            .trim()
            .to_owned();
        let link = bin.join(tool);
        if !link.exists() {
            std::os::unix::fs::symlink(found, link).unwrap();
        }
    }
    bin
}

fn run_snippet(s: &Snippet, dir: &Path) -> Run {
    let mut cmd = match s.lang.as_str() {
        "sh" => {
            let mut c = Command::new("sh");
            c.arg("-c").arg(&s.code);
            c
        }
        "python" => {
            let mut c = Command::new("python3");
            c.arg("-c").arg(&s.code).arg("ledger.jsonl");
            c
        }
        other => unreachable!("{other}"),
    };
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", auditor_path(dir))
        .env("HOME", dir);
    run(&mut cmd)
}

/// The last 64-hex-digit value in backticks in `text`.
fn stated_hash(text: &str) -> String {
    text.match_indices('`')
        .filter_map(|(i, _)| text.get(i + 1..i + 65))
        .rfind(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .expect("the page states a hash before the snippet")
        .to_owned()
}

fn lines(r: &Run) -> Vec<String> {
    r.stdout.lines().map(str::to_owned).collect()
}

/// A small ceremony, and the auditor's working directory laid out as the pages name it.
fn auditors_desk() -> (Hsm, PathBuf, Value) {
    let h = Hsm::new("doc-snippets");
    h.vault_with_root("ecdsa-p384").expect(0);
    for cluster in ["east", "west"] {
        let csr = make_cluster_csr(h.dir.path(), cluster, P256);
        run(h
            .rv_pin()
            .arg("sign")
            .arg(&csr.csr)
            .args([
                "--cluster",
                cluster,
                "--confirm",
                &csr.spki_sha256[..16],
                "--out",
            ])
            .arg(h.path(&format!("{cluster}.pem"))))
        .expect(0);
    }
    let desk = h.path("desk");
    std::fs::create_dir(&desk).unwrap();
    run(h
        .rv_pin()
        .args(["export", "--cluster", "east", "--format", "istio", "--out"])
        .arg(desk.join("east")))
    .expect(0);
    run(h
        .rv_pin()
        .args([
            "export",
            "--cluster",
            "west",
            "--format",
            "pem-bundle",
            "--out",
        ])
        .arg(desk.join("west-bundle.pem")))
    .expect(0);
    run(h
        .rv()
        .args(["ledger", "export", "--out"])
        .arg(desk.join("ledger.jsonl")))
    .expect(0);
    let show = run(h.rv().args(["root", "show", "--json"]))
        .expect(0)
        .json();
    std::fs::write(
        desk.join("audit.pem"),
        show["audit_public_key_pem"].as_str().unwrap(),
    )
    .unwrap();
    std::fs::copy(
        desk.join("east/ledger-receipt.json"),
        desk.join("ledger-receipt.json"),
    )
    .unwrap();
    let handed = desk.join("handed-out");
    std::fs::create_dir(&handed).unwrap();
    for f in ["ca-cert.pem", "cert-chain.pem", "root-cert.pem"] {
        std::fs::copy(desk.join("east").join(f), handed.join(f)).unwrap();
    }
    std::os::unix::fs::symlink(repo().join("docs"), desk.join("docs")).unwrap();
    let verified = run(h.rv().args(["ledger", "verify", "--json"]))
        .expect(0)
        .json();
    (h, desk, verified)
}

fn export_events(desk: &Path) -> Vec<Value> {
    std::fs::read_to_string(desk.join("ledger.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect()
}

#[test]
fn every_hand_check_of_the_audit_and_ledger_pages_runs_as_written_on_a_real_export() {
    let (_h, desk, verified) = auditors_desk();
    let export = export_events(&desk);
    let event_hash = |seq: i64| {
        export.iter().find(|e| e["seq"] == seq).unwrap()["hash"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let newest_checkpoint = export
        .iter()
        .filter_map(|e| e.get("checkpoint"))
        .next_back()
        .unwrap()
        .clone();
    let receipt: Value =
        serde_json::from_str(&std::fs::read_to_string(desk.join("ledger-receipt.json")).unwrap())
            .unwrap();

    let mut seen = Vec::new();
    for doc in ["docs/audit.md", "docs/ledger.md"] {
        for s in snippets(doc) {
            let r = run_snippet(&s, &desk);
            let at = format!("{} snippet {}:\n{}\n{}", s.doc, s.name, r.stdout, r.stderr);
            assert_eq!(r.code, 0, "{at}");
            let out = lines(&r);
            match s.name.as_str() {
                "worked-example" => {
                    assert_eq!(out, [format!("{}  -", stated_hash(&s.before))], "{at}");
                }
                "recompute-chain" => {
                    assert_eq!(
                        out,
                        [format!(
                            "intact; head {}",
                            verified["head"].as_str().unwrap()
                        )],
                        "{at}"
                    );
                }
                "event-by-hand" => {
                    // As written (event 3), and for every other event of the export.
                    let events = export.iter().filter(|e| e.get("seq").is_some()).count() as i64;
                    assert!(
                        s.code.contains("\nn=3\n") || s.code.starts_with("n=3\n"),
                        "{at}"
                    );
                    for n in 1..=events {
                        let other = s.code.replacen("n=3\n", &format!("n={n}\n"), 1);
                        let r = run_snippet(
                            &Snippet {
                                code: other,
                                ..s.clone()
                            },
                            &desk,
                        );
                        assert_eq!(
                            lines(&r),
                            [format!("{}  -", event_hash(n)), event_hash(n)],
                            "event {n}"
                        );
                    }
                    assert_eq!(
                        out,
                        [format!("{}  -", event_hash(3)), event_hash(3)],
                        "{at}"
                    );
                }
                "checkpoint-by-hand" => {
                    // As written (the newest), and for every other checkpoint of the export.
                    let cps: Vec<&Value> =
                        export.iter().filter_map(|e| e.get("checkpoint")).collect();
                    for (i, cp) in cps.iter().enumerate() {
                        let other = s.code.replacen("i=-1 ", &format!("i={i} "), 1);
                        assert_ne!(other, s.code);
                        let r = run_snippet(
                            &Snippet {
                                code: other,
                                ..s.clone()
                            },
                            &desk,
                        );
                        let h = cp["hash"].as_str().unwrap();
                        assert_eq!(lines(&r), ["Verified OK", h, h], "checkpoint {i}");
                    }
                    let h = newest_checkpoint["hash"].as_str().unwrap();
                    assert_eq!(out, ["Verified OK", h, h], "{at}");
                }
                "receipt-by-hand" => {
                    assert_eq!(out.len(), 5, "{at}");
                    assert_eq!(out[0], "Verified OK", "{at}");
                    assert_eq!(out[1], out[2], "the receipt's key is the pinned one: {at}");
                    let attested = receipt["hash"].as_str().unwrap();
                    assert_eq!(out[3], event_hash(receipt["seq"].as_i64().unwrap()));
                    assert_eq!(out[4], attested, "{at}");
                    assert_eq!(out[3], out[4], "{at}");
                }
                "verifier-usage" => {
                    assert!(out[0].starts_with("ledger intact: "), "{at}");
                    assert!(out[0].contains("2 receipts, audit key pinned"), "{at}");
                }
                "report" => {
                    assert!(r.stdout.contains("REPORT from events 1.."), "{at}");
                    for f in ["ca-cert.pem", "cert-chain.pem", "root-cert.pem"] {
                        assert!(r.stdout.contains(&format!("MATCH     {f}: ")), "{f}: {at}");
                    }
                }
                other => panic!("{}: snippet {other} is run but not judged here", s.doc),
            }
            seen.push(format!("{}:{}", s.doc, s.name));
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "docs/audit.md:checkpoint-by-hand",
            "docs/audit.md:event-by-hand",
            "docs/audit.md:receipt-by-hand",
            "docs/audit.md:report",
            "docs/audit.md:verifier-usage",
            "docs/audit.md:worked-example",
            "docs/ledger.md:recompute-chain",
            "docs/ledger.md:worked-example",
        ]
    );
}

#[test]
fn the_hand_checks_fail_on_an_edited_export_and_a_key_that_is_not_the_audit_key() {
    let (h, desk, _) = auditors_desk();
    let by_name =
        |doc: &'static str, name: &str| snippets(doc).into_iter().find(|s| s.name == name).unwrap();
    // An attacker's key in place of the pinned one: openssl refuses the checkpoint.
    let pinned = std::fs::read(desk.join("audit.pem")).unwrap();
    let key = h.path("other.key");
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        key.to_str().unwrap(),
    ])
    .expect(0);
    openssl(&[
        "pkey",
        "-in",
        key.to_str().unwrap(),
        "-pubout",
        "-out",
        desk.join("audit.pem").to_str().unwrap(),
    ])
    .expect(0);
    let r = run_snippet(&by_name("docs/audit.md", "checkpoint-by-hand"), &desk);
    assert!(
        r.stdout.contains("Verification failure") || r.stderr.contains("Verification failure"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    std::fs::write(desk.join("audit.pem"), pinned).unwrap();

    // One character of a payload changed: the chain recomputation stops at that event, and
    // the event's hash by hand no longer matches the stored one.
    let text = std::fs::read_to_string(desk.join("ledger.jsonl")).unwrap();
    let edited: String = text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            if v["seq"] == 3 {
                l.replacen("Test Root CA", "Test Root CB", 1)
            } else {
                l.to_owned()
            }
        })
        .map(|l| l + "\n")
        .collect();
    assert_ne!(edited, text);
    std::fs::write(desk.join("ledger.jsonl"), edited).unwrap();
    let r = run_snippet(&by_name("docs/ledger.md", "recompute-chain"), &desk);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("AssertionError: 3"), "{}", r.stderr);
    let r = run_snippet(&by_name("docs/audit.md", "event-by-hand"), &desk);
    let out = lines(&r);
    assert_eq!(out.len(), 2, "{}", r.stdout);
    assert_ne!(out[0], format!("{}  -", out[1]));
}
