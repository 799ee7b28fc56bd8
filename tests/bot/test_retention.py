"""Pruning drops what delivery is done with, and nothing a pending delivery still needs."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from medcrypt.bot.domain.identities import IdentityDirectory
from medcrypt.bot.domain.messages import Document, OutboundMessage, OutKind, Platform
from medcrypt.bot.domain.retention import INBOUND_KEY_MIN_TTL, inbound_key_ttl, prune
from medcrypt.bot.outbox import queue
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.db import is_sqlite, make_engine, session_factory
from medcrypt.storage.models.fragments import PendingFragment
from medcrypt.storage.models.inbound import InboundKey
from medcrypt.storage.models.media import MediaBlob
from medcrypt.storage.models.outbox import OutboxMessage
from medcrypt.storage.models.parts import PendingPart
from medcrypt.storage.repos import outbox as rows
from medcrypt.storage.repos.inbound import record_inbound
from tests.support.databases import migrated

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def test_prune_keeps_only_what_delivery_still_needs(database_url: str) -> None:
    engine = make_engine(migrated(database_url))
    sessions = session_factory(engine)
    directory = IdentityDirectory(Keyring({1: os.urandom(32)}), FixedClock(NOW))
    old = NOW - timedelta(days=30)
    with sessions.begin() as s:
        admin = directory.resolve(s, Platform.TELEGRAM, "4242").identity_id
        # Two bundles for an admin: one still waiting to go out, one delivered long ago.
        done, waiting = (
            queue.enqueue(s, OutboundMessage(admin, OutKind.FILE,
                                             document=Document(os.urandom(64), "b.mcbg")),
                          [""], when)[0]
            for when in (old, NOW))
        [claimed] = rows.claim(s, now=old, lease=timedelta(seconds=30), worker="w", limit=1,
                               postgres=not is_sqlite(engine))
        assert claimed.id == done
        assert rows.mark_sent(s, rows.claim_of(claimed), "tg-1", old) is not None
        queue.enqueue(s, OutboundMessage(admin, OutKind.NOTICE), ["a notice"], old)
        assert record_inbound(s, "whatsapp", "SMold", now=old)
        assert record_inbound(s, "whatsapp", "SMnew", now=NOW)
        s.add(PendingPart(group_id="aa" * 16, part_index=0, part_count=2, chunk=b"x",
                          sender_id=admin, received_at=old))
        # A paste whose rest never came (guarded long ago), and one still within its window.
        for run, when in (("old", NOW - timedelta(minutes=5)), ("new", NOW)):
            s.add(PendingFragment(sender_id=admin, run_id=run, seq=0, text=b"QUJD",
                                  received_at=when))
    with sessions.begin() as s:
        counts = prune(s, NOW)
    assert counts == {"media": 1, "parts": 1, "fragments": 1, "inbound_keys": 0,
                      "confirmations": 0, "early_receipts": 0, "outbox_bodies": 0,
                      "pending_accepts": 0}
    with sessions() as s:
        assert list(s.scalars(select(PendingFragment.run_id))) == ["new"]
    with sessions() as s:
        kept = s.get(OutboxMessage, waiting)
        assert kept is not None and kept.media_id is not None
        assert s.get(MediaBlob, kept.media_id) is not None  # still to be delivered
        assert s.scalar(select(func.count()).select_from(MediaBlob)) == 1
        assert len(list(s.scalars(select(InboundKey.id)))) == 2  # replay keys stay
    with sessions.begin() as s:  # a week after sending, sent payloads are emptied
        counts = prune(s, NOW + timedelta(days=8))
        assert counts["outbox_bodies"] == 0  # the only sent row was a file: empty payload
        notice = s.scalar(select(OutboxMessage).where(OutboxMessage.payload_kind == "notice"))
        assert notice is not None
        # Sent, as the worker records it (the row is not a head: no claim to fence).
        notice.status, notice.platform_message_id, notice.updated_at = "sent", "tg-2", NOW
    with sessions.begin() as s:
        assert prune(s, NOW + timedelta(days=8))["outbox_bodies"] == 1
    with sessions.begin() as s:
        assert prune(s, NOW + timedelta(days=8))["outbox_bodies"] == 0  # idempotent
    engine.dispose()


def test_inbound_keys_outlive_the_audit_log_and_four_hundred_days(database_url: str) -> None:
    """A captured, signed webhook stays recognised: its key is not pruned while the audit
    log keeps entries (for ever), and the rule never allows less than 400 days."""
    assert inbound_key_ttl() is None  # the audit log keeps every entry
    assert inbound_key_ttl(timedelta(days=30)) == INBOUND_KEY_MIN_TTL == timedelta(days=400)
    assert inbound_key_ttl(timedelta(days=3 * 365)) == timedelta(days=3 * 365)
    engine = make_engine(migrated(database_url))
    sessions = session_factory(engine)
    with sessions.begin() as s:
        assert record_inbound(s, "whatsapp", "SM" + "1" * 32, now=NOW)
    with sessions.begin() as s:
        assert prune(s, NOW + timedelta(days=10 * 365))["inbound_keys"] == 0
    with sessions.begin() as s:
        assert not record_inbound(s, "whatsapp", "SM" + "1" * 32, now=NOW)
        stored = s.scalar(select(InboundKey.key_sha256))
    assert stored == hashlib.sha256(("SM" + "1" * 32).encode()).digest()
    engine.dispose()
