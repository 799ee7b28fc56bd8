"""v3 pairing at the relay: admit accepts, bind on the physician's confirmation, abort on
two (docs/PROTOCOL.md §34, docs/adr/0021).

v2 bound whoever sent the first accept. Here nobody is bound by an accept:

* an accept whose admission value does not hash to the registered ``H_A`` is dropped
  (a stranger knows the pairing id, not the QR) and its sender told so, never "paired";
* an admitted accept is kept pending - one per account per pairing, the same bytes for
  one account only - and relayed to the physician with how many arrived and when;
* two pending accepts from different accounts abort the offer: the QR was seen by
  someone else and the relay cannot tell who is the patient, so all are told;
* the physician's KEY_CONFIRM names one accept by its hash; the account that sent those
  exact bytes is bound (consent recorded then) and receives the confirmation.

The bot holds no key: it cannot check the signatures, which the companions do. Pending
accepts expire with the offer.
"""

from __future__ import annotations

from medcrypt.bot.domain import notices
from medcrypt.bot.domain.handling import Handling
from medcrypt.bot.domain.names import name_of
from medcrypt.crypto.errors import OfferExpired, OfferReused, WrongPairing
from medcrypt.crypto.keyless.pairing_wire import AcceptV3, KeyConfirm, admits
from medcrypt.crypto.keyless.wire import Token
from medcrypt.storage.repos import admissions, identities
from medcrypt.storage.repos import pairings as rows
from medcrypt.storage.repos.admissions import Pending
from medcrypt.storage.repos.pairings import PairingRecord


def _open_offer(ctx: Handling, pairing_id: bytes) -> tuple[PairingRecord, bytes] | None:
    """The pending v3 pairing and its admission hash, or a reply saying why not."""
    pairing = rows.get_pairing(ctx.session, pairing_id.hex())
    admission = None if pairing is None else admissions.admission_of(ctx.session,
                                                                      pairing.pairing_id)
    if pairing is None or admission is None:
        ctx.refused("unknown_pairing")
        ctx.say(notices.UNKNOWN_PAIRING)
        return None
    if admission.aborted_at is not None:
        ctx.refused("qr_shared")
        ctx.say(notices.QR_SHARED, tag=name_of(pairing))
        return None
    if pairing.status != "pending":
        ctx.refused("pairing_closed")
        ctx.say(notices.OFFER_USED)
        return None
    if pairing.offer_expires_at <= ctx.services.clock.now():
        ctx.refused("pairing_closed")
        ctx.say(notices.OFFER_EXPIRED)
        return None
    return pairing, admission.admission_hash


def accept(ctx: Handling, token: Token, token_text: str) -> None:
    info = token.pairing3
    if not isinstance(info, AcceptV3):  # pragma: no cover - the router sends v3 accepts only
        ctx.say(notices.MALFORMED)
        return
    opened = _open_offer(ctx, info.pairing_id)
    if opened is None:
        return
    pairing, registered = opened
    if pairing.physician_id == ctx.sender_id:
        ctx.refused("wrong_sender")
        ctx.say(notices.WRONG_SENDER)
        return
    if not admits(registered, info):
        ctx.audit("relay_refused", pairing=pairing.pairing_id, reason="not_admitted")
        ctx.refused("not_admitted")
        ctx.say(notices.ACCEPT_NOT_ADMITTED)
        return
    now = ctx.services.clock.now()
    ctx.keep_identity = True  # an admitted accept is worth a pending row
    outcome, waiting = admissions.add_pending(
        ctx.session, pairing_id=pairing.pairing_id, sender_id=ctx.sender_id,
        accept_hash=info.accept_hash, now=now)
    if outcome is Pending.OTHER_ACCOUNT:
        ctx.audit("relay_refused", pairing=pairing.pairing_id, reason="accept_replayed")
        ctx.refused("accept_replayed")
        ctx.say(notices.ACCEPT_OTHER_ACCOUNT)
        return
    if outcome is Pending.ALREADY_SENT:
        ctx.refused("accept_pending")
        ctx.say(notices.ACCEPT_ALREADY_SENT)
        return
    if outcome is Pending.REPEATED:
        ctx.say(notices.ACCEPT_FORWARDED)
        return
    ctx.audit("pairing_accept_pending", pairing=pairing.pairing_id)
    ctx.relay_token(pairing.physician_id, token_text, pairing.pairing_id)
    ctx.tell(pairing.physician_id, notices.ACCEPT_ARRIVED,
        n=len(waiting), tag=name_of(pairing), at=now.strftime("%H:%M:%S"),
        platform=ctx.channel.display_name,
        tail=_tail(ctx))
    if len({w.sender_id for w in waiting}) >= 2:
        _abort(ctx, pairing, [w.sender_id for w in waiting])
        return
    ctx.say(notices.ACCEPT_FORWARDED)


def _tail(ctx: Handling) -> str:
    """The last two characters of the sender's platform address (masked account)."""
    ctx.session.flush()
    found = ctx.services.directory.address_of(ctx.session, ctx.sender_id)
    return found[1][-2:] if found is not None else "??"


def _abort(ctx: Handling, pairing: PairingRecord, senders: list[str]) -> None:
    """Two accounts hold valid accepts: nobody is bound, everyone is told."""
    admissions.abort(ctx.session, pairing.pairing_id, now=ctx.services.clock.now())
    ctx.audit("pairing_aborted", pairing=pairing.pairing_id, reason="qr_shared")
    ctx.refused("qr_shared")
    for member in [pairing.physician_id, *senders]:
        if member == ctx.sender_id:
            ctx.say(notices.QR_SHARED, tag=name_of(pairing))
        else:
            ctx.tell(member, notices.QR_SHARED, tag=name_of(pairing))


def confirm(ctx: Handling, token: Token, token_text: str) -> None:
    info = token.pairing3
    if not isinstance(info, KeyConfirm):  # pragma: no cover - the router sends v3 confirms
        ctx.say(notices.MALFORMED)
        return
    opened = _open_offer(ctx, info.pairing_id)
    if opened is None:
        return
    pairing, _registered = opened
    if pairing.physician_id != ctx.sender_id:
        ctx.audit("wrong_sender", pairing=pairing.pairing_id)
        ctx.refused("wrong_sender")
        ctx.say(notices.WRONG_SENDER)
        return
    patient_id = admissions.sender_of(ctx.session, pairing.pairing_id, info.accept_hash)
    if patient_id is None:
        ctx.audit("relay_refused", pairing=pairing.pairing_id, reason="confirm_unknown")
        ctx.refused("confirm_unknown")
        ctx.say(notices.CONFIRM_UNKNOWN)
        return
    now = ctx.services.clock.now()
    platform = ctx.services.directory.platform_of(ctx.session, patient_id)
    channel = None if platform is None else ctx.services.channels[platform]
    try:
        rows.accept_pairing(
            ctx.session, pairing.pairing_id, patient_id=patient_id, now=now,
            consent_channel=platform.value if platform is not None else "unknown",
            consent_notice_version=notices.PLATFORM_WARNING_VERSION)
    except OfferExpired:
        ctx.say(notices.OFFER_EXPIRED)
        return
    except (OfferReused, WrongPairing):
        ctx.say(notices.OFFER_USED)
        return
    admissions.clear_pending(ctx.session, pairing.pairing_id)
    identities.adopt_role(ctx.session, patient_id, "patient")
    ctx.audit("pairing_completed", pairing=pairing.pairing_id,
              consent=notices.PLATFORM_WARNING_VERSION)
    ctx.relay_token(patient_id, token_text, pairing.pairing_id)
    if channel is not None:
        ctx.tell(patient_id, notices.PLATFORM_WARNING, platform=channel.display_name)
    ctx.tell(patient_id, notices.PAIRED_PATIENT, tag=name_of(pairing))
    ctx.say(notices.PAIRED_CONFIRMED, tag=name_of(pairing))
