"""A paused scheduler closes no shred epoch with its stale lease (issue 17 on replicas).

The ``key_epoch`` job runs on the scheduler role's fenced sessions: every batch first
proves the lease is still held. A holder paused past its lease wakes believing it still
holds the role; its close writes nothing - no new KEK, no DEK moved - while the same call
on plain sessions does close the epoch.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from medcrypt.bot.app.bot import BotApp
from medcrypt.bot.app.roles import SCHEDULER, RoleKeeper
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.lifecycle.key_epochs import close_if_due
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import kek_epochs
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.repos.identities import get_or_create_identity
from medcrypt.storage.repos.leases import LeaseLost
from tests.support.databases import migrated_postgres_database
from tests.support.storage import KEYS_V1, KEYS_V2, NOW

pytestmark = pytest.mark.postgres


async def test_a_stale_scheduler_closes_no_epoch() -> None:
    with migrated_postgres_database() as url:
        engine = make_engine(url)
        ring = Keyring.from_env_value(KEYS_V1)
        with session_factory(engine).begin() as s:
            for i in range(3):
                get_or_create_identity(s, ring, "telegram", str(50_000_000 + i), now=NOW)
        engine.dispose()
        bot = BotApp(parse_settings({
            "database": {"url": url}, "logging": {"level": "WARNING"},
            "telegram": {"enabled": False}, "whatsapp": {"enabled": False}}),
            environ={"MEDCRYPT_SERVER_KEYS": KEYS_V2})
        bot.roles = RoleKeeper(bot.engine, [SCHEDULER], ttl_s=5.0, renew_every_s=1.5)
        other = RoleKeeper(bot.engine, [SCHEDULER], ttl_s=5.0, renew_every_s=1.5)
        bot.services.warm()
        await bot.roles.tick()
        held = bot.roles.held(SCHEDULER)
        assert held is not None
        with bot.engine.begin() as conn:  # paused past its lease; the other takes over
            conn.execute(sa.text("UPDATE role_leases SET expires_at = clock_timestamp() "
                                 "- interval '1 second' WHERE role = :r"), {"r": SCHEDULER})
        await other.tick()
        assert other.held(SCHEDULER) is not None
        assert bot.roles.held(SCHEDULER) == held  # it still believes it holds the role

        with pytest.raises(LeaseLost):
            close_if_due(bot.role_services(SCHEDULER), NOW, force=True)
        with bot.sessions() as s:
            state = kek_epochs.status(s, "env")
        assert len(state.keks) == 1 and state.keks[0].root_version == 1
        # The three people's DEKs, and the purpose DEKs the bot made at warm-up (the audit
        # log's pseudonym secret, ADR 0037 amendment 1) and for the blind indexes (ADR
        # 0039 amendment 1): none moved.
        live = state.keks[0].live_deks
        assert live >= 3

        # The same call on the plain services closes the epoch.
        done = close_if_due(bot.services, NOW, force=True)
        # every live DEK moved but the old epoch's blind-index DEK, destroyed instead
        # once the three people's indexes were recomputed under the new one
        assert done["rewrapped"] == live - 1 and done["retired_keks"] == 1, done
        assert done["reindexed"] == 3 and done["index_keys_destroyed"] == 1, done
        await other.stop()
        bot.engine.dispose()
