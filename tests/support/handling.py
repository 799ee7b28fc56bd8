"""The bot's real bundle on a fresh database, and the handling of one message as a
command sees it - for driving domain rules (confirmations, persons) without a platform.

Nothing is faked: the :class:`Services` come from the composition root, the message
context is the one the relay builds, the identities are sealed rows found through the
directory like any sender's.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from medcrypt.bot.app.wiring import build_services
from medcrypt.bot.commands.context import Context
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.messages import InboundMessage, Platform
from medcrypt.bot.domain.services import Services
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.db import Engine, Session, make_engine
from tests.support.clocks import MovableClock
from tests.support.databases import migrated

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


@dataclass
class World:
    services: Services
    engine: Engine
    clock: MovableClock

    def identity(self, session: Session, platform: Platform, address: str) -> str:
        """The identity id of an address (created, sealed, like a first message)."""
        return self.services.directory.resolve(session, platform, address).identity_id

    def handling(self, session: Session, sender_id: str,
                 platform: Platform = Platform.TELEGRAM) -> Context:
        """The context a command gets for a message from ``sender_id``."""
        message = InboundMessage(platform=platform, sender_id=sender_id,
                                 dedupe_key=os.urandom(8).hex())
        return Context(session=session, services=self.services, message=message)


@contextmanager
def world(database_url: str, clinic: Mapping[str, Any] | None = None,
          environ: Mapping[str, str] | None = None) -> Iterator[World]:
    """A migrated database and the bundle over it, with ``clinic`` settings and the
    admins' WhatsApp numbers in ``environ``."""
    engine = make_engine(migrated(database_url))
    keyring = Keyring.from_environ(
        {"K": "1:" + base64.b64encode(os.urandom(32)).decode()}, env_name="K")
    clock = MovableClock(T0)
    settings = parse_settings({"clinic": dict(clinic or {})})
    env = dict(environ or {})
    services = build_services(settings, clock, engine=engine, keyring=keyring, environ=env)
    services.warm()
    try:
        yield World(services, engine, clock)
    finally:
        engine.dispose()
