"""What the rest of the bot may know about a platform: the values its adapter supplies.

Only the adapters know that Telegram and WhatsApp exist (:mod:`bot.adapters.channels`
builds one :class:`Channel` per platform; the composition root puts them in the
:class:`~bot.domain.services.Services` bundle). The relay, the commands and the outbox
never branch on a platform's name: where platforms differ, they read the value of the
recipient's or sender's channel - how long a message may be, what the platform is
called in the consent warning, whether it has a messaging window, which receipt codes
mean that window closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from medcrypt.bot.domain.messages import Platform
from medcrypt.bot.domain.splitting import Measure, characters, split_reply


@dataclass(frozen=True)
class Channel:
    platform: Platform
    #: How the platform is named to its users (the warning shown at pairing, /start).
    display_name: str
    #: Longest text one platform message may carry, in :attr:`measure` units: relayed
    #: tokens are re-split to fit, notices and replies are split to fit (:meth:`split`).
    max_message_chars: int
    #: Delivery-receipt error codes by which the platform says the recipient's messaging
    #: window is closed: it takes free-form messages only for a while after the
    #: recipient last wrote. The outbox then holds the message and sends the platform's
    #: template once, and the relay records when each sender last wrote. Empty: the
    #: platform has no such window.
    window_closed_codes: frozenset[str] = frozenset()
    #: Clinic admins the configuration names on this platform: address (adapter form)
    #: -> the key of the admin *person* it belongs to (:mod:`bot.domain.persons`). Keys
    #: live in memory only; what is stored or audited is their pseudonym.
    config_admins: Mapping[str, str] = field(default_factory=dict)
    #: How an admin names someone on this platform in /admin_add and /admin_remove.
    admin_form: str = ""
    #: The bot can remove a message a user sent it from the user's own chat: the
    #: plaintext guard deletes what it blocks there, and elsewhere asks the sender to.
    deletes_messages: bool = False
    #: How the platform counts a message's length (Telegram: UTF-16 code units).
    measure: Measure = characters
    #: Largest file the bot can receive from this platform, and deliver to it (bytes;
    #: the adapter sets both - left at 0, every file is refused, never let through).
    max_file_in: int = 0
    max_file_out: int = 0

    def split(self, text: str) -> list[str]:
        """``text`` as the messages it takes on this platform (one when it fits)."""
        return split_reply(text, self.max_message_chars, self.measure)

    @property
    def reply_window(self) -> bool:
        return bool(self.window_closed_codes)
