"""Shared per-platform send pacing (several replicas on PostgreSQL): one GCRA row each.

Why in the database: paced in memory, N replicas sent N times a platform's clinic-wide
rate (issue 18, ADR 0038). The row holds the GCRA *theoretical arrival time* of the
platform's sends, advanced by every replica's outbox claim in its own transaction
(:mod:`storage.repos.pacing`). UNLOGGED on PostgreSQL (migration 0021); SQLite has one
bot process, which paces in memory, and leaves the table empty.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base


class SendPacing(Base):
    __tablename__ = "send_pacing"

    #: The platform's name (``telegram``, ``whatsapp``).
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    #: GCRA theoretical arrival time of the platform's next send (database clock).
    tat: Mapped[datetime]
