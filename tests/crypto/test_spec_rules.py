"""Rules PROTOCOL.md §1-16 states for a second implementation, each checked on the code.

The TypeScript companion is written from the spec alone, so every rule the spec gives a
reader must also be what this implementation does. Each test here plays a sender that
does not follow the rule (a modified companion: the limit or check it skips is lifted
only while it writes) and checks that the real receiver refuses, without burning a key.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medcrypt.bot.domain.lifecycle.policy import classify
from medcrypt.crypto.endpoint import envelope
from medcrypt.crypto.endpoint.envelope import ContentType
from medcrypt.crypto.endpoint.keyschedule import EpochSchedule
from medcrypt.crypto.errors import MalformedToken, PolicyViolation
from medcrypt.crypto.keyless import epochs, wire
from medcrypt.crypto.keyless.b64text import decode_b64_text
from tests.support.sessions import Pair, make_pair


@contextmanager
def lifted(monkeypatch: pytest.MonkeyPatch, name: str, value: Any) -> Iterator[None]:
    """A sender that ignores one of the module's rules, for the duration of one send."""
    with monkeypatch.context() as m:
        m.setattr(envelope, name, value)
        yield


def _refused_without_state_change(pair: Pair, token: str) -> None:
    before = pair.patient.export_state()
    with pytest.raises(MalformedToken):
        pair.patient.decrypt(token, clock=pair.clock)
    assert pair.patient.export_state() == before  # no key burned, nothing moved


# --------------------------------------------------------------------------- §8 body rules


def test_receiver_rejects_a_body_over_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """§8: b ≤ 1 048 576 binds the receiver too, not only the sender."""
    pair = make_pair("body limit")
    limit = 1_048_576
    with lifted(monkeypatch, "MAX_BODY", 2 * limit):
        token = pair.physician.encrypt(b"x" * (limit + 1), clock=pair.clock).token
    _refused_without_state_change(pair, token)
    ok = pair.physician.encrypt(b"x" * limit, clock=pair.clock).token
    assert len(pair.patient.decrypt(ok, clock=pair.clock).body) == limit


@pytest.mark.parametrize("body", [b"\xff", b"caf\xc3", b"\xed\xa0\x80", b"\xc0\xaf",
                                  b"ok \xf4\x90\x80\x80"],
                         ids=["ff", "truncated", "surrogate", "overlong", "above-10ffff"])
def test_text_body_must_be_utf8_on_receive(body: bytes) -> None:
    pair = make_pair("utf8")
    token = _send_unchecked(pair, body, ContentType.TEXT)
    _refused_without_state_change(pair, token)


@pytest.mark.parametrize("body", [b"\xff", b"caf\xc3"])
def test_text_body_must_be_utf8_on_send(body: bytes) -> None:
    pair = make_pair("utf8 send")
    before = pair.physician.export_state()
    with pytest.raises(MalformedToken):
        pair.physician.encrypt(body, ContentType.TEXT, clock=pair.clock)
    assert pair.physician.export_state() == before  # no chain index used


@pytest.mark.parametrize("body", [b"", b"ack", b"[1]", b"\"x\"", b"{\"a\":1", b"{\"a\":\xff}",
                                  b"{\"a\":1} x", b"\xef\xbb\xbf{}"],
                         ids=["empty", "word", "array", "string", "cut", "not-utf8",
                              "trailing", "bom"])
def test_control_body_must_be_a_json_object(body: bytes) -> None:
    pair = make_pair("control")
    token = _send_unchecked(pair, body, ContentType.CONTROL)
    _refused_without_state_change(pair, token)
    with pytest.raises(MalformedToken):
        pair.physician.encrypt(body, ContentType.CONTROL, clock=pair.clock)


@pytest.mark.parametrize("body", [b"{}", b"{\"ack\": 1}", b" {\"t\":\"x\",\"n\":[1,2]}\n"])
def test_control_json_objects_open(body: bytes) -> None:
    pair = make_pair("control ok")
    token = pair.physician.encrypt(body, ContentType.CONTROL, clock=pair.clock).token
    assert pair.patient.decrypt(token, clock=pair.clock).body == body


def _send_unchecked(pair: Pair, body: bytes, ctype: ContentType) -> str:
    """What a sender that skips the body rules writes (the rest of the token is valid)."""
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(envelope, "check_body", lambda _ctype, _body: None, raising=False)
        return pair.physician.encrypt(body, ctype, clock=pair.clock).token
    finally:
        mp.undo()


#: 9999-12-31T23:59:59.999Z in Unix milliseconds: the last instant §8 accepts.
LAST_MS = 253_402_300_799_999


@pytest.mark.parametrize(("stamp", "ok"), [(0, True), (LAST_MS, True), (LAST_MS + 1, False),
                                           (2**64 - 1, False)])
def test_sent_at_range(monkeypatch: pytest.MonkeyPatch, stamp: int, ok: bool) -> None:
    """§8: sent-at is 1970-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z."""
    pair = make_pair("sent at")
    with lifted(monkeypatch, "_timestamp_ms", lambda _at: stamp):
        token = pair.physician.encrypt(b"hello", clock=pair.clock).token
    if ok:
        opened = pair.patient.decrypt(token, clock=pair.clock)
        assert opened.sent_at == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=stamp)
    else:
        _refused_without_state_change(pair, token)


# --------------------------------------------------------------------------- §2 one rule


def _companion_reads(epoch: int, at: datetime, grace: int) -> bool:
    schedule = EpochSchedule.begin(bytes(32), 680, grace)
    schedule.advance(at)
    try:
        schedule.check(epoch, at)
    except PolicyViolation:
        return False
    return True


class _Terms:
    start_epoch = 680
    grace_days = 7


def _instants() -> Iterator[datetime]:
    boundary = epochs.epoch_start(683)  # 2026-12-01
    grace = epochs.grace_end(682, 7)
    for base in (boundary, grace):
        for seconds in range(-600, 601, 30):
            yield base + timedelta(seconds=seconds)
    yield boundary - epochs.CLOCK_SKEW
    yield boundary - epochs.CLOCK_SKEW - timedelta(microseconds=1)


@pytest.mark.parametrize("epoch", [682, 683])
def test_one_readability_rule_for_companion_bot_and_spec(epoch: int) -> None:
    """§2 is the one rule: readable iff e ≤ epoch(t + 5 min) and t < grace_end(e, g).

    The companion (key schedule), the relay (lifecycle policy) and break-glass collection
    (``epochs.is_readable``) must agree at every instant around a month boundary and a
    grace end.
    """
    for at in _instants():
        spec = epoch <= epochs.epoch_of(at + timedelta(minutes=5)) and (
            at < epochs.grace_end(epoch, 7))
        assert epochs.is_readable(epoch, at, 7) == spec, at
        assert _companion_reads(epoch, at, 7) == spec, at
        assert (classify(_Terms(), epoch, None, at) in ("active", "retired")) == spec, at


# --------------------------------------------------------------------------- §3 whitespace


@pytest.mark.parametrize("pad", [" ", "\t", "\n", "\r\n", "\v", "\f", "  \n\t "])
def test_ascii_whitespace_around_a_token_is_ignored(pad: str) -> None:
    text = wire.encode_token(wire.encode_register(bytes(16), 682, 7, 1795430400))
    assert wire.parse_token(pad + text + pad).raw == wire.parse_token(text).raw


@pytest.mark.parametrize("pad", ["\u00a0", "\u2003", "\u3000", "\u200b", "\ufeff", "\x1c",
                                 "\x85", "\u2028"])
def test_other_characters_around_a_token_are_rejected(pad: str) -> None:
    """Python's str.strip and JavaScript's trim disagree on these; the spec names one set."""
    text = wire.encode_token(wire.encode_register(bytes(16), 682, 7, 1795430400))
    for candidate in (pad + text, text + pad):
        with pytest.raises(MalformedToken):
            wire.parse_token(candidate)


# --------------------------------------------------------------------------- §1 base64 text


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=80))
def test_b64_text_accepts_padded_and_unpadded_and_nothing_else(data: bytes) -> None:
    padded = base64.b64encode(data).decode()
    assert decode_b64_text(padded) == decode_b64_text(padded.rstrip("=")) == data


@settings(max_examples=500, deadline=None)
@given(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n",
               max_size=60))
def test_b64_text_has_one_spelling_per_value(text: str) -> None:
    try:
        raw = decode_b64_text(text)
    except MalformedToken:
        return
    canonical = base64.b64encode(raw).decode()
    assert text.strip(" \n") in (canonical, canonical.rstrip("="))


# --------------------------------------------------------------------------- §3 fixed sizes


def _fixed_size_tokens() -> dict[str, bytes]:
    pair = make_pair("fixed sizes")
    deposit = wire.encode_sealed_header(
        wire.Kind.ESCROW_DEPOSIT, bytes(16), epoch=682,
        direction=wire.Direction.PATIENT_TO_PHYSICIAN, index=0, nonce=bytes(24)) + bytes(195)
    return {
        "register": wire.encode_register(bytes(16), 682, 7, 1795430400),
        "accept": wire.parse_token(pair.accept_token).raw,
        "deposit": deposit,
    }


@pytest.mark.parametrize(("kind", "size"), [("register", 33), ("accept", 115),
                                            ("deposit", 246)])
def test_every_fixed_size_kind_rejects_any_other_length(kind: str, size: int) -> None:
    raw = _fixed_size_tokens()[kind]
    assert len(raw) == size and wire.parse_raw(raw).raw == raw
    for other in (raw[:-1], raw + b"\x00", raw + bytes(100), raw[:size - 10]):
        with pytest.raises(MalformedToken):
            wire.parse_raw(other)


@pytest.mark.parametrize(("pad", "ok"), [(" \t\r\n", True), ("\u00a0", False),
                                         ("\u2003", False), ("\x1c", False)])
def test_v1_tokens_follow_the_same_whitespace_rule(pad: str, ok: bool) -> None:
    """§16 says "surrounding whitespace is ignored": the same ASCII set as §3."""
    from medcrypt.crypto.endpoint import v1

    text = ("[MEDCRYPT:v1:cGF0aWVudC0wMDQy:AQEBAQEBAQEBAQEB:imp63XltGGUFpm4f7iOsH9qaGA==:"
            "Vs9N9gGwiCdF5MK2AFlSFg==]")
    if ok:
        assert v1.parse_v1(pad + text + pad) == v1.parse_v1(text)
    else:
        with pytest.raises(MalformedToken):
            v1.parse_v1(pad + text)
