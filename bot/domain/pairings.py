"""Pairing rows: creation from PAIR_REGISTER, completion and consent from PAIR_ACCEPT.

The bot learns only what the keyless headers say: the pairing id, the start epoch, the
grace window and the offer deadline (and for a v3 offer the admission hash: v3 accepts
and binding are :mod:`bot.domain.admission`'s). The physician is whoever sent the
registration; for v2 the patient is whoever first sends a valid-looking acceptance for
a pending pairing (the companions verify the acceptance's MAC end to end; a stranger's
forged accept makes the physician's companion reject it, and the physician can /unpair).
That is the hijack v3 closes; v2 pairings keep it until upgraded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from medcrypt.bot.domain import notices
from medcrypt.bot.domain.handling import Handling
from medcrypt.bot.domain.i18n import Msg, msg
from medcrypt.bot.domain.names import name_of, shown
from medcrypt.crypto.errors import OfferExpired, OfferReused, WrongPairing
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.crypto.keyless.pairing_wire import RegisterV3
from medcrypt.crypto.keyless.tags import tag_of
from medcrypt.crypto.keyless.wire import RegisterInfo, Token
from medcrypt.storage.repos import admissions, identities
from medcrypt.storage.repos import pairings as rows
from medcrypt.storage.repos.pairings import PairingRecord


def pairings_of(ctx: Handling, identity_id: str, *, statuses: tuple[str, ...] = (
        "pending", "active")) -> list[PairingRecord]:
    return rows.pairings_of(ctx.session, identity_id, statuses=statuses)


def _set_role(ctx: Handling, identity_id: str, role: str) -> None:
    """Label the identity by what it paired as (an admin keeps the admin label)."""
    identities.adopt_role(ctx.session, identity_id, role)


class Members(Protocol):
    """Who is in a pairing (a pairing record or the relay's route view)."""

    @property
    def physician_id(self) -> str: ...

    @property
    def patient_id(self) -> str | None: ...


def role_of(pairing: Members, identity_id: str) -> str | None:
    if pairing.physician_id == identity_id:
        return "physician"
    if pairing.patient_id == identity_id:
        return "patient"
    return None


class Standing(Members, Protocol):
    """What decides whether a pairing still carries tokens (a record or a route view)."""

    @property
    def pairing_id(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def shredded_at(self) -> datetime | None: ...

    @property
    def tag(self) -> str | None: ...


@dataclass(frozen=True)
class Refusal:
    """A token the relay will not carry: the audit reason (None: not audited) and the
    PHI-free reply to its sender."""

    reason: str | None
    text: Msg


def closed_to_tokens(pairing: Standing) -> Refusal | None:
    """Why ``pairing`` carries no token at all, whatever the token's month; None if it does.

    A shredded pairing is ended for good, and says so: its members' companions (and any
    copy of them) still derive every later month's key, so only this refusal keeps a
    stolen account from the conversation. The attempt is audited. Any other pairing that
    is not active - ended, or not complete yet - gets the plain reason, as before.
    """
    if pairing.shredded_at is not None:
        return Refusal("pairing_shredded", msg(
            notices.PAIRING_SHREDDED, tag=shown(pairing.pairing_id, pairing.tag),
            at=pairing.shredded_at.strftime("%Y-%m-%d %H:%M")))
    if pairing.status != "active" or pairing.patient_id is None:
        return Refusal(None, msg(notices.PAIRING_INACTIVE))
    return None


def register(ctx: Handling, token: Token) -> None:
    info = token.register or token.pairing3
    pairing_id = token.header.pairing_id
    if not isinstance(info, RegisterInfo | RegisterV3) or pairing_id is None \
            or token.header.epoch is None:
        ctx.say(notices.MALFORMED)
        return
    now = ctx.services.clock.now()
    if rows.get_pairing(ctx.session, pairing_id.hex()) is not None:
        ctx.say(notices.ALREADY_REGISTERED)
        return
    if info.expires_at <= int(now.timestamp()):
        ctx.say(notices.OFFER_EXPIRED)
        return
    if token.header.epoch > epoch_of(now):
        ctx.say(notices.EPOCH_FUTURE)
        return
    tag = tag_of(pairing_id)
    if rows.by_tag(ctx.session, tag) is not None:
        _tag_taken(ctx, tag)
        return
    if not rows.register_pairing(
            ctx.session, pairing_id=pairing_id.hex(), physician_id=ctx.sender_id,
            start_epoch=token.header.epoch, grace_days=info.grace_days,
            offer_expires_at=datetime.fromtimestamp(info.expires_at, UTC), now=now, tag=tag):
        # A concurrent registration of the same id, or of another id with the same tag.
        if rows.get_pairing(ctx.session, pairing_id.hex()) is None:
            _tag_taken(ctx, tag)
        else:
            ctx.say(notices.ALREADY_REGISTERED)
        return
    if isinstance(info, RegisterV3):  # v3: the accepts will have to carry A (PROTOCOL §34)
        admissions.record_admission(ctx.session, pairing_id.hex(), info.admission_hash)
    _set_role(ctx, ctx.sender_id, "physician")
    ctx.keep_identity = True
    ctx.audit("pairing_registered", pairing=pairing_id.hex())
    ctx.say(notices.REGISTERED, tag=tag)


def _tag_taken(ctx: Handling, tag: str) -> None:
    """The offer's tag names another pairing: refused, so that no tag names two
    (docs/adr/0031). The physician's companion shows the same tag; a new QR draws a new
    pairing id and so a new tag."""
    ctx.refused("tag_taken")
    ctx.say(notices.TAG_TAKEN, tag=tag)


def accept(ctx: Handling, token: Token, token_text: str) -> None:
    pairing_id = token.header.pairing_id
    pairing = None if pairing_id is None else rows.get_pairing(ctx.session, pairing_id.hex())
    if pairing is None:
        ctx.say(notices.UNKNOWN_PAIRING)
        return
    if admissions.admission_of(ctx.session, pairing.pairing_id) is not None:
        # A v3 offer binds only on the physician's confirmation (bot.domain.admission):
        # a v2 accept must not reopen v2's first-accept binding for it.
        ctx.refused("not_admitted")
        ctx.say(notices.ACCEPT_NOT_ADMITTED)
        return
    if pairing.status != "pending":
        ctx.say(notices.OFFER_USED)
        return
    if pairing.physician_id == ctx.sender_id:
        ctx.say(notices.WRONG_SENDER)
        return
    now = ctx.services.clock.now()
    if pairing.offer_expires_at <= now:
        ctx.say(notices.OFFER_EXPIRED)
        return
    try:
        # Binds the patient, records consent and opens the start month's epoch row: from
        # here on rotation and shredding track this pairing. The row is re-checked under
        # its lock, so of two concurrent accepts only one completes the pairing.
        rows.accept_pairing(
            ctx.session, pairing.pairing_id, patient_id=ctx.sender_id, now=now,
            consent_channel=ctx.message.platform.value,
            consent_notice_version=notices.PLATFORM_WARNING_VERSION)
    except OfferExpired:
        ctx.say(notices.OFFER_EXPIRED)
        return
    except (OfferReused, WrongPairing):
        ctx.say(notices.OFFER_USED)
        return
    _set_role(ctx, ctx.sender_id, "patient")
    ctx.keep_identity = True
    ctx.audit("pairing_completed", pairing=pairing.pairing_id,
              consent=notices.PLATFORM_WARNING_VERSION)
    ctx.say(notices.PLATFORM_WARNING, platform=ctx.channel.display_name)
    ctx.say(notices.PAIRED_PATIENT, tag=name_of(pairing))
    ctx.relay_token(pairing.physician_id, token_text, pairing.pairing_id)
    ctx.tell(pairing.physician_id, notices.PAIRED_PHYSICIAN, tag=name_of(pairing))


