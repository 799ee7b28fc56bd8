"""Pairings: registered from PAIR_REGISTER, completed by PAIR_ACCEPT, routed on, ended.

Callers get :class:`PairingRecord` snapshots or plain values, never live rows; every
change goes through a function here. The relay's per-message lookup (:func:`route`) is
one Core statement built once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Table, and_, bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from medcrypt.crypto.errors import OfferExpired, OfferReused, StorageError, WrongPairing
from medcrypt.storage.models.admissions import PairingAdmission
from medcrypt.storage.models.epochs import Epoch
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.pairings import PAIRING_STATUSES, Pairing
from medcrypt.storage.models.tokens import StoredToken
from medcrypt.storage.models.upgrades import PairingUpgrade
from medcrypt.storage.repos._sql import insert_if_absent, rowcount
from medcrypt.storage.repos.epochs import ensure_epoch

_PAIRINGS: Table = Pairing.__table__  # type: ignore[assignment]
_EPOCHS: Table = Epoch.__table__  # type: ignore[assignment]
_ADMISSIONS: Table = PairingAdmission.__table__  # type: ignore[assignment]
_UPGRADES: Table = PairingUpgrade.__table__  # type: ignore[assignment]
_COLUMNS = (Pairing.pairing_id, Pairing.physician_id, Pairing.patient_id, Pairing.status,
            Pairing.start_epoch, Pairing.grace_days, Pairing.offer_expires_at,
            Pairing.created_at, Pairing.completed_at, Pairing.consent_at,
            Pairing.consent_channel, Pairing.consent_notice_version, Pairing.shredded_at,
            Pairing.tag)
#: Pairing ids per ``IN (...)`` (bound parameters stay well under SQLite's limit).
_ID_CHUNK = 500


@dataclass(frozen=True, slots=True)
class PairingRecord:
    pairing_id: str
    physician_id: str
    patient_id: str | None
    status: str
    start_epoch: int
    grace_days: int
    offer_expires_at: datetime
    created_at: datetime
    completed_at: datetime | None
    consent_at: datetime | None
    consent_channel: str | None
    consent_notice_version: str | None
    #: When ``/shred`` ended the pairing for good (None: it was never shredded).
    shredded_at: datetime | None = None
    #: The pairing's short name (docs/adr/0031); None for a pre-tag pairing whose tag
    #: an older pairing holds (migration 0018).
    tag: str | None = None


class ActivePairing(NamedTuple):
    pairing_id: str
    start_epoch: int
    grace_days: int


@dataclass(frozen=True, slots=True)
class Route:
    """What routing needs of a pairing and of the epoch a token names."""

    pairing_id: str
    physician_id: str
    patient_id: str | None
    status: str
    start_epoch: int
    grace_days: int
    #: The epoch row's state; None while the month has no row yet.
    epoch_state: str | None
    #: When ``/shred`` ended the pairing for good (None: it was never shredded).
    shredded_at: datetime | None = None
    #: The pairing's protocol: 3 when it was registered by a v3 offer (it has an
    #: admission row) or upgraded from v2 (``pairing_upgrades.upgraded_at``, ADR 0027),
    #: else 2. A pairing speaks one version of MESSAGE (ADR 0026).
    version: int = 2
    #: The pairing's short name (see :class:`PairingRecord`).
    tag: str | None = None


# Statements of the per-message path, built once: constructing and coercing a statement
# for every message cost more than executing it.
_ROUTE = (select(_PAIRINGS.c.pairing_id, _PAIRINGS.c.physician_id, _PAIRINGS.c.patient_id,
                 _PAIRINGS.c.status, _PAIRINGS.c.start_epoch, _PAIRINGS.c.grace_days,
                 _EPOCHS.c.state, _PAIRINGS.c.shredded_at,
                 case((or_(_ADMISSIONS.c.pairing_id.is_not(None),
                           _UPGRADES.c.upgraded_at.is_not(None)), 3), else_=2),
                 _PAIRINGS.c.tag)
          .select_from(_PAIRINGS.outerjoin(_EPOCHS, and_(
              _EPOCHS.c.pairing_id == _PAIRINGS.c.pairing_id,
              _EPOCHS.c.epoch == bindparam("epoch")))
              .outerjoin(_ADMISSIONS, _ADMISSIONS.c.pairing_id == _PAIRINGS.c.pairing_id)
              .outerjoin(_UPGRADES, _UPGRADES.c.pairing_id == _PAIRINGS.c.pairing_id))
          .where(_PAIRINGS.c.pairing_id == bindparam("pairing_id")))


def _record(row: Any) -> PairingRecord:
    return PairingRecord(*row)


def route(session: Session, pairing_id: str, epoch: int) -> Route | None:
    """The pairing and the state of its ``epoch`` row, in one Core query (every message)."""
    row = session.connection().execute(
        _ROUTE, {"pairing_id": pairing_id, "epoch": epoch}).first()
    return None if row is None else Route(*tuple(row))


def get_pairing(session: Session, pairing_id: str) -> PairingRecord | None:
    row = session.execute(select(*_COLUMNS).where(Pairing.pairing_id == pairing_id)).first()
    return None if row is None else _record(row)


def register_pairing(
    session: Session,
    *,
    pairing_id: str,
    physician_id: str,
    start_epoch: int,
    grace_days: int,
    offer_expires_at: datetime,
    now: datetime,
    tag: str,
) -> bool:
    """Record a registered offer, ``pending``, named ``tag``; False when the id or the
    tag is taken (nothing changes: :func:`get_pairing` tells which)."""
    if session.new or session.dirty or session.deleted:
        session.flush()  # the physician's identity may be new in this transaction
    return insert_if_absent(session, _PAIRINGS, {
        "pairing_id": pairing_id, "physician_id": physician_id, "patient_id": None,
        "status": "pending", "start_epoch": start_epoch, "grace_days": grace_days,
        "offer_expires_at": offer_expires_at, "created_at": now, "completed_at": None,
        "consent_at": None, "consent_channel": None, "consent_notice_version": None,
        "tag": tag})


def by_tag(session: Session, tag: str) -> PairingRecord | None:
    """The pairing named ``tag`` (as shown, ``XXX-XXX``), whatever its status."""
    row = session.execute(select(*_COLUMNS).where(Pairing.tag == tag)).first()
    return None if row is None else _record(row)


def accept_pairing(
    session: Session,
    pairing_id: str,
    *,
    patient_id: str,
    now: datetime,
    consent_channel: str,
    consent_notice_version: str,
) -> PairingRecord:
    """Complete a pending offer: patient bound, consent recorded, start epoch opened.

    The row is locked (PostgreSQL) and re-checked, so of two concurrent accepts one
    wins and the other gets :class:`OfferReused`.
    """
    pairing = session.get(Pairing, pairing_id, with_for_update=True)
    if pairing is None:
        raise WrongPairing("unknown pairing")
    if pairing.status != "pending":
        raise OfferReused("this pairing offer was already used")
    if now >= pairing.offer_expires_at:
        raise OfferExpired("the pairing offer has expired")
    if patient_id == pairing.physician_id:
        raise WrongPairing("a physician cannot pair with themselves")
    pairing.patient_id = patient_id
    pairing.status = "active"
    pairing.completed_at = now
    pairing.consent_at = now
    pairing.consent_channel = consent_channel
    pairing.consent_notice_version = consent_notice_version
    session.flush()
    ensure_epoch(session, pairing_id, pairing.start_epoch, now=now)
    return _record(tuple(getattr(pairing, c.key) for c in _COLUMNS))


def set_pairing_status(session: Session, pairing_id: str, status: str) -> None:
    if status not in PAIRING_STATUSES:
        raise StorageError(f"unknown pairing status {status!r}")
    pairing = session.get(Pairing, pairing_id)
    if pairing is None:
        raise WrongPairing("unknown pairing")
    pairing.status = status
    session.flush()


#: Statuses a shred ends; an erased pairing stays erased (erasure shreds it first).
_SHREDDABLE = ("pending", "active", "unpaired")


def end_by_shred(session: Session, pairing_id: str, *, now: datetime) -> bool:
    """End ``pairing_id`` for good: status ``unpaired``, ``shredded_at`` = ``now``.

    One UPDATE that claims the row, so of two concurrent shreds one records the time;
    False when the pairing was already shredded or erased (nothing changes).
    """
    result = session.execute(
        update(Pairing)
        .where(Pairing.pairing_id == pairing_id, Pairing.status.in_(_SHREDDABLE),
               Pairing.shredded_at.is_(None))
        .values(status="unpaired", shredded_at=now)
        .execution_options(synchronize_session=False))
    return rowcount(result) > 0


def set_status_of(session: Session, pairing_ids: Sequence[str], status: str) -> None:
    """:func:`set_pairing_status` for many pairings at once."""
    if status not in PAIRING_STATUSES:
        raise StorageError(f"unknown pairing status {status!r}")
    ids = list(pairing_ids)
    for start in range(0, len(ids), _ID_CHUNK):
        session.execute(update(Pairing).where(Pairing.pairing_id.in_(
            ids[start:start + _ID_CHUNK])).values(status=status))


def pairings_of(
    session: Session, identity_id: str, *, statuses: Sequence[str] | None = ("pending", "active"),
) -> list[PairingRecord]:
    """Pairings in which ``identity_id`` is the physician or the patient, oldest first;
    ``statuses=None`` for every status."""
    stmt = select(*_COLUMNS).where(
        or_(Pairing.physician_id == identity_id, Pairing.patient_id == identity_id))
    if statuses is not None:
        stmt = stmt.where(Pairing.status.in_(statuses))
    return [_record(r) for r in session.execute(stmt.order_by(Pairing.created_at))]


def ids_with_prefix(session: Session, prefix: str, *, limit: int = 2) -> list[str]:
    """Pairing ids starting with ``prefix`` (at most ``limit``: two tell "ambiguous")."""
    return [str(p) for p in session.scalars(
        select(Pairing.pairing_id).where(Pairing.pairing_id.startswith(prefix, autoescape=True))
        .limit(limit))]


def members_of(session: Session, pairing_ids: Sequence[str]) -> dict[str, list[str]]:
    """pairing id → identity ids of its physician and (if any) patient."""
    out: dict[str, list[str]] = {}
    ids = sorted(set(pairing_ids))
    for start in range(0, len(ids), _ID_CHUNK):
        rows = session.execute(
            select(Pairing.pairing_id, Pairing.physician_id, Pairing.patient_id)
            .where(Pairing.pairing_id.in_(ids[start:start + _ID_CHUNK]))
        ).all()
        for pid, physician, patient in rows:
            out[pid] = [m for m in (physician, patient) if m]
    return out


def active_page(
    session: Session, *, after: str, limit: int, pairing_ids: Sequence[str] | None = None,
) -> list[ActivePairing]:
    """Active pairings after ``after`` in id order, at most ``limit``: batch jobs walk
    the table by primary key."""
    stmt = (select(Pairing.pairing_id, Pairing.start_epoch, Pairing.grace_days)
            .where(Pairing.status == "active", Pairing.pairing_id > after)
            .order_by(Pairing.pairing_id).limit(limit))
    if pairing_ids is not None:
        stmt = stmt.where(Pairing.pairing_id.in_(list(pairing_ids)))
    return [ActivePairing(str(p), int(s), int(g)) for p, s, g in session.execute(stmt)]


def count_active(session: Session, pairing_ids: Sequence[str] | None = None) -> int:
    stmt = select(func.count()).select_from(Pairing).where(Pairing.status == "active")
    if pairing_ids is not None:
        stmt = stmt.where(Pairing.pairing_id.in_(list(pairing_ids)))
    return int(session.scalar(stmt) or 0)


def active_physicians(session: Session) -> list[tuple[str, str]]:
    """(pairing id, physician identity id) of every active pairing."""
    return [(str(p), str(d)) for p, d in session.execute(
        select(Pairing.pairing_id, Pairing.physician_id).where(Pairing.status == "active"))]


def status_counts(session: Session) -> dict[str, int]:
    """Pairings per status (``/stats``)."""
    return {str(k): int(v) for k, v in session.execute(
        select(Pairing.status, func.count()).group_by(Pairing.status)).all()}


def all_ids(session: Session) -> list[str]:
    """Every pairing id, whatever its status: a restore maps erasure-record pseudonyms
    back to rows by recomputing the pseudonym of each."""
    return [str(p) for p in session.scalars(select(Pairing.pairing_id).order_by(
        Pairing.pairing_id))]


@dataclass(frozen=True, slots=True)
class Listed:
    """One line of the admins' ``/pairings``: a name, platforms, status, activity."""

    pairing_id: str
    tag: str | None
    status: str
    shredded_at: datetime | None
    #: The members' platforms ("telegram", "whatsapp"); the patient's is None before
    #: anyone was bound.
    physician_platform: str
    patient_platform: str | None
    #: The latest relayed message the relay still holds, else completion, else creation.
    last_activity: datetime


def listing(session: Session, *, offset: int, limit: int) -> tuple[int, list[Listed]]:
    """Every pairing, newest first, one page: (how many in all, the page).

    Platforms come from the identities' plain ``platform`` column: nothing sealed is
    opened, no address is read.
    """
    physician = aliased(PlatformIdentity)
    patient = aliased(PlatformIdentity)
    total = int(session.scalar(select(func.count()).select_from(Pairing)) or 0)
    page = session.execute(
        select(Pairing.pairing_id, Pairing.tag, Pairing.status, Pairing.shredded_at,
               physician.platform, patient.platform,
               func.coalesce(Pairing.completed_at, Pairing.created_at))
        .join(physician, physician.id == Pairing.physician_id)
        .outerjoin(patient, patient.id == Pairing.patient_id)
        .order_by(Pairing.created_at.desc(), Pairing.pairing_id)
        .offset(offset).limit(limit)).all()
    ids = [str(row[0]) for row in page]
    latest = dict(session.execute(
        select(StoredToken.pairing_id, func.max(StoredToken.received_at))
        .where(StoredToken.pairing_id.in_(ids)).group_by(StoredToken.pairing_id)).all()) \
        if ids else {}
    out = []
    for pid, tag, status, shredded, doc, pat, since in page:
        seen = latest.get(pid)
        out.append(Listed(str(pid), tag, str(status), shredded, str(doc), pat,
                          max(since, seen) if seen is not None else since))
    return total, out
