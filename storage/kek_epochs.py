"""Shred epochs of the key tree: close one, or move the live DEKs onto the current KEK.

Why (issue 17, docs/adr/0039-shred-epochs.md): destroying a person's DEK row shreds them
in the live database, but a backup taken before still holds the wrapped DEK *and* the
provider-wrapped KEK above it, and while the root version that wrapped that KEK lives,
the backup opens. So KEKs belong to *shred epochs*. Closing one

1. makes the provider's root version newer than the current KEK's (``rotate``; with the
   ``env`` provider the operator does this by prepending a server key),
2. makes a new KEK under it (one provider call) - new DEKs go under it from then on -
   and the new epoch's blind-index DEK (ADR 0039, Amendment 1),
2b. recomputes every live row's blind index under that DEK and destroys the older index
   DEKs (:mod:`storage.reindex`; lookups try both until then),
3. rewraps every live DEK from the older KEKs onto it, in batches of one transaction
   each, by compare-and-set (a DEK destroyed meanwhile stays destroyed),
4. retires an older KEK once no live DEK is left on it (its wrapped bytes are blanked),
5. destroys, oldest first, every root version older than every live KEK's - the step
   that makes a backup's DEKs unopenable for good (``env``: the operator removes the
   key from ``MEDCRYPT_SERVER_KEYS``; this module only reports which).

Every step finds its own state in the database and the provider, so a run killed at any
point is finished by the next one (``keys close-epoch`` again, or ``keys rewrap-deks``),
and nothing is done twice. No personal data is read: ids, versions and wrapped bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from medcrypt.crypto.errors import PolicyViolation
from medcrypt.crypto.server import keytree as kt
from medcrypt.crypto.server.provider import wrapped_version
from medcrypt.storage import deks, index_keys, reindex
from medcrypt.storage.models.keytree import Dek, Kek

_DEKS: Table = Dek.__table__  # type: ignore[assignment]
#: Longest a shred epoch may last (issue 17): the restore window and the longest an
#: erasure takes to reach the backups.
MAX_EPOCH_DAYS = 30
DEFAULT_BATCH = 500
#: ``(done, total)`` after each committed batch.
Progress = Callable[[int, int], None]
Sessions = sessionmaker[Session]

#: Compare-and-set: only a row still live and still on the KEK it was read under moves.
_MOVE = (update(_DEKS)
         .where(_DEKS.c.id == bindparam("b_id"), _DEKS.c.kek_id == bindparam("b_old"),
                _DEKS.c.wrapped == bindparam("b_wrapped"), _DEKS.c.destroyed_at.is_(None))
         .values(kek_id=bindparam("b_new"), wrapped=bindparam("b_rewrapped")))


class RootAdmin(Protocol):
    """The provider's root-version half (:class:`~medcrypt.crypto.server.provider.KeyAdmin`)."""

    def versions(self) -> tuple[int, ...]: ...

    def rotate(self) -> int: ...

    def destroy_version(self, version: int) -> None: ...


class NeedsOperator(PolicyViolation):
    """The epoch cannot close with the credentials at hand: the root must move first
    (``env``: a new server key; Transit: the operator's token)."""


@dataclass(frozen=True)
class KekInfo:
    kek_id: str
    root_version: int
    created_at: datetime
    live_deks: int


@dataclass(frozen=True)
class EpochStatus:
    """The provider's KEKs as the database holds them (no provider call, no personal data)."""

    provider: str
    #: Live KEKs, newest (the current epoch's) first.
    keks: tuple[KekInfo, ...]
    retired: int

    @property
    def current(self) -> KekInfo | None:
        return self.keks[0] if self.keks else None

    @property
    def pending(self) -> int:
        """Live DEKs still on an older KEK: a close (or rewrap) is unfinished."""
        return sum(k.live_deks for k in self.keks[1:])

    def due(self, now: datetime, epoch_days: int, *, slack: timedelta) -> bool:
        """Whether the current epoch must close now: it would pass ``epoch_days`` before
        the next check (``slack`` later), or an earlier close is unfinished."""
        current = self.current
        if current is None:
            return False
        return bool(self.keks[1:]) or (
            now + slack >= current.created_at + timedelta(days=epoch_days))


@dataclass
class CloseReport:
    """What a close or rewrap did: PHI-free counts for the job log and the CLI."""

    kek_id: str = ""
    root_version: int = 0
    opened: bool = False
    rewrapped: int = 0
    retired: int = 0
    destroyed_versions: list[int] = field(default_factory=list)
    #: ``env`` only: keyring versions no KEK needs any more, for the operator to remove.
    removable_env_versions: list[int] = field(default_factory=list)
    provider_calls: int = 0
    #: Live DEKs still on an older KEK after the run (a row changed under it): run again.
    pending: int = 0
    #: Blind indexes recomputed under the new epoch's index DEK, and older index DEKs
    #: destroyed (storage/reindex.py).
    reindexed: int = 0
    index_keys_destroyed: int = 0
    #: Rows still indexed under an older index DEK (raced the pass): run again.
    index_pending: int = 0

    @property
    def unfinished(self) -> int:
        """DEKs and blind indexes still on an older epoch: the close must run again."""
        return self.pending + self.index_pending

    def summary(self) -> dict[str, Any]:
        return {"opened": int(self.opened), "rewrapped": self.rewrapped,
                "retired_keks": self.retired, "root_version": self.root_version,
                "destroyed_versions": len(self.destroyed_versions),
                "provider_calls": self.provider_calls, "pending": self.unfinished,
                "reindexed": self.reindexed,
                "index_keys_destroyed": self.index_keys_destroyed}


def status(session: Session, provider: str) -> EpochStatus:
    """Live KEKs of ``provider`` with their live DEK counts, newest first."""
    live = (select(Dek.kek_id, func.count().label("n")).where(Dek.destroyed_at.is_(None))
            .group_by(Dek.kek_id).subquery())
    rows = session.execute(
        select(Kek.id, Kek.root_version, Kek.created_at, func.coalesce(live.c.n, 0))
        .outerjoin(live, live.c.kek_id == Kek.id)
        .where(Kek.provider == provider, Kek.retired_at.is_(None))
        .order_by(Kek.created_at.desc(), Kek.id)).all()
    retired = session.scalar(select(func.count()).select_from(Kek).where(
        Kek.provider == provider, Kek.retired_at.is_not(None))) or 0
    return EpochStatus(provider, tuple(KekInfo(str(i), int(v), at, int(n))
                                       for i, v, at, n in rows), int(retired))


def open_next(sessions: Sessions, tree: kt.KeyTree, admin: RootAdmin | None, *,
              now: datetime, report: CloseReport) -> None:
    """Steps 1-2: a new KEK under a root version newer than the current KEK's.

    Does nothing while an earlier close is unfinished (older live KEKs remain): that
    close is resumed instead, so a killed run never opens two epochs.
    """
    with sessions() as session:
        state = status(session, tree.provider_name)
    current = state.current
    if current is not None and len(state.keks) > 1:
        return
    if current is not None:
        # The new KEK needs a root version that never wrapped an older KEK (``keys
        # rewrap`` re-wraps a KEK under the current version): destroying every version
        # below it must leave no copy of an older KEK openable, backups included.
        root_now = _root_version(tree, admin)
        with sessions() as session:
            used = session.scalar(select(func.max(Kek.root_version))
                                  .where(Kek.provider == tree.provider_name)) or 0
        if root_now <= used:
            if tree.provider_name == "env" or admin is None:
                raise NeedsOperator(
                    f"{tree.provider_name}: root version {root_now} already wrapped a "
                    "KEK; a new epoch needs a newer one (env: `keys generate`, prepend "
                    "it to the server keys, then close the epoch before `keys rewrap`; "
                    "transit: run this with the operator's token)")
            admin.rotate()
            report.provider_calls += 1
    before = tree.provider_calls
    with sessions.begin() as session:
        # The newest KEK is the current one (storage.deks.current_kek): a clock that
        # stands still or was set back (``jobs run --now``) must not leave the new KEK
        # older than the one it replaces.
        newest = session.scalar(select(func.max(Kek.created_at))
                                .where(Kek.provider == tree.provider_name))
        made = now if newest is None else max(now, newest + timedelta(microseconds=1))
        kek_id, wrapped = tree.new_kek()
        session.add(Kek(id=kek_id, provider=tree.provider_name,
                        root_version=wrapped_version(wrapped), wrapped=wrapped,
                        created_at=made))
        session.flush()
        # The new epoch's blind-index key, under the new KEK, in the same commit: a
        # resumed close finds it as the newest index key (storage/reindex.py).
        index_keys.open_epoch_key(session, tree, now=made)
    report.provider_calls += tree.provider_calls - before
    report.opened = True


def _root_version(tree: kt.KeyTree, admin: RootAdmin | None) -> int:
    """The provider's current root version (the highest it still holds)."""
    source: Any = admin if admin is not None else tree.root
    versions = source.versions() if hasattr(source, "versions") else ()
    if not versions:
        raise NeedsOperator(f"{tree.provider_name}: cannot list root versions")
    return int(max(versions))


def rewrap_rows(session: Session, tree: kt.KeyTree, rows: list[Any], *,
                to_kek: tuple[str, bytes]) -> int:
    """Rewrap DEK rows (id, version, purpose, person_id, kek_id, wrapped, kek_wrapped)
    read earlier onto ``to_kek``, by compare-and-set; returns rows moved. A row destroyed
    or rewrapped since it was read is left as it is now."""
    new_id, new_wrapped = to_kek
    new_kek = tree.kek(new_id, new_wrapped)
    params = []
    for r in rows:
        old_kek = tree.kek(str(r.kek_id), bytes(r.kek_wrapped))
        key = kt.unwrap_dek(old_kek, bytes(r.wrapped), purpose=r.purpose,
                            person_id=r.person_id, dek_id=r.id, version=r.version,
                            kek_id=r.kek_id)
        try:
            rewrapped = kt.wrap_dek(new_kek, key, purpose=r.purpose, person_id=r.person_id,
                                    dek_id=r.id, version=r.version, kek_id=new_id)
        finally:
            key[:] = bytes(len(key))  # zero the DEK; only its rewrapped form is kept
        params.append({"b_id": r.id, "b_old": r.kek_id, "b_wrapped": bytes(r.wrapped),
                       "b_new": new_id, "b_rewrapped": rewrapped})
    moved = 0
    for p in params:  # one statement per row: each CAS result is counted exactly
        moved += int(getattr(session.connection().execute(_MOVE, p), "rowcount", 0) or 0)
    return moved


def _batch(session: Session, kek_ids: list[str], size: int) -> list[Any]:
    return list(session.execute(
        select(Dek.id, Dek.version, Dek.purpose, Dek.person_id, Dek.kek_id, Dek.wrapped,
               Kek.wrapped.label("kek_wrapped"))
        .join(Kek, Kek.id == Dek.kek_id)
        .where(Dek.kek_id.in_(kek_ids), Dek.destroyed_at.is_(None))
        .order_by(Dek.id).limit(size)).all())


def rewrap_deks(sessions: Sessions, tree: kt.KeyTree, *, now: datetime,
                batch: int = DEFAULT_BATCH, progress: Progress | None = None,
                report: CloseReport | None = None,
                index_progress: Progress | None = None) -> CloseReport:
    """Steps 3-4, after the blind indexes: recompute every live row's index under
    the current index DEK and destroy the older index DEKs (storage/reindex.py), then
    move every live DEK onto the current KEK and retire emptied KEKs. One transaction
    per batch; resumable (what moved stays moved)."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    report = report or CloseReport()
    before = tree.provider_calls
    indexed = reindex.reindex(sessions, tree, now=now, batch=batch,
                              progress=index_progress)
    report.reindexed += indexed.rows
    report.index_keys_destroyed += indexed.destroyed_keys
    report.index_pending = indexed.pending
    if indexed.pending:
        # Keep the old KEK live (and the close due): the old index DEK is still needed
        # by a row that raced the pass, and the next run recomputes it.
        report.provider_calls += tree.provider_calls - before
        return report
    with sessions() as session:
        state = status(session, tree.provider_name)
    current = state.current
    if current is None:
        return report
    report.kek_id, report.root_version = current.kek_id, current.root_version
    older = [k.kek_id for k in state.keks[1:]]
    total, done = state.pending, 0
    if progress is not None:
        progress(0, total)
    while older:
        with sessions.begin() as session:
            rows = _batch(session, older, batch)
            if not rows:
                break
            to = deks.kek_row(session, current.kek_id)
            moved = rewrap_rows(session, tree, rows, to_kek=to)
        if moved == 0:  # every row changed under us (destroyed, moved): next run
            break
        done += moved
        report.rewrapped += moved
        if progress is not None:
            progress(min(done, total), max(total, done))
    for kek_id in older:
        if _retire(sessions, kek_id, now=now):
            tree.forget_kek(kek_id)
            report.retired += 1
    report.provider_calls += tree.provider_calls - before
    return report


def _retire(sessions: Sessions, kek_id: str, *, now: datetime) -> bool:
    """Retire an emptied KEK: the row stays (destroyed DEKs reference it), its wrapped
    bytes go. Refused while a live DEK is on it; the KEK row is locked first, so a DEK
    being created under it (which share-locks it) commits before the count."""
    with sessions.begin() as session:
        if not deks.lock_kek(session, kek_id):
            return False
        left = session.scalar(select(func.count()).select_from(Dek).where(
            Dek.kek_id == kek_id, Dek.destroyed_at.is_(None))) or 0
        if left:
            return False
        session.execute(update(Kek).where(Kek.id == kek_id)
                        .values(retired_at=now, wrapped=b"")
                        .execution_options(synchronize_session=False))
    return True


def destroy_old_roots(sessions: Sessions, tree: kt.KeyTree, admin: RootAdmin | None, *,
                      report: CloseReport) -> None:
    """Step 5: destroy, oldest first, the root versions below every live KEK's."""
    with sessions() as session:
        state = status(session, tree.provider_name)
    if not state.keks:
        return
    keep_from = min(k.root_version for k in state.keks)
    if tree.provider_name == "env" or admin is None:
        source: Any = tree.root
        held = source.versions() if hasattr(source, "versions") else ()
        report.removable_env_versions = sorted(v for v in held if v < keep_from)
        return
    versions = admin.versions()
    report.provider_calls += 1
    for version in sorted(versions):
        if version >= keep_from:
            break
        admin.destroy_version(version)
        report.provider_calls += 1
        report.destroyed_versions.append(version)


def close_epoch(sessions: Sessions, tree: kt.KeyTree, admin: RootAdmin | None, *,
                now: datetime, batch: int = DEFAULT_BATCH,
                progress: Progress | None = None,
                index_progress: Progress | None = None) -> CloseReport:
    """Close the current shred epoch (steps 1-5, the blind indexes recomputed and the
    old index DEK destroyed before step 3), or finish a close that was cut off."""
    report = CloseReport()
    open_next(sessions, tree, admin, now=now, report=report)
    rewrap_deks(sessions, tree, now=now, batch=batch, progress=progress, report=report,
                index_progress=index_progress)
    with sessions() as session:
        report.pending = status(session, tree.provider_name).pending
        report.index_pending = reindex.pending(session)
    if report.unfinished:
        # a DEK could not move, or a row is still indexed under the old epoch's key (it
        # changed under us): run again before any root version goes
        return report
    destroy_old_roots(sessions, tree, admin, report=report)
    return report


@dataclass(frozen=True)
class TreeFigures:
    """``keys status``: the tree's epochs and ages, read without a provider call."""

    status: EpochStatus
    deks_live: int
    deks_destroyed: int
    oldest_live_dek: datetime | None
    #: When the oldest KEK whose root version may still exist was made: a backup taken
    #: before it holds only KEKs whose root version is gone, so it cannot be restored.
    restorable_since: datetime | None


def figures(session: Session, provider: str, *,
            configured_env_versions: tuple[int, ...] = ()) -> TreeFigures:
    """Figures for ``keys status``. Non-env providers: root versions below the oldest
    live KEK's are taken as destroyed (what a finished close leaves; ``keys provider
    status`` asks the provider). ``env``: every KEK whose server key is still configured
    counts, retired or not - the backups hold it."""
    state = status(session, provider)
    live = session.execute(select(func.count(), func.min(Dek.created_at))
                           .where(Dek.destroyed_at.is_(None))).one()
    gone = session.scalar(select(func.count()).select_from(Dek)
                          .where(Dek.destroyed_at.is_not(None))) or 0
    if provider == "env":
        since = session.scalar(select(func.min(Kek.created_at)).where(
            Kek.provider == provider, Kek.root_version.in_(configured_env_versions)))
    else:
        since = min((k.created_at for k in state.keks), default=None)
    return TreeFigures(state, int(live[0]), int(gone), live[1], since)
