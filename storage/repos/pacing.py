"""Shared per-platform send pacing as one GCRA row per platform (PostgreSQL).

GCRA (generic cell rate algorithm, as :mod:`storage.repos.ratelimits`): with emission
interval ``T = 1 / rate`` and room for ``burst`` sends, the platform's row holds ``tat``,
the theoretical arrival time of its next send. Reserving ``n`` sends at ``now`` starts
from ``base = max(tat, now)``; send ``i`` (from 0) may go at ``base + (i + 1 - burst) * T``
(or at once, if that is past), and ``tat`` becomes ``base + n * T``. Every replica
advances the same row under its row lock, so over any window of length ``w`` at most
``burst + w / T`` sends are scheduled, clinic-wide, whatever the number of replicas.

:func:`reserve` runs inside the outbox claim's own transaction - no extra commit - as one
``UPDATE ... RETURNING`` round trip on the server's clock. It grants only the sends that
can go within ``horizon`` seconds (a claimed row must not wait for its slot longer than
its claim lasts); the caller gives the others back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

# ``FOR UPDATE`` in the first CTE waits for another replica's claim to commit and then
# reads its ``tat``; the clock is read after that wait, once, in the second CTE (a
# volatile function in a CTE is evaluated once per row), so every figure below is from
# the same instant.
_RESERVE = text("""
WITH cur AS (
    SELECT tat FROM send_pacing WHERE platform = :platform FOR UPDATE
), at AS (
    SELECT tat, clock_timestamp() AS now FROM cur
), base AS (
    SELECT GREATEST(tat, now) AS base, now FROM at
), granted AS (
    SELECT base, now,
           LEAST(:wanted, GREATEST(0, floor(
               (:horizon - EXTRACT(EPOCH FROM base - now)) / :t)::integer + :burst)) AS k
      FROM base
)
UPDATE send_pacing AS p
   SET tat = g.base + make_interval(secs => g.k * :t)
  FROM granted AS g
 WHERE p.platform = :platform
RETURNING g.k, EXTRACT(EPOCH FROM g.base - g.now), EXTRACT(EPOCH FROM g.now)
""")

_ENSURE = text("""
INSERT INTO send_pacing (platform, tat) VALUES (:platform, clock_timestamp())
ON CONFLICT (platform) DO NOTHING
""")


@dataclass(frozen=True, slots=True)
class Grant:
    """The sends granted by one reservation: send ``i`` of ``delays`` may go that many
    seconds after the reservation's answer. Sends past ``len(delays)`` were not granted;
    ``retry_in`` is when the first of them would be (seconds from the answer).
    ``answered`` is the answer's instant on the server's clock (Unix seconds): the one
    clock every replica shares, from which each maps the delays onto its own."""

    delays: tuple[float, ...]
    retry_in: float
    answered: float = 0.0


def schedule(ahead: float, granted: int, *, interval: float, burst: int,
             answered: float = 0.0) -> Grant:
    """The send delays of a reservation that started ``ahead`` seconds after its answer
    (``base - now``) and was granted ``granted`` sends."""
    delays = tuple(max(0.0, ahead + (i + 1 - burst) * interval) for i in range(granted))
    return Grant(delays, max(interval, ahead + (granted + 1 - burst) * interval), answered)


def reserve(session: Session, platform: str, wanted: int, *, per_second: float, burst: int,
            horizon: float) -> Grant:
    """Reserve up to ``wanted`` sends of ``platform`` that can go within ``horizon``
    seconds; locks the platform's row until the caller commits."""
    if wanted <= 0:
        return Grant((), 0.0)
    interval = 1.0 / per_second
    burst = max(1, burst)
    params = {"platform": platform, "wanted": wanted, "t": interval,
              "burst": burst, "horizon": horizon}
    row = session.execute(_RESERVE, params).first()
    if row is None:  # the platform's first send ever (or the table was emptied by a crash)
        session.execute(_ENSURE, {"platform": platform})
        row = session.execute(_RESERVE, params).one()
    granted, ahead, answered = int(row[0]), float(row[1]), float(row[2])
    if not (math.isfinite(ahead) and math.isfinite(answered)):  # pragma: no cover
        raise ValueError("send pacing: the server returned no finite time")
    return schedule(ahead, granted, interval=interval, burst=burst, answered=answered)
