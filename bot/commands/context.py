"""What one inbound message's handling can see and do, inside its one transaction.

Handlers (token routing, pairing, commands) never open transactions of their own and
never send anything: they *enqueue*. The outbox rows commit together with the inbound
idempotency key, so a crash before commit leaves no trace and the platform's redelivery
is processed afresh, and a crash after commit never produces a second copy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from medcrypt.bot.domain.channels import Channel
from medcrypt.bot.domain.i18n import Msg, translate
from medcrypt.bot.domain.messages import InboundMessage, OutboundMessage, OutKind
from medcrypt.bot.domain.services import Services
from medcrypt.bot.outbox.queue import enqueue
from medcrypt.crypto.keyless.parts import split_token
from medcrypt.storage.db import Session
from medcrypt.storage.repos import identities

#: Work that must run after the message's transaction commits, with its own
#: transactions (key-lifecycle jobs, audit verification); returns the reply text.
Deferred = Callable[[], str]
#: Work run right after commit, inside the same ``accept`` call; returns replies sent
#: directly by the adapter (for /delete_me, whose identity is gone afterwards).
AfterCommit = Callable[[], list[str]]


@dataclass
class Context:
    session: Session
    services: Services
    message: InboundMessage
    outbox_ids: list[int] = field(default_factory=list)
    delete_message: bool = False
    #: Replies to the sender, queued when the handling ends (see :mod:`bot.relay.intake`).
    replies: list[str] = field(default_factory=list)
    #: Set by handlers that make a first-time sender's identity worth keeping (pairing,
    #: admin). Otherwise a stranger's message leaves nothing behind: the replies go out
    #: directly and the transaction is rolled back.
    keep_identity: bool = False
    #: Set by /delete_me: the replies cannot be queued for an identity that is gone.
    identity_deleted: bool = False
    #: Runs off the event loop once this transaction has committed (see :data:`Deferred`).
    deferred: list[Deferred] = field(default_factory=list)
    #: Runs in ``accept`` right after commit (see :data:`AfterCommit`).
    after_commit: list[AfterCommit] = field(default_factory=list)
    #: What was relayed and refused, by kind and reason (:mod:`bot.domain.events`);
    #: reported by the intake once the transaction committed.
    relayed: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    #: The sender's language (:mod:`bot.domain.i18n`): stored with their identity, set by
    #: the intake before any handler runs; replies written with :meth:`say` use it.
    lang: str = "en"

    @property
    def sender_id(self) -> str:
        return self.message.sender_id

    @property
    def channel(self) -> Channel:
        """The sender's platform, as its adapter describes it."""
        return self.services.channels[self.message.platform]

    def reply(self, text: str) -> None:
        """A PHI-free notice to the sender."""
        self.replies.append(text)

    def say(self, msgid: str | Msg, **params: object) -> None:
        """:meth:`reply` with a msgid of :mod:`bot.domain.notices` (or a :class:`Msg`),
        translated for the sender (their stored language) and then filled with ``params``."""
        self.replies.append(translate(self.lang, msgid, **params))

    def language_of(self, identity_id: str) -> str:
        """``identity_id``'s stored language, else the clinic default."""
        stored = identities.languages_of(self.session, [identity_id]).get(identity_id)
        return stored or self.services.settings.clinic.default_language

    def notify(self, identity_id: str, text: str) -> None:
        out = OutboundMessage(recipient_id=identity_id, kind=OutKind.NOTICE, text=text)
        self.outbox_ids += enqueue(self.session, out, [text], self.services.clock.now())

    def tell(self, identity_id: str, msgid: str | Msg, **params: object) -> None:
        """:meth:`notify` with a msgid (or a :class:`Msg`), translated for ``identity_id``
        (their stored language, else the clinic default)."""
        self.notify(identity_id, translate(self.language_of(identity_id), msgid, **params))

    def relay_token(self, recipient_id: str, token_text: str, pairing_id: str) -> None:
        """Queue a whole token for ``recipient_id``, re-split for their platform's limit."""
        platform = self.services.directory.platform_of(self.session, recipient_id)
        if platform is None:
            return
        parts = split_token(token_text, self.services.channels[platform].max_message_chars,
                            rng=self.services.rng)
        out = OutboundMessage(recipient_id=recipient_id, kind=OutKind.TOKEN,
                              origin_id=self.sender_id, pairing_id=pairing_id)
        self.outbox_ids += enqueue(self.session, out, parts, self.services.clock.now())
        self.relayed.append("token")

    def relay_file(self, recipient_id: str, out: OutboundMessage) -> None:
        self.outbox_ids += enqueue(self.session, out, [""], self.services.clock.now())
        self.relayed.append("file")

    def refused(self, reason: str) -> None:
        """Count a refusal (a word of :data:`bot.domain.events.REFUSAL_REASONS`); the
        reply saying so is the caller's."""
        self.refusals.append(reason)

    def audit(self, event: str, **meta: str) -> None:
        self.services.auditor.record(self.session, event, actor=self.sender_id, **meta)
