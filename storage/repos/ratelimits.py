"""The shared per-user rate limit as GCRA rows (PostgreSQL): one statement per message.

GCRA (generic cell rate algorithm): with emission interval ``T = 1 / rate`` and room
for ``burst`` messages, a message at time ``now`` is allowed when
``max(tat, now) + T - now <= burst * T``, and then ``tat`` becomes ``max(tat, now) + T``.
Over any window of length ``w`` at most ``burst + w / T`` messages pass, whichever
replica takes them, because every replica updates the same row under its row lock.

:func:`take` runs inside the caller's intake transaction - no extra commit - as one
``WITH ... INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` round trip on the server's
clock. A denied message leaves ``tat`` as it was and sets ``warned``, so the sender is
told once per limited stretch, as the in-memory limiter did.

The conflict branch judges again from the row it conflicted with (``r.tat``), not
from the CTE's verdict: when a sender has no row (the first message, or the first
after :func:`forget_idle`), messages racing on several replicas each see none, all
insert, and the losers land on the conflict. Their CTE verdict was taken from an
empty bucket; applying it let each through and left ``tat`` one step on instead of
several (``burst + replicas - 1`` at once, tests/ha/test_shared_rate_limit.py). Where
the row was there all along, ``FOR UPDATE`` already read its newest version and both
judgements agree. ``allowed`` is read back as ``NOT warned`` of the written row.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

_TAKE = text("""
WITH prev AS (
    SELECT tat, warned FROM rate_limits WHERE key = :key FOR UPDATE
), decided AS (
    SELECT GREATEST(COALESCE((SELECT tat FROM prev), clock_timestamp()), clock_timestamp())
           + make_interval(secs => :t) AS new_tat,
           COALESCE((SELECT warned FROM prev), false) AS was_warned
), verdict AS (
    SELECT new_tat, was_warned,
           new_tat - clock_timestamp() <= make_interval(secs => :limit) AS allowed
      FROM decided
)
INSERT INTO rate_limits AS r (key, tat, warned)
SELECT :key, CASE WHEN allowed THEN new_tat ELSE clock_timestamp() END, NOT allowed
  FROM verdict
ON CONFLICT (key) DO UPDATE
   SET (tat, warned) = (
       SELECT CASE WHEN ok THEN nt ELSE r.tat END, NOT ok
         FROM (SELECT nt, nt - clock_timestamp() <= make_interval(secs => :limit) AS ok
                 FROM (SELECT GREATEST(r.tat, clock_timestamp())
                              + make_interval(secs => :t) AS nt) AS grown) AS judged)
RETURNING NOT r.warned, r.warned AND NOT (SELECT was_warned FROM verdict)
""")

_FORGET = text("DELETE FROM rate_limits WHERE tat < clock_timestamp()")


def take(session: Session, key: bytes, *, per_second: float, burst: int) -> tuple[bool, bool]:
    """``(allowed, should_warn)`` for one message of ``key``; locks its row until commit."""
    interval = 1.0 / per_second
    row = session.execute(_TAKE, {"key": key, "t": interval,
                                  "limit": interval * max(1, burst)}).one()
    return bool(row[0]), bool(row[1])


def forget_idle(session: Session) -> int:
    """Drop rows whose senders are back to a full burst (housekeeping keeps it small)."""
    return int(getattr(session.execute(_FORGET), "rowcount", 0) or 0)
