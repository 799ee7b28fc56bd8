"""The high-level API the companion uses: pair, encrypt, decrypt, rotate, export.

A :class:`PairingSession` is one pairing seen from one side.  It owns the epoch
schedule (crypto/endpoint/keyschedule.py), one send and one receive chain per live epoch
(crypto/endpoint/ratchet.py) and the pinned identity keys, and turns bodies into tokens and back.
Its whole state is a plain dict of JSON types (:meth:`export_state`), which the
companion's encrypted keystore persists after every operation - because each opened
token deletes its message key, the saved state after a decrypt can no longer reopen
that token (forward secrecy inside the month).

Every operation first applies the calendar (:meth:`advance`): entering new epochs,
shredding those past their grace window.  Time and randomness are injected.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.clock import Clock
from medcrypt.crypto.endpoint import envelope, escrow, pairing, safety
from medcrypt.crypto.endpoint.envelope import ContentType
from medcrypt.crypto.endpoint.keyschedule import EpochSchedule
from medcrypt.crypto.endpoint.pairing import PairingOutcome, PendingOffer, Role
from medcrypt.crypto.endpoint.ratchet import RecvChain, SendChain, initial_chain_key
from medcrypt.crypto.errors import LimitExceeded, MalformedToken, StorageError, WrongPairing
from medcrypt.crypto.keyless.epochs import epoch_start, format_epoch, grace_end
from medcrypt.crypto.keyless.wire import (
    MESSAGE_HEADER_LEN,
    NONCE_LEN,
    Direction,
    Kind,
    encode_sealed_header,
    encode_token,
    parse_token,
)

STATE_FORMAT = "medcrypt-session/1"


class IdentityKey:
    """A companion's long-term Ed25519 identity (the seed never leaves this object
    except through :meth:`export`, for the encrypted keystore)."""

    __slots__ = ("_seed", "_signer", "public")

    def __init__(self, seed: bytes | bytearray) -> None:
        if len(seed) != 32:
            raise MalformedToken("an identity seed is 32 bytes")
        self._seed = bytearray(seed)
        self._signer = prim.Ed25519Signer(self._seed)
        self.public = self._signer.public

    @classmethod
    def generate(cls, rng: prim.Rng = os.urandom) -> IdentityKey:
        return cls(rng(32))

    def sign(self, message: bytes) -> bytes:
        return self._signer.sign(message)

    def export(self) -> str:
        """The seed as base64 text, for the keystore (which encrypts it)."""
        return prim.b64e(self._seed)

    @classmethod
    def import_(cls, text: str) -> IdentityKey:
        return cls(prim.b64d(text, 32))

    def fingerprint(self) -> str:
        return safety.fingerprint(self.public)

    def wipe(self) -> None:
        prim.wipe(self._seed)


@dataclass(frozen=True, slots=True)
class EncryptResult:
    """A token to send, and an escrow deposit to hand to the bot if one is due."""

    token: str
    escrow_deposit: str | None


@dataclass(frozen=True, slots=True)
class Opened:
    """A decrypted message."""

    content_type: ContentType
    body: bytes
    sent_at: datetime
    epoch: int
    index: int
    direction: Direction


@dataclass(slots=True)
class _EpochChains:
    send: SendChain
    recv: RecvChain
    deposit: str | None

    def export(self) -> dict[str, Any]:
        return {"send": self.send.export(), "recv": self.recv.export(), "deposit": self.deposit}

    @classmethod
    def load(cls, state: dict[str, Any]) -> _EpochChains:
        deposit = state.get("deposit")
        if deposit is not None and not isinstance(deposit, str):
            raise StorageError("escrow deposit state is damaged")
        return cls(SendChain.load(state["send"]), RecvChain.load(state["recv"]), deposit)

    def wipe(self) -> None:
        prim.wipe(self.send.chain_key)
        self.recv.wipe()


class PairingSession:
    """One pairing from one side.  Build it with :func:`accept_pairing`,
    :func:`complete_pairing` or :meth:`from_state`."""

    def __init__(
        self, outcome: PairingOutcome, identity: IdentityKey, schedule: EpochSchedule,
        chains: dict[int, _EpochChains],
    ) -> None:
        if identity.public != outcome.own_identity:
            raise StorageError("this identity key does not belong to the pairing")
        self._outcome = outcome
        self._identity = identity
        self._schedule = schedule
        self._chains = chains
        self.role = outcome.role
        self.pairing_id = outcome.pairing_id
        if self.role is Role.PATIENT:
            self.own_direction = Direction.PATIENT_TO_PHYSICIAN
        else:
            self.own_direction = Direction.PHYSICIAN_TO_PATIENT
        self.peer_direction = Direction(1 - self.own_direction)
        self._wiped = False

    def _usable(self) -> None:
        if self._wiped:
            raise StorageError("this session's keys were wiped; load it again from the keystore")

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_outcome(
        cls, outcome: PairingOutcome, identity: IdentityKey, *, clock: Clock,
        rng: prim.Rng = os.urandom,
    ) -> PairingSession:
        """A new session from any pairing method; wipes the outcome's start key."""
        schedule = EpochSchedule.begin(outcome.start_key, outcome.start_epoch, outcome.grace_days)
        prim.wipe(outcome.start_key)
        session = cls(outcome, identity, schedule, {})
        session.advance(clock, rng=rng)
        return session

    # ------------------------------------------------------------------ properties

    @property
    def peer_identity(self) -> bytes:
        return self._outcome.peer_identity

    @property
    def peer_identity_fingerprint(self) -> str:
        return safety.fingerprint(self._outcome.peer_identity)

    @property
    def escrow_public(self) -> bytes | None:
        return self._outcome.escrow_public

    @property
    def bot_contact(self) -> str:
        return self._outcome.bot_contact

    @property
    def grace_days(self) -> int:
        return self._schedule.grace_days

    @property
    def start_epoch(self) -> int:
        return self._schedule.start_epoch

    @property
    def live_epochs(self) -> list[int]:
        return sorted(self._schedule.live)

    @property
    def shredded_epochs(self) -> dict[int, str]:
        """Epoch -> ISO time it was shredded on this device."""
        return dict(self._schedule.shredded)

    def safety_number(self) -> str:
        return safety.safety_number(self._outcome.own_identity, self._outcome.peer_identity)

    def schedule_info(self) -> dict[str, str]:
        """Calendar facts for ``status``: next rotation and each live epoch's grace end."""
        info = {"first_epoch": format_epoch(self.start_epoch),
                "next_rotation": epoch_start(self._schedule.next_epoch).isoformat()}
        for epoch in self.live_epochs:
            info[f"grace_end {format_epoch(epoch)}"] = grace_end(epoch, self.grace_days).isoformat()
        return info

    # ------------------------------------------------------------------ calendar

    def advance(self, clock: Clock, *, rng: prim.Rng = os.urandom) -> list[int]:
        """Enter new epochs (deriving their chains and escrow deposit) and shred old ones.

        Returns the epochs shredded by this call.  Called by every operation; call it
        yourself on start-up and from a timer so shredding happens on schedule.
        """
        self._usable()
        result = self._schedule.advance(clock.now())
        for epoch, key in result.entered:
            try:
                self._chains[epoch] = self._enter(epoch, key, rng)
            finally:
                prim.wipe(key)
        for epoch in result.shredded:
            chains = self._chains.pop(epoch, None)
            if chains is not None:
                chains.wipe()
        return result.shredded

    def _enter(self, epoch: int, key: bytearray, rng: prim.Rng) -> _EpochChains:
        send = SendChain(bytearray(initial_chain_key(key, self.pairing_id, epoch,
                                                     self.own_direction)))
        recv = RecvChain(bytearray(initial_chain_key(key, self.pairing_id, epoch,
                                                     self.peer_direction)))
        deposit = None
        if self._outcome.escrow_public is not None:
            patient, physician = self._identities()
            deposit = escrow.make_deposit(
                self._outcome.escrow_public, pairing_id=self.pairing_id, epoch=epoch,
                direction=self.own_direction, epoch_key=key, patient_identity=patient,
                physician_identity=physician, rng=rng)
        return _EpochChains(send, recv, deposit)

    def _identities(self) -> tuple[bytes, bytes]:
        own, peer = self._outcome.own_identity, self._outcome.peer_identity
        return (own, peer) if self.role is Role.PATIENT else (peer, own)

    # ------------------------------------------------------------------ messages

    def encrypt(
        self, body: bytes, content_type: ContentType = ContentType.TEXT, *, clock: Clock,
        rng: prim.Rng = os.urandom,
    ) -> EncryptResult:
        """Seal ``body`` for the peer in the current epoch; may carry an escrow deposit."""
        if len(body) > envelope.MAX_BODY:
            raise LimitExceeded(f"message body exceeds {envelope.MAX_BODY} bytes")
        envelope.check_body(ContentType(content_type), body)  # before a chain index is used
        self.advance(clock, rng=rng)
        now = clock.now()
        epoch = self._schedule.current(now)
        chains = self._chains[epoch]
        nonce = rng(NONCE_LEN)
        index, message_key = chains.send.next_key()
        header = encode_sealed_header(Kind.MESSAGE, self.pairing_id, epoch=epoch,
                                      direction=self.own_direction, index=index, nonce=nonce)
        inner = envelope.seal(header, ContentType(content_type), body, now, self._identity.sign)
        token = encode_token(header + prim.xchacha_encrypt(message_key, nonce, inner, header))
        deposit, chains.deposit = chains.deposit, None
        return EncryptResult(token, deposit)

    def decrypt(self, token_text: str, *, clock: Clock) -> Opened:
        """Open a MESSAGE token from the peer; its message key is deleted on success."""
        token = parse_token(token_text)
        header = token.header
        if header.kind is not Kind.MESSAGE:
            raise MalformedToken("expected a message token")
        if header.pairing_id != self.pairing_id:
            raise WrongPairing("token belongs to another pairing")
        if header.direction != self.peer_direction:
            raise WrongPairing("token travels in this side's own direction (reflected)")
        assert header.epoch is not None and header.index is not None
        self.advance(clock)
        self._schedule.check(header.epoch, clock.now())
        chains = self._chains[header.epoch]
        pending = chains.recv.lookup(header.index)
        # A view, not token.body: a 1 MiB ciphertext is not copied before decryption.
        body = memoryview(token.raw)[MESSAGE_HEADER_LEN:]
        inner = prim.xchacha_decrypt(pending.message_key, token.nonce, body, token.header_bytes)
        opened = envelope.open_(token.header_bytes, inner, self._outcome.peer_identity)
        chains.recv.commit(pending)
        return Opened(opened.content_type, opened.body, opened.sent_at, header.epoch,
                      header.index, header.direction)

    # ------------------------------------------------------------------ persistence

    def export_state(self) -> dict[str, Any]:
        """Everything needed to resume (secrets included: store it encrypted)."""
        self._usable()
        o = self._outcome
        return {
            "format": STATE_FORMAT,
            "role": self.role.value,
            "pairing_id": prim.b64e(self.pairing_id),
            "own_identity": prim.b64e(o.own_identity),
            "peer_identity": prim.b64e(o.peer_identity),
            "escrow_public": None if o.escrow_public is None else prim.b64e(o.escrow_public),
            "bot_contact": o.bot_contact,
            "transcript_hash": prim.b64e(o.transcript_hash),
            "schedule": self._schedule.export(),
            "epochs": {str(e): c.export() for e, c in sorted(self._chains.items())},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], identity: IdentityKey) -> PairingSession:
        """Resume from :meth:`export_state` output; the identity must match."""
        try:
            if state["format"] != STATE_FORMAT:
                raise StorageError("unknown session state format")
            schedule = EpochSchedule.load(state["schedule"])
            escrow_b64 = state["escrow_public"]
            outcome = PairingOutcome(
                Role(state["role"]), prim.b64d(state["pairing_id"], 16), schedule.start_epoch,
                schedule.grace_days, prim.b64d(state["own_identity"], 32),
                prim.b64d(state["peer_identity"], 32),
                None if escrow_b64 is None else prim.b64d(escrow_b64, 32),
                str(state["bot_contact"]), prim.b64d(state["transcript_hash"], 32), bytearray())
            chains = {int(e): _EpochChains.load(c) for e, c in state["epochs"].items()}
        except (KeyError, TypeError, ValueError, AttributeError):
            raise StorageError("session state is damaged") from None
        if set(chains) != schedule.live:
            raise StorageError("session state is inconsistent (epochs)")
        return cls(outcome, identity, schedule, chains)

    def wipe(self) -> None:
        """Forget every key this object holds (e.g. on lock)."""
        self._wiped = True
        self._schedule.wipe()
        for chains in self._chains.values():
            chains.wipe()
        self._chains.clear()


# ---------------------------------------------------------------------- pairing verbs


def start_pairing(
    identity: IdentityKey, *, clock: Clock, rng: prim.Rng = os.urandom, grace_days: int = 7,
    escrow_public: bytes | None = None, bot_contact: str = "",
) -> PendingOffer:
    """Physician: a new single-use offer.

    Show ``.offer.to_qr_text()`` as the QR code, send ``.offer.registration_token()`` to
    the bot, keep the returned object (``export()``) until the accept arrives.
    """
    return pairing.create_offer(identity.public, clock=clock, rng=rng, grace_days=grace_days,
                                escrow_public=escrow_public, bot_contact=bot_contact)


def accept_pairing(
    offer_text: str, identity: IdentityKey, *, clock: Clock, rng: prim.Rng = os.urandom,
) -> tuple[PairingSession, str]:
    """Patient: the new session and the PAIR_ACCEPT token to send through the bot."""
    token, outcome = pairing.accept_offer(offer_text, identity.public, clock=clock, rng=rng)
    return PairingSession.from_outcome(outcome, identity, clock=clock, rng=rng), token


def complete_pairing(
    pending: PendingOffer, accept_token: str, identity: IdentityKey, *, clock: Clock,
    rng: prim.Rng = os.urandom,
) -> PairingSession:
    """Physician: verify the patient's accept (once) and build the session."""
    if identity.public != pending.offer.identity_public and not pending.used:
        raise WrongPairing("this offer was made by another identity")
    outcome = pairing.complete_offer(pending, accept_token, clock=clock)
    return PairingSession.from_outcome(outcome, identity, clock=clock, rng=rng)
