"""tests/vectors/v3_upgrade.json is consumed: recorded draws replayed reproduce every
byte, and the layout and derivations recomputed from docs/PROTOCOL.md §35 by hand, with
another library's primitives, agree.

(The drift direction - the generator still writes the committed file - is
tests/crypto/test_vectors.py::test_generator_has_not_drifted.)
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.endpoint.session import (
    IdentityKey,
    accept_pairing,
    complete_pairing,
    start_pairing,
)
from medcrypt.crypto.endpoint.v3.session import Session
from medcrypt.crypto.endpoint.v3.upgrade import answer_upgrade, offer_upgrade

V = json.loads((Path(__file__).parents[2] / "vectors" / "v3_upgrade.json")
               .read_text(encoding="utf-8"))


class Replay:
    """Hands out the recorded draws, in order, checking each requested length."""

    def __init__(self, *draws: list[str]) -> None:
        self._draws: Iterator[str] = iter([d for group in draws for d in group])
        self.left = sum(len(g) for g in draws)

    def __call__(self, n: int) -> bytes:
        value = bytes.fromhex(next(self._draws))
        self.left -= 1
        assert len(value) == n
        return value


def test_replayed_draws_reproduce_every_output() -> None:
    clock = FixedClock(datetime.fromisoformat(V["now"]))
    rng = Replay(V["setup"]["rng_draws"], V["offer"]["rng_draws"], V["answer"]["rng_draws"],
                 V["first_patient_message"]["rng_draws"],
                 V["first_physician_message"]["rng_draws"])
    doctor, patient = IdentityKey(rng(32)), IdentityKey(rng(32))
    escrow_public = prim.x25519_public(rng(32))
    pending = start_pairing(doctor, clock=clock, rng=rng, escrow_public=escrow_public,
                            bot_contact="telegram:@clinic_bot")
    patient_v2, accept = accept_pairing(pending.offer.to_qr_text(), patient, clock=clock, rng=rng)
    doctor_v2 = complete_pairing(pending, accept, doctor, clock=clock, rng=rng)
    offer = offer_upgrade(doctor_v2, doctor, clock=clock, rng=rng)
    assert offer.token == V["offer"]["offer_token"]
    answer = answer_upgrade(offer.token, patient_v2, patient, clock=clock, rng=rng)
    assert answer.token == V["answer"]["answer_token"]
    done = offer.finish(answer.token, doctor_v2, doctor, clock=clock)
    assert bytes(done.secrets.root_key).hex() == V["secrets"]["physician"]["root_key"]
    assert bytes(answer.upgraded.secrets.root_key).hex() == V["secrets"]["patient"]["root_key"]
    assert done.record is not None and done.record.raw.hex() == V["pinned_record"]
    now = clock.now()
    physician = Session.from_pairing(done.secrets)
    patient_side = Session.from_pairing(answer.upgraded.secrets)
    first = patient_side.encrypt(b"first v3 message after the upgrade", now=now, rng=rng)
    assert first == V["first_patient_message"]["token"]
    assert physician.decrypt(first, now=now).body == b"first v3 message after the upgrade"
    assert physician.encrypt(b"first v3 reply", now=now, rng=rng) == \
        V["first_physician_message"]["token"]
    assert rng.left == 0


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt, info).derive(ikm)


def test_layout_and_derivations_follow_the_spec_by_hand() -> None:
    setup = V["setup"]
    pid = bytes.fromhex(setup["pairing_id"])
    doctor = IdentityKey.import_(setup["physician_identity_seed"]).public
    patient = IdentityKey.import_(setup["patient_identity_seed"]).public
    offer = bytes.fromhex(V["offer"]["offer_bytes"])
    answer = bytes.fromhex(V["answer"]["answer_bytes"])
    # §35.2 UPGRADE_OFFER: 162 bytes.
    assert len(offer) == 162 and offer[:2] == b"\x03\x07" and offer[2:18] == pid
    assert offer[18] == 1
    epoch, grace, expires, flag = struct.unpack(">IHQB", offer[19:34])
    assert (grace, flag) == (setup["grace_days"], 1)
    assert offer[34:66].hex() == setup["escrow_public"]
    assert expires == int(datetime.fromisoformat(V["now"]).timestamp()) + 14 * 86400
    e_d = offer[66:98]
    Ed25519PublicKey.from_public_bytes(doctor).verify(
        offer[98:], b"MEDCRYPT v3 upgrade offer signature" + offer[:98])
    offer_hash = hashlib.sha256(b"MEDCRYPT v3 upgrade offer hash" + offer).digest()
    assert offer_hash.hex() == V["offer"]["offer_hash"]
    # §35.3 UPGRADE_ANSWER: 147 bytes.
    assert len(answer) == 147 and answer[:2] == b"\x03\x07" and answer[2:18] == pid
    assert answer[18] == 2 and answer[19:51] == offer_hash
    e_p = answer[51:83]
    # §35.4 transcript and root.
    transcript = hashlib.sha256(b"MEDCRYPT v3 upgrade transcript" + offer + e_p + doctor
                                + patient).digest()
    assert transcript.hex() == V["answer"]["transcript_hash"]
    Ed25519PublicKey.from_public_bytes(patient).verify(
        answer[83:], b"MEDCRYPT v3 upgrade answer signature" + transcript)
    e_p_private = bytes.fromhex(V["answer"]["rng_draws"][0])
    shared = X25519PrivateKey.from_private_bytes(e_p_private).exchange(
        X25519PublicKey.from_public_bytes(e_d))
    root = _hkdf(shared, pid, b"MEDCRYPT v3 upgrade root" + transcript)
    for side in ("physician", "patient"):
        s = V["secrets"][side]
        assert s["root_key"] == root.hex() and s["transcript_hash"] == transcript.hex()
        assert s["start_epoch"] == epoch and s["pairing_id"] == pid.hex()
        assert s["patient_ratchet_public"] == e_p.hex()
        assert s["physician_ratchet_public"] == e_d.hex()
    # No v2 secret is an input: the root follows from the two fresh draws and public bytes.
    e_d_private = bytes.fromhex(V["offer"]["rng_draws"][0])
    assert X25519PrivateKey.from_private_bytes(e_d_private).exchange(
        X25519PublicKey.from_public_bytes(e_p)) == shared
