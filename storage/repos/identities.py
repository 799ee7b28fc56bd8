"""Platform identities: find by blind index, create, reveal, window bookkeeping, erase.

The address lives in ``platform_identities`` sealed under the person's DEK (AAD =
table, column, row id) and is found through its blind index, tried under every live
index key of the shred epochs (two while a close recomputes the rows) and every
configured keyring version (rows not yet converted), so neither a close nor a keyring
rotation needs downtime. An erased identity keeps its
row for references but has no address: it can no longer be found or written to.

Every inbound message looks its sender up through :func:`find_live`, a Core statement
built once; only a first contact goes through the unit of work.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from medcrypt.crypto.errors import StorageError
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import deks
from medcrypt.storage.encrypted import new_id
from medcrypt.storage.models.admins import ClinicAdmin
from medcrypt.storage.models.identities import ROLES, PlatformIdentity
from medcrypt.storage.normalize import normalize_address

_TABLE: Table = PlatformIdentity.__table__  # type: ignore[assignment]
#: Built once per number of candidates (index keys live + keyring versions: one to a
#: few): constructing a statement per message cost more than running it, and an
#: expanding IN list is re-rendered at every execution - a third of the statement's
#: Python work on the relay's hottest SELECT.
_FIND_BY_COUNT: dict[int, Any] = {}
#: More candidates than this (never in practice) use one expanding statement.
_FIND_MAX_FIXED = 16
_FIND_COLUMNS = (_TABLE.c.id, _TABLE.c.last_inbound_at, _TABLE.c.template_sent_at,
                 _TABLE.c.language, _TABLE.c.language_chosen)
_FIND = (select(*_FIND_COLUMNS)
         .where(_TABLE.c.platform == bindparam("platform"),
                _TABLE.c.address_bidx.in_(bindparam("candidates", expanding=True)),
                _TABLE.c.deleted_at.is_(None)).limit(1))
_ADDRESSES = (select(_TABLE.c.id, _TABLE.c.platform, _TABLE.c.address, _TABLE.c.dek_id,
                      _TABLE.c.dek_version)
              .where(_TABLE.c.id.in_(bindparam("ids", expanding=True)),
                     _TABLE.c.deleted_at.is_(None)))

#: (identity id, last inbound at, template sent at, language, language chosen) of a live
#: identity.
Window = tuple[str, datetime | None, datetime | None, str | None, bool]


def find_identity(
    session: Session, keyring: Keyring, platform: str, address: str | int
) -> PlatformIdentity | None:
    """The live identity with this address on ``platform`` (any key version), or None."""
    normalized = normalize_address(platform, address)
    candidates = PlatformIdentity.ADDRESS.index_candidates(keyring, normalized,
                                                           session=session)
    stmt = select(PlatformIdentity).where(
        PlatformIdentity.platform == platform,
        PlatformIdentity.address_bidx.in_(candidates),
        PlatformIdentity.deleted_at.is_(None),
    )
    return session.scalars(stmt).first()


def find_live(
    session: Session, keyring: Keyring, platform: str, address: str | int
) -> Window | None:
    """:func:`find_identity` for the relay: id and WhatsApp-window columns of the live
    row, in one Core SELECT through the blind index under every key (after one indexed
    SELECT of the live index DEKs)."""
    normalized = normalize_address(platform, address)
    candidates = PlatformIdentity.ADDRESS.index_candidates(keyring, normalized,
                                                           session=session)
    stmt, params = _find_statement(platform, candidates)
    row = session.connection().execute(stmt, params).first()
    return None if row is None else cast(Window, row)


def _find_statement(platform: str, candidates: list[bytes]) -> tuple[Any, dict[str, Any]]:
    """:data:`_FIND` with one plain bind parameter per candidate (prebuilt per count)."""
    count = len(candidates)
    if count > _FIND_MAX_FIXED:
        return _FIND, {"platform": platform, "candidates": candidates}
    stmt = _FIND_BY_COUNT.get(count)
    if stmt is None:
        stmt = (select(*_FIND_COLUMNS)
                .where(_TABLE.c.platform == bindparam("platform"),
                       _TABLE.c.address_bidx.in_(
                           [bindparam(f"c{i}", type_=_TABLE.c.address_bidx.type)
                            for i in range(count)]),
                       _TABLE.c.deleted_at.is_(None)).limit(1))
        _FIND_BY_COUNT[count] = stmt
    params: dict[str, Any] = {f"c{i}": c for i, c in enumerate(candidates)}
    params["platform"] = platform
    return stmt, params


def get_or_create_identity(
    session: Session,
    keyring: Keyring,
    platform: str,
    address: str | int,
    *,
    now: datetime,
    role: str | None = None,
) -> tuple[PlatformIdentity, bool]:
    """Find or create the identity; returns ``(identity, created)``."""
    found = find_identity(session, keyring, platform, address)
    if found is not None:
        if role is not None and found.role in ("unknown", role):
            found.role = role
        return found, False
    if role is not None and role not in ROLES:
        raise StorageError(f"unknown role {role!r}")
    identity = PlatformIdentity(
        id=new_id(), platform=platform, role=role or "unknown", created_at=now
    )
    try:
        with session.begin_nested():  # a concurrent first contact may win the insert
            # The person's DEK is made here, wrapped locally under the warm KEK (no
            # provider call), and goes with the savepoint if another insert wins.
            PlatformIdentity.ADDRESS.store(identity, keyring,
                                           normalize_address(platform, address),
                                           session=session, now=now)
            session.add(identity)
            session.flush()
    except IntegrityError:
        found = find_identity(session, keyring, platform, address)
        if found is None:
            raise StorageError("identity insert refused, and no identity has this "
                               "address") from None
        return found, False
    return identity, True


def ensure_identity(
    session: Session, keyring: Keyring, platform: str, address: str | int, *, now: datetime,
) -> tuple[Window, bool]:
    """:func:`get_or_create_identity` for the relay: the identity's window columns and
    whether this call created it (in the caller's transaction)."""
    identity, created = get_or_create_identity(session, keyring, platform, address, now=now)
    if created:  # a new row has no language yet: no need to load the deferred columns
        return (identity.id, identity.last_inbound_at, identity.template_sent_at,
                None, False), True
    return (identity.id, identity.last_inbound_at, identity.template_sent_at,
            identity.language, bool(identity.language_chosen)), False


def live_addresses(
    session: Session, keyring: Keyring, identity_ids: Iterable[str]
) -> dict[str, tuple[str, str]]:
    """identity id → (platform, normalized address) for a batch, in one Core SELECT (the
    outbox claims in batches) and one more for every DEK the batch names (checked in
    this transaction as each single open is); erased or unknown identities are simply
    absent."""
    wanted = set(identity_ids)
    if not wanted:
        return {}
    rows = session.connection().execute(_ADDRESSES, {"ids": sorted(wanted)}).all()
    addresses = PlatformIdentity.ADDRESS.reveal_many(rows, keyring, session=session)
    out: dict[str, tuple[str, str]] = {}
    for row, address in zip(rows, addresses, strict=True):
        if address is None:
            raise StorageError("identity has been erased; it has no address")
        out[row.id] = (row.platform, address)
    return out


def live_platform(session: Session, identity_id: str) -> str | None:
    """The platform of a live identity; None when unknown or erased."""
    row = session.get(PlatformIdentity, identity_id)
    if row is None or row.deleted_at is not None:
        return None
    return row.platform


def is_live(session: Session, identity_id: str) -> bool:
    """Whether ``identity_id`` exists and is not erased."""
    return live_platform(session, identity_id) is not None


def exists(session: Session, identity_id: str) -> bool:
    """Whether ``identity_id`` has a row at all (erased or not)."""
    return session.get(PlatformIdentity, identity_id) is not None


def mark_window(session: Session, identity_id: str, *, last_inbound_at: datetime | None,
                clear_template: bool) -> None:
    """WhatsApp's customer-service window: record the sender's latest message
    (``last_inbound_at``) and/or forget the template sent while it was closed."""
    values: dict[str, object] = {}
    if last_inbound_at is not None:
        values["last_inbound_at"] = last_inbound_at
    if clear_template:
        values["template_sent_at"] = None
    if values:
        session.execute(update(PlatformIdentity).where(PlatformIdentity.id == identity_id)
                        .values(**values).execution_options(synchronize_session="fetch"))


def set_language(session: Session, identity_id: str, language: str, *,
                 chosen: bool = False) -> None:
    """Remember the language of ``identity_id``'s replies (a catalog code, never more);
    ``chosen``: the person picked it (/language), so their app's language stops
    overriding it."""
    if not language.replace("_", "").isalpha() or len(language) > 16:
        raise StorageError("a language is a catalog code such as 'es_MX'")
    values: dict[str, object] = {"language": language}
    if chosen:
        values["language_chosen"] = True
    session.execute(update(PlatformIdentity).where(PlatformIdentity.id == identity_id)
                    .values(**values).execution_options(synchronize_session="fetch"))


def languages_of(session: Session, identity_ids: Iterable[str]) -> dict[str, str | None]:
    """Live identities -> their stored language (None: the clinic default), in one
    SELECT: scheduled notices write to many people at once."""
    ids = list(identity_ids)
    if not ids:
        return {}
    rows = session.execute(select(PlatformIdentity.id, PlatformIdentity.language)
                           .where(PlatformIdentity.id.in_(ids),
                                  PlatformIdentity.deleted_at.is_(None)))
    return {identity_id: language for identity_id, language in rows}


def claim_template(session: Session, identity_id: str, now: datetime) -> bool:
    """Note that the window template goes to ``identity_id`` now; False when one was
    sent already since they last wrote (or the identity is gone)."""
    identity = session.get(PlatformIdentity, identity_id)
    if identity is None or identity.template_sent_at is not None:
        return False
    identity.template_sent_at = now
    return True


def waiting_since(session: Session, identity_ids: Iterable[str]) -> dict[str, datetime | None]:
    """Live identities -> since when messages wait for them to write (None: they do not).

    ``template_sent_at`` is set when a platform refused to reach the person (a closed
    WhatsApp window; a Telegram user who never opened the chat or blocked the bot) and
    cleared by their next message.
    """
    ids = list(identity_ids)
    if not ids:
        return {}
    rows = session.execute(select(PlatformIdentity.id, PlatformIdentity.template_sent_at)
                           .where(PlatformIdentity.id.in_(ids),
                                  PlatformIdentity.deleted_at.is_(None)))
    return {identity_id: since for identity_id, since in rows}


def adopt_role(session: Session, identity_id: str, role: str) -> None:
    """Label the identity by what it paired as, unless it already has a role."""
    if role not in ROLES:
        raise StorageError(f"unknown role {role!r}")
    identity = session.get(PlatformIdentity, identity_id)
    if identity is not None and identity.role == "unknown":
        identity.role = role


def reveal_address(identity: PlatformIdentity, keyring: Keyring, *,
                   session: Session | None = None) -> str:
    """The normalized chat id / phone number, for the adapter that sends to it (its DEK
    row is checked in ``session``, by default the identity's own)."""
    value = PlatformIdentity.ADDRESS.reveal(identity, keyring, session=session)
    if value is None:
        raise StorageError("identity has been erased; it has no address")
    return value


def set_label(identity: PlatformIdentity, keyring: Keyring, label: str | None) -> None:
    PlatformIdentity.LABEL.store(identity, keyring, label)


def reveal_label(identity: PlatformIdentity, keyring: Keyring) -> str | None:
    return PlatformIdentity.LABEL.reveal(identity, keyring)


def erase_identity(session: Session, identity_id: str, *, now: datetime) -> bool:
    """Forget the address and label (GDPR erasure) and destroy the person's DEK, in the
    caller's transaction; the row stays for references. A copy of the sealed values (a
    backup, a replica's cache) no longer opens. False when there is no such identity or
    it was erased already."""
    identity = session.get(PlatformIdentity, identity_id)
    if identity is None or identity.deleted_at is not None:
        return False
    deks.destroy_person_deks(session, identity_id, now=now)
    # A grant by address bound to this identity holds the same person's address under
    # the grant's own DEK: it goes too (the grant row stays for the audit trail).
    for grant in session.scalars(select(ClinicAdmin).where(
            ClinicAdmin.identity_id == identity_id, ClinicAdmin.address.is_not(None))):
        deks.destroy_person_deks(session, grant.id, now=now)
        ClinicAdmin.ADDRESS.clear(grant)
    PlatformIdentity.ADDRESS.clear(identity)
    PlatformIdentity.LABEL.clear(identity)
    identity.deleted_at = now
    session.flush()
    return True


def rotate_dek(session: Session, keyring: Keyring, identity_id: str, *,
               now: datetime) -> bool:
    """Give the person a new DEK version, re-seal their address and label under it and
    destroy the old version - all local, in the caller's transaction (no provider call).
    False when the identity is erased, unknown or not on the key tree yet."""
    identity = session.get(PlatformIdentity, identity_id)
    if identity is None or identity.deleted_at is not None or identity.dek_id is None:
        return False
    old = deks.next_version(session, identity.dek_id)
    address = PlatformIdentity.ADDRESS.reveal(identity, keyring, session=session)
    label = PlatformIdentity.LABEL.reveal(identity, keyring, session=session)
    new, _key = deks.create_dek(session, deks.tree_of(keyring), purpose=old.purpose,
                                person_id=old.person_id, now=now, version=old.version + 1)
    identity.dek_id, identity.dek_version = new.dek_id, new.version
    PlatformIdentity.ADDRESS.store(identity, keyring, address, session=session, now=now)
    PlatformIdentity.LABEL.store(identity, keyring, label, session=session, now=now)
    session.flush()
    deks.destroy_dek(session, old.dek_id, now=now)
    return True


def count_live(session: Session) -> int:
    """Identities not erased (``/stats``)."""
    return int(session.scalar(select(func.count()).select_from(PlatformIdentity).where(
        PlatformIdentity.deleted_at.is_(None))) or 0)


def all_ids(session: Session) -> list[str]:
    """Every identity id, erased or not (see :func:`storage.repos.pairings.all_ids`)."""
    return [str(i) for i in session.scalars(select(PlatformIdentity.id).order_by(
        PlatformIdentity.id))]
