"""Property tests for the bot's own parsers (Hypothesis)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from medcrypt.bot.adapters.channels import parse_target
from medcrypt.bot.adapters.whatsapp_webhook import parse_form
from medcrypt.bot.commands.admins import mask


@given(st.text(max_size=64))
def test_parse_target_accepts_only_well_formed_addresses(text: str) -> None:
    result = parse_target(text)
    if result is not None:
        platform, address = result
        assert platform in ("telegram", "whatsapp")
        digits = address.removeprefix("whatsapp:+").lstrip("-")
        assert digits.isdigit() and digits.isascii()


@given(st.integers(min_value=1, max_value=10**15))
def test_parse_target_round_trips_numbers(n: int) -> None:
    assert parse_target(f"telegram:{n}") == ("telegram", str(n))


@given(st.text(min_size=4, max_size=20))
def test_mask_never_reveals_more_than_three_characters(address: str) -> None:
    assert len(mask(address).removeprefix("…")) <= 3


@given(st.dictionaries(st.text(min_size=1, max_size=10).filter(lambda k: "\x00" not in k),
                       st.text(max_size=20), max_size=8))
def test_parse_form_round_trips_urlencoded(params: dict[str, str]) -> None:
    from urllib.parse import urlencode

    body = urlencode(params).encode()
    parsed = parse_form(body, "application/x-www-form-urlencoded")
    assert parsed is not None
    assert parsed == {k: v for k, v in params.items()} or not params


def test_parse_form_refuses_repeated_keys_and_other_types() -> None:
    assert parse_form(b"a=1&a=2", "application/x-www-form-urlencoded") is None
    assert parse_form(b"{}", "application/json") is None
