"""Properties of the two other v3 parsers: the deposit opener and the session-state
reader.  Anything altered is refused with a project error, never opened or loaded."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint.v3 import deposit as deposits
from medcrypt.crypto.endpoint.v3.session import Session, canonical_json
from medcrypt.crypto.errors import MedCryptError, StorageError
from medcrypt.crypto.keyless import v3wire
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.crypto.keyless.wire import Direction
from tests.support.v3pairs import CounterRng, make_v3_pair

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PAIR = make_v3_pair(epoch_of(NOW), rng=CounterRng("parser properties"))
SIGNER = prim.Ed25519Signer(PAIR.patient_seed)


@settings(max_examples=50)
@given(st.integers(0, 96_359), st.sampled_from(Direction), st.binary(min_size=32, max_size=32),
       st.integers(0, 0xFFFFFFFF), st.binary(min_size=32, max_size=32))
def test_a_deposit_round_trips(
    epoch: int, direction: Direction, chain_id: bytes, start: int, chain_key: bytes,
) -> None:
    signer = SIGNER if direction is Direction.PATIENT_TO_PHYSICIAN else prim.Ed25519Signer(
        PAIR.physician_seed)
    sealed = deposits.make_deposit(
        PAIR.pinned.escrow_public, signer.sign, pairing_id=PAIR.pinned.pairing_id,
        transcript_hash=PAIR.pinned.transcript_hash, epoch=epoch, direction=direction,
        chain_id=chain_id, start_index=start, chain_key=chain_key)
    assert len(sealed) == v3wire.DEPOSIT_LEN
    opened = deposits.open_deposit(PAIR.escrow_private, sealed, PAIR.pinned)
    assert (opened.epoch, opened.direction, opened.chain_id, opened.start_index,
            opened.chain_key) == (epoch, direction, chain_id, start, chain_key)


_GOOD = deposits.make_deposit(
    PAIR.pinned.escrow_public, SIGNER.sign, pairing_id=PAIR.pinned.pairing_id,
    transcript_hash=PAIR.pinned.transcript_hash, epoch=682,
    direction=Direction.PATIENT_TO_PHYSICIAN, chain_id=bytes(32), start_index=0,
    chain_key=bytes(range(32)))


@given(st.integers(0, len(_GOOD) - 1), st.integers(1, 255))
def test_any_altered_deposit_byte_is_refused(position: int, flip: int) -> None:
    altered = bytearray(_GOOD)
    altered[position] ^= flip
    with pytest.raises(MedCryptError):
        deposits.open_deposit(PAIR.escrow_private, bytes(altered), PAIR.pinned)


def test_a_deposit_signed_for_another_escrow_key_or_pairing_is_refused() -> None:
    other_escrow = prim.x25519_public(bytes(range(32)))
    resealed = deposits.make_deposit(
        other_escrow, SIGNER.sign, pairing_id=PAIR.pinned.pairing_id,
        transcript_hash=PAIR.pinned.transcript_hash, epoch=682,
        direction=Direction.PATIENT_TO_PHYSICIAN, chain_id=bytes(32), start_index=0,
        chain_key=bytes(32))
    box = prim.sealed_box_open(bytes(range(32)), resealed)
    # Re-sealed to our escrow key: the signature still names the other one.
    moved = prim.sealed_box_seal(PAIR.pinned.escrow_public, box)
    with pytest.raises(MedCryptError):
        deposits.open_deposit(PAIR.escrow_private, moved, PAIR.pinned)


_STATE = json.loads(canonical_json(PAIR.physician.export_state()))


def _paths(node: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _paths(v, (*prefix, k))] + [prefix]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _paths(v, (*prefix, i))] + [prefix]
    return [prefix]


_PATHS = [p for p in _paths(_STATE) if p]


@settings(max_examples=400)
@given(st.sampled_from(_PATHS),
       st.one_of(st.none(), st.booleans(), st.integers(-3, 2**40), st.text(max_size=8),
                 st.just("AAAA"), st.just("5"), st.just(True), st.lists(st.integers(), max_size=2),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)))
def test_a_damaged_state_loads_as_itself_or_is_a_storage_error(
    path: tuple[object, ...], value: object,
) -> None:
    state = json.loads(json.dumps(_STATE))
    node = state
    for step in path[:-1]:
        node = node[step]  # type: ignore[index]
    node[path[-1]] = value  # type: ignore[index]
    try:
        session = Session.import_state(state, PAIR.physician_seed)
    except StorageError:
        return
    except MedCryptError as exc:  # pragma: no cover - reported as the failure
        pytest.fail(f"{type(exc).__name__} instead of StorageError")
    assert session.export_state() == state
