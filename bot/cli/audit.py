"""``medcrypt-bot audit verify|head|export|checkpoint|keygen``: the admin's view of the audit log.

``verify`` needs no server key and no signing key: the checkpoint public key (derived
from ``MEDCRYPT_AUDIT_SIGNING_KEY`` when set, or given with ``--public-key``) is enough,
so an outside auditor can run it on a copy. A broken chain exits with
:attr:`AuditChainBroken.exit_code` (7) and names the first bad seq. ``export`` decrypts
details (HIPAA accounting of disclosures) and is itself recorded in the log.
"""

from __future__ import annotations

import argparse
import base64
import csv
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from medcrypt.bot.domain.config import Settings
from medcrypt.crypto.errors import ConfigError, MalformedToken
from medcrypt.crypto.server.audit import (
    SYSTEM_CLI,
    Action,
    Checkpoint,
    CheckpointSigner,
    Witness,
    check_ref,
    format_witness,
    key_id_of,
    public_key_from_b64,
)
from medcrypt.crypto.server.audit.checkpoint import AuditPublicKey
from medcrypt.crypto.server.keyring import Keyring

if TYPE_CHECKING:
    from medcrypt.storage.audit import ExportedEntry
    from medcrypt.storage.db import Engine


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("audit", help="audit log: verify, head, export, checkpoint, keygen")
    sub = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    v = sub.add_parser("verify", help="walk the hash chain, checkpoints and witness lines")
    v.add_argument("--witness", type=Path, help="file with witness lines copied from chat")
    v.add_argument("--public-key", action="append", default=[], metavar="B64",
                   help="checkpoint public key (repeatable; default: from the signing key)")
    v.add_argument("--jobs", type=_jobs, default=None, metavar="N",
                   help="worker processes for large logs (default: min(cores, 4); 1 = "
                        "walk in this process)")
    v.set_defaults(handler=run_verify)
    h = sub.add_parser("head", help="show the head, last checkpoint and its witness line")
    h.set_defaults(handler=run_head)
    e = sub.add_parser("export", help="decrypt entries for an admin (jsonl or csv)")
    e.add_argument("--from", dest="from_seq", type=int, default=1, help="first seq")
    e.add_argument("--to", dest="to_seq", type=int, default=None, help="last seq")
    e.add_argument("--subject", default=None, help="only entries about this ref")
    e.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    e.add_argument("--output", type=Path, default=None, help="file (default: stdout)")
    e.set_defaults(handler=run_export)
    c = sub.add_parser("checkpoint", help="sign a checkpoint now and print its witness line")
    c.set_defaults(handler=run_checkpoint)
    k = sub.add_parser("keygen", help="print a new checkpoint signing seed and its public key")
    k.set_defaults(handler=run_keygen)


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("--jobs takes a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("--jobs must be at least 1")
    return value


def _keyring(settings: Settings) -> Keyring:
    return Keyring.from_environ(env_name=settings.keyring.server_keys_env)


@contextmanager
def _engine(settings: Settings) -> Iterator[Engine]:
    from medcrypt.storage.db import make_engine

    engine = make_engine(settings.database_url)
    try:
        yield engine
    finally:
        engine.dispose()


class _Progress:
    """``\\r``-updated counter on a terminal, at most ten times a second; silent otherwise."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream, self.label = stream, label
        self.enabled = stream.isatty()
        self.last = 0.0

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if self.enabled and now - self.last >= 0.1:
            self.last = now
            self.stream.write(f"\r{self.label}: {done:,} entries")
            self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _public_keys(settings: Settings, given: list[str]) -> dict[bytes, AuditPublicKey]:
    from medcrypt.bot.app.wiring import audit_signer

    keys = [public_key_from_b64(k, name="--public-key") for k in given]
    signer = audit_signer(settings, required=not keys)
    if signer is not None:
        keys.append(signer.public_key)
    return {key_id_of(k): k for k in keys}


def _witnesses(path: Path | None) -> list[Witness]:
    from medcrypt.bot.domain.audit_chat import parse_witness_text

    if path is None:
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"cannot read witness file ({type(exc).__name__})") from None
    witnesses = parse_witness_text(text)
    if not witnesses:
        raise MalformedToken("the witness file holds no MEDCRYPT-AUDIT line")
    return witnesses


def run_verify(args: argparse.Namespace, settings: Settings) -> int:
    from medcrypt.bot.app.wiring import open_audit_log
    from medcrypt.bot.domain.audit_chat import render_verify_reply

    keys = _public_keys(settings, args.public_key)
    witnesses = _witnesses(args.witness)
    progress = _Progress(sys.stderr, "verified")
    with _engine(settings) as engine:
        log = open_audit_log(settings, engine)
        try:
            report = log.verify(keys, witnesses=witnesses, progress=progress, jobs=args.jobs)
        finally:
            progress.done()
    print(render_verify_reply(report, witnesses_given=len(witnesses)))
    return 0


def run_head(args: argparse.Namespace, settings: Settings) -> int:
    from medcrypt.bot.app.wiring import audit_signer, open_audit_log
    from medcrypt.bot.domain.audit_chat import render_head_reply

    with _engine(settings) as engine:
        head = open_audit_log(settings, engine).head()
    print(render_head_reply(head))
    signer = audit_signer(settings)
    if signer is not None:
        print(f"checkpoint public key: {signer.public_b64()}")
    return 0


def run_checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    from medcrypt.bot.app.wiring import open_audit_log

    with _engine(settings) as engine:
        log = open_audit_log(settings, engine, keyring=_keyring(settings), require_signer=True)
        cp: Checkpoint = log.checkpoint_now()
    print(format_witness(cp))
    return 0


def run_keygen(args: argparse.Namespace, settings: Settings) -> int:
    """A fresh seed for the environment, and the public key auditors verify with.

    The seed goes to stdout only (for a secrets manager); nothing is stored. Rotating
    it is safe: checkpoints carry a key id, so verify takes the old public key too.
    """
    seed = bytearray(os.urandom(32))
    try:
        signer = CheckpointSigner(bytes(seed))
        print(f"{settings.audit.signing_key_env}={base64.b64encode(seed).decode('ascii')}")
    finally:
        seed[:] = bytes(len(seed))
    print(f"# public key (give to auditors: audit verify --public-key): {signer.public_b64()}")
    return 0


def _row(entry: ExportedEntry) -> dict[str, Any]:
    details: Any = entry.details if entry.state == "ok" else f"[{entry.state}]"
    return {"seq": entry.seq, "time": entry.time.isoformat().replace("+00:00", "Z"),
            "actor": entry.actor_ref, "subject": entry.subject_ref, "action": entry.action,
            "details": details}


def run_export(args: argparse.Namespace, settings: Settings) -> int:
    from medcrypt.bot.app.wiring import open_audit_log

    subject = None
    if args.subject:
        try:
            subject = check_ref(args.subject)
        except ValueError:
            raise ConfigError("--subject", "expected an audit ref such as patient:<24 hex>"
                              ) from None
    if args.from_seq < 1 or (args.to_seq is not None and args.to_seq < args.from_seq):
        raise ConfigError("--from/--to", "need 1 <= --from <= --to")
    keyring = _keyring(settings)
    progress = _Progress(sys.stderr, "exported")
    count = 0
    with _engine(settings) as engine:
        log = open_audit_log(settings, engine, keyring=keyring)
        out = (args.output.open("w", encoding="utf-8", newline="")
               if args.output else sys.stdout)
        try:
            writer = csv.DictWriter(out, fieldnames=["seq", "time", "actor", "subject",
                                                     "action", "details"])
            if args.format == "csv":
                writer.writeheader()
            for entry in log.export(from_seq=args.from_seq, to_seq=args.to_seq,
                                    subject=subject):
                row = _row(entry)
                if args.format == "csv":
                    if isinstance(row["details"], dict):
                        row["details"] = json.dumps(row["details"], sort_keys=True)
                    writer.writerow(row)
                else:
                    out.write(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n")
                count += 1
                if count % 1000 == 0:
                    progress(count)
        finally:
            progress.done()
            if args.output:
                out.close()
        # The disclosure itself is accounted for, against the subject when there is one.
        log.append(SYSTEM_CLI, Action.ADMIN_COMMAND, subject or SYSTEM_CLI, {
            "command": "audit_export", "entries": count, "from_seq": args.from_seq,
            "to_seq": args.to_seq, "format": args.format})
    keyring.wipe()
    print(f"exported {count} entries", file=sys.stderr)
    return 0
