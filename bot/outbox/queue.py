"""The relay's side of the outbox: its message vocabulary onto outbox rows, and back.

The rows themselves - enqueue inside the inbound transaction, claim, outcomes, receipts,
and why per-recipient order holds - are :mod:`storage.repos.outbox`; this module maps
an :class:`OutboundMessage` onto plain values for it and a claimed row back onto an
:class:`OutKind` and the text to send.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from medcrypt.bot.domain.messages import OutboundMessage, OutKind
from medcrypt.crypto.keyless.wire import parse_file_header
from medcrypt.storage.db import Session
from medcrypt.storage.repos import outbox as rows

#: How the relay's message kinds are stored (``outbox.payload_kind``).
_PAYLOAD_KIND = {OutKind.TOKEN: "text", OutKind.FILE: "document",
                 OutKind.NOTICE: "notice", OutKind.TEMPLATE: "template",
                 OutKind.WITHDRAW: "withdraw"}
_OUT_KIND = {v: k for k, v in _PAYLOAD_KIND.items()}
#: Name every relayed file is delivered under: the sender's own file name could say what
#: the file is about, so it is neither stored nor passed on (the encrypted manifest
#: carries the real name to the other companion).
FILE_NAME = "message.mcf"


class _Kinded(Protocol):
    @property
    def payload_kind(self) -> str: ...


class _Payload(_Kinded, Protocol):
    @property
    def payload(self) -> bytes: ...


def payload_kind(kind: OutKind) -> str:
    return _PAYLOAD_KIND[kind]


def out_kind(row: _Kinded) -> OutKind:
    return _OUT_KIND[row.payload_kind]


def body_of(row: _Payload) -> str:
    """The text to send (tokens are ASCII, notices UTF-8, a withdrawal the platform id of
    the message to remove); empty for files and templates."""
    if row.payload_kind in ("text", "notice", "withdraw"):
        return row.payload.decode("utf-8")
    return ""


def enqueue(
    session: Session,
    message: OutboundMessage,
    parts: Sequence[str],
    now: datetime,
) -> list[int]:
    """Add the rows for one outbound message; ``parts`` are the texts (one per row).

    A file is stored once in ``media_blobs``. A relayed file is filed under its pairing
    and epoch (so shredding the epoch deletes it) and its row carries only the file's
    keyless routing header; the bot's own documents (a break-glass bundle) belong to no
    epoch and are pruned once delivered.
    """
    file: rows.NewFile | None = None
    filename: str | None = None
    payloads = [p.encode("utf-8") for p in parts]
    if message.kind is OutKind.FILE:
        if message.document is None:
            raise ValueError("a FILE message needs a document")
        data = message.document.data
        file, payloads = rows.NewFile(data), [b""]
        filename = message.document.filename[:64]
        if message.pairing_id is not None:
            filename = None
            header = parse_file_header(data)
            file = rows.NewFile(data, message.pairing_id, header.epoch)
            payloads = [header.raw]
    return rows.enqueue(
        session, recipient_id=message.recipient_id, origin_id=message.origin_id,
        pairing_id=message.pairing_id, payload_kind=_PAYLOAD_KIND[message.kind],
        payloads=payloads, now=now, file=file, filename=filename)


def enqueue_deferred(session: Session, message: OutboundMessage, text: str, *, key: str,
                     due: datetime, now: datetime) -> bool:
    """Queue ``message`` (one row of ``text``) to go at ``due`` unless cancelled by
    ``key`` before (:func:`storage.repos.outbox.enqueue_deferred`)."""
    return rows.enqueue_deferred(
        session, recipient_id=message.recipient_id,
        payload_kind=_PAYLOAD_KIND[message.kind], payload=text.encode("utf-8"),
        dedupe_key=key, due=due, now=now)
