"""Properties of what the provider layer parses: wrapped headers, contexts, env values.

Bad input is a typed error and nothing else: a wrapped value of any bytes is refused as
MalformedToken, DecryptionFailed or KeyVersionMissing; a context is accepted exactly
when it is valid, encodes canonically (order does not matter) and injectively (two
different contexts never share an encoding), and never carries a phone number.
"""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from medcrypt.crypto.errors import DecryptionFailed, KeyVersionMissing, MalformedToken
from medcrypt.crypto.server.env_provider import EnvProvider
from medcrypt.crypto.server.provider import (
    check_context,
    encode_context,
    split_wrapped,
    wrap_header,
    wrapped_version,
)

KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
VALUES = st.from_regex(r"[A-Za-z0-9._:/=-]{1,20}", fullmatch=True)
CONTEXTS = st.dictionaries(KEYS, VALUES, max_size=6).map(lambda d: {"purpose": "p", **d})
PROVIDER = EnvProvider({1: os.urandom(32), 2: os.urandom(32)}, os.urandom(32))


def _valid(context: dict[str, str]) -> bool:
    try:
        check_context(context)
    except ValueError:
        return False
    return True


@settings(max_examples=200, deadline=None)
@given(CONTEXTS, CONTEXTS)
def test_context_encoding_is_canonical_and_injective(a: dict[str, str],
                                                     b: dict[str, str]) -> None:
    if not (_valid(a) and _valid(b)):
        return
    assert encode_context(a) == encode_context(dict(reversed(list(a.items()))))
    assert (encode_context(a) == encode_context(b)) == (a == b)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=12), st.text(max_size=40), max_size=10))
def test_any_mapping_is_a_valid_context_or_a_value_error(context: dict[str, str]) -> None:
    try:
        checked = check_context(context)
    except ValueError as exc:
        assert all(v not in str(exc) for v in context.values() if len(v) > 3)
        return
    assert checked == context and "purpose" in checked
    assert not any(v.startswith("+") for v in checked.values())


@given(st.from_regex(r"\+?[0-9]{10,15}", fullmatch=True))
def test_phone_numbers_never_enter_a_context(phone: str) -> None:
    try:
        check_context({"purpose": "identity", "id": phone})
    except ValueError as exc:
        assert "phone number" in str(exc) and phone not in str(exc)
    else:  # pragma: no cover - the property failing
        raise AssertionError("a phone number was accepted")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_unwrap_to_a_typed_error(data: bytes) -> None:
    for candidate in (data, b"E1" + data):
        try:
            PROVIDER.unwrap(candidate, {"purpose": "p"})
        except (MalformedToken, DecryptionFailed, KeyVersionMissing):
            continue
        raise AssertionError("random bytes unwrapped")  # pragma: no cover


@given(st.binary(min_size=2, max_size=2), st.integers(1, 0xFFFF), st.binary(min_size=1,
                                                                             max_size=64))
def test_header_round_trip(tag: bytes, version: int, body: bytes) -> None:
    wrapped = wrap_header(tag, version) + body
    assert split_wrapped(wrapped, tag) == (version, body)
    assert wrapped_version(wrapped) == version
