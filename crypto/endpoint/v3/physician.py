"""The physician's side of a v3 pairing: accepts counted, confirmed only on request.

PROTOCOL §32-§33, ADR 0020. The companion checks each relayed accept (admission value,
identity signature over the transcript), lists the valid ones with their arrival times
and the masked account the relay reported, aborts on a second valid one, and produces
KEY_CONFIRM only from an explicit ``confirm`` after the physician compared the codes in
person: Cancel is the default answer, and every other answer wipes the offer.
Draws from ``rng`` (vectors): pairing id (16), offer secret (32), ``E_d`` private (32).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.clock import Clock, ensure_utc
from medcrypt.crypto.endpoint.pairing import Role
from medcrypt.crypto.endpoint.session import IdentityKey
from medcrypt.crypto.endpoint.v3.offer import (
    MAX_CONTACT_BYTES,
    OfferV3,
    admission_value,
    parse_offer_bytes_v3,
)
from medcrypt.crypto.endpoint.v3.pairing import (
    LABEL_ACCEPT_SIGNATURE,
    LABEL_CONFIRM_SIGNATURE,
    confirm_mac,
    identity_seed,
    parse_step,
    root_key,
    transcript_hash,
    verification_code,
)
from medcrypt.crypto.endpoint.v3.types import PairingSecrets
from medcrypt.crypto.errors import (
    DecryptionFailed,
    MalformedToken,
    MedCryptError,
    OfferExpired,
    OfferReused,
    PairingCancelled,
    QrShared,
    StorageError,
    WrongPairing,
)
from medcrypt.crypto.keyless.epochs import DEFAULT_GRACE_DAYS, MAX_GRACE_DAYS, epoch_of
from medcrypt.crypto.keyless.pairing_wire import (
    AcceptV3,
    confirm_prefix,
    encode_confirm,
)
from medcrypt.crypto.keyless.wire import encode_token

OFFER_TTL = timedelta(minutes=10)
PHYSICIAN_STATE_FORMAT = "medcrypt-v3-pairing-physician/1"


class Decision(StrEnum):
    CONFIRM = "confirm"
    CANCEL = "cancel"


def parse_decision(answer: str | None) -> Decision:
    """The physician's answer to "do the codes match?": only ``confirm`` confirms;
    anything else, an empty answer included, is Cancel."""
    if answer is not None and answer.strip().lower() == Decision.CONFIRM.value:
        return Decision.CONFIRM
    return Decision.CANCEL


class PhysicianState(StrEnum):
    WAITING = "waiting"  # no valid accept yet
    UNVERIFIED = "unverified"  # one valid accept: the code is shown, nothing confirmed
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    ABORTED = "aborted"  # two valid accepts: the QR was photographed or shared


@dataclass(frozen=True, slots=True)
class AcceptSeen:
    """One valid accept as the physician's screen lists it."""

    arrived_at: datetime
    account: str


@dataclass(frozen=True, slots=True)
class PhysicianScreen:
    """What the physician's companion shows while a pairing is open."""

    state: PhysicianState
    code: str | None
    accepts: tuple[AcceptSeen, ...]

    @property
    def banner(self) -> str:
        return "VERIFIED" if self.state is PhysicianState.CONFIRMED else "UNVERIFIED"


@dataclass(slots=True)
class _Candidate:
    accept: AcceptV3
    transcript: bytes
    root: bytearray
    code: str


@dataclass(frozen=True, slots=True)
class Confirmed:
    """The KEY_CONFIRM token to send and the secrets the ratchet starts from."""

    token: str
    secrets: PairingSecrets


def mask_account(account: str) -> str:
    """A platform account as the screen shows it: its last two characters only."""
    tail = account.strip()[-2:]
    return f"…{tail}" if tail else "unknown account"


@dataclass(slots=True)
class PhysicianPairing:
    """The physician's side of one v3 offer: accepts counted, confirmed only on request."""

    offer: OfferV3
    ephemeral_private: bytearray
    offer_secret: bytearray
    state: PhysicianState = PhysicianState.WAITING
    accepts: list[AcceptSeen] = field(default_factory=list)
    _seen: list[bytes] = field(default_factory=list)
    _candidate: _Candidate | None = None

    @property
    def screen(self) -> PhysicianScreen:
        code = self._candidate.code if self._candidate is not None else None
        return PhysicianScreen(self.state, code, tuple(self.accepts))

    def receive_accept(
        self, token_text: str, *, clock: Clock, account: str = "",
    ) -> PhysicianScreen:
        """Check one relayed accept; a second *valid* one aborts with :class:`QrShared`.

        Invalid accepts (wrong admission value, bad signature, foreign pairing) raise and
        are not counted. The same accept bytes relayed twice count once.
        """
        self._open()
        accept = parse_step(token_text, AcceptV3)
        assert isinstance(accept, AcceptV3)
        offer = self.offer
        if accept.pairing_id != offer.pairing_id:
            raise WrongPairing("accept token is for another pairing offer")
        now = clock.now()
        if offer.expired(now):
            raise OfferExpired("this pairing offer has expired; create a new one")
        a_hash = accept.accept_hash
        if any(prim.constant_time_equal(a_hash, seen) for seen in self._seen):
            return self.screen  # the same accept relayed again: still one accept
        candidate = self._verify(accept)
        self._seen.append(a_hash)
        self.accepts.append(AcceptSeen(now, mask_account(account)))
        if self._candidate is not None:
            prim.wipe(candidate.root)
            self._abort()
            raise QrShared
        self._candidate = candidate
        self.state = PhysicianState.UNVERIFIED
        return self.screen

    def _verify(self, accept: AcceptV3) -> _Candidate:
        """PROTOCOL §32's checks of one accept; the root and code it yields if valid."""
        offer = self.offer
        if not prim.constant_time_equal(accept.admission,
                                        admission_value(self.offer_secret, offer.pairing_id)):
            raise DecryptionFailed
        if prim.constant_time_equal(accept.patient_identity, offer.identity_public):
            raise WrongPairing("a companion cannot pair with itself")
        shared = prim.x25519_shared(self.ephemeral_private, accept.patient_ephemeral)
        transcript = transcript_hash(offer, accept.patient_ephemeral, accept.patient_identity)
        prim.ed25519_verify(accept.patient_identity, LABEL_ACCEPT_SIGNATURE + transcript,
                            accept.signature)
        root = root_key(shared, self.offer_secret, offer.pairing_id, transcript)
        return _Candidate(accept, transcript, root, verification_code(root, transcript))

    def export(self) -> dict[str, Any]:
        """JSON-typed state for the keystore. An open offer keeps its offer secret and
        ``E_d`` private key (the root is re-derived on load); a closed one keeps no
        secret, only what the screen listed."""
        closed = self.state in (PhysicianState.CONFIRMED, PhysicianState.CANCELLED,
                                PhysicianState.ABORTED)
        return {
            "format": PHYSICIAN_STATE_FORMAT, "state": self.state.value,
            "pairing_id": prim.b64e(self.offer.pairing_id),
            "offer": None if closed else prim.b64e(self.offer.to_bytes()),
            "ephemeral_private": None if closed else prim.b64e(self.ephemeral_private),
            "accepts": [[a.arrived_at.isoformat(), a.account] for a in self.accepts],
            "seen": [prim.b64e(h) for h in self._seen],
            "candidate": None if closed or self._candidate is None
            else encode_token(self._candidate.accept.raw),
        }

    @classmethod
    def load(cls, state: dict[str, Any]) -> PhysicianPairing:
        """The inverse of :meth:`export`; StorageError if the state is damaged."""
        try:
            if state["format"] != PHYSICIAN_STATE_FORMAT:
                raise StorageError("unknown physician pairing state format")
            status = PhysicianState(state["state"])
            accepts = [AcceptSeen(ensure_utc(datetime.fromisoformat(at)), str(account))
                       for at, account in state["accepts"]]
            seen = [prim.b64d(h, 32) for h in state["seen"]]
            if state["offer"] is None:
                blank = OfferV3(prim.b64d(state["pairing_id"], 16), b"", b"", b"", 0, 0, 0,
                                None, "")
                return cls(blank, bytearray(), bytearray(), status, accepts, seen)
            offer = parse_offer_bytes_v3(prim.b64d(state["offer"]))
            pairing = cls(offer, bytearray(prim.b64d(state["ephemeral_private"], 32)),
                          bytearray(offer.offer_secret), status, accepts, seen)
            if state["candidate"] is not None:
                accept = parse_step(state["candidate"], AcceptV3)
                assert isinstance(accept, AcceptV3)
                pairing._candidate = pairing._verify(accept)
        except StorageError:
            raise
        except (KeyError, TypeError, ValueError, MedCryptError):
            raise StorageError("physician pairing state is damaged") from None
        return pairing

    def decide(self, answer: str | None, identity: IdentityKey, *, clock: Clock) -> Confirmed:
        """Apply the physician's answer: :meth:`confirm` only for an explicit ``confirm``."""
        if parse_decision(answer) is Decision.CONFIRM:
            return self.confirm(identity, clock=clock)
        self.cancel()
        raise PairingCancelled("the codes were not confirmed; the pairing was cancelled")

    def confirm(self, identity: IdentityKey, *, clock: Clock) -> Confirmed:
        """The physician confirmed that both screens show the same code: sign KEY_CONFIRM
        for the one valid accept and hand the secrets to the ratchet."""
        self._open()
        candidate = self._candidate
        if candidate is None:
            raise PairingCancelled("no valid accept to confirm yet")
        offer = self.offer
        if offer.expired(clock.now()):
            self.cancel()
            raise OfferExpired("this pairing offer has expired; create a new one")
        if not prim.constant_time_equal(identity.public, offer.identity_public):
            raise WrongPairing("this identity did not make the offer")
        a_hash = candidate.accept.accept_hash
        prefix = confirm_prefix(offer.pairing_id, a_hash,
                                confirm_mac(candidate.root, candidate.transcript, a_hash))
        token = encode_token(encode_confirm(
            prefix, identity.sign(LABEL_CONFIRM_SIGNATURE + prefix)))
        secrets = PairingSecrets(
            Role.PHYSICIAN, offer.pairing_id, offer.start_epoch, offer.grace_days,
            candidate.transcript, bytearray(candidate.root), identity_seed(identity),
            candidate.accept.patient_identity, offer.escrow_public,
            candidate.accept.patient_ephemeral, None, bytearray(self.ephemeral_private),
            offer.ephemeral_public)
        self.state = PhysicianState.CONFIRMED
        self._wipe()
        return Confirmed(token, secrets)

    def cancel(self) -> None:
        """Cancel (the default answer): nothing is sent, every secret is wiped."""
        if self.state in (PhysicianState.WAITING, PhysicianState.UNVERIFIED):
            self.state = PhysicianState.CANCELLED
        self._wipe()

    def _open(self) -> None:
        if self.state is PhysicianState.ABORTED:
            raise QrShared
        if self.state in (PhysicianState.CONFIRMED, PhysicianState.CANCELLED):
            raise OfferReused("this pairing offer was already used")

    def _abort(self) -> None:
        self.state = PhysicianState.ABORTED
        self._wipe()

    def _wipe(self) -> None:
        prim.wipe(self.ephemeral_private)
        prim.wipe(self.offer_secret)
        if self._candidate is not None:
            prim.wipe(self._candidate.root)
            self._candidate = None


def create_offer_v3(
    identity_public: bytes, *, clock: Clock, rng: prim.Rng = os.urandom,
    grace_days: int = DEFAULT_GRACE_DAYS, escrow_public: bytes | None = None,
    bot_contact: str = "", ttl: timedelta = OFFER_TTL,
) -> PhysicianPairing:
    """A fresh v3 offer valid for ``ttl`` from the injected clock's now."""
    if len(identity_public) != 32 or (escrow_public is not None and len(escrow_public) != 32):
        raise MalformedToken("identity and escrow public keys must be 32 bytes")
    if not 0 <= grace_days <= MAX_GRACE_DAYS:
        raise MalformedToken(f"grace window must be 0..{MAX_GRACE_DAYS} days")
    if len(bot_contact.encode("utf-8")) > MAX_CONTACT_BYTES:
        raise MalformedToken(f"bot contact must be at most {MAX_CONTACT_BYTES} bytes")
    now = clock.now()
    pairing_id = rng(16)
    secret = bytearray(rng(32))
    eph_private = bytearray(rng(32))
    expires = int((now + ttl).astimezone(UTC).timestamp())
    offer = OfferV3(pairing_id, bytes(secret), prim.x25519_public(eph_private), identity_public,
                    epoch_of(now), grace_days, expires, escrow_public, bot_contact)
    return PhysicianPairing(offer, eph_private, secret)

