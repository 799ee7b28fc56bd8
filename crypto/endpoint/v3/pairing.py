"""Key-confirmed v3 pairing by QR code (docs/PROTOCOL.md §30-§33, docs/adr/0020).

Why each step exists (v2's pairing was hijacked two ways, issue 13):

* **Admission** - the accept carries ``A`` (derived from the offer secret) and the bot
  holds only ``H(A)``: a stranger who knows just the pairing id is dropped by the bot.
* **Identity signature** - the patient signs the transcript ``T`` with its identity key,
  so an accept cannot carry someone's identity key with another party's ephemeral key.
* **Verification code** - derived from the *secret* root ``RK0`` and ``T``: whoever holds
  a photo of the QR cannot predict the code of the real patient's accept (it needs the
  patient's X25519 secret), so a withheld or swapped accept shows a different code.
* **Key confirmation** - the physician's companion sends KEY_CONFIRM only on an explicit
  :meth:`PhysicianPairing.confirm` after the codes matched in person (Cancel is the
  default); the patient's companion hands out its :class:`PairingSecrets` only after
  verifying it.  The bot binds the patient's account only on it.
* **Two valid accepts abort** - a second valid accept proves the QR was seen by someone
  else; the physician cannot tell which one is the patient, so both are refused.

Draws from ``rng`` (fixed order, recorded by the vectors): physician - pairing id (16),
offer secret (32), ``E_d`` private (32); patient - ``E_p`` private (32).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.clock import Clock
from medcrypt.crypto.endpoint.pairing import Role
from medcrypt.crypto.endpoint.session import IdentityKey
from medcrypt.crypto.endpoint.v3.offer import (
    MAX_CONTACT_BYTES,
    OfferV3,
    admission_value,
    parse_offer_text_v3,
)
from medcrypt.crypto.endpoint.v3.types import PairingSecrets
from medcrypt.crypto.errors import (
    DecryptionFailed,
    MalformedToken,
    OfferExpired,
    OfferReused,
    PairingCancelled,
    QrShared,
    WrongPairing,
)
from medcrypt.crypto.keyless.epochs import DEFAULT_GRACE_DAYS, MAX_GRACE_DAYS, epoch_of
from medcrypt.crypto.keyless.pairing_wire import (
    METHOD_QR_OFFER,
    VERSION_3,
    AcceptV3,
    KeyConfirm,
    accept_hash,
    accept_prefix,
    confirm_prefix,
    encode_accept_v3,
    encode_confirm,
)
from medcrypt.crypto.keyless.wire import encode_token, parse_token

OFFER_TTL = timedelta(minutes=10)
LABEL_TRANSCRIPT = b"MEDCRYPT v3 pairing transcript"
LABEL_ROOT = b"MEDCRYPT v3 root"
LABEL_ACCEPT_SIGNATURE = b"MEDCRYPT v3 accept signature"
LABEL_CODE = b"MEDCRYPT v3 verification code"
LABEL_CONFIRM_KEY = b"MEDCRYPT v3 key confirm key"
LABEL_CONFIRM_MAC = b"MEDCRYPT v3 key confirm"
LABEL_CONFIRM_SIGNATURE = b"MEDCRYPT v3 key confirm signature"
#: Decimal digits of the verification code (ADR 0020: one online guess per in-person
#: confirmation, 10^-6 per attempt, as Bluetooth numeric comparison).
CODE_DIGITS = 6


# --------------------------------------------------------------------------- derivations


def transcript_hash(offer: OfferV3, patient_ephemeral: bytes, patient_identity: bytes) -> bytes:
    """``T``: version, method, pairing id, the whole public offer (both of the physician's
    keys, escrow key and policy), the patient's ephemeral and identity keys."""
    public = offer.public_bytes()
    return prim.sha256(LABEL_TRANSCRIPT + bytes([VERSION_3, METHOD_QR_OFFER]) + offer.pairing_id
                       + struct.pack(">H", len(public)) + public
                       + patient_ephemeral + patient_identity)


def root_key(shared: bytes, offer_secret: bytes | bytearray, pairing_id: bytes,
             transcript: bytes) -> bytearray:
    """``RK0 = HKDF(X25519 || offer secret, salt = pairing id, "MEDCRYPT v3 root" || T)``."""
    return bytearray(prim.hkdf_sha256(bytes(shared) + bytes(offer_secret), salt=pairing_id,
                                      info=LABEL_ROOT + transcript))


def verification_code(root: bytes | bytearray, transcript: bytes) -> str:
    """Six digits shown as ``123 456`` on both screens (u64 mod 10^6: bias < 2^-44)."""
    raw = prim.hkdf_sha256(root, salt=None, info=LABEL_CODE + transcript, length=8)
    digits = f"{int.from_bytes(raw, 'big') % 10 ** CODE_DIGITS:0{CODE_DIGITS}d}"
    return f"{digits[:3]} {digits[3:]}"


def confirm_mac(root: bytes | bytearray, transcript: bytes, a_hash: bytes) -> bytes:
    """Proof that the confirmer derived the same ``RK0`` for exactly this accept."""
    key = prim.hkdf_sha256(root, salt=None, info=LABEL_CONFIRM_KEY)
    return prim.hmac_sha256(key, LABEL_CONFIRM_MAC + transcript + a_hash)


def _parse(token_text: str, kind: type[AcceptV3] | type[KeyConfirm]) -> AcceptV3 | KeyConfirm:
    info = parse_token(token_text).pairing3
    if not isinstance(info, kind):
        raise MalformedToken("unexpected token kind for this pairing step")
    return info


def _seed(identity: IdentityKey) -> bytearray:
    return bytearray(prim.b64d(identity.export(), 32))


# --------------------------------------------------------------------------- physician


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
        accept = _parse(token_text, AcceptV3)
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
        if not prim.constant_time_equal(accept.admission,
                                        admission_value(self.offer_secret, offer.pairing_id)):
            raise DecryptionFailed
        if prim.constant_time_equal(accept.patient_identity, offer.identity_public):
            raise WrongPairing("a companion cannot pair with itself")
        shared = prim.x25519_shared(self.ephemeral_private, accept.patient_ephemeral)
        transcript = transcript_hash(offer, accept.patient_ephemeral, accept.patient_identity)
        prim.ed25519_verify(accept.patient_identity, LABEL_ACCEPT_SIGNATURE + transcript,
                            accept.signature)
        self._seen.append(a_hash)
        self.accepts.append(AcceptSeen(now, mask_account(account)))
        if self._candidate is not None:
            self._abort()
            raise QrShared
        root = root_key(shared, self.offer_secret, offer.pairing_id, transcript)
        self._candidate = _Candidate(accept, transcript, root, verification_code(root, transcript))
        self.state = PhysicianState.UNVERIFIED
        return self.screen

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
            candidate.transcript, bytearray(candidate.root), _seed(identity),
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


# --------------------------------------------------------------------------- patient


@dataclass(slots=True)
class PatientPairing:
    """The patient's side after sending its accept: unusable until KEY_CONFIRM verifies."""

    offer: OfferV3
    accept_token: str
    code: str
    transcript: bytes
    _accept_hash: bytes
    _root: bytearray
    _ephemeral_private: bytearray
    _identity_seed: bytearray
    _ephemeral_public: bytes
    done: bool = False

    def verify_confirmation(self, token_text: str) -> PairingSecrets:
        """Check KEY_CONFIRM (physician's signature, this accept, same root) and only then
        hand out the secrets; every failure leaves the pairing unverified."""
        if self.done:
            raise OfferReused("this pairing was already confirmed")
        confirm = _parse(token_text, KeyConfirm)
        assert isinstance(confirm, KeyConfirm)
        offer = self.offer
        if confirm.pairing_id != offer.pairing_id:
            raise WrongPairing("key confirmation is for another pairing")
        prim.ed25519_verify(offer.identity_public, LABEL_CONFIRM_SIGNATURE + confirm.signed_bytes,
                            confirm.signature)
        if not prim.constant_time_equal(confirm.accept_hash, self._accept_hash):
            raise QrShared("the physician confirmed another device's answer: this QR was "
                           "photographed or shared: pair again")
        if not prim.constant_time_equal(
                confirm.confirm_mac, confirm_mac(self._root, self.transcript, self._accept_hash)):
            raise DecryptionFailed
        secrets = PairingSecrets(
            Role.PATIENT, offer.pairing_id, offer.start_epoch, offer.grace_days, self.transcript,
            bytearray(self._root), bytearray(self._identity_seed), offer.identity_public,
            offer.escrow_public, self._ephemeral_public, bytearray(self._ephemeral_private),
            None, offer.ephemeral_public)
        self.done = True
        self.wipe()
        return secrets

    def wipe(self) -> None:
        for buffer in (self._root, self._ephemeral_private, self._identity_seed):
            prim.wipe(buffer)


def accept_offer_v3(
    qr_text: str, identity: IdentityKey, *, clock: Clock, rng: prim.Rng = os.urandom,
) -> PatientPairing:
    """Patient side: read the QR, make ``E_p``, sign ``T``, build PAIR_ACCEPT v3."""
    offer = parse_offer_text_v3(qr_text)
    if offer.expired(clock.now()):
        raise OfferExpired("this pairing offer has expired; ask for a new QR code")
    if prim.constant_time_equal(identity.public, offer.identity_public):
        raise WrongPairing("a companion cannot pair with itself")
    eph_private = bytearray(rng(32))
    secret = bytearray(offer.offer_secret)
    try:
        eph_public = prim.x25519_public(eph_private)
        shared = prim.x25519_shared(eph_private, offer.ephemeral_public)
        transcript = transcript_hash(offer, eph_public, identity.public)
        root = root_key(shared, secret, offer.pairing_id, transcript)
        prefix = accept_prefix(offer.pairing_id, admission_value(secret, offer.pairing_id),
                               eph_public, identity.public)
    except BaseException:
        prim.wipe(eph_private)
        raise
    finally:
        prim.wipe(secret)
    raw = encode_accept_v3(prefix, identity.sign(LABEL_ACCEPT_SIGNATURE + transcript))
    return PatientPairing(offer, encode_token(raw), verification_code(root, transcript),
                          transcript, accept_hash(raw), root, eph_private, _seed(identity),
                          eph_public)
