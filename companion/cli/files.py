"""``medcrypt send-file`` and ``medcrypt open-file``: encrypted attachments.

``send-file`` writes the encrypted container (send it as a document / media) and prints
the manifest token(s) - an ordinary end-to-end encrypted message carrying the file key,
size, SHA-256, name and type. ``open-file`` needs the manifest: either it was already
opened by ``medcrypt decrypt`` (kept in the keystore while its epoch lives) or it is
given with ``--manifest``. Output files are written to a temporary name and renamed only
after every chunk, the size and the hash verified: a failed open leaves nothing behind.
Every file written here is mode 0600 (private_file.py). The container's default name is
random: the platform it is uploaded to sees that name, and the real one travels only
inside the encrypted manifest.
"""

from __future__ import annotations

import argparse
import io
import mimetypes
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from medcrypt.companion.app import Companion, open_companion
from medcrypt.companion.cli.messages import add_split_flags, collect_tokens, seal_body, split_limit
from medcrypt.companion.display import shown
from medcrypt.companion.env import read_stdin
from medcrypt.companion.i18n import N_, _, error
from medcrypt.companion.private_file import replaced_privately
from medcrypt.crypto.endpoint.envelope import ContentType
from medcrypt.crypto.errors import ConfigError, MalformedToken
from medcrypt.crypto.keyless import pdf_wrap
from medcrypt.crypto.keyless.epochs import epoch_of, format_epoch
from medcrypt.crypto.keyless.wire import Kind, parse_token

if TYPE_CHECKING:
    from collections.abc import Callable

    from medcrypt.crypto.endpoint.attachment import Manifest


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    about = _("encrypt a file; print its manifest token(s)")
    send = sub.add_parser("send-file", help=about, description=about)
    send.add_argument("path", type=Path, help=_("the file to send"))
    send.add_argument("--pairing", metavar="ID", help=_("pairing tag, id or unique prefix "
                                                        "(optional with a single pairing)"))
    send.add_argument("--out", type=Path, help=_("container path (default: a random name in "
                                                 "the current directory, ./<16 hex>.mcf, so "
                                                 "the file's own name is never uploaded)"))
    send.add_argument("--mime", help=_("MIME type (default: guessed from the name)"))
    add_split_flags(send)
    send.set_defaults(handler=run_send)

    about = _("decrypt a received container")
    op = sub.add_parser("open-file", help=about, description=about)
    op.add_argument("container", type=Path, help=_("the received .mcf (or WhatsApp PDF) file"))
    op.add_argument("--manifest", metavar="TOKEN",
                    help=_("the manifest token, if not already decrypted ('-' = stdin)"))
    where = op.add_mutually_exclusive_group()
    where.add_argument("--out", type=Path, help=_("output file path"))
    where.add_argument("--out-dir", type=Path, default=Path(),
                       help=_("directory for the sender's (sanitised) file name (default .)"))
    op.add_argument("--force", action="store_true", help=_("overwrite an existing file"))
    op.set_defaults(handler=run_open)


#: The most each chat app carries for the relay, as its bot is told (bot/domain/config.py):
#: Telegram lets a bot download 20 MB; WhatsApp through Twilio takes under 16 MB, and
#: gets the container inside a PDF wrapper (crypto/keyless/pdf_wrap.py).
PLATFORM_FILE_LIMITS = {"WhatsApp": (16_000_000 - pdf_wrap.MAX_OVERHEAD, "16 MB"),
                        "Telegram": (20 * 1024 * 1024, "20 MB")}


def warn_if_too_large(size: int) -> None:
    """Say, before the (possibly long) sealing starts, which chat apps will refuse the
    container. Only a warning: the companion does not know which app either member uses,
    and a clinic may raise its relay's limits."""
    from medcrypt.crypto.endpoint.attachment import container_size  # lazy

    sealed = container_size(size)
    over = [(name, label) for name, (limit, label) in PLATFORM_FILE_LIMITS.items()
            if sealed > limit]
    megabytes = f"{sealed / 1_000_000:.1f}"
    for name, label in over:
        print(_("medcrypt: warning: the encrypted file will be {size} MB, more than {app} "
                "carries ({limit}): the relay will refuse it if you or the person you write "
                "to use {app}", size=megabytes, app=name, limit=label), file=sys.stderr)


def run_send(args: argparse.Namespace) -> int:
    from medcrypt.crypto.endpoint.attachment import (
        seal_file,  # lazy: keep other commands' start-up light
    )

    src_path: Path = args.path
    if src_path.is_file():  # a missing file is reported where it is opened
        warn_if_too_large(src_path.stat().st_size)
    mime = args.mime or mimetypes.guess_type(src_path.name)[0] or "application/octet-stream"
    out: Path = args.out or Path(f"{secrets.token_hex(8)}.mcf")
    with open_companion(args) as comp, src_path.open("rb") as src:
        pairing_hex = comp.resolve_pairing(args.pairing)
        session = comp.session(pairing_hex)
        with replaced_privately(out) as dst:
            manifest = seal_file(src, dst, pairing_id=session.pairing_id,
                                 epoch=epoch_of(comp.clock.now()),
                                 direction=session.own_direction, name=src_path.name,
                                 mime_type=mime.lower())
            lines = seal_body(comp, pairing_hex, manifest.to_bytes(),
                              ContentType.ATTACHMENT_MANIFEST,
                              split_limit(comp, pairing_hex, args))
            comp.add_history({"pairing": pairing_hex, "way": "sent", "kind": "file",
                              "epoch": format_epoch(epoch_of(comp.clock.now())),
                              "at": comp.clock.now().isoformat(),
                              "file": {"name": manifest.name, "size": manifest.size,
                                       "mime_type": manifest.mime_type,
                                       "file_id": manifest.file_id.hex()}})
        comp.commit()
    print(_("medcrypt: encrypted file written to {out} - send it as a document, and the "
            "token(s) below as messages", out=out), file=sys.stderr)
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _manifest_from_token(comp: Companion, text: str) -> Manifest:
    from medcrypt.crypto.endpoint.attachment import Manifest  # lazy

    tokens = collect_tokens(text)
    if len(tokens) != 1 or parse_token(tokens[0]).header.kind is not Kind.MESSAGE:
        raise error(MalformedToken, N_("expected exactly one manifest token"))
    header = parse_token(tokens[0]).header
    assert header.pairing_id is not None
    pairing_hex = header.pairing_id.hex()
    if pairing_hex not in comp.state["pairings"]:
        raise comp.missing_pairing(pairing_hex, N_("the manifest"))
    opened = comp.session(pairing_hex).decrypt(tokens[0], clock=comp.clock)
    if opened.content_type is not ContentType.ATTACHMENT_MANIFEST:
        raise error(MalformedToken, N_("that token is a message, not a file manifest"))
    manifest = Manifest.from_bytes(opened.body)
    comp.state["received_files"][manifest.file_id.hex()] = {
        "pairing": pairing_hex, "manifest": opened.body.hex(), "epoch": opened.epoch}
    comp.add_history({"pairing": pairing_hex, "way": "received", "kind": "file",
                      "epoch": format_epoch(opened.epoch), "index": opened.index,
                      "sent_at": opened.sent_at.isoformat(), "at": comp.clock.now().isoformat(),
                      "file": {"name": manifest.name, "size": manifest.size,
                               "mime_type": manifest.mime_type,
                               "file_id": manifest.file_id.hex()}})
    return manifest


def _container(path: Path) -> Callable[[], BinaryIO]:
    """How to read the container at ``path``: the file itself, or - for a file that came
    through WhatsApp, which carries it inside a PDF (crypto/keyless/pdf_wrap.py) - the
    container taken out of it. Any other PDF is refused as not a MedCrypt file."""
    with path.open("rb") as probe:
        wrapped = pdf_wrap.is_wrapped(probe.read(8))
    if not wrapped:
        return lambda: path.open("rb")
    inner = pdf_wrap.unwrap(path.read_bytes())
    return lambda: io.BytesIO(inner)


def run_open(args: argparse.Namespace) -> int:
    from medcrypt.crypto.endpoint.attachment import (  # lazy
        MAX_FILE_SIZE,
        Manifest,
        open_file,
        read_container_header,
    )

    container = _container(args.container)
    with container() as probe:
        header = read_container_header(probe)
    with open_companion(args) as comp:
        if args.manifest:
            text = read_stdin() if args.manifest == "-" else args.manifest
            manifest = _manifest_from_token(comp, text)
        else:
            record = comp.state["received_files"].get(header.file_id.hex())
            if record is None:
                raise error(ConfigError, N_("no manifest for this file on this device "
                                            "(decrypt its manifest token first, or its month "
                                            "was shredded)"), key="--manifest")
            manifest = Manifest.from_bytes(bytes.fromhex(record["manifest"]))
        out: Path = args.out or args.out_dir / manifest.name
        if out.exists() and not args.force:
            raise error(ConfigError, N_("{out} exists (use --force to overwrite)"),
                        key="--out", out=str(out))
        with container() as src, replaced_privately(out) as dst:
            open_file(src, dst, manifest, pairing_id=header.pairing_id,
                      max_size=MAX_FILE_SIZE)
        comp.commit()
    print(shown(str(out)))
    return 0
