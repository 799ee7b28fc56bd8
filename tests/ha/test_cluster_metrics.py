"""``/metrics`` carries what ``cluster status`` shows (issue 18, "an ops view of the
cluster"): two real bot processes on one PostgreSQL, each scraped over HTTP.

``cluster status`` lists the replicas, each role's holder with its epoch and lease age,
and the outbox depth and oldest age. A Prometheus server scraping either replica must
be able to say the same: which replicas are alive, who holds which role under which
epoch, how long the lease has run, and how deep and old the backlog is.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from medcrypt.bot.app.wiring import SystemClock
from medcrypt.bot.domain.identities import IdentityDirectory
from medcrypt.bot.domain.messages import OutboundMessage, OutKind, Platform
from medcrypt.bot.outbox import queue
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.sandbox import FakeTelegram
from medcrypt.sandbox.fake_twilio import FakeTwilio
from medcrypt.storage.db import make_engine, session_factory
from tests.support.bot_process import ROOT
from tests.support.databases import migrated_postgres_database
from tests.support.monitoring import Scrape, parse
from tests.support.ports import worker_port
from tests.support.replicas import start_cluster

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.xdist_group("replicas")]

#: Rows queued for later: the backlog both views must report.
WAITING = 3
ROLES = ("telegram_poller", "scheduler", "audit_checkpointer")


def _queue_for_later(url: str, keys: str) -> None:
    """Notices to one recipient, due in an hour: undelivered for the whole test."""
    engine = make_engine(url)
    clock = SystemClock()
    keyring = Keyring.from_environ({"MEDCRYPT_SERVER_KEYS": keys})
    with session_factory(engine).begin() as s:
        rid = IdentityDirectory(keyring, clock).resolve(s, Platform.TELEGRAM,
                                                        "6400001").identity_id
        for i in range(WAITING):
            queue.enqueue(s, OutboundMessage(rid, OutKind.NOTICE), [f"later {i}"],
                          clock.now())
        s.execute(sa.text("UPDATE outbox SET next_attempt_at = :at"),
                  {"at": clock.now() + timedelta(hours=1)})
    engine.dispose()


def _status(config: Path, env: dict[str, str]) -> list[str]:
    ran = subprocess.run(
        [sys.executable, "-m", "medcrypt.bot", "--config", str(config), "cluster", "status"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True)
    return ran.stdout.splitlines()


def _scrape(port: int) -> Scrape:
    import httpx

    return parse(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text)


def _holders(scrape: Scrape) -> dict[str, str]:
    return {s.labels["role"]: s.labels["replica"] for s in scrape.samples
            if s.name == "medcrypt_role_holder" and s.value == 1.0}


@pytest.mark.timeout(180)
def test_metrics_of_either_replica_show_what_cluster_status_shows(tmp_path: Path) -> None:
    port0 = worker_port()
    with migrated_postgres_database() as url, FakeTelegram() as tg, FakeTwilio(
            webhook_url=f"http://127.0.0.1:{port0}/twilio/inbound") as tw:
        cluster = start_cluster(tmp_path, tg, tw, url, port0, count=2)
        try:
            env = cluster.replicas[0].env
            _queue_for_later(url, env["MEDCRYPT_SERVER_KEYS"])
            for role in ROLES:
                cluster.holder(role)
            # Both probes (every 1 s) have read the cluster with every role held.
            deadline = time.monotonic() + 20
            while True:
                scrapes = [_scrape(port) for port in cluster.monitoring]
                ready = all(len(_holders(s)) == len(ROLES)
                            and s.value("medcrypt_outbox_backlog") == WAITING
                            and s.value("medcrypt_replicas_alive") == 2 for s in scrapes)
                if ready or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            lines = _status(cluster.configs[0], env)
        finally:
            cluster.stop()
    assert lines[0] == "replicas (2 alive):"
    listed = [line.split()[0] for line in lines[1:lines.index("roles:")]]
    assert len(listed) == 2 and all(f":{b.pid}:" in " ".join(listed) for b in cluster.replicas)
    roles = {}
    for line in lines[lines.index("roles:") + 1:-1]:
        m = re.match(r"\s+(\S+)\s+held\s+epoch (\d+)\s+by (\S+)\s+age\s+([\d.]+)s", line)
        assert m is not None, line
        roles[m[1]] = (int(m[2]), m[3], float(m[4]))
    assert set(roles) == set(ROLES)
    backlog = re.fullmatch(r"outbox: (\d+) undelivered, oldest (\d+)s", lines[-1])
    assert backlog is not None and int(backlog[1]) == WAITING, lines[-1]
    for scrape in scrapes:
        assert scrape.value("medcrypt_replicas_alive") == 2
        seen = {s.labels["replica"] for s in scrape.samples
                if s.name == "medcrypt_replica_last_seen_seconds"}
        assert seen == set(listed)
        assert all(scrape.value("medcrypt_replica_last_seen_seconds", replica=r) < 15
                   for r in listed)
        assert all(scrape.value("medcrypt_replica_up_seconds", replica=r) > 0 for r in listed)
        assert _holders(scrape) == {role: holder for role, (_e, holder, _a) in roles.items()}
        for role, (epoch, _holder, age) in roles.items():
            assert scrape.value("medcrypt_role_epoch", role=role) == epoch
            # Read a moment apart: the same lease, a few seconds older at most.
            assert abs(scrape.value("medcrypt_role_lease_age_seconds", role=role) - age) < 15
            assert 0 < scrape.value("medcrypt_role_lease_remaining_seconds", role=role) <= 5
        assert scrape.value("medcrypt_outbox_backlog") == WAITING
        assert abs(scrape.value("medcrypt_outbox_oldest_age_seconds")
                   - int(backlog[2])) < 15
