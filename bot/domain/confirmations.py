"""One confirmation step for every risky chat command.

A command that changes who may do what (``/admin_add``, ``/admin_remove``), or that
cannot be undone (``/delete_me``, ``/unpair``), runs in two messages::

    /admin_add whatsapp:+15551230001              -> "... send it again followed by
                                                      the code 7Q2MXR4PA0 (5 minutes)"
    /admin_add whatsapp:+15551230001 7Q2MXR4PA0   -> runs

Use it like this, inside the message's handling (``h`` is the
:class:`~bot.domain.handling.Handling` of the message - a command's ``ctx``)::

    code = confirmations.code_in(args)
    if code is None:
        ticket = confirmations.ask(h, "delete_me", [], confirm_by=ConfirmBy.ASKER)
        h.say(ASK, code=ticket.code)  # ASK: a N_() msgid, "... /delete_me {code} ..."
        return
    try:
        confirmations.redeem(h, "delete_me", [], code)
    except ConfirmationRefused as refused:
        h.say(refused.reply)
        return
    ... do it ...

What a code is, and why:

- **Fresh.** The code is drawn from OS randomness (the bundle's ``rng``) when the
  command is asked for, so no earlier message - a webhook captured last month and posted
  again - can carry it. Replaying the first message only asks again; replaying the
  second finds its code used (or, once pruned, unknown). Either way nothing changes.
- **Bound.** The code confirms one command with one set of arguments: the row keeps an
  HMAC, keyed by the code, over the command's name and its canonical arguments, and the
  confirming message must produce the same. A code asked for ``/admin_add`` of one
  number cannot add another. Arguments never reach the database in a form a reader
  could test guesses against (a number is guessable; the HMAC without the code is not).
- **Bound to who.** :attr:`ConfirmBy.ASKER`: the identity that asked must send it
  (a deliberate second message). :attr:`ConfirmBy.OTHER_PERSON`: an admin who is
  another *person* than the asker must (:mod:`bot.domain.persons`) - a second identity
  of the asker is the asker - while the asker is still an admin.
- **Single use, short-lived.** The first message that presents a code takes it,
  whatever the outcome (a wrong argument, the wrong person, too late): ask again.
  Codes expire after :data:`TTL` on the bundle's injected clock.
- **Stored hashed.** Only the code's SHA-256 is stored, and every comparison of values
  derived from it is constant-time.

Every refusal is a hash-chained audit entry (``confirmation.refused`` with the command
and the reason), in the message's transaction, with the reply that explains it.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from medcrypt.bot.domain import persons
from medcrypt.bot.domain.handling import Handling
from medcrypt.bot.domain.i18n import N_
from medcrypt.crypto.errors import PolicyViolation, StorageError
from medcrypt.storage.repos import confirmations as rows

#: How long a code may be used.
TTL = timedelta(minutes=5)
#: Crockford's base32: no I, L, O or U, so a code read aloud or retyped survives.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: 10 characters, 50 bits: far beyond guessing within 5 minutes and one try per code,
#: and still short enough to type on a phone.
CODE_CHARS = 10
_LABEL = b"MEDCRYPT-CONFIRMATION\x00v1\x00"
#: Codes drawn before giving up: a repeat of 50 random bits means the source is broken.
_DRAWS = 4
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


class ConfirmBy(StrEnum):
    #: The identity that asked confirms with a second, deliberate message.
    ASKER = "asker"
    #: An admin who is another person than the asker confirms.
    OTHER_PERSON = "other_person"


class Refusal(StrEnum):
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    MISMATCH = "mismatch"
    NOT_ASKER = "not_asker"
    NOT_ADMIN = "not_admin"
    ASKER_NOT_ADMIN = "asker_not_admin"
    SAME_PERSON = "same_person"


_REPLIES = {
    Refusal.UNKNOWN: N_("Nothing was done: that code is not one this bot gave out (or it is "
                        "long expired)."),
    Refusal.USED: N_("Nothing was done: that code was used already. Ask for a new one."),
    Refusal.EXPIRED: N_("Nothing was done: that code has expired. Ask for a new one."),
    Refusal.MISMATCH: N_("Nothing was done: that code was given for another command or other "
                         "arguments. It is used up now; ask for a new one."),
    Refusal.NOT_ASKER: N_("Nothing was done: only the person who asked can confirm with that "
                          "code. It is used up now."),
    Refusal.NOT_ADMIN: N_("Nothing was done: only a clinic admin can confirm this. The attempt "
                          "was recorded."),
    Refusal.ASKER_NOT_ADMIN: N_("Nothing was done: the admin who asked for this is no clinic "
                                "admin any more."),
    Refusal.SAME_PERSON: N_("Nothing was done: this needs a second admin - another person, not "
                            "another account of the admin who asked. The code is used up now; "
                            "ask again and have another admin confirm."),
}


class ConfirmationRefused(PolicyViolation):
    """A confirmation code was refused; :attr:`reply` says why, for the sender."""

    def __init__(self, why: Refusal) -> None:
        super().__init__(f"confirmation refused: {why.value}")
        self.why = why
        self.reply = _REPLIES[why]


@dataclass(frozen=True)
class Ticket:
    """What the asker is told: the code and until when it works."""

    code: str
    expires_at: datetime


@dataclass(frozen=True)
class Confirmed:
    """Who asked and who confirmed (for the command's own records)."""

    asker_id: str
    asker_person: str
    confirmer_person: str


def code_in(args: Sequence[str]) -> str | None:
    """The confirmation code a command's last argument carries, if it looks like one."""
    return normalize_code(args[-1]) if args else None


def normalize_code(text: str) -> str | None:
    """The code as issued (upper case, O read as 0, I and L as 1), or None if it is not
    one."""
    code = text.strip().upper().translate(_READ_AS)
    if len(code) != CODE_CHARS or not set(code) <= set(ALPHABET):
        return None
    return code


def canonical(command: str, args: Sequence[str]) -> bytes:
    """The command and its arguments, length-prefixed: no two lists encode alike."""
    out = bytearray(_LABEL)
    for part in (command, *args):
        data = part.encode("utf-8")
        out += struct.pack(">H", len(data)) + data
    return bytes(out)


def _binding(code: str, command: str, args: Sequence[str]) -> bytes:
    return hmac.new(code.encode("ascii"), canonical(command, args), hashlib.sha256).digest()


def _hash(code: str) -> bytes:
    return hashlib.sha256(code.encode("ascii")).digest()


def ask(h: Handling, command: str, args: Sequence[str], *, confirm_by: ConfirmBy) -> Ticket:
    """Issue a code that confirms ``/<command> <args>`` for the sender of ``h``.

    ``args`` must be canonical (the same text whoever types them, e.g. a normalized
    address): the confirming message is compared on them.
    """
    services, session = h.services, h.session
    now = services.clock.now()
    asker = persons.ref(services, persons.person_of(services, session, h.sender_id))
    for _ in range(_DRAWS):  # 256 is a multiple of 32: every character is uniform
        code = "".join(ALPHABET[b % len(ALPHABET)] for b in services.rng(CODE_CHARS))
        if rows.add(session, code_sha256=_hash(code), command=command,
                    binding=_binding(code, command, args), asker_id=h.sender_id,
                    asker_person=asker, confirm_by=confirm_by.value, now=now,
                    expires_at=now + TTL):
            return Ticket(code, now + TTL)
    raise StorageError("no fresh confirmation code could be stored: is the randomness "
                       "source broken?")


def redeem(h: Handling, command: str, args: Sequence[str], code: str) -> Confirmed:
    """Take ``code`` for ``/<command> <args>`` sent by the sender of ``h``.

    Raises :class:`ConfirmationRefused` (after recording the refusal in ``h``'s
    transaction) unless the code was issued for exactly this command and these
    arguments, is unused and unexpired, and the sender is who may confirm. Catch it and
    reply with its :attr:`~ConfirmationRefused.reply`: the refusal and the used code
    must commit.
    """
    services, session = h.services, h.session
    now = services.clock.now()
    normalized = normalize_code(code) or ""
    pending = rows.take(session, _hash(normalized), now=now) if normalized else None
    why, confirmer = _judge(h, pending, command, args, code=normalized, now=now)
    if why is not None or pending is None:
        why = why or Refusal.UNKNOWN
        h.audit("confirmation_refused", command=command, reason=why.value)
        raise ConfirmationRefused(why)
    return Confirmed(pending.asker_id, pending.asker_person, confirmer)


def _judge(h: Handling, pending: rows.Pending | None, command: str, args: Sequence[str], *,
           code: str, now: datetime) -> tuple[Refusal | None, str]:
    """Why ``pending`` does not confirm this message (None: it does), and the sender's
    person pseudonym."""
    services, session = h.services, h.session
    sender = persons.person_of(services, session, h.sender_id)
    sender_ref = persons.ref(services, sender)
    if pending is None:
        return Refusal.UNKNOWN, sender_ref
    if pending.used_at is not None:
        return Refusal.USED, sender_ref
    if now >= pending.expires_at:
        return Refusal.EXPIRED, sender_ref
    # The row was found by this hash; compared again here so no path relies on the
    # database's comparison of a value derived from the code.
    bound = hmac.compare_digest(pending.code_sha256, _hash(code)) and hmac.compare_digest(
        pending.binding, _binding(code, command, args))
    if not bound or pending.command != command:
        return Refusal.MISMATCH, sender_ref
    if pending.confirm_by == ConfirmBy.ASKER:
        if h.sender_id != pending.asker_id:
            return Refusal.NOT_ASKER, sender_ref
        return None, sender_ref
    if not sender.is_admin:
        return Refusal.NOT_ADMIN, sender_ref
    asker = persons.person_of(services, session, pending.asker_id)
    if persons.any_same((pending.asker_person, persons.ref(services, asker)), sender_ref):
        return Refusal.SAME_PERSON, sender_ref
    if not asker.is_admin:  # two admins agree, or nothing happens
        return Refusal.ASKER_NOT_ADMIN, sender_ref
    return None, sender_ref
