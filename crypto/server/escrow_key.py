"""The clinic escrow key: made once, offline, and handed out only as shares (DESIGN 3.4).

``medcrypt-bot escrow init`` runs :func:`create_escrow_key` at clinic setup: it draws an
X25519 key pair, splits the private half into SLIP-39 shares (one group, T of N, with an
optional passphrase), checks that every quorum recombines to it, and zeroes it. What
leaves this module is the public key (for the bot's config and the physicians'
companions) and the share mnemonics (printed once, one per holder). Nothing here returns,
stores or logs the private key, and nothing here opens a deposit or a bundle: that needs
the shares recombined by the endpoint opener (:mod:`medcrypt.crypto.endpoint.breakglass`),
which the bot may not import (ADR 0000).

Why the server part and not the endpoint part: the key belongs to the clinic, not to a
physician or a patient, and the offline admin CLI that makes it is bot tooling. The
bot-never-imports-endpoint contract then needs no second exception, and the private key
exists in that process only for the few milliseconds of the split, in a ``bytearray``
wiped in a ``finally`` (the library's own intermediate ``bytes`` cannot be wiped; defence
in depth only, docs/PROTOCOL.md 12).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass

import shamir_mnemonic
from shamir_mnemonic.utils import MnemonicError

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.errors import ConfigError

#: Most shares (holders) one split may have.
MAX_SHARES = 16
#: SLIP-39 PBKDF2 cost: 10000 * 2**e iterations per round, 4 rounds (spec default e=1).
ITERATION_EXPONENT = 1
#: Quorums recombined as a check after a split (all of them for every layout up to 16
#: choose 2 would be 120; 64 is plenty to catch a broken split, and bounded).
MAX_CHECKED_QUORUMS = 64
PRIVATE_KEY_LEN = prim.X25519_LEN


@dataclass(frozen=True, slots=True)
class EscrowKey:
    """A new clinic escrow key as it may leave the ceremony: public half and shares."""

    public: bytes
    shares: tuple[str, ...]


def check_layout(shares: int, threshold: int) -> None:
    """Refuse a split that cannot be made or that one holder alone could open."""
    if not 1 <= shares <= MAX_SHARES:
        raise ConfigError("shares", f"must be 1 to {MAX_SHARES}")
    if not 1 <= threshold <= shares:
        raise ConfigError("threshold", "must be at least 1 and at most the number of shares")
    if threshold == 1 and shares > 1:
        raise ConfigError("threshold", "1-of-N would let any single holder open bundles")


def split_escrow_key(private: bytes | bytearray, shares: int, threshold: int,
                     passphrase: bytes = b"") -> list[str]:
    """SLIP-39 shares of ``private`` (one group, ``threshold`` of ``shares``), verified.

    Every quorum (up to :data:`MAX_CHECKED_QUORUMS`) is recombined and compared with
    ``private`` in constant time; each recombined copy is zeroed at once. ``private``
    itself is the caller's to wipe.
    """
    check_layout(shares, threshold)
    try:
        groups = shamir_mnemonic.generate_mnemonics(
            1, [(threshold, shares)], bytes(private), passphrase,
            extendable=True, iteration_exponent=ITERATION_EXPONENT)
    except (MnemonicError, ValueError) as exc:
        raise ConfigError("escrow init", str(exc)) from None
    mnemonics: list[str] = list(groups[0])
    quorums = itertools.islice(itertools.combinations(mnemonics, threshold),
                               MAX_CHECKED_QUORUMS)
    for quorum in quorums:
        recovered = bytearray(shamir_mnemonic.combine_mnemonics(quorum, passphrase))
        try:
            if not prim.constant_time_equal(recovered, private):
                raise ConfigError("escrow init", "a quorum of shares did not recombine")
        finally:
            prim.wipe(recovered)
    return mnemonics


def create_escrow_key(shares: int, threshold: int, passphrase: bytes = b"", *,
                      rng: prim.Rng = os.urandom) -> EscrowKey:
    """Draw the clinic escrow key pair and return its public key and verified shares.

    The private key is drawn from ``rng`` into a ``bytearray`` that is zeroed before this
    returns or raises; the shares are the only form in which it survives.
    """
    check_layout(shares, threshold)
    private = bytearray(rng(PRIVATE_KEY_LEN))
    try:
        public = prim.x25519_public(private)
        mnemonics = split_escrow_key(private, shares, threshold, passphrase)
    finally:
        prim.wipe(private)
    return EscrowKey(public, tuple(mnemonics))
