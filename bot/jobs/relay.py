"""The key lifecycle for what the running relay stores (``bot_*`` tables).

The relay keeps its own pairings, relayed tokens, split parts, outbox and media
(storage/models/bot_relay.py); it already refuses tokens past their grace end by the
calendar. This module makes the scheduled and on-demand jobs cover those tables too:

* rotation notices to both members of every active relay pairing, once per epoch;
* the sweep: a day-before warning, then - once an epoch's grace has ended - deletion of
  its relayed tokens (raw binaries kept for break-glass), outbox rows carrying its
  tokens or files, cached media and parts waiting to be joined; notices and an audit
  entry with the counts;
* :func:`shred_relay_pairing` for ``/shred`` and ``/delete_me``.

Exactly-once without a dedupe column in the relay's outbox: every notice and audit
entry hangs off a claim in ``job_claims`` inserted with ``ON CONFLICT DO NOTHING`` in the
same transaction, so concurrent or repeated runs notify and audit once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, false, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.jobs import notices
from bot.jobs.context import SCHEDULER_REF, JobContext
from bot.jobs.purge import Target, _outbox_target, _token_target
from bot.messages import OutboundMessage, OutKind
from bot.outbox import queue as relay_outbox
from crypto.audit import Action
from crypto.epochs import MAX_GRACE_DAYS, epoch_of, grace_end
from crypto.errors import MalformedToken
from crypto.wire import parse_file_header, parse_token
from storage.audit import AuditEvent
from storage.models.bot_relay import (
    BotMedia,
    BotOutbox,
    BotPairing,
    BotPendingPart,
    BotRelayedToken,
)
from storage.models.jobs import JobClaim

BATCH = 500
WARN_AHEAD = timedelta(days=1)
#: Parts whose first part never arrived cannot name their epoch; past any possible
#: grace end (longest month + longest grace window) they are deleted regardless.
ORPHAN_PART_AGE = timedelta(days=31 + MAX_GRACE_DAYS)


def claim(session: Session, keys: Sequence[str], now: datetime) -> set[str]:
    """Insert claims; returns the keys this transaction won (RETURNING, not a pre-check,
    so two processes racing for the same key cannot both win)."""
    if not keys:
        return set()
    table: Any = JobClaim.__table__
    dialect = session.get_bind().dialect.name
    base: Any = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    stmt = base.on_conflict_do_nothing().returning(table.c.key)
    won: set[str] = set()
    for start in range(0, len(keys), 1000):
        rows = [{"key": k, "created_at": now} for k in keys[start:start + 1000]]
        won |= {str(k) for k in session.scalars(stmt, rows)}
    return won


def _write_lock(session: Session) -> None:
    """A write that touches nothing, as the transaction's first statement: on SQLite it
    takes the write lock (waiting up to busy_timeout) before anything is read, so the
    later writes never fail on a lock upgrade."""
    session.execute(delete(JobClaim).where(false()))


def notify(session: Session, members: Iterable[str], text: str, now: datetime) -> int:
    n = 0
    for member in members:
        relay_outbox.enqueue(session, OutboundMessage(recipient_id=member, kind=OutKind.NOTICE,
                                                      text=text), [text], now)
        n += 1
    return n


def _members(p: BotPairing) -> list[str]:
    return [m for m in (p.physician_id, p.patient_id) if m]


def rotate_relay(ctx: JobContext, now: datetime, *, actor: str = SCHEDULER_REF,
                 batch: int = 1000) -> Counter[str]:
    """Tell both members of every active relay pairing that a new month's keys began."""
    epoch = epoch_of(now)
    counts: Counter[str] = Counter()
    after = b""
    while True:
        with ctx.sessions() as session:
            page = list(session.scalars(
                select(BotPairing).where(BotPairing.status == "active",
                                         BotPairing.start_epoch < epoch,
                                         BotPairing.pairing_id > after)
                .order_by(BotPairing.pairing_id).limit(batch)))
        if not page:
            return counts
        after = page[-1].pairing_id
        with ctx.sessions.begin() as session:
            won = claim(session, [f"rot:{p.pairing_id.hex()}:{epoch}" for p in page], now)
            events = []
            for p in page:
                if f"rot:{p.pairing_id.hex()}:{epoch}" not in won:
                    continue
                text = notices.rotated(epoch, grace_end(epoch - 1, p.grace_days))
                counts["notices_queued"] += notify(session, _members(p), text,
                                                    now)
                counts["pairings_rotated"] += 1
                events.append(AuditEvent(actor, Action.EPOCH_ROTATED,
                                         ctx.pairing_ref(p.pairing_id.hex()),
                                         {"epoch": epoch, "store": "relay"}))
            if events:
                ctx.audit.append_many(events, session=session)


def _purge(session: Session, targets: list[Target],
           pairings: dict[bytes, BotPairing]) -> dict[Target, Counter[str]]:
    per: dict[Target, Counter[str]] = defaultdict(Counter)
    wanted = set(targets)
    by_epoch: dict[int, list[bytes]] = defaultdict(list)
    for pid, epoch in targets:
        by_epoch[epoch].append(bytes.fromhex(pid))
    for epoch, ids in by_epoch.items():
        where = (BotRelayedToken.epoch == epoch, BotRelayedToken.pairing_id.in_(ids))
        for raw_id, n in session.execute(select(BotRelayedToken.pairing_id, func.count())
                                         .where(*where).group_by(BotRelayedToken.pairing_id)):
            per[(bytes(raw_id).hex(), epoch)]["tokens"] += int(n)
        session.execute(delete(BotRelayedToken).where(*where))
    pids = sorted({bytes.fromhex(p) for p, _ in targets})
    rows = session.execute(select(BotOutbox.id, BotOutbox.kind, BotOutbox.body,
                                  BotOutbox.media_id)
                           .where(BotOutbox.pairing_id.in_(pids),
                                  BotOutbox.kind.in_((OutKind.TOKEN.value,
                                                      OutKind.FILE.value)))).all()
    doomed_rows: list[int] = []
    doomed_media: list[str] = []
    groups: dict[bytes, list[int]] = defaultdict(list)
    group_target: dict[bytes, Target] = {}
    for row_id, kind, body, media_id in rows:
        if kind == OutKind.FILE.value:
            if media_id is None:
                continue
            data = session.scalar(select(func.substr(BotMedia.data, 1, 64))
                                  .where(BotMedia.id == media_id))
            try:
                header = parse_file_header(bytes(data or b""))
            except MalformedToken:
                continue
            target: Target | None = (header.pairing_id.hex(), header.epoch)
            if target in wanted:
                doomed_rows.append(row_id)
                doomed_media.append(media_id)
                per[target]["files"] += 1
            continue
        target, group, _index = _outbox_target("text", body.encode("ascii", "replace"))
        if group is not None:
            groups[group].append(row_id)
            if target is not None:
                group_target[group] = target
        elif target in wanted:
            doomed_rows.append(row_id)
            per[target]["outbox"] += 1
    for group, target in group_target.items():
        if target in wanted:
            doomed_rows.extend(groups[group])
            per[target]["outbox"] += len(groups[group])
    for start in range(0, len(doomed_rows), 500):
        session.execute(delete(BotOutbox).where(BotOutbox.id.in_(doomed_rows[start:start + 500])))
    if doomed_media:
        session.execute(delete(BotMedia).where(BotMedia.id.in_(doomed_media)))
    senders = sorted({m for p in pairings.values() for m in _members(p)})
    parts = session.execute(select(BotPendingPart.id, BotPendingPart.sender_id,
                                   BotPendingPart.group_id, BotPendingPart.text)
                            .where(BotPendingPart.sender_id.in_(senders),
                                   BotPendingPart.part_index == 0)).all()
    for _id, sender, group_id, text in parts:
        try:
            token = parse_token(text)
        except MalformedToken:
            continue
        named = _token_target(token.part.chunk) if token.part is not None else None
        if named is not None and named in wanted:
            gone: Any = session.execute(delete(BotPendingPart).where(
                BotPendingPart.sender_id == sender, BotPendingPart.group_id == group_id))
            per[named]["parts"] += int(gone.rowcount or 0)
    return per


def _shred(ctx: JobContext, session: Session, targets: list[Target], now: datetime, *,
           actor: str, reason: str, notice: bool) -> Counter[str]:
    """Purge ``targets`` in the caller's transaction; notify/audit those first claimed."""
    total: Counter[str] = Counter()
    if not targets:
        return total
    _write_lock(session)
    pairings = {p.pairing_id: p for p in session.scalars(select(BotPairing).where(
        BotPairing.pairing_id.in_(sorted({bytes.fromhex(t[0]) for t in targets}))))}
    won = claim(session, [f"shred:{pid}:{epoch}" for pid, epoch in targets], now)
    per = _purge(session, targets, pairings)
    events = []
    for pid, epoch in targets:
        counts = per.get((pid, epoch), Counter())
        total.update(counts)
        if f"shred:{pid}:{epoch}" not in won:
            continue
        total["epochs"] += 1
        p = pairings.get(bytes.fromhex(pid))
        if notice and p is not None:
            total["notices"] += notify(session, _members(p), notices.shredded(epoch, now),
                                       now)
        details: dict[str, str | int | bool | list[str | int | bool | None] | None] = {
            "epoch": epoch, "reason": reason, "store": "relay"}
        details.update({k: int(v) for k, v in sorted(counts.items())})
        events.append(AuditEvent(actor, Action.EPOCH_SHREDDED, ctx.pairing_ref(pid), details))
    if events:
        ctx.audit.append_many(events, session=session)
    return total


def sweep_relay(ctx: JobContext, now: datetime, *, actor: str = SCHEDULER_REF,
                batch: int = BATCH) -> Counter[str]:
    """Warn about and shred relay-held epochs whose grace window is ending or over."""
    current = epoch_of(now)
    counts: Counter[str] = Counter()
    with ctx.sessions() as session:
        held = session.execute(
            select(BotRelayedToken.pairing_id, BotRelayedToken.epoch, BotPairing.grace_days)
            .join(BotPairing, BotPairing.pairing_id == BotRelayedToken.pairing_id)
            .where(BotRelayedToken.epoch < current).distinct()).all()
        pairings = {p.pairing_id: p for p in session.scalars(select(BotPairing))} if held else {}
    due: list[Target] = []
    warn: list[tuple[bytes, int, datetime]] = []
    for pid, epoch, grace_days in held:
        ends = grace_end(epoch, grace_days)
        if now >= ends:
            due.append((bytes(pid).hex(), int(epoch)))
        elif now >= ends - WARN_AHEAD:
            warn.append((bytes(pid), int(epoch), ends))
    if warn:
        with ctx.sessions.begin() as session:
            won = claim(session, [f"warn:{p.hex()}:{e}" for p, e, _ in warn], now)
            for pid, epoch, ends in warn:
                if f"warn:{pid.hex()}:{epoch}" in won and pid in pairings:
                    counts["warnings_queued"] += notify(
                        session, _members(pairings[pid]), notices.shred_soon(epoch, ends), now)
    due.sort()
    for start in range(0, len(due), batch):
        with ctx.sessions.begin() as session:
            counts.update(_shred(ctx, session, due[start:start + batch], now, actor=actor,
                                 reason="grace_ended", notice=True))
    with ctx.sessions.begin() as session:
        orphans: Any = session.execute(delete(BotPendingPart).where(
            BotPendingPart.received_at < now - ORPHAN_PART_AGE))
        counts["orphan_parts"] += int(orphans.rowcount or 0)
    return counts


def shred_relay_pairing(ctx: JobContext, pairing_id: bytes, now: datetime, *, actor: str,
                        reason: str, notice: bool = True) -> Counter[str]:
    """Delete everything the relay holds for ``pairing_id`` up to this month, now."""
    current = epoch_of(now)
    with ctx.sessions.begin() as session:
        _write_lock(session)
        p = session.get(BotPairing, pairing_id)
        epochs = set(session.scalars(select(BotRelayedToken.epoch).where(
            BotRelayedToken.pairing_id == pairing_id).distinct()))
        start = p.start_epoch if p is not None else min(epochs, default=current)
        targets = [(pairing_id.hex(), e) for e in sorted(epochs | set(range(start, current + 1)))
                   if e <= current]
        counts = _shred(ctx, session, targets, now, actor=actor, reason=reason, notice=False)
        if notice and p is not None:
            counts["notices"] += notify(session, _members(p),
                                        notices.shredded_now(current, now), now)
    return counts


def relay_pairings_of(ctx: JobContext, identity_id: str) -> list[bytes]:
    with ctx.sessions() as session:
        return list(session.scalars(select(BotPairing.pairing_id).where(
            or_(BotPairing.physician_id == identity_id, BotPairing.patient_id == identity_id))))

