"""The plaintext guard's rules: what of a chat message the relay carries, and what not.

A chat with the relay carries ciphertext, and commands. Everything else a *paired*
user sends (a member of a pending or active pairing) is **guarded**: not relayed, not
stored, not logged; the sender is told why, once per message; the message is removed
from their chat where the platform lets a bot do that (Telegram; on WhatsApp the
sender is asked to delete it); an audit entry records what kind of thing it was,
never its content. An unpaired sender is answered (welcome text, or the reason a
token was refused) and nothing of theirs is deleted or kept.

The rules, applied to the text of a message or the caption of a document or media:

1. **Command.** One line ``/name [arguments]``, at most 256 characters, whose name is
   registered (:mod:`bot.commands.registry`). It runs, arguments and all. Nothing
   else is a command: an unknown name, or a known one with more lines after it, is
   text and falls to rule 5.
2. **Tokens.** Every ``[MEDCRYPT:v2:...]`` or ``[MEDCRYPT:v3:...]`` in the text that
   parses (PROTOCOL §3) is a well-formed token and is handled as one: relayed, or
   refused with its reason (a refused token is still a token: it is not deleted). At
   most 64 per message.
3. **Leftover.** What remains once the well-formed tokens are taken out, stripped. An
   empty leftover needs nothing more.
4. **Pieces of a paste.** A leftover that is the whole message and one piece of a
   token a chat app split (Telegram clients cut pastes longer than 4096 characters
   into several messages) waits for the rest (:mod:`bot.relay.fragments`): a head
   ``[MEDCRYPT:v2:`` (or ``v3:``) + base64, a middle of base64 only, a tail of base64
   + ``]``.
   Head and middle pieces are at least :data:`MIN_PIECE_CHARS` long - a client cuts
   near its limit, and no typed text runs that long without a space. The pieces are
   relayed once rejoined; pieces not rejoined within the window are guarded then.
5. **Everything else in the leftover is guarded**, with the most telling reason:
   an old v1 token, a token that does not parse (broken, or an unknown kind), any
   other ``[MEDCRYPT:`` text, a line starting with ``/``, or plain words ("the
   words with your encrypted message were not sent" when rule 2 or 7 carried
   something).
6. **Media.** A photo, voice note, video, sticker, contact card, poll, or content the
   adapter cannot name is guarded whatever its caption; a location is guarded with its
   own explanation. Tokens in the caption are still relayed (rule 2).
7. **Documents.** A document is relayed when it is an encrypted file (PROTOCOL §3.5
   header), else guarded (:mod:`bot.relay.router`); its caption is text (rules 2-5).
8. **Edits.** A message the user edits after sending is guarded as a whole, whatever
   it now says: nothing of it is relayed again (the original was handled when it was
   sent), and an edit that turned a token into words must not stay in the chat.

This module only reads: it decides, :mod:`bot.relay.guarding` acts.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from medcrypt.bot.commands.dispatch import MAX_COMMAND_CHARS
from medcrypt.crypto.errors import MalformedToken
from medcrypt.crypto.keyless.wire import Kind, Token, find_tokens, parse_token

#: Most tokens taken from one chat message (a paste of a whole conversation is refused).
MAX_TOKENS_PER_MESSAGE = 64
#: Shortest head or middle piece of a split paste (see rule 4).
MIN_PIECE_CHARS = 1024

_PREFIX = "[MEDCRYPT:"
_V1_PREFIX = "[MEDCRYPT:V1:"
_HEAD = re.compile(r"\[MEDCRYPT:v[23]:[A-Za-z0-9+/]*")  # v2 and v3 pastes alike
_MIDDLE = re.compile(r"[A-Za-z0-9+/]+")
_TAIL = re.compile(r"[A-Za-z0-9+/]*\]")


class Leftover(StrEnum):
    """What remains of a message once its tokens are taken out (rules 3-5)."""

    NONE = "none"
    PIECE = "piece"
    V1 = "v1_token"
    UNKNOWN_KIND = "unknown_kind"
    MALFORMED = "malformed_token"
    COMMAND = "command"
    TEXT = "text"


class PieceKind(StrEnum):
    HEAD = "head"
    MIDDLE = "middle"
    TAIL = "tail"


@dataclass(frozen=True)
class Piece:
    """One message's worth of a token a chat app split (rule 4)."""

    kind: PieceKind
    text: str


@dataclass(frozen=True)
class Reading:
    """A message's text read by the rules: the tokens to handle and what is left."""

    tokens: list[tuple[str, Token]] = field(default_factory=list)
    leftover: Leftover = Leftover.NONE
    piece: Piece | None = None


def is_command(text: str, known: Callable[[str], bool]) -> bool:
    """Rule 1: ``/name [arguments]`` on one line, with a registered name."""
    if not text.startswith("/") or len(text) > MAX_COMMAND_CHARS or "\n" in text \
            or "\r" in text:
        return False
    return known(text.split(maxsplit=1)[0][1:].lower())


def read(text: str) -> Reading:
    """Rules 2-5 over ``text`` (stripped); pure, so every rule is testable alone."""
    text = text.strip()
    found = find_tokens(text)
    if len(found) > MAX_TOKENS_PER_MESSAGE:
        return Reading(leftover=Leftover.MALFORMED)
    tokens: list[tuple[str, Token]] = []
    worst = Leftover.NONE
    for token_text in found:
        try:
            tokens.append((token_text, parse_token(token_text)))
        except MalformedToken:
            worst = _worse(worst, Leftover.UNKNOWN_KIND if _unknown_kind(token_text)
                           else Leftover.MALFORMED)
    rest = text
    for token_text in found:
        rest = rest.replace(token_text, " ", 1)
    rest = rest.strip()
    piece = None if found else piece_of(rest)
    if piece is not None:
        return Reading(tokens, Leftover.PIECE, piece)
    return Reading(tokens, _worse(worst, _leftover(rest)))


def piece_of(text: str) -> Piece | None:
    """Rule 4: ``text`` as one piece of a split paste, or None."""
    if _HEAD.fullmatch(text) and len(text) >= MIN_PIECE_CHARS:
        return Piece(PieceKind.HEAD, text)
    if _MIDDLE.fullmatch(text) and len(text) >= MIN_PIECE_CHARS:
        return Piece(PieceKind.MIDDLE, text)
    if _TAIL.fullmatch(text):
        return Piece(PieceKind.TAIL, text)
    return None


#: Which reason a notice gives when a message has several (most telling first).
_ORDER = (Leftover.V1, Leftover.UNKNOWN_KIND, Leftover.MALFORMED,
          Leftover.COMMAND, Leftover.TEXT, Leftover.NONE)


def _worse(a: Leftover, b: Leftover) -> Leftover:
    return a if _ORDER.index(a) <= _ORDER.index(b) else b


def _leftover(rest: str) -> Leftover:
    if not rest:
        return Leftover.NONE
    upper = rest.upper()
    if _V1_PREFIX in upper:
        return Leftover.V1
    if _PREFIX in upper:
        return Leftover.MALFORMED
    if rest.startswith("/"):
        return Leftover.COMMAND
    return Leftover.TEXT


def _unknown_kind(token_text: str) -> bool:
    """Tell "unknown kind" from garbage, for a more useful reply."""
    payload = token_text.strip()[len("[MEDCRYPT:v2:"):-1]
    try:
        raw = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
    except ValueError:
        return False
    # KEY_CONFIRM and PIN_RECORD (kinds 6, 8) exist in v3 only: unknown kinds in v2.
    return len(raw) >= 2 and raw[0] == 2 and (
        raw[1] not in {k.value for k in Kind} or raw[1] in (Kind.KEY_CONFIRM, Kind.PIN_RECORD))
