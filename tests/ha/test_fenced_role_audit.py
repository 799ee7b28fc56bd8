"""A paused checkpointer makes no audit append with its stale epoch (issue 18).

The maintenance tick's role work - break-glass expiry, one audit entry per expired
request - runs while this replica holds the ``audit_checkpointer`` lease. A replica
paused (SIGSTOP, a GC stall) after it read "mine" wakes with its local view still
saying so, while another replica has taken the role with a newer epoch. Through the
role's fenced services (:meth:`BotApp.role_services`) its expiry writes nothing: no
request changed, no audit entry appended. Through the plain services - what the tick
used before - the stale holder expired the request and appended to the chain.
"""

from __future__ import annotations

import base64
import os
from datetime import timedelta

import pytest
import sqlalchemy as sa

from medcrypt.bot.app.bot import BotApp
from medcrypt.bot.app.roles import CHECKPOINTER, RoleKeeper
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.scheduler.maintenance import expire_breakglass
from medcrypt.storage.repos import breakglass
from medcrypt.storage.repos.leases import LeaseLost
from tests.support.databases import migrated_postgres_database

pytestmark = pytest.mark.postgres


def _bot(url: str) -> BotApp:
    settings = parse_settings({
        "database": {"url": url}, "logging": {"level": "WARNING"},
        "telegram": {"enabled": False}, "whatsapp": {"enabled": False}})
    return BotApp(settings, environ={
        "MEDCRYPT_SERVER_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode()})


async def test_a_stale_checkpointer_appends_nothing() -> None:
    with migrated_postgres_database() as url:
        bot = _bot(url)
        # This replica's keeper, for the one role (the bot's own would start the
        # scheduler on gaining its lease, which this test does not need).
        bot.roles = RoleKeeper(bot.engine, [CHECKPOINTER], ttl_s=5.0, renew_every_s=1.5)
        other = RoleKeeper(bot.engine, [CHECKPOINTER], ttl_s=5.0, renew_every_s=1.5)
        now = bot.clock.now()
        with bot.sessions.begin() as s:
            breakglass.create_request(
                s, bot.keyring, code="EXPIRE01", pairing_id=os.urandom(16),
                requester_id="a" * 32, requester_person="b" * 32, reason="stale test",
                now=now - timedelta(hours=2), expires_at=now - timedelta(hours=1))
        bot.services.warm()
        await bot.roles.tick()
        held = bot.roles.held(CHECKPOINTER)
        assert held is not None
        # Paused past its lease: the database lets it expire and the other replica takes
        # the role, while this one's local deadline (monotonic) has not passed yet.
        with bot.engine.begin() as conn:
            conn.execute(sa.text("UPDATE role_leases SET expires_at = clock_timestamp() "
                                 "- interval '1 second' WHERE role = :r"), {"r": CHECKPOINTER})
        await other.tick()
        taken = other.held(CHECKPOINTER)
        assert taken is not None and taken[1] == held[1] + 1
        assert bot.roles.held(CHECKPOINTER) == held  # it still believes it holds the role
        head = bot.services.audit.head().seq

        with pytest.raises(LeaseLost):
            expire_breakglass(bot.role_services(CHECKPOINTER))
        assert bot.services.audit.head().seq == head, "a stale holder appended to the audit"
        with bot.sessions() as s:
            found = breakglass.find_request(s, "EXPIRE01")
            assert found is not None and found.status == "pending"

        # The same call on the plain services (the tick before this fix) did write.
        assert expire_breakglass(bot.services) == 1
        assert bot.services.audit.head().seq == head + 1
        await other.stop()
        bot.engine.dispose()
