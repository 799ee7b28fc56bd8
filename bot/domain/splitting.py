"""Split a reply into messages that each fit the destination platform's limit.

Why at send time, on the finished text: the limit belongs to the recipient's platform,
and the text that has to fit is the one that is finally sent - after any translation
for that recipient, after a list such as ``/status`` grew with the number of pairings.
Splitting anywhere earlier measures a text that is not the one that goes out. The
outbox worker therefore splits each notice just before its adapter sends it
(:mod:`bot.outbox.worker`), and the adapters split the replies they send directly.

How it is measured: each platform counts in its own unit (:class:`Measure`). Telegram
limits ``sendMessage`` to 4096 UTF-16 code units - an emoji or any character outside
the Basic Multilingual Plane counts twice - and answers "Bad Request: message is too
long" above that; Twilio refuses a WhatsApp body over 1600 characters (error 21617).

Where it cuts, in order of preference: between lines (a list stays one item per line),
then between words, and only for a single word longer than a whole message, inside
that word. Never inside a ``[MEDCRYPT:...]`` token: a token cut in two is two pieces of
plaintext-looking text to the recipient's companion. Relayed tokens never come here
(the relay re-splits them into PART tokens, :func:`crypto.keyless.parts.split_token`);
a token quoted in a notice is kept whole in a message of its own if it must be.
"""

from __future__ import annotations

import re
from collections.abc import Callable

#: How a platform counts the length of a text.
Measure = Callable[[str], int]
_TOKEN = re.compile(r"\[MEDCRYPT:[^\]\s]*\]")
_WORDS = re.compile(r"\S+\s*|\s+")


def utf16_units(text: str) -> int:
    """Length in UTF-16 code units (Telegram's unit): two for every astral character."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def characters(text: str) -> int:
    """Length in Unicode code points (Twilio's "characters" for WhatsApp bodies)."""
    return len(text)


def split_reply(text: str, limit: int, measure: Measure = characters) -> list[str]:
    """``text`` as consecutive messages of at most ``limit`` units each (see module doc).

    Joined with newlines the messages read as the original, minus the whitespace at the
    cuts. A text that fits comes back as one message, unchanged.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    if measure(text) <= limit:
        return [text]
    chunks: list[str] = []
    current = ""
    for piece in _pieces(text, limit, measure):
        if current and measure(current + piece) > limit:
            chunks.append(current)
            current = piece.lstrip("\n")
        else:
            current += piece
    chunks.append(current)
    return [c.rstrip() for c in chunks if c.strip()]


def _pieces(text: str, limit: int, measure: Measure) -> list[str]:
    """Lines (with their newline) that fit; lines that do not, as words that fit."""
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        if measure(line.rstrip("\n")) <= limit:
            out.append(line)
            continue
        for word in _WORDS.findall(line):
            out += _cut_word(word, limit, measure)
    return out


def _cut_word(word: str, limit: int, measure: Measure) -> list[str]:
    """A word longer than a whole message, cut at the limit - unless it is a token."""
    if measure(word.rstrip()) <= limit or _TOKEN.fullmatch(word.strip()):
        return [word]
    cuts: list[str] = []
    current = ""
    for ch in word:  # by code point: a surrogate pair is never cut
        if current and measure(current + ch) > limit:
            cuts.append(current)
            current = ""
        current += ch
    cuts.append(current)
    return cuts
