"""Fuzz targets for the v3 parsers: the keyless MESSAGE codec and deposit stripping (the
bot's), a v3 session's decrypt, the deposit opener, the break-glass bundle opener and the
session-state reader."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from medcrypt.crypto.endpoint.v3 import breakglass, deposit
from medcrypt.crypto.endpoint.v3.session import Session, canonical_json
from medcrypt.crypto.keyless import v3wire, wire
from medcrypt.crypto.keyless.epochs import epoch_of
from tests.support.v3pairs import CounterRng, make_v3_pair

_NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
_PAIR = make_v3_pair(epoch_of(_NOW), rng=CounterRng("fuzz v3"))
_FIRST = _PAIR.patient.encrypt(b"seed message", now=_NOW, rng=CounterRng("fuzz v3 send"))
_STRIPPED, _VIEW, _DEPOSIT = v3wire.strip_deposit(_FIRST)
assert _DEPOSIT is not None


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def fuzz_v3_parse_message(data: bytes) -> None:
    token = v3wire.parse_message(data)
    assert v3wire.parse_message(token.raw_without_deposit).header == token.header


def fuzz_v3_parse_text(data: bytes) -> None:
    wire.parse_token(_text(data))  # the shared keyless parser, v2 and v3
    v3wire.parse_message_text(_text(data))


def fuzz_v3_strip_deposit(data: bytes) -> None:
    text, _view, found = v3wire.strip_deposit(_text(data))
    assert v3wire.parse_message_text(text).deposit is None
    assert found is None or len(found) == v3wire.DEPOSIT_LEN


def fuzz_v3_decrypt(data: bytes) -> None:
    state = _PAIR.physician.export_state()
    try:
        _PAIR.physician.decrypt(_text(data), now=_NOW)
    finally:  # a fuzz input that opens must not make the next one a replay
        _PAIR.physician._load(state)


def fuzz_v3_open_deposit(data: bytes) -> None:
    deposit.open_deposit(_PAIR.escrow_private, data, _PAIR.pinned)


def fuzz_v3_open_bundle(data: bytes) -> None:
    texts = _text(data).split("\n")
    breakglass.open_bundle(_PAIR.escrow_private, _PAIR.pinned, [data[:234]], texts)


def fuzz_v3_import_state(data: bytes) -> None:
    try:
        state = json.loads(data)
    except ValueError:
        return  # not JSON: the keystore layer refuses it before this parser
    if isinstance(state, dict):
        Session.import_state(state, _PAIR.physician_seed)


TARGETS: dict[str, tuple[Callable[[bytes], object], Iterable[bytes]]] = {
    "v3_parse_message": (fuzz_v3_parse_message, [v3wire.decode_text(_FIRST)]),
    "v3_parse_text": (fuzz_v3_parse_text, [_FIRST.encode(), _STRIPPED.encode()]),
    "v3_strip_deposit": (fuzz_v3_strip_deposit, [_FIRST.encode(), _STRIPPED.encode()]),
    "v3_decrypt": (fuzz_v3_decrypt, [_FIRST.encode(), _STRIPPED.encode()]),
    "v3_open_deposit": (fuzz_v3_open_deposit, [_DEPOSIT]),
    "v3_open_bundle": (fuzz_v3_open_bundle, [_DEPOSIT + b"\n" + _FIRST.encode()]),
    "v3_import_state": (fuzz_v3_import_state, [canonical_json(_PAIR.patient.export_state()),
                                               canonical_json(_PAIR.physician.export_state())]),
}
