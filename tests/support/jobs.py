"""Builders shared by the jobs tests: a migrated database, a job context, pairings, tokens."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcrypt.bot.app.wiring import build_services
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.services import Services
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.server.keyring import Keyring, generate_key
from medcrypt.storage.db import make_engine
from medcrypt.storage.models.epochs import Epoch
from medcrypt.storage.models.escrow import EscrowDeposit
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.outbox import OutboxMessage
from medcrypt.storage.models.pairings import Pairing
from medcrypt.storage.models.tokens import StoredToken
from medcrypt.storage.repos.identities import get_or_create_identity
from tests.support.databases import migrated

KEYS = "1:" + generate_key()
#: The checkpoint signing seed every job process of a test shares (as the bot's host
#: environment gives it to the bot and to ``medcrypt-bot jobs``): a log written without
#: it has no checkpoints and fails verification.
SIGNING_KEY = base64.b64encode(os.urandom(32)).decode()
SIGNING_ENV = {"MEDCRYPT_AUDIT_SIGNING_KEY": SIGNING_KEY}


def make_context(url: str, clock: FixedClock, *, migrate_first: bool = True,
                 grace_days: int = 7) -> Services:
    if migrate_first:
        migrated(url)
    settings = parse_settings({"schedule": {"grace_days": grace_days}})
    return build_services(settings, clock, engine=make_engine(url),
                          keyring=Keyring.from_env_value(KEYS), environ=SIGNING_ENV)


@contextmanager
def context(url: str, clock: FixedClock) -> Iterator[Services]:
    ctx = make_context(url, clock)
    try:
        yield ctx
    finally:
        ctx.engine.dispose()


@dataclass(frozen=True)
class PairingFixture:
    pairing_id: str
    physician_id: str
    patient_id: str


def add_pairing(ctx: Services, *, start_epoch: int, at: datetime,
                grace_days: int = 7) -> PairingFixture:
    # The database's own keyring: identities share its key tree's KEK (ADR 0037).
    keyring = ctx.keyring
    with ctx.sessions.begin() as s:
        doc, _ = get_or_create_identity(s, keyring, "telegram", secrets.randbelow(10**9) + 1,
                                        now=at, role="physician")
        pat, _ = get_or_create_identity(s, keyring, "whatsapp",
                                        f"+1555{secrets.randbelow(10**7):07d}", now=at,
                                        role="patient")
        pid = secrets.token_hex(16)
        s.add(Pairing(pairing_id=pid, physician_id=doc.id, patient_id=pat.id, status="active",
                      start_epoch=start_epoch, grace_days=grace_days,
                      offer_expires_at=at + timedelta(days=1), created_at=at, completed_at=at))
        s.flush()
        s.add(Epoch(pairing_id=pid, epoch=start_epoch, state="active", started_at=at))
        return PairingFixture(pid, doc.id, pat.id)


def add_token(ctx: Services, pairing_id: str, epoch: int, at: datetime,
              body: bytes | None = None) -> bytes:
    """Store a token-like raw blob (header + random 'ciphertext'); returns its bytes."""
    raw = (bytes([2, 1]) + bytes.fromhex(pairing_id) + epoch.to_bytes(4, "big")
           + b"\x00" + (0).to_bytes(4, "big") + os.urandom(24) + (body or os.urandom(96)))
    with ctx.sessions.begin() as s:
        s.add(StoredToken(pairing_id=pairing_id, epoch=epoch, direction=0, msg_index=0,
                          kind=1, raw=raw, received_at=at))
    return raw


def add_escrow(ctx: Services, pairing_id: str, epoch: int, at: datetime) -> bytes:
    raw = (bytes([2, 4]) + bytes.fromhex(pairing_id) + epoch.to_bytes(4, "big")
           + b"\x01" + os.urandom(28) + os.urandom(80))
    with ctx.sessions.begin() as s:
        s.add(EscrowDeposit(pairing_id=pairing_id, epoch=epoch, direction=1, raw=raw,
                            deposited_at=at))
    return raw


def epoch_rows(s: Session, pairing_id: str | None = None) -> list[tuple[str, int, str]]:
    q = select(Epoch.pairing_id, Epoch.epoch, Epoch.state).order_by(Epoch.pairing_id,
                                                                     Epoch.epoch)
    if pairing_id is not None:
        q = q.where(Epoch.pairing_id == pairing_id)
    return [(p, e, st) for p, e, st in s.execute(q).all()]


def notices_for(s: Session, identity_id: str) -> list[str]:
    rows = s.scalars(select(OutboxMessage.payload).where(
        OutboxMessage.dest_identity_id == identity_id,
        OutboxMessage.payload_kind == "notice").order_by(OutboxMessage.id)).all()
    return [bytes(r).decode() for r in rows]


def count(s: Session, model: type) -> int:
    return int(s.scalar(select(func.count()).select_from(model)) or 0)


__all__ = ["PlatformIdentity"]
