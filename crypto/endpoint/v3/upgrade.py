"""Upgrade of a live v2 pairing to v3 (docs/PROTOCOL.md §35, docs/adr/0027).

Why it looks like this:

* **No v2 key is an input.**  A v2 state may already be copied (the flaw v3 fixes), so
  the v3 root comes only from two fresh X25519 keys, ``E_d`` (physician, in the offer)
  and ``E_p`` (patient, in the answer): a passive holder of every v2 secret learns
  nothing about ``RK0``.
* **Pinned identities authenticate it.**  Each side signs with the Ed25519 identity key
  the v2 pairing pinned, and each checks the other's signature against the key *it*
  pinned (never one carried by the token), over a transcript holding both identity
  keys, both ephemeral keys and the whole offer: SIGMA-style, no misbinding.  No
  verification code is needed: the codes of a QR pairing exist because no identity is
  known yet; here both are (ADR 0027).
* **v2 ends at the upgrade.**  :class:`RetiredV2` keeps only the receiving chains of live
  v2 months and deletes the next-month key and the sending chains.

Draws from ``rng`` (fixed order, recorded by the vectors): physician - ``E_d`` private
(32); patient - ``E_p`` private (32).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.clock import Clock
from medcrypt.crypto.endpoint.pairing import Role
from medcrypt.crypto.endpoint.session import IdentityKey, PairingSession
from medcrypt.crypto.endpoint.v3 import pinned
from medcrypt.crypto.endpoint.v3.retired import RetiredV2
from medcrypt.crypto.endpoint.v3.types import PairingSecrets
from medcrypt.crypto.errors import (
    MalformedToken,
    MedCryptError,
    OfferExpired,
    StorageError,
    WrongPairing,
)
from medcrypt.crypto.keyless.epochs import CLOCK_SKEW, MAX_GRACE_DAYS, epoch_of
from medcrypt.crypto.keyless.upgrade_wire import (
    UpgradeAnswer,
    UpgradeOffer,
    answer_prefix,
    offer_body,
    parse_upgrade,
    with_signature,
)
from medcrypt.crypto.keyless.wire import encode_token, parse_token

LABEL_OFFER_SIGNATURE = b"MEDCRYPT v3 upgrade offer signature"
LABEL_ANSWER_SIGNATURE = b"MEDCRYPT v3 upgrade answer signature"
LABEL_TRANSCRIPT = b"MEDCRYPT v3 upgrade transcript"
LABEL_ROOT = b"MEDCRYPT v3 upgrade root"
#: How long the patient may take to answer (a phone may be offline for days).
DEFAULT_LIFETIME = timedelta(days=14)
PHYSICIAN_STATE_FORMAT = "medcrypt-v3-upgrade-physician/1"


# --------------------------------------------------------------------------- derivations


def transcript_hash(offer: UpgradeOffer, patient_ephemeral: bytes, physician_identity: bytes,
                    patient_identity: bytes) -> bytes:
    """``T_up``: the signed offer (policy, escrow key, ``E_d``), ``E_p`` and both pinned
    identity keys."""
    return prim.sha256(LABEL_TRANSCRIPT + offer.raw + patient_ephemeral + physician_identity
                       + patient_identity)


def root_key(shared: bytes, pairing_id: bytes, transcript: bytes) -> bytearray:
    """``RK0 = HKDF(X25519(E_p, E_d), salt = pairing id, "MEDCRYPT v3 upgrade root" || T_up)``."""
    return bytearray(prim.hkdf_sha256(shared, salt=pairing_id, info=LABEL_ROOT + transcript))


def _parse(token_text: str, kind: type[UpgradeOffer] | type[UpgradeAnswer]
           ) -> UpgradeOffer | UpgradeAnswer:
    info = parse_token(token_text).upgrade
    if not isinstance(info, kind):
        raise MalformedToken("unexpected token kind for this upgrade step")
    return info


def _seed(identity: IdentityKey) -> bytearray:
    return bytearray(prim.b64d(identity.export(), 32))


def _own_identity_matches(v2: PairingSession, identity: IdentityKey, role: Role) -> None:
    if v2.role is not role:
        raise WrongPairing(f"only the {role.value}'s companion takes this upgrade step")
    if prim.constant_time_equal(identity.public, v2.peer_identity):
        raise WrongPairing("this identity is the peer's")


# --------------------------------------------------------------------------- physician


@dataclass(slots=True)
class PhysicianUpgrade:
    """The physician's pending upgrade: the offer sent and ``E_d``'s private key, until
    the patient's answer arrives (then both are gone)."""

    offer: UpgradeOffer
    token: str
    _ephemeral_private: bytearray

    def finish(self, answer_text: str, v2: PairingSession, identity: IdentityKey, *,
               clock: Clock) -> Upgraded:
        """Check the answer against the pinned patient key; on success retire v2 and hand
        out the v3 secrets.  Every failure leaves this pending upgrade (and v2) as it was."""
        _own_identity_matches(v2, identity, Role.PHYSICIAN)
        answer = _parse(answer_text, UpgradeAnswer)
        assert isinstance(answer, UpgradeAnswer)
        offer = self.offer
        if answer.pairing_id != v2.pairing_id or offer.pairing_id != v2.pairing_id:
            raise WrongPairing("upgrade answer is for another pairing")
        if not prim.constant_time_equal(answer.offer_hash, offer.offer_hash):
            raise WrongPairing("upgrade answer names another offer")
        if clock.now().timestamp() >= offer.expires_at:
            raise OfferExpired("this upgrade offer has expired; offer the upgrade again")
        transcript = transcript_hash(offer, answer.patient_ephemeral, identity.public,
                                     v2.peer_identity)
        prim.ed25519_verify(v2.peer_identity, LABEL_ANSWER_SIGNATURE + transcript,
                            answer.signature)
        shared = prim.x25519_shared(self._ephemeral_private, answer.patient_ephemeral)
        secrets = PairingSecrets(
            Role.PHYSICIAN, offer.pairing_id, offer.start_epoch, offer.grace_days, transcript,
            root_key(shared, offer.pairing_id, transcript), _seed(identity), v2.peer_identity,
            offer.escrow_public, answer.patient_ephemeral, None,
            bytearray(self._ephemeral_private), offer.physician_ephemeral)
        record = None if offer.escrow_public is None else pinned.sign_record(
            identity, pairing_id=offer.pairing_id, transcript_hash=transcript,
            patient_identity=v2.peer_identity, escrow_public=offer.escrow_public)
        prim.wipe(self._ephemeral_private)
        return Upgraded(secrets, RetiredV2.retire(v2), record)

    def wipe(self) -> None:
        prim.wipe(self._ephemeral_private)

    def export(self) -> dict[str, Any]:
        """JSON-typed state for the keystore until the answer arrives."""
        return {"format": PHYSICIAN_STATE_FORMAT, "offer_token": self.token,
                "ephemeral_private": prim.b64e(self._ephemeral_private)}

    @classmethod
    def load(cls, state: dict[str, Any]) -> PhysicianUpgrade:
        """The inverse of :meth:`export`, checked (``E_d`` must match the offer)."""
        try:
            if state["format"] != PHYSICIAN_STATE_FORMAT:
                raise StorageError("unknown upgrade state format")
            offer = _parse(state["offer_token"], UpgradeOffer)
            assert isinstance(offer, UpgradeOffer)
            private = bytearray(prim.b64d(state["ephemeral_private"], 32))
        except StorageError:
            raise
        except (KeyError, TypeError, ValueError, MedCryptError):
            raise StorageError("upgrade state is damaged") from None
        if prim.x25519_public(private) != offer.physician_ephemeral:
            raise StorageError("upgrade state is inconsistent (ephemeral key)")
        return cls(offer, state["offer_token"], private)


@dataclass(slots=True)
class Upgraded:
    """Both sides' outcome: the v3 secrets (for ``Session.from_pairing``), the retired
    v2 session (read-only until its months are shredded) and, on the physician's side of
    a pairing with escrow, the pinned-key record of the v3 pairing."""

    secrets: PairingSecrets
    retired: RetiredV2
    record: pinned.PinnedRecord | None


def offer_upgrade(
    v2: PairingSession, identity: IdentityKey, *, clock: Clock, rng: prim.Rng = os.urandom,
    escrow_public: bytes | None = None, lifetime: timedelta = DEFAULT_LIFETIME,
) -> PhysicianUpgrade:
    """Physician: a signed UPGRADE_OFFER for the live v2 pairing ``v2``.

    The v3 pairing starts in the current month with v2's grace window and, unless given,
    v2's escrow key.
    """
    _own_identity_matches(v2, identity, Role.PHYSICIAN)
    now = clock.now()
    escrow = v2.escrow_public if escrow_public is None else escrow_public
    private = bytearray(rng(32))
    try:
        body = offer_body(v2.pairing_id, start_epoch=epoch_of(now), grace_days=v2.grace_days,
                          expires_at=int((now + lifetime).timestamp()), escrow_public=escrow,
                          physician_ephemeral=prim.x25519_public(private))
    except BaseException:
        prim.wipe(private)
        raise
    raw = with_signature(body, identity.sign(LABEL_OFFER_SIGNATURE + body))
    offer = parse_upgrade(raw)
    assert isinstance(offer, UpgradeOffer)
    return PhysicianUpgrade(offer, encode_token(raw), private)


# --------------------------------------------------------------------------- patient


@dataclass(slots=True)
class PatientUpgrade:
    """The patient's answer to send and its outcome (usable at once: the offer was
    signed by the pinned physician key, and the answer by the patient's)."""

    token: str
    upgraded: Upgraded


def answer_upgrade(
    offer_text: str, v2: PairingSession, identity: IdentityKey, *, clock: Clock,
    rng: prim.Rng = os.urandom,
) -> PatientUpgrade:
    """Patient: check the offer against the pinned physician key, answer with ``E_p``,
    retire v2.  Checks, in order: kind and step, pairing id, the offer signature, expiry,
    start month (the current one, within the clock skew), grace window."""
    _own_identity_matches(v2, identity, Role.PATIENT)
    offer = _parse(offer_text, UpgradeOffer)
    assert isinstance(offer, UpgradeOffer)
    if offer.pairing_id != v2.pairing_id:
        raise WrongPairing("upgrade offer is for another pairing")
    prim.ed25519_verify(v2.peer_identity, LABEL_OFFER_SIGNATURE + offer.signed_bytes,
                        offer.signature)
    now = clock.now()
    if now.timestamp() >= offer.expires_at:
        raise OfferExpired("this upgrade offer has expired; ask for a new one")
    if offer.start_epoch not in (epoch_of(now - CLOCK_SKEW), epoch_of(now + CLOCK_SKEW)):
        raise WrongPairing("upgrade offer starts in another month than the current one")
    if not 0 <= offer.grace_days <= MAX_GRACE_DAYS:
        raise WrongPairing("upgrade offer has a grace window out of range")
    private = bytearray(rng(32))
    try:
        public = prim.x25519_public(private)
        shared = prim.x25519_shared(private, offer.physician_ephemeral)
        transcript = transcript_hash(offer, public, v2.peer_identity, identity.public)
        root = root_key(shared, offer.pairing_id, transcript)
    except BaseException:
        prim.wipe(private)
        raise
    raw = with_signature(answer_prefix(offer.pairing_id, offer.offer_hash, public),
                         identity.sign(LABEL_ANSWER_SIGNATURE + transcript))
    secrets = PairingSecrets(
        Role.PATIENT, offer.pairing_id, offer.start_epoch, offer.grace_days, transcript, root,
        _seed(identity), v2.peer_identity, offer.escrow_public, public, private, None,
        offer.physician_ephemeral)
    return PatientUpgrade(encode_token(raw), Upgraded(secrets, RetiredV2.retire(v2), None))
