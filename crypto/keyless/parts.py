"""Splitting a token to fit a platform's character limit, and joining it back (keyless).

WhatsApp through Twilio carries at most 1600 characters per message and Telegram 4096,
while a token with a large body can be far longer.  A token is split into PART tokens,
each a complete ``[MEDCRYPT:v2:...]`` text that carries a slice of the original binary
token; the receiver (or the bot, re-splitting for another platform) joins them in any
order.  Nothing here needs or sees a key: integrity comes from the AEAD of the joined
token, so a forged part only makes the joined token fail to open.

Limits are enforced before any memory is committed so a stream of hostile parts cannot
exhaust the bot: at most :data:`MAX_PARTS` per token, :data:`MAX_PENDING_GROUPS`
unfinished tokens per assembler, and :data:`crypto.keyless.wire.MAX_TOKEN_BYTES` per token.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from medcrypt.crypto.errors import LimitExceeded, MalformedToken
from medcrypt.crypto.keyless.wire import (
    GROUP_ID_LEN,
    MAX_TOKEN_BYTES,
    PART_HEADER_LEN,
    WRAPPER_CHARS,
    Kind,
    encode_part,
    encode_token,
    parse_raw,
    parse_token,
)

#: Most parts one token may be split into (2 MiB at WhatsApp's 1600 characters needs ~1830).
MAX_PARTS = 2048
#: Most unfinished tokens an assembler tracks at once.
MAX_PENDING_GROUPS = 64
#: Smallest character limit that still leaves room for a one-byte chunk.
MIN_MAX_CHARS = WRAPPER_CHARS + 4 * ((PART_HEADER_LEN + 1 + 2) // 3)


def _chunk_capacity(max_chars: int) -> int:
    """Binary bytes of payload one PART token can carry within ``max_chars`` characters."""
    payload_chars = max_chars - WRAPPER_CHARS
    # Unpadded base64 of n bytes is ceil(4n/3) characters.
    return (payload_chars * 3) // 4 - PART_HEADER_LEN


def split_token(
    token_text: str, max_chars: int, *, rng: Callable[[int], bytes] = os.urandom,
) -> list[str]:
    """``[token_text]`` if it fits in ``max_chars``, else PART tokens that each fit.

    All parts but the last carry the same number of bytes, so part sizes only reveal what
    the (padded) token size already reveals.
    """
    token = parse_token(token_text)
    if token.header.kind is Kind.PART:
        raise MalformedToken("a part cannot be split again; join the parts first")
    canonical = encode_token(token.raw)
    if len(canonical) <= max_chars:
        return [canonical]
    if max_chars < MIN_MAX_CHARS:
        raise LimitExceeded(f"a character limit of {max_chars} is too small for a part")
    capacity = _chunk_capacity(max_chars)
    count = -(-len(token.raw) // capacity)
    if count > MAX_PARTS:
        raise LimitExceeded(f"token would need {count} parts (limit {MAX_PARTS})")
    group_id = rng(GROUP_ID_LEN)
    return [
        encode_token(encode_part(group_id, i, count, token.raw[i * capacity:(i + 1) * capacity],
                                 version=token.header.version))
        for i in range(count)
    ]


@dataclass(slots=True)
class _Group:
    count: int
    chunks: dict[int, bytes] = field(default_factory=dict)
    size: int = 0


class PartAssembler:
    """Collects PART tokens of possibly many tokens and yields each once it is complete.

    Parts may arrive in any order and more than once; an identical duplicate is ignored,
    a part that contradicts an earlier one (same slot, other bytes; other count) raises
    :class:`MalformedToken`.  A whole (non-PART) token passed in is returned as is.
    """

    def __init__(self, *, max_pending: int = MAX_PENDING_GROUPS) -> None:
        self._groups: dict[bytes, _Group] = {}
        self._max_pending = max_pending

    @property
    def pending(self) -> int:
        """How many tokens are partly received."""
        return len(self._groups)

    def add(self, part_text: str) -> str | None:
        """Add one token text; return the joined token text if this completed it."""
        token = parse_token(part_text)
        if token.header.kind is not Kind.PART or token.part is None:
            return encode_token(token.raw)
        part = token.part
        if part.count > MAX_PARTS:
            raise LimitExceeded(f"token announces {part.count} parts (limit {MAX_PARTS})")
        group = self._groups.get(part.group_id)
        if group is None:
            if len(self._groups) >= self._max_pending:
                raise LimitExceeded("too many partly received tokens")
            group = _Group(part.count)
            self._groups[part.group_id] = group
        if group.count != part.count:
            raise MalformedToken("parts of one token disagree on the part count")
        known = group.chunks.get(part.index)
        if known is not None:
            if known != part.chunk:
                raise MalformedToken("two different parts claim the same position")
            return None
        if group.size + len(part.chunk) > MAX_TOKEN_BYTES:
            del self._groups[part.group_id]
            raise LimitExceeded("joined token would be too large")
        group.chunks[part.index] = part.chunk
        group.size += len(part.chunk)
        if len(group.chunks) < group.count:
            return None
        del self._groups[part.group_id]
        return join_chunks([group.chunks[i] for i in range(group.count)])


def join_chunks(chunks: list[bytes]) -> str:
    """The token text of the raw PART chunks of one token, given in index order.

    For callers that keep parts somewhere other than memory (the bot keeps each chunk
    in its database until the last one arrives): the same checks as the assembler.
    """
    if sum(len(c) for c in chunks) > MAX_TOKEN_BYTES:
        raise LimitExceeded("joined token would be too large")
    raw = b"".join(chunks)
    joined = parse_raw(raw)
    if joined.header.kind is Kind.PART:
        raise MalformedToken("a joined token cannot itself be a part")
    return encode_token(raw)


def join_parts(texts: list[str]) -> str:
    """Join the parts of exactly one token (any order, duplicates allowed).

    A single whole token is returned as is; parts of two different tokens, or a set
    with a part missing, raise :class:`MalformedToken`.
    """
    tokens = [parse_token(t) for t in texts]
    groups = {t.part.group_id if t.part is not None else t.raw for t in tokens}
    if len(groups) != 1:
        raise MalformedToken("the texts are not the parts of exactly one token")
    assembler = PartAssembler(max_pending=1)
    result: str | None = None
    for token in tokens:
        result = assembler.add(encode_token(token.raw)) if result is None else result
    if result is None:
        raise MalformedToken("not all parts of the token were given")
    return result
