"""The outbox worker: claim due rows, send them concurrently, record each outcome at once.

Each row's outcome is committed in its own short transaction immediately after the
platform answers, to keep the window in which a kill -9 leaves the outcome unrecorded
as small as possible (docs/DELIVERY.md). Rows whose lease expired are *in doubt*: the
adapter is asked whether the platform already has the message (some platforms can tell;
those that cannot get it re-sent, and the recipient's companion drops the duplicate
token as a replay).

The worker never asks which platform a recipient is on: it hands each row to the
:class:`~bot.domain.sender.Sender` of the recipient's platform, publishes files as links
for the platforms whose adapter asks for that (:class:`~bot.domain.sender.FileLinks`),
and reads "the messaging window is closed" from the recipient channels' receipt codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import structlog

from medcrypt.bot.domain import notices
from medcrypt.bot.domain.i18n import translate
from medcrypt.bot.domain.messages import OutboundMessage, OutKind, Platform
from medcrypt.bot.domain.sender import Delivery, FileLinks, Sender
from medcrypt.bot.domain.services import Services
from medcrypt.bot.outbox import queue
from medcrypt.bot.outbox.backoff import backoff_seconds
from medcrypt.bot.outbox.errors import (
    ClaimLapsed,
    Permanent,
    RateLimited,
    RetryAfter,
    SendFailed,
    Transient,
    Unreachable,
    WindowClosed,
)
from medcrypt.bot.outbox.pacing import SharedPacing
from medcrypt.storage.db import Session, is_sqlite
from medcrypt.storage.repos import identities, media
from medcrypt.storage.repos import outbox as rows
from medcrypt.storage.repos.outbox import Claim, OutboxState, Queued, claim_of

log = structlog.get_logger("bot.outbox")


class OutboxWorker:
    def __init__(
        self, services: Services, senders: Mapping[Platform, Sender], *, concurrency: int = 16,
        lease: timedelta = timedelta(seconds=30),
        file_links: Mapping[Platform, FileLinks] | None = None,
        rand: Callable[[], float] | None = None, repair_every: float = 60.0,
        pacing: SharedPacing | None = None, send_timeout: float | None = None,
    ) -> None:
        self._sessions = services.sessions
        self._services = services
        self._senders = senders
        self._postgres = not is_sqlite(services.engine)
        self._concurrency = concurrency
        self._lease = lease
        self._file_links = dict(file_links or {})
        #: Receipt error codes that mean "the recipient's window is closed", from the
        #: channels of the platforms that have one.
        self._window_codes = frozenset(
            code for channel in services.channels.values()
            for code in channel.window_closed_codes)
        self._rand = rand
        #: Seconds between sweeps of the queue heads (:meth:`repair_heads`).
        self._repair_every = repair_every
        #: Send pacing shared with the other replicas, reserved in the claim transaction
        #: (PostgreSQL); None: the senders pace themselves (one process, SQLite).
        self._pacing = pacing
        #: The longest one platform call may take (the adapters' request timeouts). A
        #: send starts only if it ends before this worker's view of its claim expires.
        self._send_timeout = send_timeout if send_timeout is not None else max(
            services.settings.telegram.request_timeout_seconds,
            services.settings.whatsapp.request_timeout_seconds)
        #: Row id -> the monotonic instant its claim may expire, at the earliest: taken
        #: *before* the claim statement, so never later than the database's own expiry.
        self._claim_ends: dict[int, float] = {}
        #: Row id -> its paced sends' slots: the monotonic instant each platform message
        #: of it (several for a split notice) may start at.
        self._not_before: dict[int, tuple[float, ...]] = {}
        self._wake = asyncio.Event()
        self.worker_id = secrets.token_hex(8)
        self.sent = 0
        #: SIDs whose receipts this process stashed (the common case: the platform calls
        #: back the replica that sent). The send path looks in the table only for these; the
        #: periodic :meth:`recover` applies any other stashed receipt whose SID exists.
        self._stashed: set[str] = set()
        #: The claim of every row this worker is sending: the fence its outcome names.
        self._claims: dict[int, Claim] = {}
        #: Sends answered in the current event-loop pass, marked in one transaction.
        self._marks: list[tuple[Claim, str]] = []
        self._marks_done: asyncio.Future[None] | None = None
        #: PostgreSQL: the task committing marks in a thread, one batch at a time.
        self._flusher: asyncio.Task[None] | None = None
        #: Receipts heard in the current event-loop pass, committed together.
        self._receipts: list[tuple[str, str, str | None]] = []
        self._receipts_done: asyncio.Future[None] | None = None
        #: Row id -> pieces of a split notice already sent, while the row is retried.
        self._pieces_sent: dict[int, int] = {}

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event, *, idle_seconds: float = 1.0) -> None:
        """Loop until ``stop`` is set, keeping up to ``concurrency`` sends in flight.

        Sends are independent tasks: a slow or hanging chat occupies one slot, never the
        whole round, so one chat's timeout or 429 cannot stall the others. A failing
        round is logged and retried, never fatal.
        """
        inflight: set[asyncio.Task[None]] = set()
        last_recover = 0.0
        loop = asyncio.get_running_loop()
        last_repair = loop.time()
        while not stop.is_set():
            self._wake.clear()
            try:
                if loop.time() - last_recover >= self._lease.total_seconds() / 3:
                    last_recover = loop.time()
                    await self.recover()
                if loop.time() - last_repair >= self._repair_every:
                    last_repair = loop.time()
                    self.repair_heads()
                capacity = self._concurrency - len(inflight)
                if capacity > 0:
                    for d in await self._claim_off_loop(capacity):
                        task = asyncio.create_task(self._send_one(d))
                        inflight.add(task)
                        task.add_done_callback(self._finished(inflight))
            except Exception as exc:  # keep delivering: one bad round must not stop the bot
                log.error("outbox_round_failed", error=type(exc).__name__)
            # No immediate re-claim: a partial batch took everything due (claiming again
            # would only cost an empty transaction), and a full one filled every slot.
            # The next round starts when a send finishes or intake queues a row.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=idle_seconds)
        if inflight:
            await asyncio.gather(*inflight, return_exceptions=True)

    def _finished(self, inflight: set[asyncio.Task[None]]) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            inflight.discard(task)
            self._wake.set()

        return done

    async def run_once(self) -> int:
        """Claim one batch and send it (tests and the benchmark drive the worker this way)."""
        deliveries = self._claim(self._concurrency)
        await asyncio.gather(*(self._send_one(d) for d in deliveries))
        return len(deliveries)

    # -- claim ------------------------------------------------------------------------
    async def _claim_off_loop(self, limit: int) -> list[Delivery]:
        """:meth:`_claim`, in a thread on PostgreSQL. Its round trips to the server
        would otherwise hold this loop - and with it every send in flight, its answer
        and its mark - for as long as the server takes to answer: on a loaded host most
        of a replica's time, so that a second and third replica added nothing (ADR
        0043). With shared pacing the reservation also waits on the platform's row
        while another replica's claim holds it, and the paced sends sleeping in this
        loop must not wait with it (ADR 0038). SQLite (in process, one writer) claims
        here."""
        if not self._postgres:
            return self._claim(limit)
        return await asyncio.to_thread(self._claim, limit)

    def _claim(self, limit: int) -> list[Delivery]:
        now = self._services.clock.now()
        ends = time.monotonic() + self._lease.total_seconds()
        with self._sessions.begin() as s:
            claimed = rows.claim(s, now=now, lease=self._lease, worker=self.worker_id,
                                 limit=limit, postgres=self._postgres)
            deliveries = self._deliveries(s, claimed, now)
            if self._pacing is not None and deliveries:
                deliveries = self._paced(s, deliveries, now)
        sending = {d.row_id for d in deliveries}
        self._claims.update((r.id, claim_of(r)) for r in claimed if r.id in sending)
        self._claim_ends.update((i, ends) for i in sending)
        return deliveries

    def _paced(self, s: Session, deliveries: list[Delivery], now: datetime) -> list[Delivery]:
        """Reserve the platforms' send slots for this claim, in its transaction (the
        other replicas' claims wait on the platform's row, so no slot is given twice).

        A granted send waits for its slot in :meth:`_send_one`; a row whose slot is
        beyond the pacing horizon goes back to the queue, due when its slot comes, with
        its attempt given back (pacing is not a failure).
        """
        assert self._pacing is not None
        paced = self._pacing.reserve(s, deliveries, self._sends_left)
        for d, retry_in in paced.refused:
            rows.mark_retry(s, d.row_id, now + timedelta(seconds=retry_in), "paced", now,
                            refund_attempt=True)
        for d, slots in paced.granted:
            if slots:  # none: a platform without pacing
                self._not_before[d.row_id] = slots
        return [d for d, _slots in paced.granted]

    def _pieces(self, d: Delivery) -> list[str] | None:
        """The platform messages a split notice goes out as; None for one send."""
        if d.kind != OutKind.NOTICE.value or not d.body:
            return None
        pieces = self._services.channels[d.platform].split(d.body)
        return pieces if len(pieces) > 1 else None

    def _sends_left(self, d: Delivery) -> int:
        """How many platform messages ``d`` still takes: each needs a pacing slot."""
        pieces = self._pieces(d)
        if pieces is None:
            return 1
        return max(1, len(pieces) - self._pieces_sent.get(d.row_id, 0))

    async def _wait_for_slot(self, d: Delivery, slot: float) -> float | None:
        """Sleep until the paced send's ``slot``; None when it may go now, else the
        seconds to give the row back for (no slot free soon).

        A send that wakes more than a slot late (this process was descheduled, its loop
        busy) does not go out on top of the sends of the next slots - the platform
        counts arrivals - but reserves a new slot, once, in its own transaction."""
        assert self._pacing is not None
        wait = slot - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        late = time.monotonic() - slot
        if late <= self._pacing.late_after(d.platform):
            return None
        log.info("paced_send_late", platform=d.platform.value, late_ms=round(late * 1000))
        return await self._pacing.take_one(self._sessions, d.platform)

    def _deliveries(self, s: Session, claimed: Sequence[Queued],
                    now: datetime) -> list[Delivery]:
        # The recipients of the whole batch in one SELECT.
        addresses = self._services.directory.addresses_of(
            s, (r.dest_identity_id for r in claimed))
        found = (self._delivery(s, row, addresses.get(row.dest_identity_id), now)
                 for row in claimed)
        return [d for d in found if d is not None]

    def _delivery(self, s: Session, row: Queued,
                  found: tuple[Platform, str] | None, now: datetime) -> Delivery | None:
        if found is None:  # erased (/delete_me) after the row was queued
            rows.mark_dead_by_id(s, row.id, "no-recipient", now)
            return None
        platform, address = found
        document = None
        media_url = None
        kind = queue.out_kind(row)
        if kind is OutKind.FILE:
            links = self._file_links.get(platform)
            if links is not None:
                name = secrets.token_urlsafe(32)
                if row.media_id and media.publish_media(s, row.media_id, name,
                                                        expires_at=now + links.ttl):
                    media_url = links.url(name)
            elif row.media_id:
                document = media.media_data(s, row.media_id)
            if media_url is None and document is None:
                rows.mark_dead_by_id(s, row.id, "media-gone", now)
                return None
        return Delivery(row_id=row.id, platform=platform, address=address, kind=kind.value,
                        body=queue.body_of(row), document=document,
                        filename=(row.filename or queue.FILE_NAME) if kind is OutKind.FILE
                        else None,
                        media_url=media_url)

    # -- send -------------------------------------------------------------------------
    async def _send_one(self, d: Delivery) -> None:
        claim = self._claims.pop(d.row_id)
        slots = self._not_before.pop(d.row_id, ())
        ends = self._claim_ends.pop(d.row_id, float("inf"))
        try:
            platform_id = await self._send_pieces(d, slots, ends)
        except ClaimLapsed:
            self._give_back_unsent(d, claim)
            return
        except SendFailed as exc:
            self._record_failure(d, claim, exc)
            return
        except Exception as exc:  # an adapter bug must not wedge the row: retry later
            log.error("send_crashed", error=type(exc).__name__, row=d.row_id)
            self._record_failure(d, claim, Transient("adapter-error"))
            return
        self._pieces_sent.pop(d.row_id, None)
        self._services.events.send_outcome(d.platform.value, "sent")
        await self._mark_sent_soon(claim, platform_id)

    async def _send_pieces(self, d: Delivery, slots: tuple[float, ...] = (),
                           claim_ends: float = float("inf")) -> str:
        """Send ``d``, as several platform messages when its text is longer than the
        recipient's platform takes (:mod:`bot.domain.splitting`); the id of the last.

        Split here, on the text as it finally goes out, so whatever produced it (a list
        that grew, a translation) is measured as sent. A retry after a failure part-way
        resumes at the first piece not yet sent (remembered in memory: after a restart
        the row is in doubt like any other and is sent again whole). With shared pacing
        each platform message waits for its own slot (``slots``, one per message the
        claim reserved): the platform counts messages, not rows. No message starts
        unless it can end before the claim may expire (``claim_ends``).
        """
        sender = self._senders[d.platform]
        pieces = self._pieces(d)
        if pieces is None:
            await self._before_send(d, slots, 0, claim_ends)
            return await sender.send(d)
        platform_id = ""
        first = self._pieces_sent.get(d.row_id, 0)
        for n in range(first, len(pieces)):
            await self._before_send(d, slots, n - first, claim_ends)
            platform_id = await sender.send(replace(d, body=pieces[n]))
            self._pieces_sent[d.row_id] = n + 1
        return platform_id

    async def _before_send(self, d: Delivery, slots: tuple[float, ...], n: int,
                           claim_ends: float) -> None:
        """Wait for the ``n``-th platform message's pacing slot; raise
        :class:`RetryAfter` (pacing, not a failure: the attempt is given back) when it
        missed its slot and no new one is free soon.

        Then the claim's fence for a call outside the database, as ADR 0032 asks of the
        Telegram poll: the send starts only if it will end (its request timeout) before
        this worker's earliest view of the claim's expiry. A replica paused between
        its claim and its send (SIGSTOP, a stall) would otherwise wake and send a row
        that another replica has meanwhile claimed again and sent: a second copy, after
        the messages queued behind it - out of order (ADR 0032 amendment, witness lines).
        Raises :class:`ClaimLapsed`; the row was not sent.
        """
        if n < len(slots):
            retry_in = await self._wait_for_slot(d, slots[n])
            if retry_in is not None:
                raise RetryAfter("paced", retry_in)
        if time.monotonic() + self._send_timeout >= claim_ends:
            raise ClaimLapsed

    def _give_back_unsent(self, d: Delivery, claim: Claim) -> None:
        """A row whose claim lapsed before its send could start: due again at once, the
        attempt given back - unless a newer claim owns it already (then it is theirs)."""
        now = self._services.clock.now()
        with self._sessions.begin() as s:
            row = rows.get_claimed(s, claim)
            if row is not None:
                rows.mark_retry(s, row.id, now, "claim-lapsed", now, refund_attempt=True)
        log.info("outbox_claim_lapsed", platform=d.platform.value, superseded=row is None)
        self._services.events.send_outcome(d.platform.value, "retry")

    async def _mark_sent_soon(self, claim: Claim, platform_id: str) -> None:
        """Record a send, sharing one transaction with the sends that finished in the
        same event-loop pass; returns once it is committed.

        The mark still follows the platform's answer within one loop pass (the window in
        which a kill -9 leaves a row in doubt, docs/DELIVERY.md), but a burst of answers
        costs one commit instead of one each. On PostgreSQL the commit runs in a thread
        and answers that arrive while one is in flight share the next (the window grows
        by at most that one commit). If the commit fails the rows stay ``sending`` and
        recovery resolves them, as after a crash.
        """
        self._marks.append((claim, platform_id))
        if self._marks_done is None:
            loop = asyncio.get_running_loop()
            self._marks_done = loop.create_future()
            if not self._postgres:
                loop.call_soon(self._flush_marks)
            elif self._flusher is None or self._flusher.done():
                self._flusher = loop.create_task(self._flush_marks_off_loop())
        done = self._marks_done
        try:
            await asyncio.shield(done)
        except Exception as exc:  # logged by type; recovery resolves the rows
            log.error("mark_sent_failed", error=type(exc).__name__)

    async def _flush_marks_off_loop(self) -> None:
        """PostgreSQL: commit the marks in a thread, one batch at a time, while the loop
        goes on sending; answers that arrive meanwhile wait for the next batch (a group
        commit: the slower the server, the bigger the batch, the fewer the commits)."""
        while self._marks:
            marks, self._marks = self._marks, []
            done, self._marks_done = self._marks_done, None
            try:
                await asyncio.to_thread(self._record_sent_many, marks)
            except Exception as exc:  # handed to every waiting send
                _settle(done, exc)
                continue
            _settle(done, None)

    def _flush_marks(self) -> None:
        marks, self._marks = self._marks, []
        done, self._marks_done = self._marks_done, None
        try:
            self._record_sent_many(marks)
        except Exception as exc:  # handed to every waiting send
            _settle(done, exc)
            return
        _settle(done, None)

    def _record_sent_many(self, marks: list[tuple[Claim, str]]) -> None:
        """Record answered sends. A mark whose claim expired and was claimed again is
        dropped by the fence (the newer claim's outcome stands): logged, not an error."""
        if not marks:
            return
        now = self._services.clock.now()
        stale = 0
        with self._sessions.begin() as s:
            # The hot path: one UPDATE for all, no read (this runs for every message).
            plain = [m for m in marks if m[1] not in self._stashed]
            stale += len(plain) - rows.mark_sent_many(s, plain, now)
            for claim, platform_id in marks:
                if platform_id not in self._stashed:
                    continue
                self._stashed.discard(platform_id)
                row = rows.mark_sent(s, claim, platform_id, now)
                if row is None:
                    stale += 1
                else:
                    self._apply_early_receipts(s, row, now)
        if stale:
            log.warning("outbox_stale_outcome", outcome="sent", rows=stale)
        self.sent += len(marks) - stale

    def _record_failure(self, d: Delivery, claim: Claim, exc: SendFailed) -> None:
        now = self._services.clock.now()
        relay = self._services.settings.relay
        with self._sessions.begin() as s:
            row = rows.get_claimed(s, claim)
            if row is None:  # superseded while this send was out: its outcome stands
                log.warning("outbox_stale_outcome", outcome="failed", rows=1)
                return
            if isinstance(exc, RetryAfter):
                outcome = "rate_limited"
                until = now + timedelta(seconds=max(0.0, exc.seconds))
                # Flood control is not a failure: the attempt is given back.
                rows.mark_retry(s, row.id, until, exc.code, now, refund_attempt=True)
                rows.delay_recipient(s, row.dest_identity_id, until, now)
            elif isinstance(exc, WindowClosed):
                outcome = "held"
                self._hold_for_window(s, row, exc.code, now)
            elif isinstance(exc, Unreachable) and queue.out_kind(row) is OutKind.NOTICE:
                outcome = "held"
                self._hold_until_they_write(s, row, exc.code, now)
            elif isinstance(exc, Permanent) or row.attempts >= relay.outbox_max_attempts:
                if isinstance(exc, Unreachable):
                    identities.claim_template(s, row.dest_identity_id, now)  # see below
                outcome = "dead"
                self._pieces_sent.pop(row.id, None)
                rows.mark_dead(s, row.id, exc.code, now)
                self._tell_origin(s, row, now)
            else:
                outcome = "rate_limited" if isinstance(exc, RateLimited) else "retry"
                delay = backoff_seconds(
                    row.attempts, base=relay.outbox_base_backoff_seconds,
                    cap=relay.outbox_max_backoff_seconds,
                    **({"rand": self._rand} if self._rand else {}))
                rows.mark_retry(s, row.id, now + timedelta(seconds=delay), exc.code, now)
        self._services.events.send_outcome(d.platform.value, outcome)
        # A row given up on is worth an operator's attention (a witness line or reply
        # that will never arrive); retries and holds are routine.
        (log.warning if outcome == "dead" else log.info)(
            "send_failed", reason=type(exc).__name__, status=exc.code, outcome=outcome)

    def _hold_for_window(self, s: Session, row: OutboxState, code: str, now: datetime) -> None:
        rows.hold(s, row.id, code, now)
        if not identities.claim_template(s, row.dest_identity_id, now):
            return
        # The words used when no approved template is configured, in their language.
        who = row.dest_identity_id
        stored = identities.languages_of(s, [who]).get(who)
        body = translate(stored or self._services.settings.clinic.default_language,
                         notices.TEMPLATE_BODY)
        queue.enqueue(s, OutboundMessage(recipient_id=who, kind=OutKind.TEMPLATE), [body], now)

    def _hold_until_they_write(self, s: Session, row: OutboxState, code: str,
                               now: datetime) -> None:
        """Park a notice for a recipient the platform will not let the bot write to yet
        (never opened the chat, or blocked it): durable, released by their next message.

        The identity's ``template_sent_at`` is what the intake reads to release held
        rows; on a platform without a messaging window no template is ever sent, so
        there it means exactly "messages wait until this person writes" - and it is
        what /admins and ``doctor`` read as "not reachable yet".
        """
        rows.hold(s, row.id, code, now)
        identities.claim_template(s, row.dest_identity_id, now)

    def _tell_origin(self, s: Session, row: OutboxState, now: datetime) -> None:
        origin = row.origin_identity_id
        if origin and queue.out_kind(row) in (OutKind.TOKEN, OutKind.FILE) \
                and identities.is_live(s, origin):
            stored = identities.languages_of(s, [origin]).get(origin)
            text = translate(stored or self._services.settings.clinic.default_language,
                             notices.DELIVERY_FAILED)
            queue.enqueue(s, OutboundMessage(recipient_id=origin, kind=OutKind.NOTICE),
                          [text], now)

    # -- status callbacks ---------------------------------------------------------------
    async def record_status_soon(self, platform_id: str, status: str,
                                 error_code: str | None) -> None:
        """A receipt from a webhook, committed before this returns.

        Receipts that need no follow-up (sent, delivered, read: two or three for every
        message on a platform with receipts) arriving in the same event-loop pass share
        one transaction; failures take :meth:`record_status` at once (they may hold the
        row or tell the sender).
        """
        if status in ("failed", "undelivered"):
            self.record_status(platform_id, status, error_code)
            return
        self._receipts.append((platform_id, status, error_code))
        if self._receipts_done is None:
            self._receipts_done = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(self._flush_receipts)
        await asyncio.shield(self._receipts_done)

    def _flush_receipts(self) -> None:
        receipts, self._receipts = self._receipts, []
        done, self._receipts_done = self._receipts_done, None
        try:
            now = self._services.clock.now()
            with self._sessions.begin() as s:
                for platform_id, status, code in receipts:
                    if rows.advance_status(s, platform_id, status, code, now) is None:
                        self._stash(s, platform_id, status, code, now)
        except Exception as exc:  # the webhook answers 500 and the platform may call again
            if done is not None and not done.done():
                done.set_exception(exc)
            return
        if done is not None and not done.done():
            done.set_result(None)

    def _stash(self, s: Session, platform_id: str, status: str, error_code: str | None,
               now: datetime) -> None:
        """Keep a receipt whose SID no row carries yet; remember that this process did."""
        rows.stash_receipt(s, platform_id, status, error_code, now)
        if len(self._stashed) < 100_000:
            self._stashed.add(platform_id)

    def record_status(self, platform_id: str, status: str, error_code: str | None) -> None:
        """A delivery receipt (a platform's status callback, through its adapter).

        A receipt for a SID no row carries yet (the platform called back before the send
        returned to us) is kept in the database and applied when the SID is recorded.
        """
        now = self._services.clock.now()
        with self._sessions.begin() as s:
            if status not in ("failed", "undelivered"):
                if rows.advance_status(s, platform_id, status, error_code, now) is None:
                    self._stash(s, platform_id, status, error_code, now)
                return
            row = rows.record_status(s, platform_id, status, error_code, now)
            if row is None:
                self._stash(s, platform_id, status, error_code, now)
                return
            self._on_failure_receipt(s, row, status, error_code, now)
        self.wake()

    def _on_failure_receipt(self, s: Session, row: OutboxState, status: str,
                            error_code: str | None, now: datetime) -> None:
        if status not in ("failed", "undelivered"):
            return
        if error_code is not None and error_code in self._window_codes:
            self._hold_for_window(s, row, error_code, now)
        elif row.status == "sent":
            rows.mark_failed_after_send(s, row.id)
            self._tell_origin(s, row, now)

    def _apply_early_receipts(self, s: Session, row: OutboxState, now: datetime) -> None:
        """Receipts that arrived before ``row``'s SID was recorded, in arrival order."""
        sid = row.platform_message_id or ""
        for status, code in rows.take_receipts(s, sid):
            current = rows.record_status(s, sid, status, code, now)
            if current is not None:
                self._on_failure_receipt(s, current, status, code, now)

    # -- recovery ---------------------------------------------------------------------
    def repair_heads(self) -> int:
        """Sweep the queue heads for any that a change outside the outbox repository left
        wrong (a cascade from another table); returns how many recipients it fixed.

        Every outbox change keeps the heads itself, so this normally finds nothing; a
        non-zero count is logged as a warning for the operator (docs/OPERATIONS.md).
        """
        with self._sessions.begin() as s:
            fixed = rows.repair_heads(s)
        if fixed:
            log.warning("outbox_heads_repaired", recipients=fixed)
        return fixed

    async def recover(self) -> None:
        """Resolve rows whose worker died mid-send (lease expired), and apply receipts
        stashed before a restart or by another replica whose SID is now recorded."""
        now = self._services.clock.now()
        with self._sessions.begin() as s:
            for stashed in rows.rows_with_stashed_receipts(s):
                self._apply_early_receipts(s, stashed, now)
        with self._sessions.begin() as s:
            doubtful = rows.in_doubt(s, now=now, postgres=self._postgres)
            info = {r.id: (r.created_at, r.claimed_until, claim_of(r)) for r in doubtful}
            deliveries = self._deliveries(s, doubtful, now)
        for d in deliveries:
            row_id = d.row_id
            created_at, claimed_until, claim = info[row_id]
            sender = self._senders[d.platform]
            try:
                found = await sender.lookup(d, created_at.timestamp())
            except SendFailed:
                if claimed_until is not None and now - claimed_until < self._lease * 10:
                    continue  # cannot tell yet; ask again next round
                found = None  # the platform stayed unreachable: resend rather than stall
            with self._sessions.begin() as s:
                # Fenced like any outcome: another replica may have resolved it first.
                if rows.get_claimed(s, claim) is None:
                    continue
                if isinstance(found, str):
                    sent = rows.mark_sent(s, claim, found, now)
                    if sent is not None:
                        self._apply_early_receipts(s, sent, now)
                else:
                    rows.mark_retry(s, row_id, now, "in-doubt", now)
            log.info("outbox_in_doubt_resolved", status="found" if found else "resend")


def _settle(done: asyncio.Future[None] | None, exc: Exception | None) -> None:
    """Answer every send waiting on one batch of marks: done, or the commit's error."""
    if done is None or done.done():
        return
    if exc is None:
        done.set_result(None)
    else:
        done.set_exception(exc)
