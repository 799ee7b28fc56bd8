"""One v3 pairing seen from one side: the Double Ratchet in calendar months.

The API a companion needs (the CLI is not switched to v3 yet): build a session from
:class:`PairingSecrets`, :meth:`Session.encrypt` a body into a token,
:meth:`Session.decrypt` a token, :meth:`Session.shred_due` at every unlock, and
:meth:`Session.export_state` / :meth:`Session.import_state` for the encrypted keystore.

Why each rule (docs/adr/0018):

* a DH step at the first send after a new peer chain arrived (chains are lazy), so a
  passive copy of the state stops working once fresh keys have gone both ways;
* a sending chain that reaches a new month without a DH step is re-keyed from its month
  seed and the month root, restarting at index 0 and naming the previous segment;
* a receive is *tentative*: DH step, skips, derivation, AEAD and signature are computed
  on the side, and only a token that verified changes state (a flood of fake ratchet
  keys or indexes burns nothing);
* at grace end of month ``e`` everything tagged ``e`` goes, and the month root walks
  past ``e``, so even a chain not yet received cannot yield a key of ``e``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.clock import ensure_utc
from medcrypt.crypto.endpoint import envelope
from medcrypt.crypto.endpoint.envelope import ContentType
from medcrypt.crypto.endpoint.v3 import deposit as deposits
from medcrypt.crypto.endpoint.v3 import kdf
from medcrypt.crypto.endpoint.v3.state import RecvChain, RecvSegment, SendChain, _int
from medcrypt.crypto.endpoint.v3.types import PairingSecrets, Role
from medcrypt.crypto.errors import (
    DecryptionFailed,
    EpochMismatch,
    EpochNotYet,
    EpochShredded,
    LimitExceeded,
    ReplayDetected,
    StorageError,
    WrongPairing,
)
from medcrypt.crypto.keyless import v3wire
from medcrypt.crypto.keyless.epochs import (
    CLOCK_SKEW,
    MAX_EPOCH,
    MAX_GRACE_DAYS,
    epoch_of,
    format_epoch,
    grace_end,
)
from medcrypt.crypto.keyless.wire import Direction

STATE_FORMAT = "medcrypt-session/3"
ENVELOPE_LABEL = b"MEDCRYPT v3 envelope"
#: Most message keys one token may make a receiver derive and skip (previous segment
#: gap plus index gap); libsignal allows more, a clinic conversation needs far fewer.
MAX_SKIP = 1000
#: Skipped keys kept per peer chain and per pairing (oldest dropped first).
MAX_SKIPPED_PER_CHAIN = 1000
MAX_SKIPPED_PER_PAIRING = 2000
#: Peer chains kept (the current one and four older ones), as libsignal's five.
MAX_RECV_CHAINS = 5
#: A segment's deposit rides on its first this-many tokens, byte-identical.
DEPOSIT_REPEATS = 3
#: Builds a named tuple from its fields without the class's Python-level ``__new__``.
_tuple_new: Callable[..., Any] = tuple.__new__


class Opened(NamedTuple):
    """A decrypted and verified message (a named tuple: immutable, and a third of a
    frozen dataclass's cost to build, which every message opened pays)."""

    content_type: ContentType
    body: bytes
    sent_at: datetime
    epoch: int
    chain_id: bytes
    index: int  # type: ignore[assignment]  # the wire field; shadows tuple.index (unused)


@dataclass(slots=True)
class _Plan:
    """Everything a receive would change, computed without changing anything."""

    chain: RecvChain
    new_chain: bool
    new_root: bytes | None
    new_segments: dict[int, bytearray]
    new_seed: tuple[bytes, int] | None
    epoch: int
    index: int
    message_key: bytes
    target_next_key: bytes | None
    target_skipped: list[tuple[int, bytes]]
    prev: RecvSegment | None = None
    prev_epoch: int = 0
    prev_chain: RecvChain | None = None
    prev_skipped: list[tuple[int, bytes]] = field(default_factory=list)


def _bad() -> bool:
    raise StorageError("session state is damaged")


def _derive(
    chain_key: bytes | bytearray, start: int, stop: int,
) -> tuple[list[tuple[int, bytes]], bytes]:
    """Message keys ``start..stop-1`` and the chain key at ``stop``."""
    ck = bytes(chain_key)
    keys = []
    for i in range(start, stop):
        mk, ck = kdf.chain_step(ck)
        keys.append((i, mk))
    return keys, ck


class Session:
    """One v3 pairing from one side (build with :meth:`from_pairing` or :meth:`import_state`)."""

    def __init__(self, state: dict[str, Any], identity_seed: bytes | bytearray) -> None:
        self._load(state)
        self._identity_seed = bytearray(identity_seed)
        self._signer = prim.Ed25519Signer(self._identity_seed)
        if self._signer.public != self.own_identity:
            raise StorageError("this identity key does not belong to the session")

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_pairing(cls, secrets: PairingSecrets) -> Session:
        """The session at pairing end; wipes the root key and the ratchet private key.

        The pairing counts as the patient's first DH step: both sides compute
        ``KDF_RK(RK0, X25519(E_p, E_d))``; the patient gets its first sending chain
        (chain id ``E_p``), the physician its first receiving chain and forgets ``E_d``.
        """
        s = secrets
        if not 0 <= s.grace_days <= MAX_GRACE_DAYS or not 0 <= s.start_epoch < MAX_EPOCH:
            raise WrongPairing("pairing policy is out of range")
        patient = s.role is Role.PATIENT
        private = s.patient_ratchet_private if patient else s.physician_ratchet_private
        assert private is not None  # PairingSecrets checked it
        peer = s.physician_ratchet_public if patient else s.patient_ratchet_public
        try:
            dh = prim.x25519_shared(private, peer)
            month_root = kdf.initial_month_root(s.root_key, s.pairing_id, s.start_epoch)
            root, chain_key, month_seed = kdf.root_step(s.root_key, dh)
            state: dict[str, Any] = {
                "format": STATE_FORMAT, "role": s.role.value,
                "pairing_id": prim.b64e(s.pairing_id),
                "transcript_hash": prim.b64e(s.transcript_hash),
                "own_identity": prim.b64e(prim.ed25519_public(s.own_identity_private)),
                "peer_identity": prim.b64e(s.peer_identity_public),
                "escrow_public": None if s.escrow_public is None else prim.b64e(s.escrow_public),
                "start_epoch": s.start_epoch, "grace_days": s.grace_days,
                "root_key": prim.b64e(root), "month_root": prim.b64e(month_root),
                "month_root_epoch": s.start_epoch, "shredded": {},
                "peer_ratchet": prim.b64e(peer), "need_new_chain": not patient,
                "send": None, "recv": [],
            }
            if patient:
                state["send"] = SendChain(
                    bytearray(private), s.patient_ratchet_public, s.start_epoch,
                    bytearray(chain_key), bytearray(month_seed), s.start_epoch + 1).export()
            else:
                first = kdf.segment_key(chain_key, month_root, pairing_id=s.pairing_id,
                                        direction=Direction.PATIENT_TO_PHYSICIAN,
                                        chain_id=s.patient_ratchet_public,
                                        epoch=s.start_epoch)
                state["recv"] = [RecvChain(
                    s.patient_ratchet_public, s.start_epoch, bytearray(month_seed),
                    s.start_epoch + 1, {s.start_epoch: RecvSegment(bytearray(first))}).export()]
            return cls(state, s.own_identity_private)
        finally:
            prim.wipe(s.root_key)
            prim.wipe(private)

    def _load(self, state: dict[str, Any]) -> None:
        try:
            if state["format"] != STATE_FORMAT:
                raise StorageError("unknown session state format")
            if not isinstance(state["recv"], list):
                raise StorageError("session state is damaged")
            self.role = Role(state["role"])
            self.pairing_id = prim.b64d(state["pairing_id"], 16)
            self.transcript_hash = prim.b64d(state["transcript_hash"], 32)
            self.own_identity = prim.b64d(state["own_identity"], 32)
            self.peer_identity = prim.b64d(state["peer_identity"], 32)
            escrow = state["escrow_public"]
            self.escrow_public = None if escrow is None else prim.b64d(escrow, 32)
            self.start_epoch = _int(state["start_epoch"])
            self.grace_days = _int(state["grace_days"])
            self._root = bytearray(prim.b64d(state["root_key"], 32))
            self._month_root = bytearray(prim.b64d(state["month_root"], 32))
            self._month_root_epoch = _int(state["month_root_epoch"])
            self._shredded = {_int(int(e)): t for e, t in state["shredded"].items()
                              if isinstance(t, str) or _bad()}
            self._peer_ratchet = prim.b64d(state["peer_ratchet"], 32)
            need = state["need_new_chain"]
            if not isinstance(need, bool):
                raise StorageError("session state is damaged")
            self._need_new_chain = need
            send = state["send"]
            self._send = None if send is None else SendChain.load(send)
            self._recv = [RecvChain.load(c) for c in state["recv"]]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise StorageError("session state is damaged") from None
        if not 0 <= self.grace_days <= MAX_GRACE_DAYS or len(self._recv) > MAX_RECV_CHAINS:
            raise StorageError("session state is out of range")
        #: Cached instant of the next grace end (not persisted, recomputed on load).
        self._next_shred: datetime | None = None
        self.own_direction = (Direction.PATIENT_TO_PHYSICIAN if self.role is Role.PATIENT
                              else Direction.PHYSICIAN_TO_PATIENT)
        self.peer_direction = Direction(1 - self.own_direction)

    @classmethod
    def import_state(cls, state: dict[str, Any], identity_seed: bytes | bytearray) -> Session:
        """Resume from :meth:`export_state` output; the identity seed must match."""
        return cls(state, identity_seed)

    def export_state(self) -> dict[str, Any]:
        """The whole session as JSON types (secrets included: store it encrypted)."""
        return {
            "format": STATE_FORMAT, "role": self.role.value,
            "pairing_id": prim.b64e(self.pairing_id),
            "transcript_hash": prim.b64e(self.transcript_hash),
            "own_identity": prim.b64e(self.own_identity),
            "peer_identity": prim.b64e(self.peer_identity),
            "escrow_public": None if self.escrow_public is None else prim.b64e(self.escrow_public),
            "start_epoch": self.start_epoch, "grace_days": self.grace_days,
            "root_key": prim.b64e(self._root), "month_root": prim.b64e(self._month_root),
            "month_root_epoch": self._month_root_epoch,
            "shredded": {str(e): t for e, t in sorted(self._shredded.items())},
            "peer_ratchet": prim.b64e(self._peer_ratchet),
            "need_new_chain": self._need_new_chain,
            "send": None if self._send is None else self._send.export(),
            "recv": [c.export() for c in self._recv],
        }

    def wipe(self) -> None:
        """Forget every key this object holds (e.g. when the keystore locks)."""
        for buffer in (self._root, self._month_root, self._identity_seed):
            prim.wipe(buffer)
        if self._send is not None:
            self._send.wipe()
        for chain in self._recv:
            chain.wipe()

    # ------------------------------------------------------------------ calendar

    @property
    def shredded_epochs(self) -> dict[int, str]:
        return dict(self._shredded)

    def _month_root_at(self, epoch: int) -> bytes | bytearray:
        if epoch == self._month_root_epoch:  # every segment of the current month
            return self._month_root
        return kdf.walk(self._month_root, self._month_root_epoch, epoch, kdf.advance_month_root)

    def shred_due(self, now: datetime) -> list[int]:
        """Shred every month whose grace window ended; call first at every unlock.

        Deletes every segment tagged with the month (the current receiving one too),
        its skipped keys and pending deposit, walks every month seed and the month root
        past it.  Returns the months shredded by this call.
        """
        if self._next_shred is not None and now.tzinfo is not None and now < self._next_shred:
            return []  # the common case: computed once per month, not per message
        now = ensure_utc(now)
        done: list[int] = []
        while (self._month_root_epoch < MAX_EPOCH - 1
               and now >= grace_end(self._month_root_epoch, self.grace_days)):
            month = self._month_root_epoch
            self._shred(month)
            self._shredded[month] = now.isoformat()
            done.append(month)
        if self._month_root_epoch < MAX_EPOCH - 1:
            self._next_shred = grace_end(self._month_root_epoch, self.grace_days)
        return done

    def _shred(self, month: int) -> None:
        for chain in self._recv:
            segment = chain.segments.pop(month, None)
            if segment is not None:
                segment.wipe()
            if chain.seed_month <= month:
                self._replace(chain, "seed", kdf.advance_month_seed(chain.seed, month + 1))
                chain.seed_month = month + 1
        send = self._send
        if send is not None:
            if send.segment_epoch == month:
                prim.wipe(send.chain_key)
                send.chain_key, send.deposit = None, None
            if send.chain_epoch == month and send.first_seed is not None:
                prim.wipe(send.first_seed)
                send.first_seed = None
            if send.seed_month <= month:
                self._replace(send, "seed", kdf.advance_month_seed(send.seed, month + 1))
                send.seed_month = month + 1
        self._replace(self, "_month_root", kdf.advance_month_root(self._month_root, month + 1))
        self._month_root_epoch = month + 1

    @staticmethod
    def _replace(owner: object, name: str, value: bytes) -> None:
        old = getattr(owner, name)
        setattr(owner, name, bytearray(value))
        prim.wipe(old)

    def _check_epoch(self, epoch: int, now: datetime) -> None:
        if epoch < self.start_epoch:
            raise WrongPairing(f"month {format_epoch(epoch)} precedes this pairing")
        if epoch < self._month_root_epoch:
            when = self._shredded.get(epoch, "before this device's first use of it")
            raise EpochShredded(
                f"messages of {format_epoch(epoch)} were shredded at {when} (grace ended "
                f"{grace_end(epoch, self.grace_days).isoformat()}); they cannot be read")
        # now + CLOCK_SKEW is only worth computing for a month after now's (skew >= 0).
        if epoch > epoch_of(now) and epoch > epoch_of(now + CLOCK_SKEW):
            raise EpochNotYet(f"month {format_epoch(epoch)} has not started yet")

    # ------------------------------------------------------------------ sending

    def encrypt(
        self, body: bytes, content_type: ContentType = ContentType.TEXT, *, now: datetime,
        rng: prim.Rng = os.urandom,
    ) -> str:
        """Seal ``body`` for the peer: one token text, carrying the segment's deposit on
        the segment's first :data:`DEPOSIT_REPEATS` tokens when escrow is configured."""
        if len(body) > envelope.MAX_BODY:
            raise LimitExceeded(f"message body exceeds {envelope.MAX_BODY} bytes")
        if type(content_type) is not ContentType:
            content_type = ContentType(content_type)
        envelope.check_body(content_type, body)  # before any state changes
        now = ensure_utc(now)
        if self._next_shred is None or now >= self._next_shred:
            self.shred_due(now)
        month = (now.year - 1970) * 12 + now.month - 1  # epoch_of(now), now already UTC
        if month < self.start_epoch:
            raise EpochNotYet("this pairing starts in a later month")
        send = self._send
        if send is None or self._need_new_chain:
            send = self._new_send_chain(month, rng)
        elif send.segment_epoch is None or send.segment_epoch < month or send.chain_key is None:
            self._new_segment(send, max(month, send.segment_epoch or 0), rng)
        chain_key = send.chain_key
        assert chain_key is not None and send.segment_epoch is not None
        index = send.next_index
        if index > v3wire.MAX_INDEX:
            raise LimitExceeded("this segment is exhausted; wait for the next month")
        mk, ck = kdf.chain_step(chain_key)
        nonce = rng(v3wire.NONCE_LEN)
        header = v3wire.encode_header(
            self.pairing_id, epoch=send.segment_epoch, direction=self.own_direction,
            chain_id=send.ratchet_public, chain_epoch=send.chain_epoch, index=index,
            prev_epoch=send.prev_epoch, prev_len=send.prev_len, nonce=nonce)
        # The body was checked above (size and form), before the chain index was spent.
        inner = envelope.seal_checked(header, content_type, body, envelope.utc_timestamp_ms(now),
                                      self._signer.sign, label=ENVELOPE_LABEL)
        token = v3wire.encode_message_text(header, send.deposit,
                                           prim.xchacha_encrypt(mk, nonce, inner, header))
        chain_key[:] = ck  # the next chain key overwrites this one in its buffer
        send.next_index = index + 1
        if send.next_index >= DEPOSIT_REPEATS:
            send.deposit = None
        return token

    def _new_send_chain(self, month: int, rng: prim.Rng) -> SendChain:
        old = self._send
        private = bytearray(rng(32))
        public = prim.x25519_public(private)
        root, chain_key, month_seed = kdf.root_step(
            self._root, prim.x25519_shared(private, self._peer_ratchet))
        epoch = month if old is None else max(month, old.segment_epoch or 0, old.chain_epoch)
        chain = SendChain(private, public, epoch, bytearray(chain_key), bytearray(month_seed),
                          epoch + 1)
        if old is not None:
            chain.segment_epoch, chain.next_index = old.segment_epoch, old.next_index
            chain.prev_epoch, chain.prev_len = old.prev_epoch, old.prev_len
            old.wipe()
        self._replace(self, "_root", root)
        self._send = chain
        self._need_new_chain = False
        self._new_segment(chain, epoch, rng)
        return chain

    def _new_segment(self, send: SendChain, epoch: int, rng: prim.Rng) -> None:
        """Start the segment of ``epoch``: from the root step's chain key in the chain's
        first month, else re-keyed from the month seed; the header names the previous one."""
        if send.segment_epoch is not None and send.next_index > 0:
            send.prev_epoch, send.prev_len = send.segment_epoch, send.next_index
        if epoch == send.chain_epoch and send.first_seed is not None:
            seed = bytes(send.first_seed)
            prim.wipe(send.first_seed)
            send.first_seed = None
        else:
            month_seed = kdf.walk(send.seed, send.seed_month, epoch, kdf.advance_month_seed)
            seed = kdf.segment_seed(month_seed, epoch)
            self._replace(send, "seed", kdf.advance_month_seed(month_seed, epoch + 1))
            send.seed_month = epoch + 1
        chain_key = kdf.segment_key(seed, self._month_root_at(epoch), pairing_id=self.pairing_id,
                                    direction=self.own_direction,
                                    chain_id=send.ratchet_public, epoch=epoch)
        prim.wipe(send.chain_key)
        send.chain_key = bytearray(chain_key)
        send.segment_epoch, send.next_index = epoch, 0
        send.deposit = None
        if self.escrow_public is not None:
            send.deposit = deposits.make_deposit(
                self.escrow_public, self._signer.sign, pairing_id=self.pairing_id,
                transcript_hash=self.transcript_hash, epoch=epoch,
                direction=self.own_direction, chain_id=send.ratchet_public, start_index=0,
                chain_key=chain_key, rng=rng)

    # ------------------------------------------------------------------ receiving

    def decrypt(self, token_text: str, *, now: datetime) -> Opened:
        """Open a peer's MESSAGE token; state changes only if it verified completely."""
        now = ensure_utc(now)
        if self._next_shred is None or now >= self._next_shred:
            self.shred_due(now)
        token = v3wire.parse_message_text(token_text)
        h = token.header
        if not prim.constant_time_equal(h.pairing_id, self.pairing_id):
            raise WrongPairing("token belongs to another pairing")
        if h.direction is not self.peer_direction:
            raise WrongPairing("token travels in this side's own direction (reflected)")
        epoch = h.epoch
        # Most tokens are of a live month no later than now's (epoch_of written out):
        # only the others need _check_epoch's full rules.
        if (epoch < self._month_root_epoch or epoch < self.start_epoch
                or epoch > (now.year - 1970) * 12 + now.month - 1):
            self._check_epoch(epoch, now)
        if h.chain_epoch < self.start_epoch:
            raise WrongPairing("token's chain precedes this pairing")
        segment = self._next_in_segment(h)
        if segment is not None:
            # Most tokens: the next message of a live segment.  Its plan is one chain
            # step, and its commit replaces the chain key (what _commit would do) in
            # place: the new key overwrites the old one in the same buffer.
            # _next_in_segment returns only a segment whose chain key is set.
            chain_key: bytearray = segment.chain_key  # type: ignore[assignment]
            message_key, next_key = kdf.chain_step(chain_key)
            content_type, body, sent_at = envelope.open_fields(
                h.raw, prim.xchacha_decrypt(message_key, h.nonce, token.body, h.raw),
                self.peer_identity, label=ENVELOPE_LABEL)
            chain_key[:] = next_key
            segment.next_index = h.index + 1
        else:
            plan = self._plan(h)
            content_type, body, sent_at = self._open(h, token.body, plan.message_key)
            self._commit(plan, h.chain_id)
        opened: Opened = _tuple_new(Opened, (content_type, body, sent_at, epoch, h.chain_id,
                                             h.index))
        return opened

    def _open(
        self, h: v3wire.MessageHeader, body: memoryview, message_key: bytes,
    ) -> tuple[ContentType, bytes, datetime]:
        inner = prim.xchacha_decrypt(message_key, h.nonce, body, h.raw)
        return envelope.open_fields(h.raw, inner, self.peer_identity, label=ENVELOPE_LABEL)

    def _next_in_segment(self, h: v3wire.MessageHeader) -> RecvSegment | None:
        """The live segment ``h`` is the next message of (most tokens), or None for the
        general plan.  The general path reaches the same plan (no skip, no new segment,
        gap 0, nothing to close) through every branch it would take here.

        A token naming a previous segment qualifies once that segment is closed or gone:
        every message of a chain a DH step made names the peer's previous chain (as
        Signal's PN), and only the first of them has anything left to close there
        (:meth:`_plan_prev` finds no open segment and plans nothing for the rest).
        """
        recv = self._recv
        chain_id = h.chain_id
        position = len(recv)
        while position:  # newest chain first: most tokens belong to it (ids are unique)
            position -= 1
            chain = recv[position]
            if chain.chain_id == chain_id:
                segment = chain.segments.get(h.epoch)
                if (chain.chain_epoch != h.chain_epoch or segment is None
                        or segment.chain_key is None or h.index != segment.next_index):
                    return None
                if h.prev_len:
                    # The previous chain _plan would look in: this one for a month
                    # re-key, else the one received before it.
                    if h.epoch > h.chain_epoch:
                        prev_chain: RecvChain | None = chain
                    else:
                        prev_chain = recv[position - 1] if position else None
                    if prev_chain is not None:
                        prev = prev_chain.segments.get(h.prev_epoch)
                        if prev is not None and prev.chain_key is not None:
                            return None
                return segment
        return None

    def _find(self, chain_id: bytes) -> int | None:
        for i, chain in enumerate(self._recv):
            if chain.chain_id == chain_id:
                return i
        return None

    def _plan(self, h: v3wire.MessageHeader) -> _Plan:
        position = self._find(h.chain_id)
        new_segments: dict[int, bytearray] = {}
        new_root: bytes | None = None
        if position is None:
            chain, new_root = self._plan_new_chain(h, new_segments)
            prev_chain = self._recv[-1] if self._recv else None
        else:
            chain = self._recv[position]
            if chain.chain_epoch != h.chain_epoch:
                raise EpochMismatch("token's chain epoch differs from its chain's")
            prev_chain = self._recv[position - 1] if position > 0 else None
        if h.epoch > h.chain_epoch:
            prev_chain = chain
        segment = chain.segments.get(h.epoch)
        new_seed = None
        if segment is None and h.epoch not in new_segments:
            new_seed = self._plan_walk(chain, h, new_segments)
        plan = _Plan(chain, position is None, new_root, new_segments, new_seed, h.epoch,
                     h.index, b"", None, [])
        gap = self._plan_target(plan, segment, new_segments.get(h.epoch))
        if h.prev_len and prev_chain is not None:
            gap += self._plan_prev(plan, prev_chain, h, new_segments)
        if gap > MAX_SKIP:
            raise LimitExceeded(f"token skips {gap} message keys (limit {MAX_SKIP})")
        return plan

    def _plan_new_chain(
        self, h: v3wire.MessageHeader, new_segments: dict[int, bytearray],
    ) -> tuple[RecvChain, bytes]:
        send = self._send
        if send is None or self._need_new_chain:
            # The peer starts a chain only against a ratchet key this side sent since
            # the peer's last new chain; nothing else can be a real chain.
            raise DecryptionFailed
        root, chain_key, month_seed = kdf.root_step(
            self._root, prim.x25519_shared(send.ratchet_private, h.chain_id))
        chain = RecvChain(h.chain_id, h.chain_epoch, bytearray(month_seed), h.chain_epoch + 1)
        if h.chain_epoch >= self._month_root_epoch:
            new_segments[h.chain_epoch] = bytearray(kdf.segment_key(
                chain_key, self._month_root_at(h.chain_epoch), pairing_id=self.pairing_id,
                direction=self.peer_direction, chain_id=h.chain_id, epoch=h.chain_epoch))
        return chain, root

    def _plan_walk(
        self, chain: RecvChain, h: v3wire.MessageHeader, new_segments: dict[int, bytearray],
    ) -> tuple[bytes, int]:
        """Segments from the chain's month seed up to the token's month, on the side.

        Months between the named previous segment and the token's have no segment of
        this sender; earlier live months might, so they get one (kept until shredded).
        """
        if h.epoch < chain.seed_month:
            raise ReplayDetected(f"the keys of {format_epoch(h.epoch)} on this chain are gone "
                                 "(the message was already read, or its segment was passed)")
        if h.epoch - chain.seed_month > kdf.MAX_MONTH_WALK:
            raise LimitExceeded("token's month is too far from its chain's")
        gap_from = h.prev_epoch + 1 if h.prev_len else h.epoch
        month_seed = bytes(chain.seed)
        for month in range(chain.seed_month, h.epoch + 1):
            if month > chain.seed_month:
                month_seed = kdf.advance_month_seed(month_seed, month)
            wanted = month == h.epoch or month < gap_from
            if wanted and month >= self._month_root_epoch:
                new_segments[month] = bytearray(kdf.segment_key(
                    kdf.segment_seed(month_seed, month), self._month_root_at(month),
                    pairing_id=self.pairing_id, direction=self.peer_direction,
                    chain_id=chain.chain_id, epoch=month))
        return kdf.advance_month_seed(month_seed, h.epoch + 1), h.epoch + 1

    @staticmethod
    def _plan_target(plan: _Plan, segment: RecvSegment | None, fresh: bytearray | None) -> int:
        if segment is None:
            assert fresh is not None
            if not plan.index:  # a new segment's first message (every chain start)
                plan.message_key, plan.target_next_key = kdf.chain_step(fresh)
                return 0
            if plan.index > MAX_SKIP:
                raise LimitExceeded(f"token skips {plan.index} message keys (limit {MAX_SKIP})")
            skipped, ck = _derive(fresh, 0, plan.index)
            plan.message_key, plan.target_next_key = kdf.chain_step(ck)
            plan.target_skipped = skipped
            return plan.index
        if plan.index < segment.next_index or segment.chain_key is None:
            key = segment.skipped.get(plan.index)
            if key is None:
                raise ReplayDetected(f"message {plan.index} was already opened or is too old")
            plan.message_key = key
            return 0
        gap = plan.index - segment.next_index
        if gap == 0:  # the common case: the next message of the segment
            plan.message_key, plan.target_next_key = kdf.chain_step(segment.chain_key)
            return 0
        if gap > MAX_SKIP:
            raise LimitExceeded(f"token skips {gap} message keys (limit {MAX_SKIP})")
        skipped, ck = _derive(segment.chain_key, segment.next_index, plan.index)
        plan.message_key, plan.target_next_key = kdf.chain_step(ck)
        plan.target_skipped = skipped
        return gap

    @staticmethod
    def _plan_prev(
        plan: _Plan, prev_chain: RecvChain, h: v3wire.MessageHeader,
        new_segments: dict[int, bytearray],
    ) -> int:
        """Keys of the sender's previous segment up to its announced length."""
        prev = prev_chain.segments.get(h.prev_epoch)
        if prev_chain is plan.chain and prev is None and h.prev_epoch in new_segments:
            fresh = new_segments[h.prev_epoch]
            if h.prev_len > MAX_SKIP:
                raise LimitExceeded("previous segment is longer than a token may skip")
            plan.prev_skipped, _ = _derive(fresh, 0, h.prev_len)
            prim.wipe(fresh)
            del new_segments[h.prev_epoch]
            plan.prev_epoch, plan.prev_chain = h.prev_epoch, prev_chain
            return h.prev_len
        if prev is None or prev.chain_key is None:
            return 0
        plan.prev, plan.prev_epoch, plan.prev_chain = prev, h.prev_epoch, prev_chain
        if h.prev_len <= prev.next_index:
            return 0
        gap = h.prev_len - prev.next_index
        if gap > MAX_SKIP:
            raise LimitExceeded("previous segment is longer than a token may skip")
        plan.prev_skipped, _ = _derive(prev.chain_key, prev.next_index, h.prev_len)
        return gap

    def _commit(self, plan: _Plan, chain_id: bytes) -> None:
        chain = plan.chain
        if plan.new_chain:
            assert plan.new_root is not None
            self._recv.append(chain)
            self._replace(self, "_root", plan.new_root)
            self._peer_ratchet = chain_id
            self._need_new_chain = True
            while len(self._recv) > MAX_RECV_CHAINS:
                self._recv.pop(0).wipe()
        for month, key in plan.new_segments.items():
            chain.segments[month] = RecvSegment(key)
        if plan.new_seed is not None:
            self._replace(chain, "seed", plan.new_seed[0])
            chain.seed_month = plan.new_seed[1]
        if plan.prev_chain is not None:
            # The sender announced the previous segment's length: keep its skipped keys,
            # forget its chain key (nothing beyond that length was ever used).
            segments = plan.prev_chain.segments
            prev = segments.get(plan.prev_epoch)
            if prev is None:
                prev = segments[plan.prev_epoch] = RecvSegment(None)
            prev.skipped.update(plan.prev_skipped)
            prim.wipe(prev.chain_key)
            prev.chain_key = None
            if plan.prev_skipped:
                prev.next_index = max(prev.next_index, plan.prev_skipped[-1][0] + 1)
        segment = chain.segments[plan.epoch]
        if plan.target_next_key is None:
            segment.skipped.pop(plan.index, None)
        else:
            if plan.target_skipped:
                segment.skipped.update(plan.target_skipped)
            if segment.chain_key is None:
                segment.chain_key = bytearray(plan.target_next_key)
            else:  # the next chain key overwrites this one in its buffer
                segment.chain_key[:] = plan.target_next_key
            segment.next_index = plan.index + 1
        if plan.new_chain or plan.target_skipped or plan.prev_chain is not None:
            self._drop_closed()
            self._bound_skipped(chain)
        elif plan.target_next_key is None and not segment.skipped and segment.chain_key is None:
            self._drop_closed()  # the last skipped key of a closed segment was used

    def _drop_closed(self) -> None:
        # One comprehension over every chain's segments (not one per chain): most
        # receives that get here find one closed segment or none.
        closed = [(chain.segments, month) for chain in self._recv
                  for month, s in chain.segments.items()
                  if s.chain_key is None and not s.skipped]
        for segments, month in closed:
            del segments[month]

    def _bound_skipped(self, chain: RecvChain) -> None:
        """At most MAX_SKIPPED_PER_CHAIN keys per chain and MAX_SKIPPED_PER_PAIRING in
        all: the oldest (earliest month, lowest index; oldest chain first) go first."""
        # One pass over every segment: ``chain`` is one of them, so a pairing-wide
        # count within the per-chain limit (every new chain, most skips) keeps both.
        if sum([len(s.skipped) for c in self._recv
                for s in c.segments.values()]) <= MAX_SKIPPED_PER_CHAIN:
            return
        excess = chain.skipped_count() - MAX_SKIPPED_PER_CHAIN
        if excess > 0:
            self._drop_oldest([chain], excess)
        excess = sum(c.skipped_count() for c in self._recv) - MAX_SKIPPED_PER_PAIRING
        if excess > 0:
            self._drop_oldest(self._recv, excess)

    @staticmethod
    def _drop_oldest(chains: list[RecvChain], count: int) -> None:
        for c in chains:
            for month in sorted(c.segments):
                segment = c.segments[month]
                for index in sorted(segment.skipped):
                    if count == 0:
                        return
                    del segment.skipped[index]
                    count -= 1

    # ------------------------------------------------------------------ introspection

    @property
    def skipped_keys(self) -> int:
        """How many skipped message keys this side holds (tests, ``status``)."""
        return sum(c.skipped_count() for c in self._recv)


def canonical_json(state: dict[str, Any]) -> bytes:
    """The exact bytes of a ``medcrypt-session/3`` document (§28): UTF-8 JSON, keys
    sorted, separators ``,`` and ``:``, non-ASCII escaped as ``\\uXXXX``."""
    return json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")
