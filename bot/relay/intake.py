"""Accept one platform message exactly once, in one transaction.

Order inside the transaction: record the platform's unique id (``inbound_keys``), resolve
the sender's identity, reopen anything held for the sender (they wrote, so a platform
that holds messages until the recipient writes - a messaging window - takes them
again), then route. The outbox rows the routing produces commit with the
key, so either everything about this message is durable or nothing is; a platform
redelivery of the same id after commit is recognised and ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from medcrypt.bot.commands.context import Context, Deferred
from medcrypt.bot.domain import i18n, notices
from medcrypt.bot.domain.i18n import N_, translate
from medcrypt.bot.domain.identities import Resolved
from medcrypt.bot.domain.messages import (
    Document,
    InboundMessage,
    Media,
    OutboundMessage,
    OutKind,
    Platform,
)
from medcrypt.bot.domain.persons import configured_person
from medcrypt.bot.domain.services import Services
from medcrypt.bot.outbox.queue import enqueue
from medcrypt.bot.relay.ratelimit import Limiter
from medcrypt.bot.relay.router import handle
from medcrypt.storage.db import Session, SessionFactory
from medcrypt.storage.repos import identities, inbound
from medcrypt.storage.repos.outbox import release_held

log = structlog.get_logger("bot.intake")

#: Hands deferred work to whoever runs it off the event loop (``BotApp``): the sender's
#: identity id and the work items, called after the message's transaction committed.
DeferHook = Callable[[str, list[Deferred]], None]
FAILED = N_("That command could not finish (an internal error was logged). Try again later.")
WINDOW_MARK_EVERY = timedelta(minutes=1)


@dataclass
class Outcome:
    duplicate: bool = False
    sender_id: str = ""
    outbox_ids: list[int] = field(default_factory=list)
    delete_message: bool = False
    #: Replies the adapter sends itself (no identity to queue them for).
    direct_replies: list[str] = field(default_factory=list)


class Intake:
    def __init__(self, services: Services, limiter: Limiter, *,
                 sessions: SessionFactory | None = None) -> None:
        #: ``sessions``: the Telegram poller's intake passes sessions fenced by its lease
        #: (``bot.app.roles``), so a replica that lost the poll writes nothing it polled.
        self._sessions = sessions or services.sessions
        self.services = services
        self._limiter = limiter
        #: Set by ``BotApp``; without it deferred work runs inline after commit.
        self.defer_hook: DeferHook | None = None

    def language_for(self, platform: Platform, address: str) -> str:
        """The language to answer ``address`` in outside a message's handling (a reply
        the adapter gives itself): stored with their identity, else the clinic default.
        Read-only: a stranger leaves nothing behind."""
        with self._sessions() as session:
            identity_id = self.services.directory.find(session, platform, address)
            stored = (identities.languages_of(session, [identity_id]).get(identity_id)
                      if identity_id is not None else None)
        return stored or self.services.settings.clinic.default_language

    def run_deferred(self, identity_id: str, work: Deferred) -> list[int]:
        """Run one deferred item and queue its reply to ``identity_id`` (own transaction).

        The item opens its own transactions; a failure is logged by type only and the
        sender is told, so an admin is never left waiting for an answer.
        """
        try:
            text: str | None = work()
        except Exception as exc:
            log.error("deferred_command_failed", error=type(exc).__name__)
            text = None
        with self._sessions.begin() as session:
            if not identities.is_live(session, identity_id):
                return []
            if text is None:
                stored = identities.languages_of(session, [identity_id]).get(identity_id)
                text = translate(stored or self.services.settings.clinic.default_language,
                                 FAILED)
            out = OutboundMessage(recipient_id=identity_id, kind=OutKind.NOTICE, text=text)
            return enqueue(session, out, [text], self.services.clock.now())

    def _after_commit(self, ctx: Context) -> list[str]:
        replies: list[str] = []
        for item in ctx.after_commit:
            try:
                replies += item()
            except Exception as exc:
                log.error("after_commit_failed", error=type(exc).__name__)
                replies.append(translate(ctx.lang, FAILED))
        return replies

    def _hand_over(self, identity_id: str, ctx: Context) -> list[int]:
        if not ctx.deferred:
            return []
        if self.defer_hook is not None:
            self.defer_hook(identity_id, list(ctx.deferred))
            return []
        ids: list[int] = []
        for work in ctx.deferred:
            ids += self.run_deferred(identity_id, work)
        return ids

    def _language(self, session: Session, resolved: Resolved,
                  language_code: str | None) -> str:
        """The sender's reply language: their app's (Telegram ``language_code``, any
        ``es*`` is es_MX) unless they chose one with /language, else the stored one,
        else the clinic's default. A changed app language is stored for the notices
        that have no inbound update to read it from (docs/adr/0035)."""
        hinted = None if resolved.language_chosen else i18n.from_code(language_code)
        if hinted is not None and hinted != resolved.language:
            identities.set_language(session, resolved.identity_id, hinted)
            return hinted
        return (resolved.language or hinted
                or self.services.settings.clinic.default_language)

    def _report(self, ctx: Context) -> None:
        """Count what this message relayed and refused, once its fate is settled (a
        stranger's rolled-back message relayed nothing but was still refused)."""
        events = self.services.events
        for kind in ctx.relayed:
            events.relayed(kind)
        for reason in ctx.refusals:
            events.refused(reason)

    def reachable(self, platform: Platform, address: str, reachable: bool) -> None:
        """The platform says whether the bot may write to this person (a Telegram user
        blocked or unblocked it). Blocked: noted like a refused send, so /admins and
        doctor show it and the bot's own notices are held. Unblocked: what was held is
        released. A person the bot does not know is not recorded."""
        now = self.services.clock.now()
        with self._sessions.begin() as session:
            identity_id = self.services.directory.find(session, platform, address)
            if identity_id is None:
                return
            if reachable:
                release_held(session, identity_id, now)
                identities.mark_window(session, identity_id, last_inbound_at=None,
                                       clear_template=True)
            else:
                identities.claim_template(session, identity_id, now)

    def seen(self, platform: Platform, dedupe_key: str) -> bool:
        with self._sessions() as s:
            return inbound.seen(s, platform.value, dedupe_key)

    def accept(
        self, *, platform: Platform, address: str, dedupe_key: str, text: str | None = None,
        document: Document | None = None, media: Media | None = None,
        platform_message_id: str | None = None, language_code: str | None = None,
    ) -> Outcome:
        """Handle one inbound message; ``language_code``: the sender's app language as
        their platform reports it (Telegram), which sets their stored language."""
        return self._accept(platform=platform, address=address, dedupe_key=dedupe_key,
                            text=text, document=document, media=media,
                            platform_message_id=platform_message_id,
                            language_code=language_code)

    def _accept(
        self, *, platform: Platform, address: str, dedupe_key: str, text: str | None,
        document: Document | None, media: Media | None, platform_message_id: str | None,
        language_code: str | None,
    ) -> Outcome:
        now = self.services.clock.now()
        session = self._sessions()
        try:
            session.begin()
            # The unique key decides, not a prior SELECT: one statement per message, and
            # two concurrent deliveries of one id cannot both get past it (the later one
            # inserts nothing once the first commits). The hot path's statements are
            # prebuilt Core in the repositories: the unit of work cost more than the SQL.
            if not inbound.record_inbound(session, platform.value, dedupe_key, now=now):
                return Outcome(duplicate=True)
            resolved = self.services.directory.resolve(session, platform, address)
            mark: datetime | None = None
            if self.services.channels[platform].reply_window and (
                    resolved.last_inbound_at is None
                    or now - resolved.last_inbound_at >= WINDOW_MARK_EVERY):
                # Only a platform with a messaging window needs the time; a minute's
                # precision on a window of hours saves an UPDATE on almost every message.
                mark = now
            if resolved.template_sent_at is not None:
                # Rows are held only together with template_sent_at (set by the worker
                # when a window closed or the platform refused to reach this person),
                # so without it there is nothing to release.
                release_held(session, resolved.identity_id, now)
            identities.mark_window(session, resolved.identity_id, last_inbound_at=mark,
                                   clear_template=resolved.template_sent_at is not None)
            msg = InboundMessage(platform=platform, sender_id=resolved.identity_id,
                                 dedupe_key=dedupe_key, text=text, document=document,
                                 media=media, platform_message_id=platform_message_id,
                                 first_contact=resolved.created)
            ctx = Context(session=session, services=self.services, message=msg,
                          lang=self._language(session, resolved, language_code))
            # Keyed by the address (hashed): a stranger gets a fresh identity id per
            # message because nothing about them is kept. Shared limits update their
            # row in this transaction (ratelimit.SharedRateLimiter).
            allowed, warn = self._limiter.allow_sender(platform.value, address, session)
            if not allowed:
                ctx.refused("rate_limited")
                if warn:
                    ctx.say(notices.RATE_LIMITED)
            else:
                handle(ctx)
            if resolved.created and not ctx.keep_identity and \
                    configured_person(self.services, platform, address) is None:
                # (A configured admin's first message is kept: it shows that the bot can
                # now reach them - /admins and doctor read that.)
                # A stranger's message that changed nothing: store nothing at all.
                session.rollback()
                self._report(ctx)
                return Outcome(sender_id="", direct_replies=ctx.replies + self._after_commit(ctx),
                               delete_message=ctx.delete_message)
            if ctx.identity_deleted:
                session.commit()
                self._report(ctx)
                return Outcome(sender_id="", outbox_ids=ctx.outbox_ids,
                               direct_replies=ctx.replies + self._after_commit(ctx))
            for reply in ctx.replies:
                ctx.notify(resolved.identity_id, reply)
            session.commit()
            self._report(ctx)
            direct = self._after_commit(ctx)
            return Outcome(sender_id=resolved.identity_id,
                           outbox_ids=ctx.outbox_ids + self._hand_over(resolved.identity_id, ctx),
                           delete_message=ctx.delete_message, direct_replies=direct)
        finally:
            session.close()
