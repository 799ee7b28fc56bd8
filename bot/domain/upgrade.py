"""v2 -> v3 upgrade at the relay: carry the two UPGRADE tokens between the members of a
live v2 pairing, and mark the pairing v3 once both passed (docs/PROTOCOL.md §35.6,
docs/adr/0027).

The bot holds no key and checks no signature (the companions check each other's against
the identity keys their v2 pairing pinned).  What it checks is who may send what:

* UPGRADE_OFFER only from the physician of an active, unshredded v2 pairing, not past
  the expiry it states; the relay keeps its hash (a later offer replaces an unanswered
  one) and carries it to the patient;
* UPGRADE_ANSWER only from that pairing's patient, and only naming the stored offer
  before it expires; the pairing is then v3 (``upgraded_at``) and the answer goes to the
  physician.  After that no upgrade token of the pairing is relayed.

A pairing paired in v3 (it has an admission row) is not a v2 pairing and is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime

from medcrypt.bot.domain import notices, pairings
from medcrypt.bot.domain.handling import Handling
from medcrypt.bot.domain.names import name_of
from medcrypt.crypto.keyless.upgrade_wire import UpgradeAnswer, UpgradeOffer
from medcrypt.crypto.keyless.wire import Token
from medcrypt.storage.repos import admissions, upgrades
from medcrypt.storage.repos import pairings as rows
from medcrypt.storage.repos.pairings import PairingRecord


def _member_pairing(ctx: Handling, pairing_id: bytes, role: str) -> PairingRecord | None:
    """The live pairing whose ``role`` member sent this, or a reply saying why not."""
    pairing = rows.get_pairing(ctx.session, pairing_id.hex())
    if pairing is None:
        ctx.refused("unknown_pairing")
        ctx.say(notices.UNKNOWN_PAIRING)
        return None
    if pairings.role_of(pairing, ctx.sender_id) != role:
        ctx.audit("wrong_sender", pairing=pairing.pairing_id)
        ctx.refused("wrong_sender")
        ctx.say(notices.WRONG_SENDER)
        return None
    refusal = pairings.closed_to_tokens(pairing)
    if refusal is not None:
        if refusal.reason is not None:
            ctx.audit("relay_refused", pairing=pairing.pairing_id, reason=refusal.reason)
        ctx.refused("pairing_closed")
        ctx.say(refusal.text)
        return None
    return pairing


def _refuse(ctx: Handling, pairing: PairingRecord, reason: str, text: str) -> None:
    ctx.audit("relay_refused", pairing=pairing.pairing_id, reason=reason)
    ctx.refused(reason)
    ctx.say(text)


def offer(ctx: Handling, token: Token, token_text: str) -> None:
    info = token.upgrade
    if not isinstance(info, UpgradeOffer):  # pragma: no cover - the router checks the step
        ctx.say(notices.MALFORMED)
        return
    pairing = _member_pairing(ctx, info.pairing_id, "physician")
    if pairing is None:
        return
    now = ctx.services.clock.now()
    existing = upgrades.upgrade_of(ctx.session, pairing.pairing_id)
    if admissions.admission_of(ctx.session, pairing.pairing_id) is not None or (
            existing is not None and existing.upgraded_at is not None):
        _refuse(ctx, pairing, "already_v3", notices.UPGRADE_ALREADY_V3)
        return
    expires_at = datetime.fromtimestamp(min(info.expires_at, 2**33), UTC)
    if expires_at <= now:
        _refuse(ctx, pairing, "upgrade_expired", notices.UPGRADE_EXPIRED)
        return
    upgrades.record_offer(ctx.session, pairing.pairing_id, offer_hash=info.offer_hash,
                          expires_at=expires_at, now=now)
    ctx.audit("pairing_upgrade_offered", pairing=pairing.pairing_id)
    assert pairing.patient_id is not None  # closed_to_tokens refused a pairing without one
    ctx.relay_token(pairing.patient_id, token_text, pairing.pairing_id)
    ctx.say(notices.UPGRADE_OFFER_FORWARDED)


def answer(ctx: Handling, token: Token, token_text: str) -> None:
    info = token.upgrade
    if not isinstance(info, UpgradeAnswer):  # pragma: no cover - the router checks the step
        ctx.say(notices.MALFORMED)
        return
    pairing = _member_pairing(ctx, info.pairing_id, "patient")
    if pairing is None:
        return
    stored = upgrades.upgrade_of(ctx.session, pairing.pairing_id)
    if stored is not None and stored.upgraded_at is not None:
        _refuse(ctx, pairing, "already_v3", notices.UPGRADE_ALREADY_V3)
        return
    if stored is None or not upgrades.mark_upgraded(
            ctx.session, pairing.pairing_id, offer_hash=info.offer_hash,
            now=ctx.services.clock.now()):
        _refuse(ctx, pairing, "upgrade_unknown", notices.UPGRADE_UNKNOWN)
        return
    ctx.audit("pairing_upgraded", pairing=pairing.pairing_id, what="v3")
    ctx.relay_token(pairing.physician_id, token_text, pairing.pairing_id)
    ctx.tell(pairing.physician_id, notices.UPGRADE_DONE_PHYSICIAN,
        tag=name_of(pairing))
    ctx.say(notices.UPGRADE_DONE_PATIENT, tag=name_of(pairing))
