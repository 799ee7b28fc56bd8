"""v3_session.json consumed: the recorded draws replayed through the library reproduce
every token and every session document byte for byte; the shredded states derive no
November key; the deposit opens as recorded.  (Drift of the generator itself is
tests/crypto/test_vectors.py::test_generator_has_not_drifted.)"""

from __future__ import annotations

import contextlib
import itertools
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint.v3 import deposit as deposits
from medcrypt.crypto.endpoint.v3 import kdf
from medcrypt.crypto.endpoint.v3.session import Session, canonical_json
from medcrypt.crypto.errors import EpochShredded, MedCryptError
from medcrypt.crypto.keyless import v3wire
from medcrypt.crypto.keyless.wire import Direction
from tests.support.v3pairs import make_v3_pair

VECTORS = json.loads((Path(__file__).resolve().parents[2] / "vectors" / "v3_session.json")
                     .read_text(encoding="utf-8"))


class Scripted:
    """Replays committed draws, failing on any difference in count or size."""

    def __init__(self, draws: list[str]) -> None:
        self.draws = [bytes.fromhex(d) for d in draws]

    def __call__(self, n: int) -> bytes:
        assert self.draws, "the library drew more random bytes than recorded"
        draw = self.draws.pop(0)
        assert len(draw) == n, "the library drew a different number of bytes"
        return draw

    def done(self) -> None:
        assert not self.draws, "the library drew fewer random bytes than recorded"


def _doc(session: Session) -> str:
    return canonical_json(session.export_state()).decode("ascii")


def test_replaying_the_draws_reproduces_every_token_and_state() -> None:
    setup = VECTORS["setup"]
    rng = Scripted(setup["rng_draws"])
    pair = make_v3_pair(setup["start_epoch"], rng=rng, grace_days=setup["grace_days"])
    rng.done()
    assert (_doc(pair.patient), _doc(pair.physician)) == (
        setup["patient_state"], setup["physician_state"])
    sides = {"patient": pair.patient, "physician": pair.physician}
    held: list[tuple[str, str]] = []
    for step in VECTORS["steps"]:
        now = datetime.fromisoformat(step["now"])
        for name, side in sides.items():
            assert side.shred_due(now) == step["shredded_first"][name]
        rng = Scripted(step["rng_draws"])
        token = sides[step["sender"]].encrypt(step["body"].encode(), now=now, rng=rng)
        rng.done()
        assert token == step["token"]
        receiver = "physician" if step["sender"] == "patient" else "patient"
        held.append((receiver, token))
        if step["opened"]:
            mine = [t for who, t in held if who == receiver][::-1]
            assert [sides[receiver].decrypt(t, now=now).body.decode() for t in mine] == \
                step["opened"]
            held = [h for h in held if h[0] != receiver]
        assert (_doc(pair.patient), _doc(pair.physician)) == (
            step["patient_state"], step["physician_state"])


def _values(node: Any) -> set[bytes]:
    """Every 32-byte value a session document holds (keys, seeds, ids, public keys)."""
    found: set[bytes] = set()
    if isinstance(node, dict):
        for value in node.values():
            found |= _values(value)
    elif isinstance(node, list):
        for value in node:
            found |= _values(value)
    elif isinstance(node, str):
        try:
            raw = prim.b64d(node)
        except MedCryptError:
            return found
        if len(raw) == 32:
            found.add(raw)
    return found


@pytest.mark.parametrize("side", ["patient", "physician"])
def test_the_state_left_after_shredding_derives_no_key_of_the_shredded_month(side: str) -> None:
    step = next(s for s in VECTORS["steps"] if s["shredded_first"][side])
    state = json.loads(step[f"{side}_state"])
    month = step["shredded_first"][side][0]
    november = {bytes.fromhex(k) for k in VECTORS["november_keys"]}
    values = _values(state)
    assert not values & november
    pid = prim.b64d(state["pairing_id"])
    derived: set[bytes] = set()
    # Every derivation the spec defines, with any value of the state in any key slot
    # and the shredded month as the month: chain steps, segment seeds, segment keys,
    # root steps against every public value.
    for value in values:
        derived |= set(kdf.chain_step(value))
        derived.add(kdf.segment_seed(value, month))
        for other in values:
            derived |= set(kdf.root_step(value, other))
            with contextlib.suppress(MedCryptError):  # a value that is no valid point
                derived |= set(kdf.root_step(value, prim.x25519_shared(other, value)))
    chain_ids = {v3wire.parse_message_text(s["token"]).header.chain_id
                 for s in VECTORS["steps"]}  # public: every chain id on the wire
    for seed, month_root in itertools.product(values | derived, values):
        for direction, chain in itertools.product(Direction, chain_ids):
            derived.add(kdf.segment_key(seed, month_root, pairing_id=pid,
                                        direction=direction, chain_id=chain, epoch=month))
    assert not derived & november
    # And through the API: every token of that month is a typed "shredded" error.
    session_seed = None
    for token in (s["token"] for s in VECTORS["steps"]):
        h = v3wire.parse_message_text(token).header
        if h.epoch == month and int(h.direction) != (0 if side == "patient" else 1):
            restored = Session.__new__(Session)
            restored._load(state)  # the state as stored, without any identity at hand
            with pytest.raises(EpochShredded):
                restored.decrypt(token, now=datetime.fromisoformat(step["now"]))
            session_seed = True
    assert session_seed


def test_the_recorded_deposit_opens_and_its_key_opens_the_first_message() -> None:
    d = VECTORS["deposit"]
    sealed = bytes.fromhex(d["sealed"])
    assert len(sealed) == v3wire.DEPOSIT_LEN
    assert prim.sealed_box_open(bytes.fromhex(d["escrow_private"]), sealed).hex() == d["plaintext"]
    setup_pair = make_v3_pair(VECTORS["setup"]["start_epoch"],
                              rng=Scripted(VECTORS["setup"]["rng_draws"]))
    opened = deposits.open_deposit(bytes.fromhex(d["escrow_private"]), sealed, setup_pair.pinned)
    assert (opened.epoch, int(opened.direction), opened.chain_id.hex(), opened.start_index,
            opened.chain_key.hex()) == (d["epoch"], d["direction"], d["chain_id"],
                                        d["start_index"], d["chain_key"])
    first = v3wire.parse_message_text(VECTORS["steps"][0]["token"])
    inner = prim.xchacha_decrypt(bytes.fromhex(d["message_key_0"]), first.header.nonce,
                                 first.body, first.header.raw)
    assert VECTORS["steps"][0]["body"].encode() in inner
