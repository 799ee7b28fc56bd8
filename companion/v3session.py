"""A v3 pairing's session as the companion's commands use it (docs/adr/0025).

The commands (``encrypt``, ``decrypt``, ``send-file``, ``status``, the calendar in
:mod:`companion.app`) were written against the v2 :class:`PairingSession`. Rather than
teach every command two protocols, this wrapper gives the v3 :class:`Session` the same
small surface - ``encrypt``/``decrypt``/``advance``/``live_epochs``/``export_state`` -
so a pairing's protocol is decided once, when its keystore record is loaded, and v2
pairings keep their own code untouched.

What differs underneath, and why the wrapper is thin on purpose:

* v3 deposits ride inside MESSAGE tokens (PROTOCOL §23), so ``escrow_deposit`` is
  always None here: no separate deposit token is printed or stored;
* ``advance`` is :meth:`Session.shred_due`: v3 has no per-month key to "enter", only
  months to shred once their grace ended (PROTOCOL §28);
* the live months are those from the first month not yet shredded to the current one,
  read from the exported state rather than from a private attribute;
* a pairing upgraded from v2 (PROTOCOL §35) also carries what v2 keeps after the
  upgrade, :class:`RetiredV2`: v2 tokens of live v2 months are opened by it, never
  written, and its months are shredded with the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medcrypt.companion.i18n import N_, error
from medcrypt.crypto.clock import Clock
from medcrypt.crypto.endpoint import safety
from medcrypt.crypto.endpoint.envelope import ContentType
from medcrypt.crypto.endpoint.session import IdentityKey
from medcrypt.crypto.endpoint.v3.pairing import identity_seed
from medcrypt.crypto.endpoint.v3.retired import RetiredV2
from medcrypt.crypto.endpoint.v3.session import Opened, Session
from medcrypt.crypto.endpoint.v3.types import PairingSecrets
from medcrypt.crypto.endpoint.v3.verified import fingerprint_v3
from medcrypt.crypto.errors import WrongPairing
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.crypto.keyless.wire import VERSION as VERSION_2
from medcrypt.crypto.keyless.wire import parse_token

PROTOCOL_V3 = 3


@dataclass(frozen=True, slots=True)
class Sealed:
    """What ``encrypt`` returns, shaped as v2's result: v3 has no separate deposit."""

    token: str
    escrow_deposit: None = None


class V3Session:
    """One v3 pairing for the life of one command."""

    protocol = PROTOCOL_V3

    def __init__(self, session: Session, clock: Clock, *,
                 retired: RetiredV2 | None = None) -> None:
        self._session = session
        self._clock = clock
        #: What is left of the v2 session of an upgraded pairing (None otherwise).
        self.retired = retired
        self.pairing_id = session.pairing_id
        self.own_direction = session.own_direction
        self.grace_days = session.grace_days
        self.escrow_public = session.escrow_public
        self.start_epoch = session.start_epoch
        self.peer_identity = session.peer_identity
        self.transcript_hash = session.transcript_hash

    @classmethod
    def from_pairing(cls, secrets: PairingSecrets, clock: Clock) -> V3Session:
        return cls(Session.from_pairing(secrets), clock)

    @classmethod
    def load(cls, state: dict[str, Any], identity: IdentityKey, clock: Clock, *,
             retired_state: dict[str, Any] | None = None) -> V3Session:
        seed = identity_seed(identity)
        try:
            retired = None if retired_state is None else RetiredV2.from_state(retired_state)
            return cls(Session.import_state(state, seed), clock, retired=retired)
        finally:
            seed[:] = bytes(len(seed))  # the session keeps its own copy

    # ------------------------------------------------------------------ what status shows

    @property
    def peer_identity_fingerprint(self) -> str:
        return fingerprint_v3(self.peer_identity)

    @property
    def shredded_epochs(self) -> dict[int, str]:
        return self._session.shredded_epochs

    @property
    def first_live_epoch(self) -> int:
        return int(self._session.export_state()["month_root_epoch"])

    @property
    def live_epochs(self) -> list[int]:
        """Months whose keys may still exist here: none shredded, none in the future
        (and the v2 months an upgraded pairing can still read)."""
        v3 = set(range(self.first_live_epoch, epoch_of(self._clock.now()) + 1))
        v2 = set() if self.retired is None else set(self.retired.live_epochs)
        return sorted(v3 | v2)

    def safety_number(self) -> str:
        return safety.safety_number(self._session.own_identity, self.peer_identity)

    # ------------------------------------------------------------------ operations

    def advance(self, clock: Clock) -> list[int]:
        """Shred every month whose grace window ended (first thing at every unlock)."""
        done = self._session.shred_due(clock.now())
        if self.retired is not None:
            done = sorted(set(done) | set(self.retired.shred_due(clock.now())))
        return done

    def encrypt(self, body: bytes, content_type: ContentType, *, clock: Clock) -> Sealed:
        return Sealed(self._session.encrypt(body, content_type, now=clock.now()))

    def decrypt(self, token_text: str, *, clock: Clock) -> Opened:
        if parse_token(token_text).header.version == VERSION_2:
            if self.retired is None:
                raise error(WrongPairing, N_("a v2 token for a pairing that speaks v3 only"))
            old = self.retired.decrypt(token_text, clock=clock)
            return Opened(old.content_type, old.body, old.sent_at, old.epoch, b"", old.index)
        return self._session.decrypt(token_text, now=clock.now())

    def export_state(self) -> dict[str, Any]:
        return self._session.export_state()

    def wipe(self) -> None:
        self._session.wipe()
        if self.retired is not None:
            self.retired.wipe()
