"""The texts the key-lifecycle jobs send to patients and physicians.

PHI-free by construction: they name months, dates and a pairing's tag ("K7Q-2MX",
derived from its random id, as every reply does; docs/adr/0031) - never a person, a number, a
message or a token - because they travel in the clear over Telegram and WhatsApp.
Dedupe keys are built here too, so "one notice per member per epoch" has a single
definition that the outbox's unique ``dedupe_key`` enforces.
"""

from __future__ import annotations

from datetime import datetime

from medcrypt.bot.domain.i18n import N_, Msg, by_language, msg
from medcrypt.crypto.keyless.epochs import format_epoch

ROTATED = N_(
    "MedCrypt: new encryption keys from today ({month}). Last month's messages stay "
    "readable until {until} UTC; after that they can no longer be opened by anyone."
)
SHRED_SOON = (
    N_("MedCrypt: messages from {month} become unreadable on {at} UTC, when their keys are "
       "destroyed. Keep anything you need in the companion's history before then.")
)
SHREDDED = (
    N_("MedCrypt: the keys for messages from {month} were destroyed on {at} UTC. Those "
       "messages can no longer be opened by anyone, including the clinic.")
)
#: After ``/shred`` (lost or compromised device): what the clinic did, what it did not
#: (it cannot reach a key on a device), and the two steps that are the member's to take.
SHREDDED_NOW = (
    N_("MedCrypt: the clinic shredded your conversation {tag} on {at} UTC, as is done when a "
       "phone is lost or may be compromised. The conversation has ended for good: the relay "
       "deleted every stored message and emergency-access copy of it up to {month}, and it "
       "will not carry any further message of this conversation, in any month. What to do: "
       "1) in your MedCrypt companion run: medcrypt pair end --pairing {tag} - it deletes "
       "this conversation's keys on your device; 2) ask the clinic for a new pairing (a new "
       "QR code) to keep in touch. If you did not expect this, contact the clinic.")
)
ERASED_PEER = (
    N_("MedCrypt: the other person ended this conversation ({tag}) and had their data erased on "
       "{at} UTC. Its messages can no longer be opened by anyone.")
)


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


# Each notice is returned in every shipped language (``{language: text}``): the jobs
# queue them set-based, and the outbox picks each member's by their stored language.

def rotated(epoch: int, until: datetime) -> dict[str, str]:
    """The rotation notice in every shipped language: each member gets theirs."""
    return by_language(msg(ROTATED, month=format_epoch(epoch), until=_when(until)))


def shred_soon(epoch: int, at: datetime) -> dict[str, str]:
    return by_language(msg(SHRED_SOON, month=format_epoch(epoch), at=_when(at)))


def shredded(epoch: int, at: datetime) -> dict[str, str]:
    return by_language(msg(SHREDDED, month=format_epoch(epoch), at=_when(at)))


def shredded_now(name: str, epoch: int, at: datetime) -> Msg:
    """``name``: the pairing's tag (``bot.domain.names.shown``)."""
    return msg(SHREDDED_NOW, tag=name, month=format_epoch(epoch), at=_when(at))


def erased_peer(name: str, at: datetime) -> Msg:
    return msg(ERASED_PEER, tag=name, at=_when(at))


def dedupe_affixes(kind: str, epoch: int) -> tuple[str, str]:
    """The constant parts of :func:`dedupe_key`: ``head + pairing + middle + member``.

    Set-based queueing (:func:`bot.domain.lifecycle.queue.queue_member_notices`) builds the key in
    SQL from these, so both paths produce the very same keys.
    """
    return f"jobs:{kind}:", f":{epoch}:"


def dedupe_key(kind: str, pairing_id: str, epoch: int, member_id: str) -> str:
    """``jobs:<kind>:<pairing>:<epoch>:<member>`` - unique per notice the jobs may send."""
    head, middle = dedupe_affixes(kind, epoch)
    return f"{head}{pairing_id}{middle}{member_id}"
