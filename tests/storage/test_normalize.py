"""Address normalization: the blind index only works if equal addresses normalize equally."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcrypt.crypto.errors import MalformedToken
from medcrypt.storage.normalize import normalize_address, normalize_chat_id, normalize_phone


@pytest.mark.parametrize(
    "raw",
    ["+491512345678", "whatsapp:+491512345678", "WhatsApp:+49 151 2345-678",
     "0049 (151) 2345678", " +49.151.234.5678 "],
)
def test_phone_forms_agree(raw: str) -> None:
    assert normalize_phone(raw) == "+491512345678"


@pytest.mark.parametrize(
    "raw", ["", "+", "491512345678", "+0491512345678", "+12345", "+1234567890123456",
            "+49151234567a", "+４９１５１２３４５６７８", "whatsapp:"],
)
def test_bad_phones_are_refused_without_echo(raw: str) -> None:
    with pytest.raises(MalformedToken) as info:
        normalize_phone(raw)
    assert raw.strip() == "" or raw not in str(info.value)


def test_chat_ids() -> None:
    assert normalize_chat_id(-1001234567890) == "-1001234567890"
    assert normalize_chat_id(" 42 ") == "42"
    for bad in ("", "0", "-0", "042", "4.2", "١٢٣"):
        with pytest.raises(MalformedToken):
            normalize_chat_id(bad)
    with pytest.raises(MalformedToken):
        normalize_address("signal", "42")


@given(st.integers(min_value=1, max_value=10**19))
def test_chat_id_round_trip(n: int) -> None:
    assert normalize_address("telegram", n) == str(n)
    assert normalize_address("telegram", -n) == str(-n)


@given(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True),
       st.sampled_from(["", "whatsapp:", "WHATSAPP:"]), st.sampled_from(["", " ", "-"]))
def test_phone_normalization_is_idempotent(e164: str, prefix: str, sep: str) -> None:
    spaced = e164[:3] + sep + e164[3:]
    assert normalize_phone(prefix + spaced) == e164
    assert normalize_phone(normalize_phone(e164)) == e164


@given(st.text(max_size=40), st.sampled_from(["telegram", "whatsapp", "x"]))
def test_normalizer_raises_only_malformed(text: str, platform: str) -> None:
    try:
        out = normalize_address(platform, text)
    except MalformedToken:
        return
    assert out.isascii()
