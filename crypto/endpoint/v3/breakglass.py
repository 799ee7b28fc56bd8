"""Offline break-glass opening of v3 messages from escrow deposits (PROTOCOL.md §24).

Pure: the escrow private key, the keys of a *verified* pinned-key record, the deposits
the bot stored and the tokens to open come in; opened messages and a report come out.
Nothing the bot or a deposit supplies is trusted as a key: every deposit is verified
against the pinned sender identity (a bad one is skipped and reported, the rest open),
every message against the pinned sender identity too.

A deposit holds one segment's starting chain key, so it opens that segment (one chain,
one month, one direction) and nothing else: no later or earlier month, no other chain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint import envelope
from medcrypt.crypto.endpoint.envelope import ContentType
from medcrypt.crypto.endpoint.v3 import kdf
from medcrypt.crypto.endpoint.v3.deposit import Deposit, PinnedKeys, open_deposit
from medcrypt.crypto.endpoint.v3.session import ENVELOPE_LABEL
from medcrypt.crypto.errors import BadToken, MedCryptError
from medcrypt.crypto.keyless import v3wire
from medcrypt.crypto.keyless.wire import Direction

#: Deepest index break-glass derives to inside one segment (a month of messages).
MAX_SEGMENT_INDEX = 1 << 20


@dataclass(frozen=True, slots=True)
class OpenedMessage:
    position: int
    epoch: int
    direction: Direction
    chain_id: bytes
    index: int
    content_type: ContentType
    body: bytes


@dataclass(slots=True)
class Report:
    """What opened, which deposits were refused and which tokens stayed closed (and why)."""

    opened: list[OpenedMessage] = field(default_factory=list)
    refused_deposits: list[tuple[int, str]] = field(default_factory=list)
    unopened: list[tuple[int, str]] = field(default_factory=list)


_Slot = tuple[int, int, bytes]  # epoch, direction, chain id


def _verified(
    escrow_private: bytes | bytearray, pinned: PinnedKeys, sealed: Iterable[bytes],
    report: Report,
) -> dict[_Slot, list[Deposit]]:
    slots: dict[_Slot, list[Deposit]] = {}
    for position, box in enumerate(sealed):
        try:
            deposit = open_deposit(escrow_private, box, pinned)
        except MedCryptError as exc:
            report.refused_deposits.append((position, f"{type(exc).__name__}: not opened "
                                            "or not signed by the pinned sender"))
            continue
        slots.setdefault((deposit.epoch, deposit.direction, deposit.chain_id), []).append(deposit)
    return slots


def _open_with(deposit: Deposit, token: v3wire.MessageToken, pinned: PinnedKeys) -> bytes | None:
    h = token.header
    steps = h.index - deposit.start_index
    if not 0 <= steps <= MAX_SEGMENT_INDEX:
        return None
    ck = deposit.chain_key
    for _ in range(steps):
        ck = kdf.chain_step(ck)[1]
    message_key = kdf.chain_step(ck)[0]
    try:
        inner = prim.xchacha_decrypt(message_key, h.nonce, token.body, h.raw)
    except BadToken:
        return None
    return inner


def open_bundle(
    escrow_private: bytes | bytearray, pinned: PinnedKeys, deposits: Iterable[bytes],
    tokens: Iterable[str],
) -> Report:
    """Open every token some verified deposit covers; report everything else.

    Deposits riding inside the tokens themselves are used as well (they are verified
    the same way): a bundle may hold tokens as relayed or as sent.
    """
    report = Report()
    parsed: list[tuple[int, v3wire.MessageToken | None, str]] = []
    carried: list[bytes] = list(deposits)
    for position, text in enumerate(tokens):
        try:
            token = v3wire.parse_message_text(text)
        except MedCryptError as exc:
            parsed.append((position, None, type(exc).__name__))
            continue
        if token.deposit is not None:
            carried.append(token.deposit)
        parsed.append((position, token, ""))
    slots = _verified(escrow_private, pinned, carried, report)
    for position, maybe, reason in parsed:
        if maybe is None:
            report.unopened.append((position, f"{reason}: not a v3 message"))
            continue
        token = maybe
        h = token.header
        if not prim.constant_time_equal(h.pairing_id, pinned.pairing_id):
            report.unopened.append((position, "another pairing"))
            continue
        candidates = slots.get((h.epoch, h.direction, h.chain_id), [])
        for deposit in candidates:
            inner = _open_with(deposit, token, pinned)
            if inner is None:
                continue
            try:
                env = envelope.open_(h.raw, inner, pinned.sender(h.direction), label=ENVELOPE_LABEL)
            except BadToken:
                continue
            report.opened.append(OpenedMessage(position, h.epoch, h.direction, h.chain_id,
                                               h.index, env.content_type, env.body))
            break
        else:
            report.unopened.append((position, "no verified deposit of this segment opens it"))
    return report
