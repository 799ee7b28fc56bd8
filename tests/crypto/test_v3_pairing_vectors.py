"""tests/vectors/v3_pairing.json is consumed: recorded draws replayed reproduce every
byte, and the derivations recomputed from docs/PROTOCOL.md §30-§33 by hand agree.

(The drift direction - the generator still writes the committed file - is
tests/crypto/test_vectors.py::test_generator_has_not_drifted.)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.endpoint.session import IdentityKey
from medcrypt.crypto.endpoint.v3 import pinned
from medcrypt.crypto.endpoint.v3.pairing import accept_offer_v3
from medcrypt.crypto.endpoint.v3.physician import create_offer_v3
from medcrypt.crypto.errors import QrShared
from medcrypt.crypto.keyless.wire import parse_token

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "v3_pairing.json")
                     .read_text(encoding="utf-8"))


class Replay:
    """Hands out the recorded draws, in order, checking each requested length."""

    def __init__(self, *draws: list[str]) -> None:
        self._draws: Iterator[str] = iter([d for group in draws for d in group])

    def __call__(self, n: int) -> bytes:
        value = bytes.fromhex(next(self._draws))
        assert len(value) == n
        return value


def _hkdf(ikm: bytes, salt: bytes | None, info: bytes, length: int = 32) -> bytes:
    return HKDF(hashes.SHA256(), length, salt, info).derive(ikm)


@pytest.fixture
def v() -> dict[str, Any]:
    return VECTORS


def test_replayed_draws_reproduce_every_output(v: dict[str, Any]) -> None:
    clock = FixedClock(datetime.fromisoformat(v["now"]))
    rng = Replay(v["setup"]["rng_draws"], v["offer"]["rng_draws"], v["accept"]["rng_draws"])
    doctor, patient = IdentityKey(rng(32)), IdentityKey(rng(32))
    escrow_public = bytes.fromhex(v["setup"]["escrow_public"])
    rng(32)  # the escrow private key
    physician = create_offer_v3(doctor.public, clock=clock, rng=rng, escrow_public=escrow_public,
                                bot_contact="telegram:@clinic_bot")
    assert physician.offer.to_qr_text() == v["offer"]["qr_text"]
    assert physician.offer.registration_token() == v["offer"]["registration_token"]
    side = accept_offer_v3(physician.offer.to_qr_text(), patient, clock=clock, rng=rng)
    assert side.accept_token == v["accept"]["accept_token"]
    assert side.code == v["accept"]["verification_code"]
    physician.receive_accept(side.accept_token, clock=clock)
    done = physician.confirm(doctor, clock=clock)
    assert done.token == v["confirm"]["key_confirm_token"]
    mine = side.verify_confirmation(done.token)
    assert bytes(mine.root_key).hex() == v["secrets"]["patient"]["root_key"]
    assert bytes(done.secrets.root_key).hex() == v["secrets"]["physician"]["root_key"]
    record = pinned.verify_record(bytes.fromhex(v["pinned_record"]["record"]), doctor.public)
    assert record.patient_identity == patient.public


def test_derivations_follow_the_spec_by_hand(v: dict[str, Any]) -> None:
    """An independent reading of PROTOCOL §30-§33 with the raw primitives."""
    offer_bytes = bytes.fromhex(v["offer"]["offer_bytes"])
    pid, secret = offer_bytes[2:18], offer_bytes[18:50]
    public_offer = offer_bytes[:18] + offer_bytes[50:-4]
    assert public_offer.hex() == v["offer"]["public_offer"]
    admission = _hkdf(secret, pid, b"MEDCRYPT v3 admission value")
    assert admission.hex() == v["offer"]["admission_value"]
    h_a = hashlib.sha256(b"MEDCRYPT v3 admission hash" + pid + admission).digest()
    register = parse_token(v["offer"]["registration_token"]).raw
    assert len(register) == 65 and register[:2] == b"\x03\x02" and register[-32:] == h_a
    accept = parse_token(v["accept"]["accept_token"]).raw
    assert len(accept) == 179 and accept[19:51] == admission
    e_p, i_p = accept[51:83], accept[83:115]
    transcript = hashlib.sha256(b"MEDCRYPT v3 pairing transcript" + b"\x03\x01" + pid
                                + struct.pack(">H", len(public_offer)) + public_offer
                                + e_p + i_p).digest()
    assert transcript.hex() == v["accept"]["transcript_hash"]
    e_d_private = bytes.fromhex(v["secrets"]["physician"]["physician_ratchet_private"])
    shared = X25519PrivateKey.from_private_bytes(e_d_private).exchange(
        X25519PublicKey.from_public_bytes(e_p))
    root = _hkdf(shared + secret, pid, b"MEDCRYPT v3 root" + transcript)
    assert root.hex() == v["secrets"]["patient"]["root_key"]
    code = int.from_bytes(_hkdf(root, None, b"MEDCRYPT v3 verification code" + transcript, 8),
                          "big") % 10**6
    assert v["accept"]["verification_code"] == f"{code:06d}"[:3] + " " + f"{code:06d}"[3:]
    a_hash = hashlib.sha256(b"MEDCRYPT v3 accept hash" + accept).digest()
    assert a_hash.hex() == v["accept"]["accept_hash"]
    key = _hkdf(root, None, b"MEDCRYPT v3 key confirm key")
    mac = hmac.new(key, b"MEDCRYPT v3 key confirm" + transcript + a_hash, "sha256").digest()
    confirm = parse_token(v["confirm"]["key_confirm_token"]).raw
    assert len(confirm) == 146 and confirm[18:50] == a_hash and confirm[50:82] == mac
    assert mac.hex() == v["confirm"]["confirm_mac"]


def test_the_second_accept_has_another_code_and_aborts(v: dict[str, Any]) -> None:
    case = v["second_accept"]
    clock = FixedClock(datetime.fromisoformat(v["now"]))
    rng = Replay(case["setup_rng_draws"], case["first"]["rng_draws"], case["second"]["rng_draws"])
    doctor, patient, thief = IdentityKey(rng(32)), IdentityKey(rng(32)), IdentityKey(rng(32))
    physician = create_offer_v3(doctor.public, clock=clock, rng=rng)
    assert physician.offer.to_qr_text() == case["qr_text"]
    first = accept_offer_v3(case["qr_text"], patient, clock=clock, rng=rng)
    second = accept_offer_v3(case["qr_text"], thief, clock=clock, rng=rng)
    assert first.accept_token == case["first"]["accept_token"]
    assert second.accept_token == case["second"]["accept_token"]
    assert first.code == case["first"]["verification_code"] != second.code
    physician.receive_accept(first.accept_token, clock=clock)
    with pytest.raises(QrShared) as caught:
        physician.receive_accept(second.accept_token, clock=clock)
    assert str(caught.value) == case["physician_outcome"]
