"""The official SLIP-39 vectors through the project's share-combining path.

``crypto.breakglass.recover_secret`` is what ``breakglass open`` calls; every valid set
must give the published master secret and every invalid set must be refused with the
project's typed errors (never a library exception or a partial secret).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medcrypt.crypto.endpoint.breakglass import recover_secret
from medcrypt.crypto.errors import MalformedToken, PolicyViolation

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "vectors" /
                      "slip39_vectors.json").read_text())


def test_the_copy_is_complete() -> None:
    assert len(VECTORS) == 45
    assert sum(1 for v in VECTORS if v[2]) == 15


@pytest.mark.parametrize("vector", VECTORS, ids=[v[0].split(".")[0] for v in VECTORS])
def test_official_vector(vector: list[object]) -> None:
    description, mnemonics, secret_hex, _xprv = vector
    assert isinstance(mnemonics, list) and isinstance(secret_hex, str)
    if secret_hex:
        secret = recover_secret(mnemonics, b"TREZOR")
        assert bytes(secret).hex() == secret_hex, description
    else:
        with pytest.raises((MalformedToken, PolicyViolation)) as err:
            recover_secret(mnemonics, b"TREZOR")
        for words in mnemonics:  # no share words leak into the message
            assert not any(w in str(err.value).split() for w in words.split()[:4])


def test_wrong_passphrase_gives_another_secret_not_an_error() -> None:
    """Why opening checks the recovered key against the bundle's public key."""
    _d, mnemonics, secret_hex, _x = VECTORS[3]
    assert bytes(recover_secret(mnemonics, b"not TREZOR")).hex() != secret_hex
