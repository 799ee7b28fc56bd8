"""``medcrypt-breakglass open BUNDLE``: combine shares, open a bundle, write what it holds.

It runs on an offline admin machine with two (or the configured number of) share holders
present. It combines their SLIP-39 shares into the escrow private key in memory, opens
the bundle's deposits and every message, writes them to ``--out DIR`` (created 0700,
files 0600) or stdout, and wipes the key. A deposit it cannot use (planted in the other
member's slot by an earlier version, or damaged) and messages no deposit opens are left
out with one ``warning:`` line each on stderr, also listed under ``skipped`` in the
manifest; every other month still opens. Shares come from ``--share`` (visible in the
process list and shell history - prefer the prompts) or are asked for one by one without
echo. Any failure - one share, shares of different splits, a wrong passphrase, a damaged
or altered bundle - is one line on stderr and reveals nothing.

``--record`` (on the bot host, with ``--config``) also appends the ``breakglass.opened``
audit entry through ``medcrypt-bot breakglass record-open``'s code; the bot recognises
the file by its SHA-256.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medcrypt.crypto.endpoint import breakglass
from medcrypt.crypto.errors import ConfigError, PolicyViolation
from medcrypt.crypto.failures import describe
from medcrypt.crypto.keyless.bundle_wire import parse_header
from medcrypt.crypto.keyless.epochs import format_epoch
from medcrypt.opener import v3

PROG = "medcrypt-breakglass"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Open a MedCrypt break-glass bundle offline with a quorum "
                               "of SLIP-39 shares.")
    parser.add_argument("--debug", action="store_true", help="print the traceback of a failure")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    op = sub.add_parser("open", help="recover the escrow key from shares and decrypt a bundle")
    op.add_argument("bundle", type=Path, metavar="BUNDLE")
    op.add_argument("--share", action="append", default=[], metavar="MNEMONIC",
                    help="a SLIP-39 share (repeat); omit to be prompted without echo")
    op.add_argument("--passphrase-env", default=None, metavar="VAR",
                    help="environment variable holding the shares' passphrase")
    op.add_argument("--ask-passphrase", action="store_true",
                    help="prompt for the shares' passphrase")
    op.add_argument("--out", type=Path, default=None, metavar="DIR",
                    help="write manifest.json and messages.jsonl here (default: stdout)")
    op.add_argument("--physician-key", default=None, metavar="BASE64",
                    help="v3 bundles: the physician identity key from the clinic's enrolment "
                         "register (not from the bot), which the pinned-key record must match")
    op.add_argument("--record", action="store_true",
                    help="also record the opening in the bot's audit log (on the bot host)")
    op.add_argument("--config", default=os.environ.get("MEDCRYPT_CONFIG"), metavar="FILE",
                    help="with --record: the bot's TOML config (default: $MEDCRYPT_CONFIG)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return open_cmd(args)
    except (Exception, KeyboardInterrupt) as exc:
        failure = describe(exc, debug_hint="rerun with --debug for the traceback")
        if args.debug and not isinstance(exc, KeyboardInterrupt):
            traceback.print_exception(exc, file=sys.stderr)
        print(f"{PROG}: {failure.message}", file=sys.stderr, flush=True)
        return failure.exit_code


def read_bundle(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read bundle ({exc.strerror or exc})") from None
    parse_header(data)
    return data


def _passphrase(args: argparse.Namespace) -> bytes:
    if args.passphrase_env is not None:
        value = os.environ.get(args.passphrase_env)
        if value is None:
            raise ConfigError("--passphrase-env", f"{args.passphrase_env} is not set")
        return value.encode("utf-8")
    if args.ask_passphrase:
        return getpass.getpass("Passphrase: ").encode("utf-8")
    return b""


def _prompt_shares() -> list[str]:
    """Ask for shares until the first one's threshold is reached."""
    shares = [getpass.getpass("Share 1 (words, no echo): ")]
    needed = breakglass.shares_needed(shares[0])
    while len(shares) < needed:
        shares.append(getpass.getpass(f"Share {len(shares) + 1} of {needed}: "))
    return shares


def _message_record(m: breakglass.OpenedMessage) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "month": format_epoch(m.epoch), "direction": m.direction.name.lower(),
        "index": m.index, "sent_at": m.sent_at_iso, "content_type": m.content_type.name.lower(),
    }
    if m.content_type.name == "TEXT":
        try:
            rec["text"] = m.body.decode("utf-8")
        except UnicodeDecodeError:
            rec["body_base64"] = base64.b64encode(m.body).decode("ascii")
    else:
        rec["body_base64"] = base64.b64encode(m.body).decode("ascii")
    return rec


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def _write(manifest: dict[str, Any], records: list[dict[str, Any]], code: str,
           out: Path | None) -> None:
    if out is None:
        print(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False))
        for rec in records:
            print(json.dumps(rec, sort_keys=True, ensure_ascii=False))
        return
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError("--out", "must be a new or empty directory")
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write_private(out / "manifest.json",
                   json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    _write_private(out / "messages.jsonl", "".join(
        json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records))
    print(f"Opened break-glass bundle {code}: {len(records)} messages written to {out}.")


def open_cmd(args: argparse.Namespace) -> int:
    data = read_bundle(args.bundle)
    shares = list(args.share) or _prompt_shares()
    if len(shares) < 2:
        # A 1-of-1 split is refused at init; one share alone never opens a bundle.
        raise PolicyViolation("one share is not enough: a quorum of share holders is needed")
    key = breakglass.recover_escrow_key(shares, _passphrase(args))
    try:
        contents = breakglass.unseal(key, data)
        if contents.manifest.get("protocol") == 3:
            _open_v3(args, key, contents)
        else:
            _open_v2(args, breakglass.open_contents(key, contents))
    finally:
        for i in range(len(key)):  # the escrow key never outlives the opening
            key[i] = 0
    if args.record:
        _record(args, data, holders=len(shares))
    return 0


def _open_v2(args: argparse.Namespace, opened: breakglass.OpenedBundle) -> None:
    if opened.unrecoverable:
        print("warning: the bundle holds messages without a deposit for their month: "
              + ", ".join(f"{format_epoch(e)} ({n})" for e, n in
                          sorted(opened.unrecoverable.items())), file=sys.stderr)
    for line in opened.skipped:  # a planted or damaged item: the rest still opens
        print(f"warning: {line}", file=sys.stderr)
    records = [_message_record(m) for m in opened.messages]
    manifest = dict(opened.manifest)
    manifest["unrecoverable_messages"] = {format_epoch(e): n
                                          for e, n in sorted(opened.unrecoverable.items())}
    manifest["skipped"] = list(opened.skipped)
    _write(manifest, records, opened.header.code, args.out)


def _open_v3(args: argparse.Namespace, key: bytearray,
             contents: breakglass.BundleContents) -> None:
    """A v3 pairing's bundle: verified against the enrolled physician key (ADR 0026)."""
    opened = v3.open_v3(key, contents.header.escrow_public, contents.manifest,
                        contents.items, v3.enrolled_key(args.physician_key))
    for line in opened.skipped:  # a deposit or record that does not verify: the rest opens
        print(f"warning: {line}", file=sys.stderr)
    manifest = dict(contents.manifest)
    manifest["skipped"] = list(opened.skipped)
    _write(manifest, opened.records, contents.header.code, args.out)


def _record(args: argparse.Namespace, data: bytes, *, holders: int) -> None:
    """The audit entry, through the bot's own code (needs the bot's config and database)."""
    from medcrypt.bot.cli.breakglass import record_bundle
    from medcrypt.bot.domain.config import load_settings

    record_bundle(load_settings(args.config), data, holders=holders)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
