"""Role leases on PostgreSQL: acquire, renew, release, and the fence every role write runs.

Every time here is the database's ``clock_timestamp()`` (never a replica's clock, never
``now()``, which is frozen at the start of a transaction). Each function returns the
seconds left on the lease *as the server saw it*: the caller starts its own monotonic
timer before the statement, so its local deadline is never later than the real one.

The fence (:func:`check_fence`) reads the lease row ``FOR KEY SHARE``. A renewal
changes only ``expires_at`` and does not wait for it; a takeover changes ``epoch`` - a
key column, because of ``UNIQUE (role, epoch)`` - and must wait until every transaction
that passed the fence has ended. So a write that passed the fence commits before the
new holder's epoch begins, or not at all (ADR 0032).

SQLite has one bot process (``bot.app.singleton``'s lock file), so none of this runs there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from medcrypt.crypto.errors import StorageError
from medcrypt.storage.repos._sql import rowcount


class LeaseLost(StorageError):
    """A role write was refused: this process no longer holds the role at its epoch."""

    def __init__(self, role: str) -> None:
        super().__init__(f"lease of role {role!r} is not held at this epoch")
        self.role = role


@dataclass(frozen=True, slots=True)
class Grant:
    """A held lease: the fencing epoch and the seconds it had left when granted."""

    role: str
    epoch: int
    remaining_s: float


@dataclass(frozen=True, slots=True)
class LeaseRow:
    role: str
    holder: str
    epoch: int
    acquired_at: datetime
    expires_at: datetime
    #: Seconds since it was acquired and until it expires, by the database's clock.
    age_s: float
    remaining_s: float


_ACQUIRE = text("""
INSERT INTO role_leases AS l (role, holder, epoch, acquired_at, expires_at)
VALUES (:role, :holder, 1, clock_timestamp(),
        clock_timestamp() + make_interval(secs => :ttl))
ON CONFLICT (role) DO UPDATE
   SET holder = excluded.holder, epoch = l.epoch + 1,
       acquired_at = clock_timestamp(),
       expires_at = clock_timestamp() + make_interval(secs => :ttl)
 WHERE l.expires_at <= clock_timestamp()
RETURNING l.epoch, EXTRACT(EPOCH FROM l.expires_at - clock_timestamp())
""")

_RENEW = text("""
UPDATE role_leases
   SET expires_at = clock_timestamp() + make_interval(secs => :ttl)
 WHERE role = :role AND holder = :holder AND epoch = :epoch
   AND expires_at > clock_timestamp()
RETURNING EXTRACT(EPOCH FROM expires_at - clock_timestamp())
""")

_RELEASE = text("""
UPDATE role_leases SET expires_at = clock_timestamp()
 WHERE role = :role AND holder = :holder AND epoch = :epoch
""")

_FENCE = text("""
SELECT set_config('idle_in_transaction_session_timeout', :idle_ms, true) FROM role_leases
 WHERE role = :role AND holder = :holder AND epoch = :epoch
   AND expires_at > clock_timestamp()
   FOR KEY SHARE
""")

_LIST = text("""
SELECT role, holder, epoch, acquired_at, expires_at,
       EXTRACT(EPOCH FROM clock_timestamp() - acquired_at),
       EXTRACT(EPOCH FROM expires_at - clock_timestamp())
  FROM role_leases ORDER BY role
""")


def acquire(session: Session, role: str, holder: str, ttl_s: float) -> Grant | None:
    """Take ``role`` if nobody holds it or its lease expired; None while another holds it.

    A takeover waits for the fenced transactions of the previous holder (see module).
    """
    row = session.execute(_ACQUIRE, {"role": role, "holder": holder, "ttl": ttl_s}).first()
    if row is None:
        return None
    return Grant(role, int(row[0]), float(row[1]))


def renew(session: Session, role: str, holder: str, epoch: int, ttl_s: float) -> float | None:
    """Extend a held lease; the seconds now left, or None if it was lost (expired or
    taken over: a holder never renews a lease that already ran out)."""
    row = session.execute(_RENEW, {"role": role, "holder": holder, "epoch": epoch,
                                   "ttl": ttl_s}).first()
    return None if row is None else float(row[0])


def release(session: Session, role: str, holder: str, epoch: int) -> bool:
    """End a held lease now (a clean stop): the next replica need not wait out the TTL."""
    return rowcount(session.execute(_RELEASE, {"role": role, "holder": holder,
                                               "epoch": epoch})) == 1


def check_fence(session: Session | Connection, role: str, holder: str, epoch: int, *,
                idle_timeout_ms: int) -> None:
    """Raise :class:`LeaseLost` unless the lease is held at ``epoch`` right now; when it
    is, keep a takeover waiting until this transaction ends, and let the server end this
    transaction if it sits idle for ``idle_timeout_ms`` (one statement, one round trip)."""
    found = session.execute(_FENCE, {"role": role, "holder": holder, "epoch": epoch,
                                     "idle_ms": str(int(idle_timeout_ms))}).first()
    if found is None:
        raise LeaseLost(role)


def leases(session: Session) -> list[LeaseRow]:
    """Every role's lease row (``cluster status``, ``/metrics``)."""
    return [LeaseRow(r[0], r[1], int(r[2]), r[3], r[4], float(r[5]), float(r[6]))
            for r in session.execute(_LIST)]
