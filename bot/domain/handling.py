"""One inbound message being handled, as the domain's rules see it.

The pairing rules (:mod:`bot.domain.pairings`) run inside the handling of a message: they
read and write in its one transaction, answer its sender, queue notices and relayed
tokens for the other member, and audit. They need those verbs, not the class that
provides them: :class:`bot.commands.context.Context` implements this protocol, and it
queues through the outbox - a layer above the domain, which the domain must not import.
"""

from __future__ import annotations

from typing import Protocol

from medcrypt.bot.domain.channels import Channel
from medcrypt.bot.domain.i18n import Msg
from medcrypt.bot.domain.messages import InboundMessage
from medcrypt.bot.domain.services import Services
from medcrypt.storage.db import Session


class Handling(Protocol):
    session: Session
    services: Services
    message: InboundMessage
    #: Set by a rule that makes a first-time sender's identity worth keeping.
    keep_identity: bool
    #: The sender's stored language (:mod:`bot.domain.i18n`).
    lang: str

    @property
    def sender_id(self) -> str: ...

    @property
    def channel(self) -> Channel:
        """The sender's platform, as its adapter describes it."""

    def reply(self, text: str) -> None:
        """A PHI-free notice to the sender."""

    def say(self, msgid: str | Msg, **params: object) -> None:
        """:meth:`reply` with a msgid of :mod:`bot.domain.notices`, in the sender's
        language."""

    def notify(self, identity_id: str, text: str) -> None:
        """A PHI-free notice to someone else, queued in this transaction."""

    def tell(self, identity_id: str, msgid: str | Msg, **params: object) -> None:
        """:meth:`notify` with a msgid, in ``identity_id``'s stored language."""

    def relay_token(self, recipient_id: str, token_text: str, pairing_id: str) -> None:
        """Queue a whole token for ``recipient_id``, in this transaction."""

    def refused(self, reason: str) -> None:
        """Count a refusal (a word of :data:`bot.domain.events.REFUSAL_REASONS`)."""

    def audit(self, event: str, **meta: str) -> None:
        """A hash-chained audit entry naming the sender, in this transaction."""
