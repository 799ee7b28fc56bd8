"""Wire the bot together: storage, keyring, intake, outbox worker, both adapters, jobs.

One process, one event loop: PTB's Application (polling or webhook), the Twilio webhook
served by uvicorn, the outbox worker, APScheduler (monthly rotation, shred sweep) and
the maintenance loop (audit checkpoints posted to the admins, daily break-glass expiry
and escrow-deposit reminders) run side by side. Commands whose work spans transactions
(``/jobs``, ``/rotate_now``, ``/shred``, ``/audit_verify``) run in worker threads after
their message committed (``Intake.defer_hook``). ``BotApp`` is used
by ``medcrypt-bot run``, the demo, the tests and the benchmark alike, so what is tested
is what runs.

The platform loops - Telegram's polling or webhook listener, the WhatsApp webhook
listener - run under :class:`~bot.app.supervisor.Supervisor`: a loop that dies is
restarted with backoff, and :attr:`BotApp.health` says which loops are up (what a
readiness check reads). Every HTTP listener caps request bodies at its edge
(:mod:`bot.adapters.http_edge`).

The operator's side: a loopback listener of its own serves ``/healthz``, ``/readyz``
and ``/metrics`` (:mod:`bot.app.monitoring`; started first, so liveness answers while
the platforms start), the readiness probe checks the database off the loop
(:mod:`bot.app.probe`), and under systemd the bot speaks sd_notify
(:mod:`bot.app.notify`): READY=1 once started with the database at head, watchdog
pings from the event loop, STOPPING=1 at stop.

Several replicas on one PostgreSQL (issue 18, ADR 0032): every replica serves the
webhooks and drains the outbox; the singleton work runs under leases kept by
:class:`~bot.app.roles.RoleKeeper` - the Telegram long poll (its intake on sessions
fenced by the lease), the scheduler (started when the lease is won, stopped when it is
lost; its jobs on fenced sessions) and the maintenance tick (audit checkpoints,
break-glass expiry, deposit reminders). On SQLite there is no keeper: ``run`` holds a
lock file (:mod:`bot.app.singleton`) and this process does everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from datetime import timedelta

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

import medcrypt.bot.app.commands  # noqa: F401 - importing it registers every chat command
from medcrypt.bot.adapters import telegram as telegram_adapter
from medcrypt.bot.adapters.http_listener import Listener
from medcrypt.bot.adapters.telegram import TelegramAdapter
from medcrypt.bot.adapters.whatsapp import WhatsAppSender
from medcrypt.bot.adapters.whatsapp_webhook import WhatsAppWebhook
from medcrypt.bot.app import heap
from medcrypt.bot.app.metrics import BotMetrics
from medcrypt.bot.app.monitoring import ENDPOINT as MONITORING
from medcrypt.bot.app.monitoring import MAX_BODY_BYTES as MONITORING_BODY_BYTES
from medcrypt.bot.app.monitoring import monitoring_app
from medcrypt.bot.app.notify import Notifier
from medcrypt.bot.app.probe import Probe
from medcrypt.bot.app.roles import (
    CHECKPOINTER,
    IDLE_IN_TRANSACTION_S,
    POLLER,
    SCHEDULER,
    RoleKeeper,
)
from medcrypt.bot.app.startup import RetryPolicy, with_retries
from medcrypt.bot.app.supervisor import Supervisor
from medcrypt.bot.app.wiring import SystemClock, build_services
from medcrypt.bot.commands.context import Deferred
from medcrypt.bot.domain.config import Settings
from medcrypt.bot.domain.health import LoopHealth
from medcrypt.bot.domain.messages import Platform
from medcrypt.bot.domain.refusals import RefusalDigest
from medcrypt.bot.domain.retention import prune
from medcrypt.bot.domain.sender import Sender
from medcrypt.bot.domain.services import Services
from medcrypt.bot.outbox.pacing import ReplySlots, SharedPacing
from medcrypt.bot.outbox.worker import OutboxWorker
from medcrypt.bot.relay.intake import Intake
from medcrypt.bot.relay.ratelimit import Limiter, RateLimiter, SharedRateLimiter
from medcrypt.bot.scheduler.maintenance import (
    checkpoint_tick,
    expire_breakglass,
    remind_missing_deposits,
)
from medcrypt.bot.scheduler.runner import start_scheduler, stop_scheduler, wait_idle
from medcrypt.crypto.clock import Clock
from medcrypt.crypto.errors import StorageError
from medcrypt.crypto.server.audit import SYSTEM_BOT, Action
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import deks, migrate
from medcrypt.storage.checkpointer import WalCheckpointer
from medcrypt.storage.db import Engine, SessionFactory, is_sqlite, make_engine
from medcrypt.storage.gate import install as install_gate
from medcrypt.storage.repos import ratelimits

log = structlog.get_logger("bot.app")

#: How often the maintenance loop looks for a due audit checkpoint.
CHECKPOINT_TICK_SECONDS = 300.0
#: How often it reminds physicians of missing escrow deposits.
DAILY_SECONDS = 86_400.0
FIRST_DAILY_AFTER_SECONDS = 3_600.0
#: How long stop() waits for a running rotation or sweep to finish its batch.
JOB_DRAIN_SECONDS = 60.0
#: The WhatsApp webhook listener's name in :attr:`BotApp.health`.
WHATSAPP_LOOP = "whatsapp"
#: Start-up time asked of systemd beyond the platforms' own requests (database, audit
#: entry, listeners, scheduler catch-up registration).
START_BASE_SECONDS = 30.0
#: Platform requests ``start`` may make per platform (getMe, setWebhook or
#: deleteWebhook), each bounded by the platform's request timeout.
START_REQUESTS_PER_PLATFORM = 3


def start_budget_seconds(settings: Settings) -> float:
    """How long :meth:`BotApp.start` may take at most: what it asks systemd for."""
    budget = START_BASE_SECONDS
    if settings.telegram.enabled:
        budget += START_REQUESTS_PER_PLATFORM * settings.telegram.request_timeout_seconds
        # getMe is retried with backoff at start (bot.app.startup): its waits count too.
        budget += settings.startup.max_seconds + (
            settings.startup.attempts * settings.telegram.request_timeout_seconds)
    if settings.whatsapp.enabled:
        budget += START_REQUESTS_PER_PLATFORM * settings.whatsapp.request_timeout_seconds
    return budget


def prepare_database(url: str) -> None:
    """Bring the schema to the head revision (idempotent; Alembic keeps the version)."""
    migrate.upgrade(url)


class BotApp:
    def __init__(self, settings: Settings, *, environ: Mapping[str, str] | None = None,
                 clock: Clock | None = None, engine: Engine | None = None,
                 auto_migrate: bool = True, startup: RetryPolicy | None = None) -> None:
        env = os.environ if environ is None else environ
        self.settings = settings
        #: How :meth:`start` retries reaching Telegram (``run`` passes the configured
        #: policy; None: one attempt, as tests and tools want).
        self.startup = startup
        self.clock: Clock = clock or SystemClock()
        self.keyring = Keyring.from_environ(env, env_name=settings.keyring.server_keys_env)
        if auto_migrate:
            prepare_database(settings.database_url)
        self.engine = engine or make_engine(
            settings.database_url, wal_autocheckpoint=False,
            idle_in_transaction_ms=int(IDLE_IN_TRANSACTION_S * 1000))
        # SQLite: WAL checkpoints in a thread, not inside an inbound message's commit.
        database = self.engine.url.database if is_sqlite(self.engine) else None
        self.checkpointer = (WalCheckpointer(database)
                             if database and database != ":memory:" else None)
        # Jobs and deferred commands use the database from worker threads (storage.gate).
        self.gate = install_gate(self.engine)
        #: Set (from any thread) when an append left N entries unsigned: the checkpointer
        #: wakes before its tick (ADR 0036). Created on the loop in :meth:`start`.
        self._checkpoint_wanted: asyncio.Event | None = None
        self._cp_sessions: SessionFactory | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Which platform loops are up; the supervisor keeps them running.
        self.health = LoopHealth()
        #: This bot's Prometheus registry; the relay, outbox and jobs count into it.
        self.metrics = BotMetrics(self.health)
        # The one bundle of the process, with the one audit log of its engine: appends
        # never sign; the checkpointer task does, queueing witness lines as it commits.
        self.services = build_services(settings, self.clock, environ=env, engine=self.engine,
                                       keyring=self.keyring, on_due=self._checkpoint_due,
                                       events=self.metrics)
        self.services.warm()
        self.sessions = self.services.sessions
        # The epoch KEK: one provider call here, none per message (docs/adr/0037).
        with self.sessions.begin() as session:
            deks.warm(session, deks.tree_of(self.keyring), now=self.clock.now())
        # One process on SQLite keeps the per-user limit in memory; replicas on
        # PostgreSQL share it as rows updated in the intake's transaction.
        limiter: Limiter = (
            RateLimiter(settings.relay.user_messages_per_minute, self.clock)
            if is_sqlite(self.engine) else
            SharedRateLimiter(settings.relay.user_messages_per_minute, self.keyring,
                              self.clock))
        self.intake = Intake(self.services, limiter)
        self.intake.defer_hook = self._defer
        #: The leases of the singleton roles (PostgreSQL only; None: this process does
        #: everything, as on SQLite).
        self.roles: RoleKeeper | None = None
        #: The services fenced by each role's lease (:meth:`role_services`).
        self._fenced: dict[str, Services] = {}
        polling = settings.telegram.enabled and settings.telegram.mode != "webhook"
        poll_intake = self.intake
        if not is_sqlite(self.engine):
            wanted = [POLLER] if polling else []
            self.roles = RoleKeeper(self.engine, [*wanted, SCHEDULER, CHECKPOINTER],
                                    on_change=self._role_changed)
            if polling:
                poll_intake = Intake(self.services, limiter,
                                     sessions=self.roles.sessions(POLLER))
                poll_intake.defer_hook = self._defer
        self.probe = Probe(self.services, self.metrics,
                           interval=settings.monitoring.probe_interval_seconds,
                           holder=self.roles.holder if self.roles else None)
        self.notifier = Notifier(env)

        # The monitoring listener is supervised apart from the platform loops: it is
        # not one of them, and readiness must not depend on who asks about it.
        self._monitor = Supervisor(LoopHealth())
        self._monitor_listener: Listener | None = None
        #: Set once :meth:`start` finished (readiness needs it).
        self.started = False
        #: Refused webhook requests, audited at most once a minute per platform and reason.
        self.refusals = RefusalDigest()
        self.supervisor = Supervisor(self.health)
        senders: dict[Platform, Sender] = {}
        lease = timedelta(seconds=settings.relay.outbox_lease_seconds)
        # Replicas on PostgreSQL share each platform's send pacing, reserved in the
        # outbox claim's transaction (ADR 0038); one process on SQLite paces in memory.
        # Direct replies, sent by the adapters outside the outbox, take the same slots.
        rates = {Platform.TELEGRAM: settings.telegram.global_messages_per_second,
                 Platform.WHATSAPP: settings.whatsapp.global_messages_per_second}
        # A send starts only if it ends before its claim can expire (ADR 0032 amendment
        # 2), so a slot lies no further out than half of what the request timeout leaves.
        send_timeout = max(settings.telegram.request_timeout_seconds,
                           settings.whatsapp.request_timeout_seconds)
        horizon = min(lease.total_seconds() / 3, (lease.total_seconds() - send_timeout) / 2)
        pacing = None if self.roles is None or not any(r > 0 for r in rates.values()) \
            else SharedPacing(rates, horizon=horizon)
        reply_slot = None if pacing is None else ReplySlots(pacing, self.sessions).wait
        self.telegram: TelegramAdapter | None = None
        self.webhook: WhatsAppWebhook | None = None
        self.whatsapp: WhatsAppSender | None = None
        if settings.telegram.enabled:
            self.telegram = TelegramAdapter(
                settings, settings.secret("telegram.token_env", environ=env), poll_intake,
                self._wake,
                webhook_secret=(settings.secret("telegram.webhook_secret_env", environ=env)
                                if settings.telegram.mode == "webhook" else ""),
                on_unparseable=self._audit_unparseable, on_refused=self._audit_refused,
                health=self.health,
                poll_lease=self._poll_lease if self.roles is not None and polling else None,
                poll_tag=self.roles.holder.rsplit(":", 1)[-1] if self.roles else "",
                outbox_paced=self.roles is not None, reply_slot=reply_slot)
            self.health.register(telegram_adapter.LOOP_NAME)
            senders[Platform.TELEGRAM] = self.telegram
        if settings.whatsapp.enabled:
            sid = settings.secret("whatsapp.account_sid_env", environ=env)
            token = settings.secret("whatsapp.auth_token_env", environ=env)
            sender = WhatsAppSender(
                settings, sid, token, settings.secret("whatsapp.from_number_env", environ=env),
                outbox_paced=self.roles is not None)
            self.whatsapp = sender
            senders[Platform.WHATSAPP] = sender
            self.webhook = WhatsAppWebhook(
                settings, auth_token=token, account_sid=sid, intake=self.intake,
                sessions=self.sessions, clock=self.clock, on_accepted=self._wake,
                on_status=self._status, on_refused=self._audit_refused,
                reply_slot=reply_slot)
            self.health.register(WHATSAPP_LOOP)
        self.worker = OutboxWorker(
            self.services, senders,
            concurrency=settings.relay.outbox_concurrency, lease=lease,
            file_links={Platform.WHATSAPP: self.webhook.file_links} if self.webhook else None,
            pacing=pacing, send_timeout=send_timeout)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._deferred: set[asyncio.Task[None]] = set()
        self._scheduler: AsyncIOScheduler | None = None
        self._stopped = False
        #: Maintenance intervals (tests shorten them).
        self.checkpoint_every_seconds = CHECKPOINT_TICK_SECONDS
        self.daily_every_seconds = DAILY_SECONDS
        self.first_daily_after_seconds = FIRST_DAILY_AFTER_SECONDS

    def _poll_lease(self) -> tuple[int, float] | None:
        """The Telegram poller's lease as the adapter wants it: (epoch, budget)."""
        assert self.roles is not None
        held = self.roles.held(POLLER)
        return None if held is None else (held[1], self.roles.budget_s(POLLER))

    def role_services(self, role: str) -> Services:
        """The services whose every transaction is fenced by ``role``'s lease (the
        plain ones where there are no leases: SQLite, one process)."""
        if self.roles is None:
            return self.services
        fenced = self._fenced.get(role)
        if fenced is None:
            fenced = self._fenced[role] = self.services.fenced(self.roles.sessions(role))
        return fenced

    def _holds(self, role: str) -> bool:
        return self.roles is None or self.roles.held(role) is not None

    def _checkpoint_sessions(self) -> SessionFactory | None:
        """The checkpointer's fenced sessions (None on SQLite: the audit log's own),
        built once."""
        if self.roles is None:
            return None
        if self._cp_sessions is None:
            self._cp_sessions = self.roles.sessions(CHECKPOINTER)
        return self._cp_sessions

    def _checkpoint_due(self) -> None:
        """The audit log's ``on_due`` (any thread): wake the checkpointer. Cheap."""
        loop, wanted = self._loop, self._checkpoint_wanted
        if loop is not None and wanted is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wanted.set)

    async def _checkpointer(self) -> None:
        """Sign audit checkpoints on the tick and when appends signal N unsigned entries,
        while this process holds the checkpointer role. A provider that is down delays
        the checkpoint (logged, and ``medcrypt_audit_checkpoint_failures_total``); it never
        fails an append."""
        assert self._checkpoint_wanted is not None
        wanted = self._checkpoint_wanted
        while not self._stop.is_set():
            wanted.clear()
            if self._holds(CHECKPOINTER):
                try:
                    await asyncio.to_thread(checkpoint_tick, self.services, self.clock.now(),
                                            sessions=self._checkpoint_sessions())
                    self.worker.wake()  # witness lines were queued with any checkpoint
                except Exception as exc:  # delayed, not lost: the next pass catches up
                    self.metrics.checkpoint_failed()
                    log.error("audit_checkpoint_delayed", error=type(exc).__name__)
            waits = {asyncio.ensure_future(self._stop.wait()),
                     asyncio.ensure_future(wanted.wait())}
            _done, pending = await asyncio.wait(waits, timeout=self.checkpoint_every_seconds,
                                                return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()

    async def _role_changed(self, role: str, held: bool) -> None:
        """Start or stop what a role runs (the keeper calls this on the event loop)."""
        if role == POLLER and not held and self.telegram is not None:
            self.telegram.abort_poll()  # a poll never outlives its lease
            return
        if role != SCHEDULER or self._stopped:
            return
        if held and self._scheduler is None:
            assert self.roles is not None
            self._scheduler = start_scheduler(self.role_services(SCHEDULER))
        elif not held and self._scheduler is not None:
            stop_scheduler(self._scheduler)
            self._scheduler = None

    def _wake(self) -> None:
        self.worker.wake()

    async def _status(self, sid: str, status: str, error_code: str | None) -> None:
        await self.worker.record_status_soon(sid, status, error_code)

    def _defer(self, identity_id: str, work: list[Deferred]) -> None:
        """Run a committed command's work in worker threads; queue each reply."""
        loop = self._loop
        if loop is None:  # not started (tools, unit tests): run it here
            for item in work:
                self.intake.run_deferred(identity_id, item)
            return

        def spawn() -> None:
            task = loop.create_task(self._run_deferred(identity_id, work))
            self._deferred.add(task)
            task.add_done_callback(self._deferred.discard)

        loop.call_soon_threadsafe(spawn)

    async def _run_deferred(self, identity_id: str, work: list[Deferred]) -> None:
        for item in work:
            await asyncio.to_thread(self.intake.run_deferred, identity_id, item)
            self.worker.wake()

    async def _audit_unparseable(self, update_id: int) -> None:
        """Audit a Telegram update that was skipped unread: its id, never its content."""
        details: dict[str, str | int] = {"platform": "telegram", "reason": "unparseable",
                                         "update_id": update_id}
        try:
            await asyncio.to_thread(self.services.audit.append, SYSTEM_BOT,
                                    Action.PLATFORM_INPUT_SKIPPED, SYSTEM_BOT, details)
        except Exception as exc:  # the skip stands; the audit log's failure is logged
            log.error("audit_skip_failed", error=type(exc).__name__)

    async def _audit_refused(self, platform: str, reason: str) -> None:
        """Audit refused webhook requests (bad signature or secret, replay), folded so
        that an unauthenticated sender cannot grow the audit log (``domain.refusals``)."""
        count = self.refusals.note(platform, reason, self.clock.now())
        if count is not None:
            await asyncio.to_thread(self._append_refused, platform, reason, count)

    def _append_refused(self, platform: str, reason: str, count: int) -> None:
        details: dict[str, str | int] = {"platform": platform, "reason": reason,
                                         "count": count}
        try:
            self.services.audit.append(SYSTEM_BOT, Action.WEBHOOK_FORGED, SYSTEM_BOT, details)
        except Exception as exc:  # the refusal stands; the audit log's failure is logged
            log.error("audit_refusal_failed", error=type(exc).__name__)

    def _audit_lifecycle(self, action: Action) -> None:
        try:
            self.services.audit.append(SYSTEM_BOT, action, SYSTEM_BOT, {
                "telegram": self.telegram is not None, "whatsapp": self.webhook is not None})
            if action is Action.BOT_STOPPED and self._holds(CHECKPOINTER):
                # A tail left unsigned would fail `audit verify` once older than the
                # checkpoint interval, exactly as a log cut back to it does.
                self.services.audit.checkpoint_open_tail(sessions=self._checkpoint_sessions())
        except Exception as exc:  # the audit log's own failure is logged, never fatal here
            log.error("audit_lifecycle_failed", action=action.value, error=type(exc).__name__)

    @property
    def monitoring_port(self) -> int | None:
        """The port /healthz, /readyz and /metrics answer on (None: not listening)."""
        listener = self._monitor_listener
        return None if listener is None else listener.bound_port

    async def _start_monitoring(self) -> None:
        mon = self.settings.monitoring
        if not mon.enabled:
            return
        app = monitoring_app(started=lambda: self.started, probe=self.probe,
                             health=self.health, metrics=self.metrics)
        listener = Listener(app, host=mon.listen_host, port=mon.listen_port,
                            max_body_bytes=MONITORING_BODY_BYTES, endpoint=MONITORING)
        self._monitor_listener = listener
        await self._monitor.start(MONITORING, listener.run, stop=listener.stop)
        log.info("monitoring_listening", host=mon.listen_host, port=listener.bound_port)

    async def _watchdog(self, interval: float) -> None:
        """Ping systemd's watchdog from the event loop: a loop stuck in a blocking call
        stops the pings, and systemd restarts the process (``WatchdogSec``)."""
        while not self._stop.is_set():
            self.notifier.watchdog()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=interval)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.notifier.extend_timeout(start_budget_seconds(self.settings))
        await self._start_monitoring()
        if self.checkpointer is not None:
            self.checkpointer.start()
        await asyncio.to_thread(self._audit_lifecycle, Action.BOT_STARTED)
        if self.webhook is not None:
            wa = self.settings.whatsapp
            listener = Listener(self.webhook.app, host=wa.listen_host, port=wa.listen_port,
                                max_body_bytes=wa.max_body_bytes, endpoint="whatsapp_webhook")
            await self.supervisor.start(WHATSAPP_LOOP, listener.run, stop=listener.stop)
        if self.telegram is not None:
            telegram = self.telegram
            if self.startup is None:
                await telegram.start()
            else:
                await with_retries("telegram", telegram.start, self.startup)
            await self.supervisor.start(telegram_adapter.LOOP_NAME, self.telegram.run,
                                        stop=self.telegram.stop_loop())
        self._tasks.append(asyncio.create_task(self.worker.run(self._stop)))
        self._tasks.append(asyncio.create_task(self._housekeeping()))
        self._checkpoint_wanted = asyncio.Event()
        self._tasks.append(asyncio.create_task(self._checkpointer()))
        self._tasks.append(asyncio.create_task(self._maintenance()))
        if self.roles is None:
            self._scheduler = start_scheduler(self.services)
        else:
            await self.roles.tick()  # a lone replica has its roles before it says ready
            self._tasks.append(asyncio.create_task(self.roles.run(self._stop)))
        database = await asyncio.to_thread(self.probe.check)
        if not database.ok:  # reached at start, then lost: not ready, and not READY=1
            raise StorageError(f"database not ready after start ({database.reason})")
        self._tasks.append(asyncio.create_task(self.probe.run(self._stop)))
        interval = self.notifier.watchdog_interval
        if interval is not None:
            self._tasks.append(asyncio.create_task(self._watchdog(interval)))
        # Everything long-lived exists now: keep full collections off it (app/heap.py).
        # One full collection, ~0.1 s, before the bot says it is ready.
        frozen = heap.freeze_startup_heap()
        self.started = True
        self.notifier.ready()
        log.info("bot_started", telegram=self.telegram is not None,
                 whatsapp=self.webhook is not None, frozen_objects=frozen)

    async def _housekeeping(self, every_seconds: float = 600.0) -> None:
        """Prune delivered media, stale parts and old idempotency keys, periodically."""
        while not self._stop.is_set():
            try:
                with self.sessions.begin() as s:
                    counts = prune(s, self.clock.now())
                    if not is_sqlite(self.engine):
                        counts["rate_limits"] = ratelimits.forget_idle(s)
                log.info("housekeeping", **{f"{k}_count": v for k, v in counts.items()})
            except Exception as exc:  # housekeeping must never take the relay down
                log.error("housekeeping_failed", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=every_seconds)

    async def _maintenance(self) -> None:
        """Every few minutes: break-glass expiry (audit checkpoints: :meth:`_checkpointer`).

        Once a day (the first time an hour after start, so a bot restarted in a loop
        does not nag): reminders about missing escrow deposits.
        """
        loop = asyncio.get_running_loop()
        next_daily = loop.time() + self.first_daily_after_seconds
        while not self._stop.is_set():
            try:
                mine = self._holds(CHECKPOINTER)
                expired = 0
                # The role's writes (its audit entries among them) go through sessions
                # fenced by its lease: a replica paused since ``mine`` was read, whose
                # lease another took meanwhile, writes nothing with its stale epoch.
                fenced = self.role_services(CHECKPOINTER)
                if mine:
                    expired = await asyncio.to_thread(expire_breakglass, fenced)
                reminded = 0
                if mine and loop.time() >= next_daily:
                    reminded = await asyncio.to_thread(remind_missing_deposits, fenced,
                                                       self.clock.now())
                    next_daily = loop.time() + self.daily_every_seconds
                if expired or reminded:
                    log.info("maintenance", breakglass_expired=expired,
                             deposit_reminders=reminded)
                    self.worker.wake()
            except Exception as exc:  # maintenance must never take the relay down
                log.error("maintenance_failed", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(),
                                       timeout=self.checkpoint_every_seconds)

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.notifier.stopping()
        self.started = False  # /readyz answers 503 from here on
        if self._scheduler is not None:
            stop_scheduler(self._scheduler)
            self._scheduler = None
            if not await asyncio.to_thread(wait_idle, JOB_DRAIN_SECONDS):
                log.warning("jobs_still_running_at_stop")
        for pending in list(self._deferred):
            with contextlib.suppress(Exception):
                await pending
        await asyncio.to_thread(self._audit_lifecycle, Action.BOT_STOPPED)
        self._stop.set()
        self.worker.wake()
        await self.supervisor.stop()  # no more platform input from here on
        for task in self._tasks:  # the keeper's loop too, before its leases are released
            with contextlib.suppress(Exception):
                await task
        if self.roles is not None:
            await self.roles.stop()
        for platform, reason, count in self.refusals.drain():
            await asyncio.to_thread(self._append_refused, platform, reason, count)
        if self.telegram is not None:
            with contextlib.suppress(Exception):
                await self.telegram.stop()
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await task
        if self.whatsapp is not None:
            await self.whatsapp.close()
        if self.checkpointer is not None:
            await asyncio.to_thread(self.checkpointer.stop)
        await self._monitor.stop()
        self.engine.dispose()
        heap.thaw()

    async def run_until(self, stop: asyncio.Event) -> None:
        try:
            await self.start()  # a start that fails half-way is stopped as well
            await stop.wait()
        finally:
            await self.stop()
