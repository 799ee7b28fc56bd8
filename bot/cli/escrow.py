"""``medcrypt-bot escrow init``: create the clinic escrow key and split it into SLIP-39 shares.

Run once, offline, at clinic setup (DESIGN 3.4). It draws an X25519 key pair, splits
the private key with ``shamir-mnemonic`` (one SLIP-39 group, 2-of-3 by default,
optionally encrypted with a passphrase), checks that every quorum of shares recombines
to the key, prints each share once with its holder's label, and prints the public key
for the bot config and the physicians' companions. Nothing is written anywhere: the
private key exists afterwards only as the shares on paper, so neither this machine nor
the bot can open a deposit.
"""

from __future__ import annotations

import argparse
import base64
import os
from typing import Any

from medcrypt.bot.domain.config import Settings
from medcrypt.crypto.errors import ConfigError
from medcrypt.crypto.server.escrow_key import MAX_SHARES, create_escrow_key, split_escrow_key


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("escrow", help="clinic escrow key (break-glass), offline")
    sub = p.add_subparsers(dest="escrow_command", metavar="ACTION", required=True)
    init = sub.add_parser("init", help="create the escrow key pair and print SLIP-39 shares")
    init.add_argument("--shares", "--groups", dest="shares", type=int, default=3, metavar="N",
                      help="number of shares / holders (default 3)")
    init.add_argument("--threshold", type=int, default=2, metavar="T",
                      help="shares needed to open a bundle (default 2)")
    init.add_argument("--labels", default="", metavar="A,B,C",
                      help="comma-separated holder names printed above each share")
    init.add_argument("--passphrase-env", default=None, metavar="VAR",
                      help="environment variable holding a SLIP-39 passphrase "
                           "(printable ASCII; needed again to open bundles)")
    init.set_defaults(handler=init_cmd)


def _labels(text: str, count: int) -> list[str]:
    labels = [x.strip() for x in text.split(",")] if text.strip() else []
    if labels and len(labels) != count:
        raise ConfigError("--labels", f"give exactly {count} labels, one per share")
    if any(not x or not x.isprintable() or len(x) > 64 for x in labels):
        raise ConfigError("--labels", "labels must be 1-64 printable characters")
    return labels or [f"holder {i}" for i in range(1, count + 1)]


def _passphrase(var: str | None) -> bytes:
    if var is None:
        return b""
    value = os.environ.get(var)
    if value is None:
        raise ConfigError("--passphrase-env", f"environment variable {var} is not set")
    raw = value.encode("utf-8")
    if not all(32 <= c <= 126 for c in raw):
        raise ConfigError("--passphrase-env", "SLIP-39 passphrases are printable ASCII only")
    return raw


def _check_layout(shares: int, threshold: int) -> None:
    """The recipe refuses the same layouts; checked here first to name the flags."""
    if not 1 <= shares <= MAX_SHARES:
        raise ConfigError("--shares", f"must be 1 to {MAX_SHARES}")
    if not 1 <= threshold <= shares:
        raise ConfigError("--threshold", "must be at least 1 and at most --shares")
    if threshold == 1 and shares > 1:
        raise ConfigError("--threshold", "1-of-N would let any single holder open bundles")


def split_key(private: bytes | bytearray, shares: int, threshold: int,
              passphrase: bytes = b"") -> list[str]:
    """SLIP-39 shares of ``private`` (one group, ``threshold`` of ``shares``), verified."""
    _check_layout(shares, threshold)
    return split_escrow_key(private, shares, threshold, passphrase)


def public_key_text(public: bytes) -> str:
    """The form ``clinic.escrow_public_key`` and the companions take: unpadded base64url."""
    return base64.urlsafe_b64encode(public).decode("ascii").rstrip("=")


def init_cmd(args: argparse.Namespace, settings: Settings) -> int:
    labels = _labels(args.labels, args.shares)
    passphrase = _passphrase(args.passphrase_env)
    _check_layout(args.shares, args.threshold)
    escrow = create_escrow_key(args.shares, args.threshold, passphrase)
    public, mnemonics = escrow.public, list(escrow.shares)
    print(f"Clinic escrow key: {args.threshold} of {len(mnemonics)} shares open a "
          "break-glass bundle." + (" A passphrase is also needed." if passphrase else ""))
    print("Give each share to its holder only; it is printed once and stored nowhere.\n")
    for i, (label, words) in enumerate(zip(labels, mnemonics, strict=True), start=1):
        print(f"--- share {i} of {len(mnemonics)} for {label} ---")
        print(words)
        print()
    key = public_key_text(public)
    print("Escrow public key for the physicians' companions (standard base64):")
    b64 = base64.b64encode(public).decode("ascii")
    print(f"  medcrypt init --role physician --escrow-key {b64} ...")
    print("\nBot configuration (base64url):\n[clinic]")
    print(f'escrow_public_key = "{key}"')
    return 0
