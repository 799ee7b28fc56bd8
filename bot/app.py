"""Wire the bot together: storage, keyring, intake, outbox worker, both adapters.

One process, one event loop: PTB's Application (polling or webhook), the Twilio webhook
served by uvicorn, and the outbox worker run as tasks side by side. ``BotApp`` is used
by ``medcrypt-bot run``, the demo, the tests and the benchmark alike, so what is tested
is what runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import structlog
import uvicorn
from sqlalchemy import Engine

from bot.adapters.telegram import TelegramAdapter
from bot.adapters.whatsapp import WhatsAppSender
from bot.adapters.whatsapp_webhook import WhatsAppWebhook
from bot.config import Settings
from bot.messages import Platform
from bot.outbox.sender import Sender
from bot.outbox.worker import OutboxWorker
from bot.relay.auditing import Auditor
from bot.relay.context import Services
from bot.relay.identities import IdentityDirectory
from bot.relay.intake import Intake
from bot.relay.ratelimit import RateLimiter
from bot.relay.retention import prune
from crypto.clock import Clock
from crypto.keyring import Keyring
from storage import migrate
from storage.audit import AuditLog
from storage.db import is_sqlite, make_engine, session_factory

log = structlog.get_logger("bot.app")

class SystemClock:
    """The wall clock, at the edge where bot/ may read it."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def prepare_database(url: str) -> None:
    """Bring the schema to the head revision (idempotent; Alembic keeps the version)."""
    migrate.upgrade(url)


class BotApp:
    def __init__(self, settings: Settings, *, environ: Mapping[str, str] | None = None,
                 clock: Clock | None = None, engine: Engine | None = None,
                 auto_migrate: bool = True) -> None:
        env = os.environ if environ is None else environ
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.keyring = Keyring.from_environ(env, env_name=settings.keyring.server_keys_env)
        if auto_migrate:
            prepare_database(settings.database_url)
        self.engine = engine or make_engine(settings.database_url)
        self.sessions = session_factory(self.engine)
        self.audit_log = AuditLog(self.engine, self.keyring, clock=self.clock,
                                  postgres_vacuum=settings.database.postgres_vacuum)
        # Create/load the pseudonym secret now, in its own transaction: done lazily inside
        # an intake transaction it would wait on that transaction's own SQLite write lock.
        self.audit_log.pseudonym("identity", "startup")
        self.services = Services(settings=settings,
                                 directory=IdentityDirectory(self.keyring, self.clock),
                                 clock=self.clock, auditor=Auditor(self.audit_log))
        self.intake = Intake(self.sessions, self.services,
                             RateLimiter(settings.relay.user_messages_per_minute, self.clock))
        senders: dict[Platform, Sender] = {}
        self.telegram: TelegramAdapter | None = None
        self.webhook: WhatsAppWebhook | None = None
        self.whatsapp: WhatsAppSender | None = None
        if settings.telegram.enabled:
            self.telegram = TelegramAdapter(
                settings, settings.secret("telegram.token_env", environ=env), self.intake,
                self.keyring, self._wake,
                webhook_secret=(settings.secret("telegram.webhook_secret_env", environ=env)
                                if settings.telegram.mode == "webhook" else ""))
            senders[Platform.TELEGRAM] = self.telegram
        if settings.whatsapp.enabled:
            sid = settings.secret("whatsapp.account_sid_env", environ=env)
            token = settings.secret("whatsapp.auth_token_env", environ=env)
            sender = WhatsAppSender(
                settings, sid, token, settings.secret("whatsapp.from_number_env", environ=env))
            self.whatsapp = sender
            senders[Platform.WHATSAPP] = sender
            admins = frozenset(
                n.strip() if n.strip().startswith("whatsapp:") else f"whatsapp:{n.strip()}"
                for n in env.get(settings.clinic.admin_whatsapp_numbers_env, "").split(",")
                if n.strip())
            self.webhook = WhatsAppWebhook(
                settings, auth_token=token, account_sid=sid, intake=self.intake,
                sessions=self.sessions, clock=self.clock, on_accepted=self._wake,
                on_status=self._status, admin_numbers=admins)
        self.worker = OutboxWorker(
            self.sessions, self.services, senders, postgres=not is_sqlite(self.engine),
            concurrency=settings.relay.outbox_concurrency,
            lease=timedelta(seconds=settings.relay.outbox_lease_seconds),
            media_url=self.webhook.media_url if self.webhook else None)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._server: uvicorn.Server | None = None

    def _wake(self) -> None:
        self.worker.wake()

    def _status(self, sid: str, status: str, error_code: str | None) -> None:
        self.worker.record_status(sid, status, error_code)

    async def start(self) -> None:
        if self.webhook is not None:
            wa = self.settings.whatsapp
            config = uvicorn.Config(self.webhook.app, host=wa.listen_host, port=wa.listen_port,
                                    log_level="warning", access_log=False, lifespan="off")
            self._server = uvicorn.Server(config)
            self._tasks.append(asyncio.create_task(self._server.serve()))
            while not self._server.started:
                await asyncio.sleep(0.01)
        if self.telegram is not None:
            await self.telegram.start()
        self._tasks.append(asyncio.create_task(self.worker.run(self._stop)))
        self._tasks.append(asyncio.create_task(self._housekeeping()))
        log.info("bot_started", telegram=self.telegram is not None,
                 whatsapp=self.webhook is not None)

    async def _housekeeping(self, every_seconds: float = 600.0) -> None:
        """Prune delivered media, stale parts and old idempotency keys, periodically."""
        while not self._stop.is_set():
            try:
                with self.sessions.begin() as s:
                    counts = prune(s, self.clock.now())
                log.info("housekeeping", **{f"{k}_count": v for k, v in counts.items()})
            except Exception as exc:  # housekeeping must never take the relay down
                log.error("housekeeping_failed", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=every_seconds)

    async def stop(self) -> None:
        self._stop.set()
        self.worker.wake()
        if self.telegram is not None:
            with contextlib.suppress(Exception):
                await self.telegram.stop()
        if self._server is not None:
            self._server.should_exit = True
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await task
        if self.whatsapp is not None:
            await self.whatsapp.close()
        self.engine.dispose()

    async def run_until(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()
