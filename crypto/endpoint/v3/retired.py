"""A v2 session after its pairing was upgraded to v3: read-only, and shrinking.

What the upgrade keeps of v2 (docs/PROTOCOL.md §35.5, ADR 0027) is exactly what is needed
to read v2 tokens already in flight or stored, until their month is shredded:

* the receiving chain (and its skipped keys) of each **live** v2 month;
* the calendar facts: grace days, live and shredded months.

What it deletes at once: the v2 schedule's next-month key (from it every later v2 month
would follow) and every v2 sending chain, so v2 is never written again and a copy of the
state taken after the upgrade derives no v2 key of a later month.  Once the last live
month passes its grace end the object holds no key at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.clock import Clock, ensure_utc
from medcrypt.crypto.endpoint import envelope
from medcrypt.crypto.endpoint.pairing import Role
from medcrypt.crypto.endpoint.ratchet import RecvChain
from medcrypt.crypto.endpoint.session import Opened, PairingSession
from medcrypt.crypto.errors import (
    EpochNotYet,
    EpochShredded,
    MalformedToken,
    StorageError,
    WrongPairing,
)
from medcrypt.crypto.keyless.epochs import MAX_GRACE_DAYS, format_epoch, grace_end
from medcrypt.crypto.keyless.wire import MESSAGE_HEADER_LEN, VERSION, Direction, Kind, parse_token

STATE_FORMAT = "medcrypt-session/1-retired"


class RetiredV2:
    """The receive-only remainder of a v2 session (see the module docstring)."""

    def __init__(self, *, role: Role, pairing_id: bytes, peer_identity: bytes,
                 grace_days: int, chains: dict[int, RecvChain],
                 shredded: dict[int, str]) -> None:
        self.role = role
        self.pairing_id = pairing_id
        self.peer_identity = peer_identity
        self.grace_days = grace_days
        self._chains = chains
        self._shredded = shredded
        self.peer_direction = (Direction.PHYSICIAN_TO_PATIENT if role is Role.PATIENT
                               else Direction.PATIENT_TO_PHYSICIAN)

    @classmethod
    def retire(cls, session: PairingSession) -> RetiredV2:
        """Keep the receiving chains of the live months; wipe everything else of v2,
        the next-month key and the sending chains included (``session`` is unusable
        afterwards)."""
        state = session.export_state()
        try:
            chains = {int(e): RecvChain.load(c["recv"]) for e, c in state["epochs"].items()}
            retired = cls(role=session.role, pairing_id=session.pairing_id,
                          peer_identity=session.peer_identity, grace_days=session.grace_days,
                          chains=chains, shredded=session.shredded_epochs)
        finally:
            session.wipe()
        return retired

    @property
    def live_epochs(self) -> list[int]:
        return sorted(self._chains)

    @property
    def shredded_epochs(self) -> dict[int, str]:
        return dict(self._shredded)

    def shred_due(self, now: datetime) -> list[int]:
        """Delete every month whose grace window ended (call before any other use)."""
        now = ensure_utc(now)
        due = [e for e in sorted(self._chains) if now >= grace_end(e, self.grace_days)]
        for epoch in due:
            self._chains.pop(epoch).wipe()
            self._shredded[epoch] = now.isoformat()
        return due

    def decrypt(self, token_text: str, *, clock: Clock) -> Opened:
        """Open a v2 MESSAGE of a live month (PROTOCOL §9's checks, no sending side)."""
        token = parse_token(token_text)
        header = token.header
        if header.version != VERSION or header.kind is not Kind.MESSAGE:
            raise MalformedToken("expected a v2 message token")
        if header.pairing_id != self.pairing_id:
            raise WrongPairing("token belongs to another pairing")
        if header.direction != self.peer_direction:
            raise WrongPairing("token travels in this side's own direction (reflected)")
        assert header.epoch is not None and header.index is not None
        self.shred_due(clock.now())
        chain = self._chains.get(header.epoch)
        if chain is None:
            when = self._shredded.get(header.epoch)
            if when is not None:
                raise EpochShredded(f"epoch {format_epoch(header.epoch)} was shredded at {when}")
            raise EpochNotYet(f"v2 epoch {format_epoch(header.epoch)} was never entered: this "
                              "pairing was upgraded to v3 before it")
        pending = chain.lookup(header.index)
        body = memoryview(token.raw)[MESSAGE_HEADER_LEN:]
        inner = prim.xchacha_decrypt(pending.message_key, token.nonce, body, token.header_bytes)
        opened = envelope.open_(token.header_bytes, inner, self.peer_identity)
        chain.commit(pending)
        return Opened(opened.content_type, opened.body, opened.sent_at, header.epoch,
                      header.index, header.direction)

    def export_state(self) -> dict[str, Any]:
        """JSON-typed state (receiving chains are secret: store it encrypted)."""
        return {"format": STATE_FORMAT, "role": self.role.value,
                "pairing_id": prim.b64e(self.pairing_id),
                "peer_identity": prim.b64e(self.peer_identity), "grace_days": self.grace_days,
                "recv": {str(e): c.export() for e, c in sorted(self._chains.items())},
                "shredded": {str(e): w for e, w in sorted(self._shredded.items())}}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RetiredV2:
        try:
            if state["format"] != STATE_FORMAT:
                raise StorageError("unknown retired v2 session state format")
            grace = int(state["grace_days"])
            if not 0 <= grace <= MAX_GRACE_DAYS:
                raise StorageError("retired v2 session state has an invalid grace window")
            return cls(role=Role(state["role"]), pairing_id=prim.b64d(state["pairing_id"], 16),
                       peer_identity=prim.b64d(state["peer_identity"], 32), grace_days=grace,
                       chains={int(e): RecvChain.load(c) for e, c in state["recv"].items()},
                       shredded={int(e): str(w) for e, w in state["shredded"].items()})
        except StorageError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError):
            raise StorageError("retired v2 session state is damaged") from None

    def wipe(self) -> None:
        for chain in self._chains.values():
            chain.wipe()
        self._chains.clear()
