"""Gather what a break-glass bundle may hold for one pairing: deposits and stored tokens.

Keyless: rows are chosen by their clear routing headers (``crypto.wire``), never opened.

The relay keeps every relayed MESSAGE in ``stored_tokens`` and every escrow deposit in
``escrow_deposits`` until their epoch is shredded; both are read here. Rows are
de-duplicated by their bytes.

An epoch is left out when it is shredded in the ``epochs`` table **or** when its grace
window has ended by the calendar (``crypto.epochs.is_readable``) - the second rule holds
even if a purge has not run yet, so a bundle never carries an epoch the protocol says is
gone. Each row's header must name the pairing and the epoch its row claims; anything
else is skipped and counted, not trusted.

A v3 pairing (docs/adr/0026) adds its segment deposits, each as a bundle item
``0x03 0x04 || deposit`` (kind 4 exists in v3 only inside a bundle), chosen by the month
the bot filed it under, and its sealed pinned-key records as the PIN_RECORD tokens the
physician's companion sent. Its relayed MESSAGE tokens are already in ``stored_tokens``,
without their deposits. The bot vouches for none of it: the opener verifies the record
against the key the clinic enrolled, and every deposit against the record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from medcrypt.crypto.errors import MalformedToken
from medcrypt.crypto.keyless.epochs import is_readable
from medcrypt.crypto.keyless.record_wire import encode_record_head
from medcrypt.crypto.keyless.wire import Kind, parse_raw
from medcrypt.storage.db import Session
from medcrypt.storage.repos import epochs, escrow, tokens, v3escrow

#: How a v3 segment deposit travels inside a bundle (never as a token on a platform).
V3_DEPOSIT_ITEM = bytes((3, 4))


@dataclass
class Collected:
    items: list[bytes] = field(default_factory=list)
    deposits: int = 0
    messages: int = 0
    epochs: set[int] = field(default_factory=set)
    #: Epochs seen in storage but left out because they are shredded or past grace.
    excluded_epochs: set[int] = field(default_factory=set)
    #: Epochs with messages but no deposit: the quorum will not be able to open them.
    without_deposit: set[int] = field(default_factory=set)
    skipped: int = 0
    #: Sealed pinned-key records (v3 pairings only).
    records: int = 0


def _raw_rows(session: Session, pairing_id: bytes) -> list[bytes]:
    hex_id = pairing_id.hex()
    return (tokens.relayed_raw(session, hex_id, int(Kind.MESSAGE))
            + escrow.deposits_raw(session, hex_id))


def shredded_epochs(session: Session, pairing_id: bytes) -> set[int]:
    return epochs.shredded_epochs(session, pairing_id.hex())


def collect(session: Session, pairing_id: bytes, *, grace_days: int, now: datetime) -> Collected:
    """Everything exportable for ``pairing_id`` at ``now``, in a stable order."""
    out = Collected()
    shredded = shredded_epochs(session, pairing_id)
    seen: set[bytes] = set()
    deposit_epochs: set[int] = set()
    message_epochs: set[int] = set()
    for raw in _raw_rows(session, pairing_id):
        if raw in seen:
            continue
        seen.add(raw)
        try:
            h = parse_raw(raw).header
        except MalformedToken:
            out.skipped += 1
            continue
        if h.pairing_id != pairing_id or h.epoch is None or h.kind not in (
                Kind.MESSAGE, Kind.ESCROW_DEPOSIT):
            out.skipped += 1
            continue
        if h.epoch in shredded or not is_readable(h.epoch, now, grace_days):
            out.excluded_epochs.add(h.epoch)
            continue
        out.items.append(raw)
        out.epochs.add(h.epoch)
        if h.kind is Kind.ESCROW_DEPOSIT:
            out.deposits += 1
            deposit_epochs.add(h.epoch)
        else:
            out.messages += 1
            message_epochs.add(h.epoch)
    for row in v3escrow.deposits_of(session, pairing_id.hex()):
        if row.epoch in shredded or not is_readable(row.epoch, now, grace_days):
            out.excluded_epochs.add(row.epoch)
            continue
        out.items.append(V3_DEPOSIT_ITEM + row.raw)
        out.epochs.add(row.epoch)
        out.deposits += 1
        deposit_epochs.add(row.epoch)
    for sealed in v3escrow.records_of(session, pairing_id.hex()):
        out.items.append(encode_record_head(pairing_id) + sealed)
        out.records += 1
    out.excluded_epochs |= {e for e in shredded if e not in out.epochs}
    out.without_deposit = message_epochs - deposit_epochs
    return out
