"""The reply splitter on its own: units, cut points, tokens (bot/domain/splitting.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcrypt.bot.domain.splitting import characters, split_reply, utf16_units
from medcrypt.crypto.keyless.wire import Direction
from tests.support.tokens import message_token


def test_utf16_units_count_astral_characters_twice() -> None:
    assert utf16_units("abc") == 3
    assert utf16_units("é") == 1
    assert utf16_units("🩺") == 2
    assert characters("🩺") == 1


def test_text_that_fits_is_one_message_unchanged() -> None:
    assert split_reply("a\nb  ", 10) == ["a\nb  "]


def test_cuts_between_lines_first() -> None:
    text = "\n".join(f"line {n:02d}" for n in range(10))  # 7 characters a line
    parts = split_reply(text, 20)
    assert parts == ["line 00\nline 01", "line 02\nline 03", "line 04\nline 05",
                     "line 06\nline 07", "line 08\nline 09"]


def test_emoji_lines_are_measured_in_utf16_units() -> None:
    text = "\n".join(["🩺" * 10] * 4)  # 43 characters, 83 UTF-16 units
    assert split_reply(text, 43, characters) == [text]
    parts = split_reply(text, 43, utf16_units)
    assert len(parts) == 2
    assert all(utf16_units(p) <= 43 for p in parts)
    assert "\n".join(parts) == text


def test_a_long_line_is_cut_between_words() -> None:
    text = "word " * 30
    parts = split_reply(text.strip(), 22)
    assert all(len(p) <= 22 for p in parts)
    assert " ".join(parts).split() == text.split()


def test_a_token_is_never_cut() -> None:
    token = message_token(b"\x01" * 16, Direction.PHYSICIAN_TO_PATIENT, body_len=60)
    text = "Your offer: " + token + " paste it in the companion."
    parts = split_reply(text, 60)
    assert token in parts


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=50),
                max_size=30), st.integers(min_value=1, max_value=80))
def test_every_piece_fits_and_nothing_is_lost(lines: list[str], limit: int) -> None:
    text = "\n".join(lines)
    parts = split_reply(text, limit, utf16_units)
    for part in parts:
        assert utf16_units(part) <= max(limit, 2)  # one astral character is 2 units
    assert "".join("".join(parts).split()) == "".join(text.split())


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        split_reply("x", 0)
