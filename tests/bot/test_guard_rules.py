"""The guard's rules one by one, on text alone (bot.relay.guard is pure)."""

from __future__ import annotations

import os

import pytest

from medcrypt.bot.relay.guard import (
    MAX_TOKENS_PER_MESSAGE,
    MIN_PIECE_CHARS,
    Leftover,
    PieceKind,
    is_command,
    piece_of,
    read,
)
from medcrypt.crypto.keyless.wire import Direction, encode_token
from tests.support.tokens import message_token

KNOWN = {"status", "help", "admin_add"}.__contains__
TOKEN = message_token(os.urandom(16), Direction.PATIENT_TO_PHYSICIAN)


@pytest.mark.parametrize(("text", "expected"), [
    ("/status", True), ("/STATUS", True), ("/admin_add telegram:42", True),
    ("/frobnicate", False), ("/status\nmy HbA1c is 9", False), ("/status\r\nx", False),
    ("/help " + "x" * 300, False), ("status", False), ("/", False), ("", False),
])
def test_a_command_is_one_registered_line(text: str, expected: bool) -> None:
    assert is_command(text, KNOWN) is expected


@pytest.mark.parametrize(("text", "leftover", "tokens"), [
    ("", Leftover.NONE, 0),
    (TOKEN, Leftover.NONE, 1),
    (f"  {TOKEN}\n{TOKEN} ", Leftover.NONE, 2),
    (f"{TOKEN} take two tablets", Leftover.TEXT, 1),
    ("I have chest pain", Leftover.TEXT, 0),
    ("/frobnicate now", Leftover.COMMAND, 0),
    ("[MEDCRYPT:v2:not*base64]", Leftover.MALFORMED, 0),
    ("[MEDCRYPT:v2:QUJD]", Leftover.MALFORMED, 0),  # the regex's shape, not a token
    (encode_token(bytes([2, 9]) + os.urandom(60)), Leftover.UNKNOWN_KIND, 0),
    ("[MEDCRYPT:v1:cGlk:bm9uY2U:Y3Q:dGFn]", Leftover.V1, 0),
    (f"[medcrypt:v1:x] {TOKEN} words", Leftover.V1, 1),  # the most telling reason wins
], ids=["empty", "token", "two-tokens-spaced", "token-words", "words", "unknown-command",
        "bad-base64", "regex-shape", "unknown-kind", "v1", "v1-token-words"])
# Fixed ids: the tokens are random, and xdist workers must collect the same names.
def test_read_takes_out_well_formed_tokens_and_names_the_leftover(
        text: str, leftover: Leftover, tokens: int) -> None:
    reading = read(text)
    assert reading.leftover is leftover
    assert len(reading.tokens) == tokens
    assert reading.piece is None


def test_more_tokens_than_a_message_may_carry_are_refused_whole() -> None:
    reading = read(" ".join([TOKEN] * (MAX_TOKENS_PER_MESSAGE + 1)))
    assert reading.tokens == [] and reading.leftover is Leftover.MALFORMED


def test_pieces_of_a_split_paste() -> None:
    body = "A" * MIN_PIECE_CHARS
    assert piece_of("[MEDCRYPT:v2:" + body) is not None
    assert piece_of("[MEDCRYPT:v2:" + body).kind is PieceKind.HEAD  # type: ignore[union-attr]
    assert piece_of(body + "+/").kind is PieceKind.MIDDLE  # type: ignore[union-attr]
    assert piece_of("AB/+]").kind is PieceKind.TAIL  # type: ignore[union-attr]
    # Short heads and middles are no client split; spaces or other characters are text.
    assert piece_of("[MEDCRYPT:v2:AAAA") is None
    assert piece_of("A" * (MIN_PIECE_CHARS - 1)) is None
    assert piece_of(body + " " + body) is None
    assert piece_of(body + "=") is None
    reading = read("[MEDCRYPT:v2:" + body)
    assert reading.leftover is Leftover.PIECE and reading.piece is not None
    # A piece must be the whole message: next to a token it is a broken token.
    assert read(f"{TOKEN} [MEDCRYPT:v2:{body}").leftover is Leftover.MALFORMED
    assert read("hello").piece is None  # short base64-alphabet words are text
