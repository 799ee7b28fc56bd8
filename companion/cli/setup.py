"""``medcrypt init``: create the encrypted keystore and this device's identity key.

The passphrase of a new keystore must be rated at least "fair" by zxcvbn
(passphrase_strength.py); it is refused with the reason and advice otherwise.
"""

from __future__ import annotations

import argparse
import sys

from medcrypt.companion.app import home_of, new_state
from medcrypt.companion.env import read_passphrase
from medcrypt.companion.i18n import N_, _, error
from medcrypt.companion.keystore import Keystore
from medcrypt.companion.passphrase_strength import require_fair
from medcrypt.crypto.endpoint.pairing import Role
from medcrypt.crypto.endpoint.session import IdentityKey
from medcrypt.crypto.errors import ConfigError, MalformedToken
from medcrypt.crypto.keyless.b64text import decode_b64_text


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    about = _("create the keystore and identity key")
    p = sub.add_parser("init", help=about, description=about)
    p.add_argument("--role", required=True, choices=[r.value for r in Role],
                   help=_("patient or physician"))
    p.add_argument("--escrow-key", metavar="B64",
                   help=_("physician: the clinic's escrow X25519 public key (base64); it "
                          "travels in every pairing QR so epoch keys are deposited for "
                          "break-glass"))
    p.add_argument("--bot-contact", default="", metavar="TEXT",
                   help=_("physician: how patients reach the clinic bot (shown in the offer)"))
    p.set_defaults(handler=run)


def parse_escrow_key(text: str) -> bytes:
    """The escrow public key as ``escrow init`` prints it (PROTOCOL §1, CLI inputs)."""
    try:
        return decode_b64_text(text, length=32)
    except MalformedToken:
        raise error(ConfigError, N_("expected the 32-byte X25519 public key in standard "
                                    "base64, as 'medcrypt-bot escrow init' prints it"),
                    key="--escrow-key") from None


def run(args: argparse.Namespace) -> int:
    role = Role(args.role)
    escrow = parse_escrow_key(args.escrow_key) if args.escrow_key else None
    if role is Role.PATIENT and (escrow or args.bot_contact):
        raise error(ConfigError, N_("only a physician's companion configures the clinic"),
                    key="--escrow-key")
    home = home_of(args)
    if Keystore.exists(home):
        raise error(ConfigError, N_("a keystore already exists in {home}"), key="--home",
                    home=str(home))
    passphrase = read_passphrase(confirm=True)
    strength = require_fair(passphrase, [str(home), args.bot_contact])
    identity = IdentityKey.generate()
    state = new_state(role, identity, escrow_public=escrow, bot_contact=args.bot_contact)
    with Keystore.create(home, passphrase, state):
        pass
    created = (_("Created the patient keystore in {home}", home=home) if role is Role.PATIENT
               else _("Created the physician keystore in {home}", home=home))
    print(created)
    print(_("Identity fingerprint: {fingerprint}", fingerprint=identity.fingerprint()))
    print(_("Passphrase strength: {rating}", rating=strength.rating_shown()))
    identity.wipe()
    sys.stdout.flush()
    return 0
