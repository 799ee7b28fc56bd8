"""Delete everything the bot stores for a set of (pairing, epoch) pairs, inside the caller's
transaction.

What an epoch leaves behind on the bot: relayed tokens (``stored_tokens``), escrow (v2 and v3)
deposits, cached media (rows and files on disk), parts of split tokens still waiting to
be joined, and outbox rows whose payload is a token or file of that epoch (a relayed
token sits in the outbox as text until it is pruned). Rows are found by their routing
headers only - keyless, so the bot never needs a key to know what to delete.

Parts carry no epoch of their own: a part group belongs to an epoch when its part 0
(which starts with the original token's header) names the pairing and epoch; a group
whose part 0 never arrived is deleted once it is older than the epoch's end, since no
token of a later epoch can have been sent before that instant.

The statements are :mod:`storage.repos.shred`; this module decides, from the headers,
which rows belong to which target.
"""

from __future__ import annotations

import functools
import struct
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from medcrypt.crypto.errors import MalformedToken
from medcrypt.crypto.keyless.epochs import epoch_end
from medcrypt.crypto.keyless.wire import Kind, parse_file_header, parse_token
from medcrypt.storage.db import Session
from medcrypt.storage.repos import shred as rows

Target = tuple[str, int]  # (pairing_id hex, epoch)
_TOKEN_PREFIX = struct.Struct(">BB16sI")  # version kind pairing_id epoch


@dataclass
class Purged:
    """Rows deleted, per target (for the audit entry) and in total."""

    per_target: dict[Target, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def total(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for counts in self.per_target.values():
            out.update(counts)
        return out


def _by_epoch(targets: Iterable[Target]) -> dict[int, list[str]]:
    grouped: dict[int, list[str]] = defaultdict(list)
    for pairing_id, epoch in targets:
        grouped[epoch].append(pairing_id)
    return grouped


_DELETE_BY_COLUMNS: tuple[tuple[str, Callable[[Session, int, list[str]], Counter[str]]], ...] = (
    ("tokens", rows.delete_tokens), ("escrow", rows.delete_deposits),
    ("escrow_v3", rows.delete_segment_deposits), ("media", rows.delete_media))


def _purge_by_columns(session: Session, targets: list[Target], out: Purged) -> None:
    """Tokens, deposits and files: their rows name pairing and epoch."""
    for label, delete in _DELETE_BY_COLUMNS:
        for epoch, pairing_ids in _by_epoch(targets).items():
            for pairing_id, n in delete(session, epoch, pairing_ids).items():
                out.per_target[(pairing_id, epoch)][label] += n


def _token_target(raw: bytes) -> Target | None:
    if len(raw) < _TOKEN_PREFIX.size:
        return None
    _version, kind, pairing, epoch = _TOKEN_PREFIX.unpack_from(raw)
    if kind not in (Kind.MESSAGE, Kind.ESCROW_DEPOSIT, Kind.PAIR_REGISTER):
        return None
    return pairing.hex(), int(epoch)


def _purge_parts(session: Session, targets: list[Target], members: dict[str, list[str]],
                 out: Purged) -> None:
    wanted = set(targets)
    senders = sorted({m for pid, _ in targets for m in members.get(pid, [])})
    end_of = functools.cache(epoch_end)  # one per epoch, and only for orphaned groups
    groups: dict[tuple[str, str], list[tuple[int, int, bytes, datetime]]] = defaultdict(list)
    for row in rows.parts_of_senders(session, senders):
        groups[(row.sender_id, row.group_id)].append(
            (row.id, row.part_index, row.chunk, row.received_at))
    doomed: list[int] = []
    for (sender, _group), parts in groups.items():
        first = next((p for p in parts if p[1] == 0), None)
        hit: Target | None = None
        if first is not None:
            named = _token_target(first[2])
            hit = named if named in wanted else None
        else:
            newest = max(p[3] for p in parts)
            hit = next((t for t in targets if sender in members.get(t[0], [])
                        and newest < end_of(t[1])), None)
        if hit is not None:
            out.per_target[hit]["parts"] += len(parts)
            doomed.extend(p[0] for p in parts)
    rows.delete_parts(session, doomed)


def _outbox_target(kind: str, payload: bytes) -> tuple[Target | None, bytes | None, int | None]:
    """(target, part group, part index) named by an outbox payload's routing header."""
    try:
        if kind == "document":
            header = parse_file_header(payload)
            return (header.pairing_id.hex(), header.epoch), None, None
        token = parse_token(payload.decode("ascii"))
    except (MalformedToken, UnicodeDecodeError):
        return None, None, None
    if token.part is not None:
        target = _token_target(token.part.chunk) if token.part.index == 0 else None
        return target, token.part.group_id, token.part.index
    if token.header.pairing_id is None or token.header.epoch is None:
        return None, None, None
    return (token.header.pairing_id.hex(), token.header.epoch), None, None


def _purge_outbox(session: Session, targets: list[Target], out: Purged) -> None:
    wanted = set(targets)
    doomed: list[int] = []
    group_target: dict[bytes, Target] = {}
    group_rows: dict[bytes, list[int]] = defaultdict(list)
    for row_id, kind, payload in rows.relayed_outbox_rows(
            session, sorted({pid for pid, _ in targets})):
        target, group, _index = _outbox_target(kind, payload)
        if group is not None:
            group_rows[group].append(row_id)
            if target is not None:
                group_target[group] = target
        elif target in wanted:
            doomed.append(row_id)
            out.per_target[target]["outbox"] += 1
    for group, target in group_target.items():
        if target in wanted:
            doomed.extend(group_rows[group])
            out.per_target[target]["outbox"] += len(group_rows[group])
    rows.delete_outbox_rows(session, doomed)


def purge(session: Session, targets: list[Target],
          members: Callable[[], dict[str, list[str]]]) -> Purged:
    """Delete every stored row of ``targets``; ``members()`` maps pairing id → identity ids.

    ``members`` is only called when parts are waiting to be joined at all: parts live
    for seconds while a split token arrives, so usually the table is empty and the
    sweep skips reading every batch's members.
    """
    out = Purged()
    if not targets:
        return out
    _purge_by_columns(session, targets, out)
    if rows.any_pending_parts(session):
        _purge_parts(session, targets, members(), out)
    _purge_outbox(session, targets, out)
    return out
