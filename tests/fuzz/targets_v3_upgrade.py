"""Fuzz targets for the v2 -> v3 upgrade parsers (see tests/fuzz/run_all.py).

Each target may only raise :class:`crypto.errors.MedCryptError`. Seeds are the real
offer, answer and pending state of one upgrade, so mutations explore near the accepted
language; the companion-side targets run a fresh v2 pairing per input (a hostile relayed
offer or answer must leave it as it was or fail typed).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from medcrypt.crypto.endpoint.v3.retired import RetiredV2
from medcrypt.crypto.endpoint.v3.upgrade import PhysicianUpgrade, answer_upgrade, offer_upgrade
from medcrypt.crypto.keyless import upgrade_wire, wire
from tests.support.sessions import DetRng, Pair, make_pair


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _pair() -> Pair:
    return make_pair("fuzz upgrade")


def _offer(pair: Pair) -> PhysicianUpgrade:
    return offer_upgrade(pair.physician, pair.physician_id, clock=pair.clock,
                         rng=DetRng("fuzz upgrade offer"))


def _seeds() -> dict[str, list[bytes]]:
    pair = _pair()
    offer = _offer(pair)
    answer = answer_upgrade(offer.token, pair.patient, pair.patient_id, clock=pair.clock,
                            rng=DetRng("fuzz upgrade answer"))
    tokens = [offer.token, answer.token]
    return {"raws": [wire.parse_token(t).raw for t in tokens],
            "tokens": [t.encode() for t in tokens], "offer": [offer.token.encode()],
            "answer": [answer.token.encode()],
            "state": [json.dumps(offer.export()).encode()],
            "retired": [json.dumps(answer.upgraded.retired.export_state()).encode()]}


def _state(data: bytes) -> dict[str, object] | None:
    try:
        value = json.loads(_text(data))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def fuzz_parse_upgrade(data: bytes) -> None:
    upgrade_wire.parse_upgrade(data)


def fuzz_parse_token_upgrade(data: bytes) -> None:
    token = wire.parse_token(_text(data))
    assert wire.encode_token(token.raw) == _text(data).strip()


def fuzz_patient_answers_offer(data: bytes) -> None:
    pair = _pair()
    answer_upgrade(_text(data), pair.patient, pair.patient_id, clock=pair.clock)


def fuzz_physician_finishes(data: bytes) -> None:
    pair = _pair()
    _offer(pair).finish(_text(data), pair.physician, pair.physician_id, clock=pair.clock)


def fuzz_load_upgrade_state(data: bytes) -> None:
    state = _state(data)
    if state is not None:
        PhysicianUpgrade.load(state)


def fuzz_load_retired_state(data: bytes) -> None:
    state = _state(data)
    if state is not None:
        RetiredV2.from_state(state)


_SEEDS = _seeds()

TARGETS: dict[str, tuple[Callable[[bytes], object], Iterable[bytes]]] = {
    "parse_upgrade": (fuzz_parse_upgrade, _SEEDS["raws"]),
    "parse_token_upgrade": (fuzz_parse_token_upgrade, _SEEDS["tokens"]),
    "patient_answers_offer": (fuzz_patient_answers_offer, _SEEDS["offer"]),
    "physician_finishes_upgrade": (fuzz_physician_finishes, _SEEDS["answer"]),
    "load_upgrade_state": (fuzz_load_upgrade_state, _SEEDS["state"]),
    "load_retired_state": (fuzz_load_retired_state, _SEEDS["retired"]),
}
