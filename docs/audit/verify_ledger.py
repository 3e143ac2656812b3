#!/usr/bin/env python3
"""Checks a rootvault ledger export without rootvault: the auditor's own verifier.

    verify_ledger.py EXPORT.jsonl [--audit-key PEM] [--receipt FILE ...] [--json]
                     [--report [--files DIR]]

EXPORT.jsonl is what `rootvault ledger export --out FILE` writes. The checks, the formats
and the reasons are in docs/audit.md. Only the Python 3 standard library and the `openssl`
command are used; every signature is checked by `openssl dgst -sha256 -verify`.

It also lists every rootvault binary that wrote to the ledger, with the events it wrote
(`vault_initialised` and `software_changed`). `--report` summarises the verified events (per
cluster and month, CRLs per month, per actor); `--files DIR` adds which files under DIR match
a hash the ledger records and which match none.

Exit codes (as rootvault's): 0 intact, 4 an integrity failure, 2 usage error,
1 a file could not be read or `openssl` could not be run.
"""

import argparse
import base64
import binascii
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

DOMAIN = "rootvault-ledger-v1"
GENESIS = "0" * 64
CHECKPOINT_DOMAIN = "rootvault-checkpoint-v1"
RECEIPT_FORMAT = "rootvault-receipt-v1"
# The only kind recorded without the token, so the only one a checkpoint need not cover.
TOKENLESS_KINDS = {"signing_rejected"}
# DER SubjectPublicKeyInfo of an uncompressed EC P-256 key, up to the 65-byte point:
# SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING { 04 || X || Y } }.
P256_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")
HEX64 = re.compile(r"[0-9a-f]{64}")
EVENT_KEYS = {"seq", "time", "kind", "actor", "payload", "prev_hash", "hash"}
CHECKPOINT_KEYS = {"seq", "hash", "time", "signature"}  # what the signature covers, and the signature
RECEIPT_KEYS = {"format", "seq", "hash", "time", "message", "signature", "audit_public_key_pem"}

EXIT_OK, EXIT_IO, EXIT_USAGE, EXIT_INTEGRITY = 0, 1, 2, 4


class IoFailure(Exception):
    """A file could not be read, or openssl could not be run (exit 1)."""


def canonical(seq, time, kind, actor, payload, prev_hash):
    """docs/ledger.md: seven netstrings, lengths in bytes of the UTF-8 text."""
    out = b""
    for field in (DOMAIN, str(seq), time, kind, actor, payload, prev_hash):
        data = field.encode("utf-8")
        out += str(len(data)).encode("ascii") + b":" + data + b","
    return out


def event_hash(e):
    return hashlib.sha256(
        canonical(e["seq"], e["time"], e["kind"], e["actor"], e["payload"], e["prev_hash"])
    ).hexdigest()


def checkpoint_message(seq, hash_hex, time):
    """docs/audit.md: the exact bytes the audit key signs."""
    return f"{CHECKPOINT_DOMAIN}\nseq={seq}\nhash={hash_hex}\ntime={time}\n".encode("utf-8")


def pem_to_der(text):
    """The DER inside a single `PUBLIC KEY` PEM block, or None."""
    m = re.fullmatch(
        r"\s*-----BEGIN PUBLIC KEY-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END PUBLIC KEY-----\s*",
        text,
    )
    if not m:
        return None
    try:
        return base64.b64decode("".join(m.group(1).split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def der_to_pem(der):
    b64 = base64.b64encode(der).decode("ascii")
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


def is_p256(der):
    return len(der) == len(P256_SPKI_PREFIX) + 65 and der.startswith(P256_SPKI_PREFIX + b"\x04")


def fingerprint(der):
    return hashlib.sha256(der).hexdigest()


class Openssl:
    """Signature checks with `openssl dgst -sha256 -verify KEY -signature SIG MSG`."""

    def __init__(self, workdir):
        self.dir = workdir
        self.keys = {}
        self.n = 0

    def _write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def verify(self, key_der, message, signature_b64):
        """None if the signature verifies, else why not."""
        try:
            sig = base64.b64decode(signature_b64, validate=True)
        except (binascii.Error, ValueError, TypeError):
            return "the signature is not base64"
        if key_der not in self.keys:
            self.keys[key_der] = self._write(f"key{len(self.keys)}.pem", der_to_pem(key_der).encode())
        self.n += 1
        msg = self._write(f"msg{self.n}.txt", message)
        sig_path = self._write(f"sig{self.n}.der", sig)
        try:
            r = subprocess.run(
                ["openssl", "dgst", "-sha256", "-verify", self.keys[key_der], "-signature", sig_path, msg],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
            )
        except OSError as e:
            raise IoFailure(f"cannot run openssl: {e}") from e
        finally:
            os.remove(msg)
            os.remove(sig_path)
        if r.returncode == 0 and r.stdout.strip() == "Verified OK":
            return None
        return "the signature does not verify with the audit key"


class Report:
    def __init__(self):
        self.ok = True
        self.events = 0
        self.head = GENESIS
        self.first_bad_seq = None
        self.problems = []
        self.checkpoints = 0
        self.attested_seq = None
        self.notes = []
        self.warnings = []
        self.witnessed = []  # (seq, action, [witness names])

    def problem(self, seq, text):
        self.ok = False
        if self.first_bad_seq is None:
            self.first_bad_seq = seq
        self.problems.append(text)

    def as_json(self, pinned, key_der):
        return {
            "ok": self.ok,
            "events": self.events,
            "head": self.head,
            "first_bad_seq": self.first_bad_seq,
            "problems": self.problems,
            "checkpoints": self.checkpoints,
            "attested_seq": self.attested_seq,
            "notes": self.notes,
            "audit_key_pinned": pinned,
            "audit_key_sha256": fingerprint(key_der) if key_der else None,
            "warnings": self.warnings,
            "witnessed": [{"seq": s, "action": a, "witnesses": w} for s, a, w in self.witnessed],
        }


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def read_export(path, report):
    """Splits the export into events, checkpoints and the audit key PEM (None if absent)."""
    events, checkpoints, key_pems = [], [], []
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise IoFailure(f"cannot read the export {path}: {e}") from e
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        report.problem(None, f"the export is not UTF-8: {e}")
        return events, checkpoints, None
    section = 0  # 0 events, 1 checkpoints, 2 audit key: the order `ledger export` writes
    for n, line in enumerate(text.split("\n"), start=1):
        if line == "":
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            report.problem(None, f"export line {n} is not JSON: {e}")
            continue
        if not isinstance(obj, dict):
            report.problem(None, f"export line {n} is not a JSON object")
            continue
        keys = set(obj)
        if keys == EVENT_KEYS:
            ok = is_int(obj["seq"]) and all(
                isinstance(obj[k], str) for k in EVENT_KEYS - {"seq"}
            )
            if not ok:
                report.problem(obj["seq"] if is_int(obj["seq"]) else None,
                               f"export line {n}: an event with fields of the wrong type")
                continue
            if section != 0:
                report.problem(obj["seq"], f"export line {n}: event {obj['seq']} comes after the checkpoints")
            events.append(obj)
        elif keys == {"checkpoint"}:
            cp = obj["checkpoint"]
            # Exports made before rootvault stopped exporting the unsigned `key_label` carry it:
            # ignored, as nothing vouches for it.
            if isinstance(cp, dict) and isinstance(cp.get("key_label"), str):
                cp = {k: v for k, v in cp.items() if k != "key_label"}
            if not (isinstance(cp, dict) and set(cp) == CHECKPOINT_KEYS and is_int(cp["seq"])
                    and all(isinstance(cp[k], str) for k in CHECKPOINT_KEYS - {"seq"})):
                report.problem(None, f"export line {n}: a malformed checkpoint")
                continue
            if section > 1:
                report.problem(cp["seq"], f"export line {n}: checkpoint at seq {cp['seq']} comes after the audit key")
            section = 1
            checkpoints.append(cp)
        elif keys == {"audit_public_key_pem"} and isinstance(obj["audit_public_key_pem"], str):
            section = 2
            key_pems.append(obj["audit_public_key_pem"])
        else:
            report.problem(None, f"export line {n}: not an event, a checkpoint or the audit key (keys {sorted(keys)})")
    if len(key_pems) > 1:
        report.problem(None, "the export carries more than one audit key line")
    return events, checkpoints, (key_pems[0] if key_pems else None)


def check_chain(events, report):
    """Seq 1..n without gaps, prev_hash links from 64 zeros, every hash recomputed.
    Returns {seq: hash} as stored, and the audit key event (seq, DER) if any."""
    expected = 1
    by_seq = {}
    audit_key = None
    last_token_event = None
    for e in events:
        report.events += 1
        seq = e["seq"]
        if seq != expected:
            if seq > expected:
                text = f"event {expected} is missing: event {seq} follows event {expected - 1}"
            else:
                text = f"event {seq} is out of order after event {expected - 1}"
            report.problem(expected, text)
        if e["prev_hash"] != report.head:
            report.problem(seq, f"event {seq}: prev_hash does not match the hash of the event before it")
        if event_hash(e) != e["hash"]:
            report.problem(seq, f"event {seq} ({e['kind']}): stored hash does not match its contents (edited?)")
        if e["kind"] not in TOKENLESS_KINDS:
            last_token_event = seq
        if e["kind"] == "audit_key_created":
            try:
                der = base64.b64decode(json.loads(e["payload"])["public_key_der_base64"], validate=True)
            except (ValueError, KeyError, TypeError, binascii.Error) as err:
                report.problem(seq, f"event {seq}: the audit key in its payload cannot be read: {err}")
            else:
                if audit_key is not None:
                    report.problem(seq, f"event {seq}: a second audit key; a vault has one")
                else:
                    audit_key = (seq, der)
        by_seq.setdefault(seq, e["hash"])
        report.head = e["hash"]
        expected = seq + 1
    return by_seq, audit_key, last_token_event


def check_witnessed(events, report):
    """Each action_witnessed event: its statement's SHA-256 is the digest it records, and the
    statement names the ledger head the event extends (seq - 1 and its prev_hash). The
    signatures are checked with ssh-keygen (docs/witnesses.md): main() prints the commands."""
    for e in events:
        if e["kind"] != "action_witnessed":
            continue
        seq = e["seq"]
        try:
            w = json.loads(e["payload"])
            statement, digest = w["statement"], w["statement_sha256"]
            names = [s["witness"] for s in w["signatures"]]
            action = w["action"]
        except (ValueError, KeyError, TypeError) as err:
            report.problem(seq, f"event {seq}: an action_witnessed payload that does not parse ({err})")
            continue
        if hashlib.sha256(statement.encode("utf-8")).hexdigest() != digest:
            report.problem(seq, f"event {seq}: the witnessed statement's SHA-256 is not the digest recorded with it")
        want = f"ledger head: event {seq - 1}, hash {e['prev_hash']}"
        if want not in statement.split("\n"):
            report.problem(seq, f"event {seq}: the witnessed statement does not name the head this event extends ({want})")
        report.witnessed.append((seq, action, names))


def check_checkpoints(checkpoints, by_seq, key_seq, key_der, ossl, report):
    for cp in checkpoints:
        report.checkpoints += 1
        seq = cp["seq"]
        stored = by_seq.get(seq)
        if stored is None:
            report.problem(seq, f"checkpoint at seq {seq} names an event that is not in the ledger (truncated?)")
        elif stored != cp["hash"]:
            report.problem(seq, f"checkpoint at seq {seq}: event {seq} no longer has the hash that was signed (rewritten?)")
        if key_der is None:
            report.problem(seq, f"checkpoint at seq {seq} exists but the ledger has no audit key")
        elif key_seq is not None and seq < key_seq:
            report.problem(seq, f"checkpoint at seq {seq} predates the audit key (event {key_seq})")
        elif not HEX64.fullmatch(cp["hash"]):
            report.problem(seq, f"checkpoint at seq {seq}: its hash is not 64 lowercase hex digits")
        else:
            why = ossl.verify(key_der, checkpoint_message(seq, cp["hash"], cp["time"]), cp["signature"])
            if why:
                report.problem(seq, f"checkpoint at seq {seq}: {why}")
        report.attested_seq = seq


def check_receipt(path, by_seq, key_der, ossl, report):
    """A receipt is genuine (its own key verifies it), was signed by the audit key in use,
    and the event it attests is still in the ledger with the hash it attests."""
    def bad(text):
        report.problems.append(f"receipt {path}: {text}")
        report.ok = False

    try:
        with open(path, "r", encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise IoFailure(f"cannot read the receipt {path}: {e}") from e
    try:
        r = json.loads(text)
    except ValueError as e:
        return bad(f"the receipt is not valid: not JSON: {e}")
    if not isinstance(r, dict) or set(r) != RECEIPT_KEYS:
        return bad(f"the receipt is not valid: its keys are not {sorted(RECEIPT_KEYS)}")
    if r["format"] != RECEIPT_FORMAT:
        return bad(f"the receipt is not valid: format {r['format']!r} is not {RECEIPT_FORMAT}")
    if not (is_int(r["seq"]) and all(isinstance(r[k], str) for k in RECEIPT_KEYS - {"seq"})):
        return bad("the receipt is not valid: a field has the wrong type")
    message = checkpoint_message(r["seq"], r["hash"], r["time"])
    if r["message"].encode("utf-8") != message:
        return bad("the receipt is not valid: its message does not match its seq, hash and time")
    receipt_key = pem_to_der(r["audit_public_key_pem"])
    if receipt_key is None or not is_p256(receipt_key):
        return bad("the receipt is not valid: its audit key is not a P-256 public key in PEM")
    why = ossl.verify(receipt_key, message, r["signature"])
    if why:
        return bad(f"the receipt is not valid: {why.replace('the audit key', 'its own audit key')}")
    if key_der is None:
        bad("this ledger has no audit key, but the receipt was signed by one")
    elif receipt_key != key_der:
        bad("the receipt's audit key is not this ledger's audit key")
    stored = by_seq.get(r["seq"])
    if stored is None:
        bad(f"the receipt attests event {r['seq']}, which the ledger no longer contains (truncated)")
    elif stored != r["hash"]:
        bad(f"event {r['seq']} no longer has the hash the receipt attests (rewritten)")


def software_spans(events):
    """Each binary that wrote to the ledger and the events it wrote: a span starts at the
    first event (vault_initialised records the binary that made the vault, or nothing in
    vaults older than that record) and at every software_changed event."""
    spans = []
    for e in events:
        started = None
        try:
            payload = json.loads(e["payload"])
        except ValueError:
            payload = None
        if e["kind"] == "software_changed" and isinstance(payload, dict):
            started = [payload]
        elif not spans:
            sw = payload.get("software") if isinstance(payload, dict) and e["kind"] == "vault_initialised" else None
            started = [sw]
        if started is not None:
            spans.append({"first_seq": e["seq"], "last_seq": e["seq"], "software": started[0]})
        elif spans:
            spans[-1]["last_seq"] = e["seq"]
    return spans


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END \1-----")


def pem_block_hashes(path):
    """SHA-256 of the DER inside each PEM block of a text file (certificates and CRLs are
    recorded by the SHA-256 of their DER)."""
    try:
        with open(path, "r", encoding="ascii") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError, ValueError):
        return []
    out = []
    for m in PEM_BLOCK.finditer(text):
        try:
            der = base64.b64decode("".join(m.group(2).split()), validate=True)
        except (binascii.Error, ValueError):
            continue
        out.append((m.group(1), hashlib.sha256(der).hexdigest()))
    return out


def build_report(events, report, files_dir):
    """The summary of issue 18, from verified events only: those before the first problem
    and covered by a valid checkpoint (or, for a ledger without an audit key, the whole
    intact chain, which the notes say is unsigned)."""
    last = report.events
    if report.first_bad_seq is not None:
        last = min(last, report.first_bad_seq - 1)
    if report.attested_seq is not None:
        last = min(last, report.attested_seq)
    used = [e for e in events if e["seq"] <= last]
    left_out = [e["seq"] for e in events if e["seq"] > last]
    clusters, crls, actors = {}, {}, {}
    recorded = {}  # sha256 -> every recorded thing with that hash

    def record(h, what):
        if what not in recorded.setdefault(h, []):
            recorded[h].append(what)

    def cell(cluster, month):
        return clusters.setdefault(cluster, {}).setdefault(
            month, {"issued": [], "revoked": [], "exported": [], "refused": 0})

    for e in used:
        try:
            p = json.loads(e["payload"])
        except ValueError:
            continue
        month = e["time"][:7]
        kinds = actors.setdefault(e["actor"], {})
        kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
        k = e["kind"]
        if k == "certificate_issued":
            c = p["certificate"]
            cell(p["cluster"], month)["issued"].append({"seq": e["seq"], "serial": c["serial"], "sha256": c["sha256"]})
            record(c["sha256"], f"certificate of {p['cluster']}, serial {c['serial']} (event {e['seq']})")
        elif k == "root_created":
            c = p["certificate"]
            record(c["sha256"], f"root certificate, serial {c['serial']} (event {e['seq']})")
        elif k == "certificate_revoked":
            cell(p["cluster"], month)["revoked"].append({"seq": e["seq"], "serial": p["serial"], "reason": p["reason"]})
        elif k == "crl_issued":
            crls.setdefault(month, []).append({"seq": e["seq"], "number": p["number"], "entries": len(p["serials"]), "sha256": p["sha256"]})
            record(p["sha256"], f"CRL number {p['number']} (event {e['seq']})")
        elif k == "bundle_exported":
            cell(p["cluster"], month)["exported"].append({"seq": e["seq"], "format": p["format"], "serial": p["serial"], "encrypted": bool(p["recipients"])})
            record(p["sha256"], f"{p['format']} export of {p['cluster']} as written (event {e['seq']})")
            for f in p["files"]:
                record(f["sha256"], f"{f['name']} of the {p['format']} export of {p['cluster']} (event {e['seq']})")
        elif k == "signing_rejected":
            cell(p.get("cluster") or "(no cluster)", month)["refused"] += 1

    out = {
        "events_used": [1, last] if last >= 1 else None,
        "events_left_out": left_out,
        "clusters": clusters,
        "crls": crls,
        "actors": actors,
    }
    if files_dir is not None:
        matched, unmatched = [], []
        for root, dirs, names in os.walk(files_dir):
            dirs.sort()
            for name in sorted(names):
                path = os.path.join(root, name)
                rel = os.path.relpath(path, files_dir)
                found = list(recorded.get(sha256_file(path), []))
                # Each certificate or CRL in a PEM file, by its DER (also in files someone
                # assembled from them).
                for _, h in pem_block_hashes(path):
                    found += [w for w in recorded.get(h, []) if w not in found]
                what = "; ".join(found) if found else None
                (matched if what else unmatched).append({"file": rel, "matches": what} if what else {"file": rel})
        out["files"] = {"matched": matched, "unmatched": unmatched}
    return out


def print_report(r):
    used = r["events_used"]
    print(f"REPORT from events {used[0]}..{used[1]} (verified, and covered by a signed checkpoint when the ledger has an audit key)"
          if used else "REPORT: no verified events")
    if r["events_left_out"]:
        print(f"  left out: events {', '.join(map(str, r['events_left_out']))} (not verified or not covered)")
    print("by cluster and month (the vault's clock; actors are self-declared):")
    for cluster in sorted(r["clusters"]):
        for month in sorted(r["clusters"][cluster]):
            c = r["clusters"][cluster][month]
            parts = [f"issued {len(c['issued'])}"]
            parts.append(f"revoked {len(c['revoked'])}" + (
                " (" + ", ".join(f"{x['serial']} {x['reason']}" for x in c["revoked"]) + ")" if c["revoked"] else ""))
            parts.append(f"exported {len(c['exported'])}" + (
                " (" + ", ".join(x["format"] for x in c["exported"]) + ")" if c["exported"] else ""))
            parts.append(f"refused {c['refused']}")
            print(f"  {cluster:<16} {month}  " + ", ".join(parts))
    print("CRLs by month:")
    for month in sorted(r["crls"]):
        for x in r["crls"][month]:
            print(f"  {month}  number {x['number']}, {x['entries']} entries, sha256 {x['sha256']} (event {x['seq']})")
    print("by actor:")
    for actor in sorted(r["actors"]):
        kinds = r["actors"][actor]
        print(f"  {actor}: " + ", ".join(f"{k} {kinds[k]}" for k in sorted(kinds)))
    if "files" in r:
        print("files:")
        for f in r["files"]["matched"]:
            print(f"  MATCH     {f['file']}: {f['matches']}")
        for f in r["files"]["unmatched"]:
            print(f"  NO MATCH  {f['file']}: no hash the ledger records")


def main(argv):
    ap = argparse.ArgumentParser(
        description="Check a `rootvault ledger export` file: hash chain, signed checkpoints, receipts.",
        epilog="Exit 0 intact, 4 integrity failure, 2 usage error, 1 unreadable file or no openssl. See docs/audit.md.",
    )
    ap.add_argument("export", metavar="EXPORT.jsonl")
    ap.add_argument("--audit-key", metavar="PEM",
                    help="the audit public key obtained out of band and recorded before the period under audit "
                         "(the ceremony transcript, a cluster's receipt, root show output filed at the ceremony)")
    ap.add_argument("--receipt", metavar="FILE", action="append", default=[],
                    help="a ledger-receipt.json from an export; may be repeated")
    ap.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    ap.add_argument("--report", action="store_true",
                    help="summarise the verified events: per cluster and month, CRLs, per actor")
    ap.add_argument("--files", metavar="DIR",
                    help="with --report: which files under DIR match a hash the ledger records")
    args = ap.parse_args(argv)
    if args.files is not None and not args.report:
        ap.error("--files needs --report")
    if args.files is not None and not os.path.isdir(args.files):
        print(f"verify_ledger: --files {args.files} is not a directory", file=sys.stderr)
        return EXIT_USAGE

    pinned = None
    if args.audit_key is not None:
        try:
            with open(args.audit_key, "r", encoding="utf-8") as f:
                pinned = pem_to_der(f.read())
        except (OSError, UnicodeDecodeError) as e:
            print(f"verify_ledger: cannot read the audit key {args.audit_key}: {e}", file=sys.stderr)
            return EXIT_IO
        if pinned is None or not is_p256(pinned):
            print(f"verify_ledger: {args.audit_key} is not an EC P-256 public key in PEM (-----BEGIN PUBLIC KEY-----)",
                  file=sys.stderr)
            return EXIT_USAGE

    report = Report()
    try:
        events, checkpoints, export_pem = read_export(args.export, report)
        by_seq, audit_event, last_token_event = check_chain(events, report)
        check_witnessed(events, report)
        key_seq = audit_event[0] if audit_event else None
        chain_key = audit_event[1] if audit_event else None

        # The key the export prints must be the one its audit_key_created event records.
        export_key = None
        if export_pem is not None:
            export_key = pem_to_der(export_pem)
            if export_key is None:
                report.problem(None, "the export's audit key line is not a PEM public key")
            elif export_key != chain_key:
                report.problem(key_seq, "the export's audit key is not the one its audit_key_created event records")
        elif chain_key is not None:
            report.problem(key_seq, "the export has an audit_key_created event but no audit key line")
        if chain_key is not None and not is_p256(chain_key):
            report.problem(key_seq, f"event {key_seq}: the audit key is not an EC P-256 key")

        if pinned is not None:
            key_der = pinned
            if chain_key is None:
                report.problem(None, "an audit key was pinned, but this ledger has none (its audit key event and checkpoints removed?)")
            elif chain_key != pinned:
                report.problem(key_seq, f"event {key_seq}: the ledger's audit key is not the pinned audit key (substituted?)")
        else:
            key_der = chain_key
            if chain_key is not None:
                report.warnings.append(
                    "the audit key is NOT pinned: it was taken from the export itself, so a ledger rewritten "
                    "with a substituted key would pass. Pass --audit-key with a key recorded before the period under "
                    "audit: the signed ceremony transcript, a cluster's receipt, or `rootvault root show` output filed "
                    "at the ceremony (`root show` run today reads the ledger being audited, so it is no pin) "
                    f"(this one's SHA-256: {fingerprint(chain_key)})"
                )

        with tempfile.TemporaryDirectory(prefix="verify_ledger-") as tmp:
            ossl = Openssl(tmp)
            check_checkpoints(checkpoints, by_seq, key_seq, key_der, ossl, report)
            if chain_key is None and pinned is None:
                if last_token_event is not None:
                    report.notes.append(
                        "the ledger has no audit key, so no signed checkpoints: only the hash chain protects it, "
                        "and anyone with write access can rewrite it consistently"
                    )
            elif last_token_event is not None and (report.attested_seq is None or report.attested_seq < last_token_event):
                report.problem(
                    last_token_event,
                    f"event {last_token_event} needed the token but no signed checkpoint covers it "
                    "(checkpoints removed, or events appended without the token)",
                )
            if report.attested_seq is not None and report.events > report.attested_seq:
                report.notes.append(
                    f"events {report.attested_seq + 1}..{report.events} (refusals recorded without the token) "
                    "come after the last checkpoint"
                )
            for path in args.receipt:
                check_receipt(path, by_seq, key_der, ossl, report)
        spans = software_spans(events)
        summary = build_report(events, report, args.files) if args.report else None
    except IoFailure as e:
        print(f"verify_ledger: {e}", file=sys.stderr)
        return EXIT_IO
    except OSError as e:
        print(f"verify_ledger: cannot read {e.filename}: {e.strerror}", file=sys.stderr)
        return EXIT_IO

    for w in report.warnings:
        print(f"WARNING: {w}", file=sys.stderr)
    if args.json:
        doc = report.as_json(pinned is not None, key_der)
        doc["software"] = spans
        if summary is not None:
            doc["report"] = summary
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        if report.ok:
            print(f"ledger intact: {report.events} events, head {report.head}, "
                  f"{report.checkpoints} signed checkpoints (newest at seq {report.attested_seq}), "
                  f"{len(args.receipt)} receipts, audit key {'pinned' if pinned else 'NOT pinned'}")
        else:
            at = f" at event {report.first_bad_seq}" if report.first_bad_seq is not None else ""
            print(f"ledger integrity FAILED{at}: {len(report.problems)} problems in {report.events} events")
            for p in report.problems:
                print(f"  - {p}")
        if report.witnessed and report.ok:
            print(f"{len(report.witnessed)} witnessed event(s), statement digests match; after "
                  "`rootvault ledger witnesses --out DIR`, check each signature with:")
            for seq, action, names in report.witnessed:
                for name in names:
                    print(f"  ssh-keygen -Y verify -f DIR/allowed_signers -I {name} -n rootvault-witness "
                          f"-s DIR/{seq}/{name}.sig < DIR/{seq}/statement.txt   # {action}")
        for n in report.notes:
            print(f"note: {n}")
        for span in spans:
            sw = span["software"]
            who = (f"rootvault {sw.get('version')} commit {sw.get('commit')} sha256 {sw.get('sha256')}"
                   if isinstance(sw, dict) else "a rootvault that did not record itself")
            print(f"binary: events {span['first_seq']}..{span['last_seq']} written by {who}")
        if summary is not None:
            print_report(summary)
    return EXIT_OK if report.ok else EXIT_INTEGRITY


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
