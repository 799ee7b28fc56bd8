"""Shared per-user rate limit state (several replicas on PostgreSQL): one GCRA row per sender.

Why in the database: held in memory, N replicas allowed N times the rate (issue 18).
One row per sender key holds the GCRA *theoretical arrival time* and whether the sender
was already told they are limited. The key is a keyed hash (the blind index for
``rate_limits.key`` under the shred epoch's index DEK, ADR 0039 Amendment 1), never the
address itself; closing the epoch deletes the rows under the old key.

On PostgreSQL the table is UNLOGGED (migration 0018): a crash empties it, which resets
some limits - acceptable for a politeness limit - and its updates write no WAL. SQLite
has one bot process, which keeps its limiter in memory; the table stays empty there.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base


class RateBucket(Base):
    __tablename__ = "rate_limits"

    #: Blind index (``00 00`` + index DEK id + HMAC-SHA256) of "platform:address"; rows
    #: from before 0024's code hold a keyring index (key version + HMAC-SHA256).
    key: Mapped[bytes] = mapped_column(LargeBinary(50), primary_key=True)
    #: GCRA theoretical arrival time (database clock).
    tat: Mapped[datetime]
    warned: Mapped[bool] = mapped_column(Boolean, default=False)
