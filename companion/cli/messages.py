"""``medcrypt encrypt`` and ``medcrypt decrypt``: plaintext <-> copy-ready tokens.

Both read stdin and write stdout, so they compose with a clipboard tool or a script.
Nothing reaches stdout until the keystore holding the new ratchet state is saved: if
the save fails, no token is shown that the device could not account for; if a later
token of a batch fails to open, no plaintext of the batch is shown and no key is used.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from medcrypt.companion import chat_apps, names
from medcrypt.companion.app import Companion, open_companion
from medcrypt.companion.display import shown
from medcrypt.companion.env import read_stdin
from medcrypt.companion.i18n import N_, _, error, ngettext
from medcrypt.crypto.endpoint.envelope import ContentType
from medcrypt.crypto.endpoint.session import Opened
from medcrypt.crypto.endpoint.v3.session import Opened as OpenedV3
from medcrypt.crypto.errors import ConfigError, MalformedToken, ReplayDetected
from medcrypt.crypto.keyless.epochs import epoch_of, format_epoch
from medcrypt.crypto.keyless.parts import MIN_MAX_CHARS, PartAssembler, split_token
from medcrypt.crypto.keyless.tags import tag_of_hex
from medcrypt.crypto.keyless.wire import Kind, TokenHeader, find_tokens, parse_token

#: crypto.v1.V1_PREFIX, spelled out so `decrypt` does not import the v1 module (cold start);
#: a test keeps the two equal.
V1_PREFIX = "[MEDCRYPT:v1:"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    about = _("plaintext on stdin -> token(s) on stdout")
    enc = sub.add_parser("encrypt", help=about, description=about)
    enc.add_argument("--pairing", metavar="ID", help=_("pairing tag, id or unique prefix "
                                                       "(optional with a single pairing)"))
    add_split_flags(enc)
    enc.add_argument("--no-history", action="store_true", help=_("do not keep a local copy"))
    enc.set_defaults(handler=run_encrypt)

    about = _("token(s) on stdin, any order -> plaintext on stdout")
    dec = sub.add_parser("decrypt", help=about, description=about)
    dec.add_argument("--no-history", action="store_true", help=_("do not keep a local copy"))
    dec.add_argument("--json", action="store_true", help=_("one JSON object per message"))
    dec.set_defaults(handler=run_decrypt)


def add_split_flags(parser: argparse.ArgumentParser) -> None:
    """``--platform`` and ``--max-chars``, shared by ``encrypt`` and ``send-file``."""
    parser.add_argument("--platform", choices=sorted(chat_apps.APPS),
                        help=_("the chat app you paste into, for this message (default: the "
                               "pairing's, set with 'medcrypt pair platform'; WhatsApp if "
                               "none is set)"))
    parser.add_argument("--max-chars", type=int, metavar="N",
                        help=_("split into parts of at most N characters instead "
                               "(1600 for WhatsApp, 4096 for Telegram)"))


def split_limit(comp: Companion, pairing_hex: str, args: argparse.Namespace) -> int:
    """Where this message's tokens are split: see :mod:`companion.chat_apps`."""
    return chat_apps.max_chars(comp.state["pairings"][pairing_hex],
                               flag_app=args.platform, flag_chars=args.max_chars)


def split_for(token: str, max_chars: int) -> list[str]:
    if max_chars < MIN_MAX_CHARS:
        raise error(ConfigError, N_("must be at least {n}"), key="--max-chars",
                    n=MIN_MAX_CHARS)
    return split_token(token, max_chars)


def seal_body(comp: Companion, pairing_hex: str, body: bytes, content_type: ContentType,
              max_chars: int) -> list[str]:
    """Encrypt one body; returns the lines to print (escrow deposit first, if due)."""
    session = comp.session(pairing_hex)
    result = session.encrypt(body, content_type, clock=comp.clock)
    lines: list[str] = []
    if result.escrow_deposit is not None:
        epoch = parse_token(result.escrow_deposit).header.epoch
        comp.record_deposit(pairing_hex, int(epoch or 0), result.escrow_deposit)
        lines += split_for(result.escrow_deposit, max_chars)
    lines += split_for(result.token, max_chars)
    return lines


def run_encrypt(args: argparse.Namespace) -> int:
    text = read_stdin()
    if not text:
        raise error(ConfigError, N_("nothing to encrypt"), key="stdin")
    with open_companion(args) as comp:
        pairing_hex = comp.resolve_pairing(args.pairing)
        lines = seal_body(comp, pairing_hex, text.encode("utf-8"), ContentType.TEXT,
                          split_limit(comp, pairing_hex, args))
        if not args.no_history:
            comp.add_history({"pairing": pairing_hex, "way": "sent",
                              "epoch": format_epoch(epoch_of(comp.clock.now())),
                              "at": comp.clock.now().isoformat(), "kind": "text",
                              "text": text})
        comp.commit()
    if len(lines) > 1:
        print(_("medcrypt: {n} tokens - send each as its own chat message (an escrow "
                "deposit for the clinic, if any, comes first)", n=len(lines)), file=sys.stderr)
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def collect_tokens(text: str) -> list[str]:
    """Whole v2 tokens from pasted text: parts joined, duplicates dropped, v1 refused."""
    if V1_PREFIX in text:
        raise error(MalformedToken, N_("this is a v1 token; open it with 'medcrypt v1 "
                                       "decrypt --secret-env VAR --month YYYY-MM'"))
    found = find_tokens(text)
    if not found:
        raise error(MalformedToken, N_("no MEDCRYPT token found on stdin"))
    assembler = PartAssembler()
    whole: list[str] = []
    for item in dict.fromkeys(found):
        joined = assembler.add(item)
        if joined is not None and joined not in whole:
            whole.append(joined)
    if assembler.pending:
        raise error(MalformedToken, N_("tokens with missing parts: {n}"),
                    n=assembler.pending)
    return whole


def _describe(comp: Companion, pairing_hex: str, opened: Opened | OpenedV3) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "pairing": pairing_hex, "way": "received", "epoch": format_epoch(opened.epoch),
        "index": opened.index, "sent_at": opened.sent_at.isoformat(),
        "at": comp.clock.now().isoformat(),
    }
    if opened.content_type is ContentType.ATTACHMENT_MANIFEST:
        from medcrypt.crypto.endpoint.attachment import (
            Manifest,  # lazy: only when a file is announced
        )

        manifest = Manifest.from_bytes(opened.body)
        comp.state["received_files"][manifest.file_id.hex()] = {
            "pairing": pairing_hex, "manifest": opened.body.hex(), "epoch": opened.epoch}
        entry.update(kind="file", file={"name": manifest.name, "size": manifest.size,
                                        "mime_type": manifest.mime_type,
                                        "file_id": manifest.file_id.hex()})
    elif opened.content_type is ContentType.TEXT:
        entry.update(kind="text", text=opened.body.decode("utf-8"))  # strict: §8 checked it
    else:
        entry.update(kind="control")
    return entry


def already_opened(comp: Companion, pairing_hex: str, header: TokenHeader) -> ReplayDetected:
    """Why a token cannot be opened again, and where its text still is, if anywhere.

    The message key was deleted when the token was first opened (forward secrecy), so
    the only copy left is the local history - if it was kept. Dates only: an error
    message never quotes plaintext.
    """
    assert header.epoch is not None
    month = format_epoch(header.epoch)
    for entry in comp.state["history"]:
        if (entry["way"] == "received" and entry["pairing"] == pairing_hex
                and entry.get("epoch") == month and entry.get("index") == header.index):
            return error(ReplayDetected, N_(
                "this message was already opened on this device ({at}); a message opens "
                "only once - read it again with 'medcrypt history list --pairing "
                "{pairing}'"), at=entry["at"], pairing=pairing_hex[:8])
    if not comp.keeps_history(pairing_hex):
        return error(ReplayDetected, N_(
            "this message was already opened on this device, or is too old to open; a "
            "message opens only once, and this pairing keeps no copies (history is off)"))
    return error(ReplayDetected, N_(
        "this message was already opened on this device, or is too old to open; a message "
        "opens only once, and no copy of it is in this device's history"))


def run_decrypt(args: argparse.Namespace) -> int:
    tokens = collect_tokens(read_stdin())
    notes: list[str] = []
    entries: list[dict[str, Any]] = []
    with open_companion(args) as comp:
        for token in tokens:
            header = parse_token(token).header
            if header.kind is Kind.PAIR_ACCEPT:
                raise error(MalformedToken, N_("this is a pairing accept token; use "
                                               "'medcrypt pair complete TOKEN'"))
            if header.kind is Kind.KEY_CONFIRM:
                raise error(MalformedToken, N_("this is the physician's key confirmation; "
                                               "open it with 'medcrypt pair confirm TOKEN'"))
            if header.kind is not Kind.MESSAGE or header.pairing_id is None:
                notes.append(_("skipped a {kind} token (it is for the bot)",
                               kind=header.kind.name.lower()))
                continue
            pairing_hex = header.pairing_id.hex()
            if pairing_hex not in comp.state["pairings"]:
                raise comp.missing_pairing(pairing_hex, N_("a token"))
            try:
                opened = comp.session(pairing_hex).decrypt(token, clock=comp.clock)
            except ReplayDetected:
                raise already_opened(comp, pairing_hex, header) from None
            entries.append(_describe(comp, pairing_hex, opened))
        if not args.no_history:
            for entry in entries:
                comp.add_history(dict(entry))
        comp.commit()
        senders = {e["pairing"]: names.who(e["pairing"], comp.state["pairings"][e["pairing"]])
                   for e in entries}
        labels = {p: names.label_of(comp.state["pairings"][p]) for p in senders}
    for note in notes:
        print(f"medcrypt: {note}", file=sys.stderr)  # the note is translated
    entries.sort(key=lambda e: (e["sent_at"], e["index"]))
    if args.json:  # who it is from rides along; the history entry keeps the pairing only
        sys.stdout.write("".join(json.dumps(
            {**e, "tag": tag_of_hex(e["pairing"]), "label": labels[e["pairing"]]},
            sort_keys=True) + "\n" for e in entries))
        return 0
    out = []
    for entry in entries:
        if entry["kind"] == "file":
            f = entry["file"]
            out.append((entry, shown(ngettext(
                "[attachment {name} - {n} byte, {mime_type}; open it with: medcrypt "
                "open-file CONTAINER]",
                "[attachment {name} - {n} bytes, {mime_type}; open it with: medcrypt "
                "open-file CONTAINER]", f["size"], name=f["name"], mime_type=f["mime_type"]))))
        elif entry["kind"] == "text":
            out.append((entry, shown(entry["text"])))
    for i, (entry, text) in enumerate(out):
        # "From Sam Rivera (K7Q-2MX)" on stderr: a person at the terminal reads it above
        # the message, and stdout stays the message alone for scripts and pipes.
        sys.stdout.flush()
        print(_("From {sender}:", sender=shown(senders[entry["pairing"]])), file=sys.stderr,
              flush=True)
        sys.stdout.write(text if len(out) == 1 or text.endswith("\n") else text + "\n")
        if i == len(out) - 1:
            sys.stdout.flush()
    return 0
