"""The committed MEDCRYPT v2 vectors, checked both ways.

* produce: tests/vectors/generate.py still writes exactly the committed files (drift);
* consume: replaying the committed random draws through the library reproduces every
  committed output, and the committed tokens open to the committed plaintexts.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.endpoint import envelope, escrow, keyschedule, pairing, ratchet, safety
from medcrypt.crypto.endpoint.envelope import ContentType
from medcrypt.crypto.endpoint.session import IdentityKey, PairingSession
from medcrypt.crypto.keyless import parts, wire
from medcrypt.crypto.keyless.wire import Direction, Kind
from tests.vectors import generate

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def _load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


class Scripted:
    """An RNG that replays committed draws, failing on any mismatch in count or size."""

    def __init__(self, draws: list[str]) -> None:
        self.draws = [bytes.fromhex(d) for d in draws]

    def __call__(self, n: int) -> bytes:
        assert self.draws, "library drew more random bytes than the vector records"
        draw = self.draws.pop(0)
        assert len(draw) == n, "library drew a different number of bytes"
        return draw

    def done(self) -> None:
        assert not self.draws, "library drew fewer random bytes than the vector records"


@pytest.mark.parametrize("name", sorted(generate.build()))
def test_generator_has_not_drifted(name: str) -> None:
    assert (VECTORS / name).read_text(encoding="utf-8") == generate.render(generate.build()[name])


def test_keyschedule_consumed() -> None:
    v = _load("v2_keyschedule.json")
    pid = bytes.fromhex(v["pairing_id"])
    k = keyschedule.initial_epoch_key(bytes.fromhex(v["root"]), v["start_epoch"])
    for entry in v["epochs"]:
        if entry["epoch"] > v["start_epoch"]:
            k = keyschedule.advance_epoch_key(k, entry["epoch"])
        assert k.hex() == entry["epoch_key"]
        for name, steps in entry["chains"].items():
            ck = ratchet.initial_chain_key(k, pid, entry["epoch"], Direction[name])
            for step in steps:
                assert ck.hex() == step["ck"]
                mk, ck = ratchet.chain_step(ck)
                assert mk.hex() == step["mk"]


def test_envelope_consumed() -> None:
    v = _load("v2_envelope.json")
    header, seed = bytes.fromhex(v["header"]), bytes.fromhex(v["signer_seed"])
    for case in v["cases"]:
        sealed = envelope.seal(header, ContentType.TEXT, bytes.fromhex(case["body"]),
                               datetime.fromisoformat(v["sent_at"]), IdentityKey(seed).sign)
        assert sealed.hex() == case["envelope"]
        opened = envelope.open_(header, bytes.fromhex(case["envelope"]),
                                bytes.fromhex(v["signer_public"]))
        assert opened.body.hex() == case["body"]
    for n, size in v["bucket_sizes"].items():
        assert envelope.bucket_size(int(n)) == size


def test_wire_consumed() -> None:
    v = _load("v2_wire.json")
    pid = bytes(range(16))
    assert wire.encode_sealed_header(Kind.MESSAGE, pid, epoch=682,
                                     direction=Direction.PHYSICIAN_TO_PATIENT, index=258,
                                     nonce=bytes(range(24))).hex() == v["message_header"]
    token = wire.parse_raw(bytes.fromhex(v["register"]))
    assert token.register == wire.RegisterInfo(1, 7, 1795430400)
    assert wire.parse_file_header(bytes.fromhex(v["file_header"])).epoch == 682


def test_pairing_and_messages_consumed() -> None:
    v = _load("v2_pairing_session.json")
    setup = v["setup"]
    clock = FixedClock(datetime.fromisoformat(setup["now"]))
    physician_id = IdentityKey.import_(setup["physician_identity_seed"])
    patient_id = IdentityKey.import_(setup["patient_identity_seed"])
    rng = Scripted(v["offer"]["rng_draws"])
    pending = pairing.create_offer(physician_id.public, clock=clock, rng=rng,
                                   escrow_public=bytes.fromhex(setup["escrow_public"]),
                                   bot_contact="telegram:@clinic_bot")
    rng.done()
    assert pending.offer.to_bytes().hex() == v["offer"]["offer_bytes"]
    assert pending.offer.to_qr_text() == v["offer"]["qr_text"]
    assert pending.offer.registration_token() == v["offer"]["registration_token"]
    rng = Scripted(v["accept"]["rng_draws"])
    accept, outcome = pairing.accept_offer(v["offer"]["qr_text"], patient_id.public,
                                           clock=clock, rng=rng)
    rng.done()
    assert accept == v["accept"]["accept_token"]
    assert outcome.transcript_hash.hex() == v["accept"]["transcript_hash"]
    assert bytes(outcome.start_key).hex() == v["accept"]["start_key"]
    assert safety.safety_number(patient_id.public, physician_id.public) == v["accept"][
        "safety_number"]
    assert safety.fingerprint(patient_id.public) == v["accept"]["patient_fingerprint"]
    entry = v["session_entry"]
    rng = Scripted(entry["patient_rng_draws"])
    patient = PairingSession.from_outcome(outcome, patient_id, clock=clock, rng=rng)
    rng.done()
    rng = Scripted(entry["physician_rng_draws"])
    physician = PairingSession.from_outcome(
        pairing.complete_offer(pending, accept, clock=clock), physician_id, clock=clock, rng=rng)
    rng.done()
    # Produce: the same draws give the same tokens.  Keep copies to consume afterwards.
    sides = {"patient": patient, "physician": physician}
    readers = {"patient": PairingSession.from_state(physician.export_state(), physician_id),
               "physician": PairingSession.from_state(patient.export_state(), patient_id)}
    for msg in v["messages"]:
        clock = FixedClock(datetime.fromisoformat(msg["now"]))
        rng = Scripted(msg["rng_draws"])
        result = sides[msg["sender"]].encrypt(bytes.fromhex(msg["body"]),
                                              ContentType(msg["content_type"]), clock=clock,
                                              rng=rng)
        rng.done()
        assert result.token == msg["token"]
        assert result.escrow_deposit == msg["escrow_deposit"]
        opened = readers[msg["sender"]].decrypt(msg["token"], clock=clock)
        assert opened.body.hex() == msg["body"]
        assert opened.sent_at == clock.now()
    key = escrow.open_deposit(bytes.fromhex(setup["escrow_private"]), v["escrow"]["deposit"])
    assert key.key.hex() == v["escrow"]["epoch_key"] and key.epoch == v["escrow"]["epoch"]
    assert keyschedule.epoch_key_at(bytes.fromhex(v["accept"]["start_key"]), 682,
                                    key.epoch).hex() == v["escrow"]["epoch_key"]
    joined = parts.join_parts(list(reversed(v["parts"]["parts"])))
    assert joined == v["messages"][v["parts"]["token_message"]]["token"]
    rng = Scripted(v["parts"]["rng_draws"])
    assert parts.split_token(joined, v["parts"]["max_chars"], rng=rng) == v["parts"]["parts"]
