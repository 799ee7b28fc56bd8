"""``medcrypt init``: create the encrypted keystore and this device's identity key.

The passphrase of a new keystore must be rated at least "fair" by zxcvbn
(passphrase_strength.py); it is refused with the reason and advice otherwise.
"""

from __future__ import annotations

import argparse
import sys

from medcrypt.companion.app import home_of, new_state
from medcrypt.companion.env import read_passphrase
from medcrypt.companion.keystore import Keystore
from medcrypt.companion.passphrase_strength import require_fair
from medcrypt.crypto.endpoint.pairing import Role
from medcrypt.crypto.endpoint.session import IdentityKey
from medcrypt.crypto.errors import ConfigError, MalformedToken
from medcrypt.crypto.keyless.b64text import decode_b64_text


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("init", help="create the keystore and identity key")
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--escrow-key", metavar="B64",
                   help="physician: the clinic's escrow X25519 public key (base64); it travels "
                        "in every pairing QR so epoch keys are deposited for break-glass")
    p.add_argument("--bot-contact", default="", metavar="TEXT",
                   help="physician: how patients reach the clinic bot (shown in the offer)")
    p.set_defaults(handler=run)


def parse_escrow_key(text: str) -> bytes:
    """The escrow public key as ``escrow init`` prints it (PROTOCOL §1, CLI inputs)."""
    try:
        return decode_b64_text(text, length=32)
    except MalformedToken:
        raise ConfigError("--escrow-key", "expected the 32-byte X25519 public key in "
                          "standard base64, as 'medcrypt-bot escrow init' prints it") from None


def run(args: argparse.Namespace) -> int:
    role = Role(args.role)
    escrow = parse_escrow_key(args.escrow_key) if args.escrow_key else None
    if role is Role.PATIENT and (escrow or args.bot_contact):
        raise ConfigError("--escrow-key", "only a physician's companion configures the clinic")
    home = home_of(args)
    if Keystore.exists(home):
        raise ConfigError("--home", f"a keystore already exists in {home}")
    passphrase = read_passphrase(confirm=True)
    strength = require_fair(passphrase, [str(home), args.bot_contact])
    identity = IdentityKey.generate()
    state = new_state(role, identity, escrow_public=escrow, bot_contact=args.bot_contact)
    with Keystore.create(home, passphrase, state):
        pass
    print(f"Created the {role.value} keystore in {home}")
    print(f"Identity fingerprint: {identity.fingerprint()}")
    print(f"Passphrase strength: {strength.rating}")
    identity.wipe()
    sys.stdout.flush()
    return 0
