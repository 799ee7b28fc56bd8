"""The cheap Argon2id profile tests seal keystores with, and how a test selects it.

The product has no flag or environment variable that lowers the keystore's Argon2id
cost; tests choose this profile explicitly - as the ``profile=`` argument of
``Keystore.create`` / ``Keystore.unlock`` / ``KeystoreKey.new``, or for the in-process
CLI with :func:`use_fast_keystores`, which replaces the companion's target profile for
one test (monkeypatch undoes it). Subprocess runs of ``medcrypt`` always pay the real
cost, and upgrade a fast keystore they open, as the product would.
"""

from __future__ import annotations

import pytest
from nacl.pwhash import argon2id

from medcrypt.companion import keystore
from medcrypt.crypto.endpoint.keystore import Argon2Profile

#: libsodium's minimum: 1 pass over 8 KiB. Never a product value.
FAST_KEYSTORE = Argon2Profile(argon2id.OPSLIMIT_MIN, argon2id.MEMLIMIT_MIN)


def use_fast_keystores(monkeypatch: pytest.MonkeyPatch) -> None:
    """New keystores of this test's in-process CLI get :data:`FAST_KEYSTORE`, and its
    unlocks do not raise them to the product cost."""
    monkeypatch.setattr(keystore, "PROFILE", FAST_KEYSTORE)
