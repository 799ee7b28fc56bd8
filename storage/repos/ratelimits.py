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
   SET tat = CASE WHEN (SELECT allowed FROM verdict) THEN (SELECT new_tat FROM verdict)
                  ELSE r.tat END,
       warned = NOT (SELECT allowed FROM verdict)
RETURNING (SELECT allowed FROM verdict), (SELECT NOT allowed AND NOT was_warned FROM verdict)
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
