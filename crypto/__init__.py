"""MEDCRYPT v2 protocol library: pure, typed, no I/O, split by who may hold keys (ADR 0000).

* :mod:`medcrypt.crypto.keyless` - what needs no secret key: token headers, parts, the
  epoch calendar, sealing to a public key. The relay lives on this part.
* :mod:`medcrypt.crypto.endpoint` - what holds message keys: sessions, ratchets,
  pairing, envelopes, attachments, escrow deposits, the keystore, the break-glass opener.
  The companions and the offline opener (``medcrypt.opener``) use it; the bot may not
  import any of it, with no exception.
* :mod:`medcrypt.crypto.server` - keys the clinic's server holds for its own data (the
  keyring, the audit log's crypto) and the escrow key ceremony; none opens a message.

Raw primitives live in :mod:`medcrypt.crypto._primitives` and nowhere else; everything
outside ``crypto/`` uses the recipes named in :data:`__all__`.

Why nothing is imported here: importing ``medcrypt.crypto.keyless.wire`` first imports
this package, so an eager import of the endpoint recipes would put decrypting code into
every process that parses a header - the running bot included. The recipes are named
in ``__all__`` and imported on first use through a module ``__getattr__`` (PEP 562); the
``TYPE_CHECKING`` block gives type checkers the same names
(tests/crypto/test_lazy_facade.py keeps the two lists equal). Code that must stay
keyless imports from its part by name (``medcrypt.crypto.keyless.wire``), never through
this facade: import-linter sees the facade as reaching the endpoint part.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from medcrypt.crypto.endpoint.attachment import open_file, seal_file
    from medcrypt.crypto.endpoint.breakglass import open_bundle
    from medcrypt.crypto.endpoint.keystore import KeystoreKey
    from medcrypt.crypto.endpoint.safety import safety_number
    from medcrypt.crypto.endpoint.session import (
        IdentityKey,
        PairingSession,
        accept_pairing,
        complete_pairing,
        start_pairing,
    )
    from medcrypt.crypto.endpoint.v1 import decrypt_v1
    from medcrypt.crypto.errors import DecryptionFailed, MedCryptError
    from medcrypt.crypto.keyless.epochs import epoch_of, format_epoch
    from medcrypt.crypto.keyless.parts import join_parts, split_token
    from medcrypt.crypto.keyless.sealing import seal_to_public_key
    from medcrypt.crypto.keyless.wire import find_tokens, parse_token
    from medcrypt.crypto.server.audit import CheckpointSigner, verify_chain
    from medcrypt.crypto.server.escrow_key import create_escrow_key
    from medcrypt.crypto.server.keyring import Keyring

#: Recipe name -> the module that defines it, imported on first use.
_LAZY: dict[str, str] = {
    # keyless: anyone, the relay included
    "epoch_of": "medcrypt.crypto.keyless.epochs",
    "format_epoch": "medcrypt.crypto.keyless.epochs",
    "join_parts": "medcrypt.crypto.keyless.parts",
    "split_token": "medcrypt.crypto.keyless.parts",
    "seal_to_public_key": "medcrypt.crypto.keyless.sealing",
    "find_tokens": "medcrypt.crypto.keyless.wire",
    "parse_token": "medcrypt.crypto.keyless.wire",
    # endpoint: the companions (and the offline break-glass opener)
    "open_file": "medcrypt.crypto.endpoint.attachment",
    "seal_file": "medcrypt.crypto.endpoint.attachment",
    "open_bundle": "medcrypt.crypto.endpoint.breakglass",
    "KeystoreKey": "medcrypt.crypto.endpoint.keystore",
    "safety_number": "medcrypt.crypto.endpoint.safety",
    "IdentityKey": "medcrypt.crypto.endpoint.session",
    "PairingSession": "medcrypt.crypto.endpoint.session",
    "accept_pairing": "medcrypt.crypto.endpoint.session",
    "complete_pairing": "medcrypt.crypto.endpoint.session",
    "start_pairing": "medcrypt.crypto.endpoint.session",
    "decrypt_v1": "medcrypt.crypto.endpoint.v1",
    # server: the clinic's own data and its escrow key ceremony
    "CheckpointSigner": "medcrypt.crypto.server.audit",
    "verify_chain": "medcrypt.crypto.server.audit",
    "create_escrow_key": "medcrypt.crypto.server.escrow_key",
    "Keyring": "medcrypt.crypto.server.keyring",
    # errors: the roots callers catch
    "DecryptionFailed": "medcrypt.crypto.errors",
    "MedCryptError": "medcrypt.crypto.errors",
}

__all__ = [
    "CheckpointSigner",
    "DecryptionFailed",
    "IdentityKey",
    "Keyring",
    "KeystoreKey",
    "MedCryptError",
    "PairingSession",
    "accept_pairing",
    "complete_pairing",
    "create_escrow_key",
    "decrypt_v1",
    "epoch_of",
    "find_tokens",
    "format_epoch",
    "join_parts",
    "open_bundle",
    "open_file",
    "parse_token",
    "safety_number",
    "seal_file",
    "seal_to_public_key",
    "split_token",
    "start_pairing",
    "verify_chain",
]


def __getattr__(name: str) -> object:
    """Import the module that defines recipe ``name`` on first use (PEP 562).

    Any other name is an :class:`AttributeError`, which is also what lets
    ``from medcrypt.crypto import keyless`` fall through to importing the subpackage.
    """
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
