"""Three real bot processes on one PostgreSQL against the threaded sandbox fakes.

Reuses the crash test's rig (tests/support/bot_process.py): each replica is
``python -m medcrypt.bot run`` with its own WhatsApp listener; all are configured with
the same public URL, as behind a load balancer, and Twilio posts to the first one. The
database says who holds which role (``role_leases``), the fake Bot API says who polled
when (``FakeTelegram.polls``, tagged with the lease epoch and the holder's random
suffix).
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from medcrypt.sandbox import FakeTelegram
from medcrypt.sandbox.fake_telegram import PollRecord
from medcrypt.sandbox.fake_twilio import FakeTwilio
from tests.support.bot_process import BotProcess, bot_environ
from tests.support.ports import worker_port
from tests.support.rigs import sandbox_settings, write_config
from tests.support.tokens import accept_token, register_token

POLLER = "telegram_poller"


@dataclass
class Cluster:
    tg: FakeTelegram
    tw: FakeTwilio
    url: str
    replicas: list[BotProcess] = field(default_factory=list)
    #: Each replica's /metrics port, in the order of :attr:`replicas`.
    monitoring: list[int] = field(default_factory=list)
    configs: list[Path] = field(default_factory=list)

    def holder(self, role: str = POLLER, timeout: float = 20) -> tuple[BotProcess, int, str]:
        """The replica holding ``role`` now, its epoch and its caller tag."""
        engine = sa.create_engine(self.url)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    row = conn.execute(sa.text(
                        "SELECT holder, epoch FROM role_leases WHERE role = :r "
                        "AND expires_at > clock_timestamp()"), {"r": role}).first()
                if row is not None:
                    pid = int(str(row[0]).split(":")[1])
                    for bot in self.replicas:
                        if bot.proc is not None and bot.proc.pid == pid:
                            return bot, int(row[1]), str(row[0]).rsplit(":", 1)[-1]
                time.sleep(0.05)
        finally:
            engine.dispose()
        raise AssertionError(f"nobody holds {role}")

    def polls(self) -> list[PollRecord]:
        return sorted(self.tg.polls, key=lambda p: p.start)

    def overlaps(self) -> list[tuple[PollRecord, PollRecord]]:
        return poll_overlaps(self.tg)

    def first_poll_after(self, t: float, *, not_caller: str) -> PollRecord | None:
        later = [p for p in self.polls() if p.start > t and p.caller != not_caller]
        return later[0] if later else None

    def stop(self) -> None:
        for bot in self.replicas:
            bot.stop()


def poll_overlaps(tg: FakeTelegram) -> list[tuple[PollRecord, PollRecord]]:
    """Every two getUpdates calls the fake saw at once (in start order)."""
    polls = sorted(tg.polls, key=lambda p: p.start)
    return [(a, b) for a, b in itertools.pairwise(polls) if b.start < a.end]


def start_cluster(tmp: Path, tg: FakeTelegram, tw: FakeTwilio, url: str, port0: int, *,
                  count: int = 3, **sections: dict[str, object]) -> Cluster:
    cluster = Cluster(tg, tw, url)
    env = bot_environ(tg, tw)
    for i in range(count):
        port = port0 if i == 0 else worker_port()
        config = sandbox_settings(tg, tw, port, tmp / "unused.db", **sections)
        config["database"] = {"url": url}
        config["whatsapp"] = {**config["whatsapp"], "public_url": f"http://127.0.0.1:{port0}"}
        monitoring = worker_port()
        config["monitoring"] = {"listen_port": monitoring, "probe_interval_seconds": 1.0}
        cfg = write_config(tmp / f"bot{i}.toml", config)
        cluster.monitoring.append(monitoring)
        cluster.configs.append(cfg)
        cluster.replicas.append(BotProcess(cfg, env, tmp / f"bot{i}.log", port))
    for bot in cluster.replicas:
        bot.start()
    return cluster


def post_until_accepted(tw: FakeTwilio, number: str, text: str, sid: str) -> None:
    """A patient's WhatsApp message, posted again until a replica's webhook takes it."""
    for _ in range(600):
        r = tw.user_sends_whatsapp(number, text, message_sid=sid)
        if r.http_status in (200, 403):  # 403 = already accepted (replay)
            return
        time.sleep(0.05)
    raise AssertionError("webhook never accepted the message")


def pair(cluster: Cluster, physicians: list[int], patients: list[str],
         pids: list[bytes]) -> None:
    """Pair each physician (Telegram) with the patient (WhatsApp) at the same index."""
    tg, tw = cluster.tg, cluster.tw
    for doc, pat, pid in zip(physicians, patients, pids, strict=True):
        tg.user_sends_text(doc, register_token(pid))
        tg.wait_for_messages(doc, 1, timeout=30)
        post_until_accepted(tw, pat, accept_token(pid), "SM" + os.urandom(16).hex())
        tg.wait_for_messages(doc, 3, timeout=30)
        tw.wait_until(lambda p=pat: len(tw.messages_to(p)) >= 2, timeout=30)
