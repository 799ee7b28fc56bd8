"""Delete everything the bot stores for a set of (pairing, epoch) pairs, inside the caller's
transaction.

What an epoch leaves behind on the bot: relayed tokens (``stored_tokens``), escrow
deposits, cached media (rows and files on disk), parts of split tokens still waiting to
be joined, and outbox rows whose payload is a token or file of that epoch (a relayed
token sits in the outbox as text until it is pruned). Rows are found by their routing
headers only - keyless, so the bot never needs a key to know what to delete.

Parts carry no epoch of their own: a part group belongs to an epoch when its part 0
(which starts with the original token's header) names the pairing and epoch; a group
whose part 0 never arrived is deleted once it is older than the epoch's end, since no
token of a later epoch can have been sent before that instant.
"""

from __future__ import annotations

import contextlib
import functools
import os
import struct
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from medcrypt.crypto.errors import MalformedToken
from medcrypt.crypto.keyless.epochs import epoch_end
from medcrypt.crypto.keyless.wire import Kind, parse_file_header, parse_token
from medcrypt.storage.models.escrow import EscrowDeposit
from medcrypt.storage.models.media import MediaBlob
from medcrypt.storage.models.outbox import OutboxMessage
from medcrypt.storage.models.parts import PendingPart
from medcrypt.storage.models.tokens import StoredToken

Target = tuple[str, int]  # (pairing_id hex, epoch)
_TOKEN_PREFIX = struct.Struct(">BB16sI")  # version kind pairing_id epoch
_ID_CHUNK = 500


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


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _ID_CHUNK):
        yield items[start:start + _ID_CHUNK]


def _purge_keyed(session: Session, model: type[StoredToken] | type[EscrowDeposit],
                 targets: list[Target], label: str, out: Purged) -> None:
    for epoch, pairing_ids in _by_epoch(targets).items():
        for ids in _chunks(pairing_ids):
            where = (model.epoch == epoch, model.pairing_id.in_(ids))
            counts = session.execute(
                select(model.pairing_id, func.count()).where(*where).group_by(model.pairing_id)
            ).all()
            if not counts:
                continue
            for pairing_id, n in counts:
                out.per_target[(pairing_id, epoch)][label] += int(n)
            session.execute(delete(model).where(*where))


def _purge_media(session: Session, targets: list[Target], out: Purged) -> None:
    for epoch, pairing_ids in _by_epoch(targets).items():
        for ids in _chunks(pairing_ids):
            where = (MediaBlob.epoch == epoch, MediaBlob.pairing_id.in_(ids))
            rows = session.execute(select(MediaBlob.pairing_id, MediaBlob.path).where(*where)).all()
            if not rows:
                continue
            for pairing_id, path in rows:
                out.per_target[(str(pairing_id), epoch)]["media"] += 1
                # Unlink before the rows go: if we die between the two, the next run
                # finds the rows again and the missing file is not an error.
                if path:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
            session.execute(delete(MediaBlob).where(*where))


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
    for ids in _chunks(senders):
        rows = session.execute(
            select(PendingPart.id, PendingPart.sender_id, PendingPart.group_id,
                   PendingPart.part_index, PendingPart.chunk, PendingPart.received_at)
            .where(PendingPart.sender_id.in_(ids))
        ).all()
        groups: dict[tuple[str, str], list[tuple[int, int, bytes, datetime]]] = defaultdict(list)
        for row in rows:
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
        for start in range(0, len(doomed), _ID_CHUNK):
            session.execute(delete(PendingPart).where(
                PendingPart.id.in_(doomed[start:start + _ID_CHUNK])))


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
    pairing_ids = sorted({pid for pid, _ in targets})
    for ids in _chunks(pairing_ids):
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.payload_kind, OutboxMessage.payload)
            .where(OutboxMessage.pairing_id.in_(ids),
                   OutboxMessage.payload_kind.in_(("text", "document")))
        ).all()
        doomed: list[int] = []
        group_target: dict[bytes, Target] = {}
        group_rows: dict[bytes, list[int]] = defaultdict(list)
        for row_id, kind, payload in rows:
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
        for start in range(0, len(doomed), _ID_CHUNK):
            session.execute(delete(OutboxMessage).where(
                OutboxMessage.id.in_(doomed[start:start + _ID_CHUNK])))


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
    _purge_keyed(session, StoredToken, targets, "tokens", out)
    _purge_keyed(session, EscrowDeposit, targets, "escrow", out)
    _purge_media(session, targets, out)
    if session.scalar(select(PendingPart.id).limit(1)) is not None:
        _purge_parts(session, targets, members(), out)
    _purge_outbox(session, targets, out)
    return out
