"""A real conversation made with the companions' protocol library, and escrow shares."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime

from medcrypt.bot.cli.escrow import split_key
from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.endpoint.session import (
    IdentityKey,
    PairingSession,
    accept_pairing,
    complete_pairing,
    start_pairing,
)


@dataclass
class Escrow:
    private: bytes
    public: bytes
    shares: list[str]


def make_escrow(shares: int = 3, threshold: int = 2, passphrase: bytes = b"") -> Escrow:
    private = os.urandom(32)
    return Escrow(private, prim.x25519_public(private),
                  split_key(private, shares, threshold, passphrase))


class MovableClock(FixedClock):
    def set(self, at: datetime) -> None:
        self._at = at


@dataclass
class Conversation:
    """Physician and patient sessions plus every token and deposit they produced."""

    clock: MovableClock
    physician: PairingSession
    patient: PairingSession
    register_token: str
    accept_token: str
    pairing_id: bytes
    #: (token text, plaintext, epoch) in send order
    sent: list[tuple[str, bytes, int]] = field(default_factory=list)
    deposits: list[str] = field(default_factory=list)

    def send(self, who: str, text: str) -> tuple[str, str | None]:
        from medcrypt.crypto.keyless.epochs import epoch_of

        sender = self.physician if who == "physician" else self.patient
        result = sender.encrypt(text.encode(), clock=self.clock)
        if result.escrow_deposit is not None:
            self.deposits.append(result.escrow_deposit)
        self.sent.append((result.token, text.encode(), epoch_of(self.clock.now())))
        return result.token, result.escrow_deposit


def make_conversation(escrow_public: bytes, at: datetime) -> Conversation:
    clock = MovableClock(at)
    phys_id, pat_id = IdentityKey.generate(), IdentityKey.generate()
    pending = start_pairing(phys_id, clock=clock, escrow_public=escrow_public)
    patient, accept = accept_pairing(pending.offer.to_qr_text(), pat_id, clock=clock)
    physician = complete_pairing(pending, accept, phys_id, clock=clock)
    return Conversation(clock, physician, patient, pending.offer.registration_token(), accept,
                        physician.pairing_id)
