"""Shredding removes relayed tokens of past epochs; pruning drops what delivery is done with."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.relay.retention import prune, shred_epochs
from storage import migrate
from storage.db import make_engine, session_factory
from storage.models.bot_relay import BotInboundKey, BotMedia, BotRelayedToken

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def test_shred_and_prune(database_url: str) -> None:
    migrate.upgrade(database_url)
    sessions = session_factory(make_engine(database_url))
    with sessions.begin() as s:
        for epoch in (680, 681, 682):
            s.add(BotRelayedToken(pairing_id=os.urandom(16), epoch=epoch, kind="message",
                                  raw=os.urandom(64), created_at=NOW))
        s.add(BotMedia(id="m1", data=b"x", created_at=NOW, url_hash=None,
                       url_expires_at=NOW - timedelta(hours=1)))
        s.add(BotInboundKey(platform="whatsapp", dedupe_key="SMold",
                            received_at=NOW - timedelta(days=30)))
    with sessions.begin() as s:
        assert shred_epochs(s, readable_from=682) == 2
        counts = prune(s, NOW)
        assert counts["media"] == 1 and counts["inbound_keys"] == 1
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(BotRelayedToken)) == 1
