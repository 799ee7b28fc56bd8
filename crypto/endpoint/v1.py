"""Read-only migration of MEDCRYPT v1 tokens (DESIGN §3.3, issue 3).

The earlier product wrote ``[MEDCRYPT:v1:pid_b64:nonce_b64:ct_b64:tag_b64]``:

* ``pid`` - the patient id bytes, used as AES-GCM associated data (this is why the bot
  does not relay v1: the header exposes the patient id);
* ``nonce`` - 12 bytes (96-bit GCM nonce); ``ct`` - the ciphertext; ``tag`` - 16 bytes;
* key = PBKDF2-HMAC-SHA256(password = UTF-8 shared secret,
  salt = HMAC-SHA256(key = secret, msg = ASCII "YYYY-MM")[:16], 600 000 iterations, 32 B).

Each field is standard base64 (``A-Z a-z 0-9 + /``); ``=`` padding is accepted but not
required, any other character is refused. Nothing here can *write* v1: the format leaks
the patient id and derives keys from a low-entropy shared secret, so it is only ever
opened to migrate old conversations.

Key derivation costs ~0.1 s (600 000 PBKDF2 rounds), so derived keys are cached per
(secret, month) for the life of the process only - never written anywhere.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.errors import ConfigError, DecryptionFailed, MalformedToken
from medcrypt.crypto.keyless.wire import ASCII_WHITESPACE

PBKDF2_ITERATIONS = 600_000
KEY_LEN = 32
SALT_LEN = 16
NONCE_LEN = 12
TAG_LEN = 16
#: Bounds that keep a hostile token from costing memory (v1 carried chat text).
MAX_PATIENT_ID_LEN = 256
MAX_CIPHERTEXT_LEN = 1024 * 1024
MAX_TOKEN_CHARS = 16 + 4 * (MAX_PATIENT_ID_LEN + MAX_CIPHERTEXT_LEN + 64) // 3 + 64
_CACHE_MAX = 64

_FIELD = r"[A-Za-z0-9+/]*={0,2}"
V1_TOKEN_RE = re.compile(rf"\[MEDCRYPT:v1:({_FIELD}):({_FIELD}):({_FIELD}):({_FIELD})\]")
#: Anything that starts like a v1 token (used to give a helpful hint).
V1_PREFIX = "[MEDCRYPT:v1:"
_MONTH_RE = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")

_key_cache: dict[tuple[bytes, str], bytes] = {}


@dataclass(frozen=True, slots=True)
class V1Token:
    """The fields of a parsed v1 token."""

    patient_id: bytes
    nonce: bytes
    ciphertext: bytes
    tag: bytes


@dataclass(frozen=True, slots=True)
class V1Message:
    """An opened v1 token."""

    patient_id: bytes
    plaintext: bytes


def _b64(field: str, what: str) -> bytes:
    """Standard base64, padding optional but complete if present, canonical bits."""
    if len(field) % 4 == 1 or ("=" in field and len(field) % 4):
        raise MalformedToken(f"v1 token {what} has an impossible base64 length")
    bare = field.rstrip("=")
    try:
        raw = base64.b64decode(bare + "=" * (-len(bare) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise MalformedToken(f"v1 token {what} is not base64") from None
    if base64.b64encode(raw).decode("ascii").rstrip("=") != bare:
        raise MalformedToken(f"v1 token {what} is not canonical base64")
    return raw


def find_v1_tokens(text: str) -> list[str]:
    """Every complete v1 token text inside ``text``."""
    return [m.group(0) for m in V1_TOKEN_RE.finditer(text)]


def parse_v1(text: str) -> V1Token:
    """Parse one v1 token text (surrounding ASCII whitespace allowed, as for v2 tokens in
    PROTOCOL §3). Raises MalformedToken."""
    if not isinstance(text, str):
        raise MalformedToken("v1 token must be text")
    text = text.strip(ASCII_WHITESPACE)
    if len(text) > MAX_TOKEN_CHARS:
        raise MalformedToken("v1 token is too long")
    match = V1_TOKEN_RE.fullmatch(text)
    if match is None:
        raise MalformedToken("not a MEDCRYPT v1 token")
    pid = _b64(match.group(1), "patient id")
    nonce = _b64(match.group(2), "nonce")
    ct = _b64(match.group(3), "ciphertext")
    tag = _b64(match.group(4), "tag")
    if not 0 < len(pid) <= MAX_PATIENT_ID_LEN:
        raise MalformedToken("v1 token patient id has a bad length")
    if len(nonce) != NONCE_LEN or len(tag) != TAG_LEN:
        raise MalformedToken("v1 token nonce or tag has a bad length")
    if len(ct) > MAX_CIPHERTEXT_LEN:
        raise MalformedToken("v1 token ciphertext is too long")
    return V1Token(pid, nonce, ct, tag)


def check_month(month: str) -> str:
    """Validate ``YYYY-MM`` (the v1 key is per calendar month)."""
    if not isinstance(month, str) or _MONTH_RE.fullmatch(month) is None:
        raise ConfigError("month", "must be written YYYY-MM (e.g. 2025-03)")
    return month


def derive_key(secret: str, month: str) -> bytes:
    """The v1 monthly key; cached per (secret, month) in this process only."""
    month = check_month(month)
    if not secret:
        raise ConfigError("secret", "the v1 shared secret is empty")
    secret_bytes = secret.encode("utf-8")
    # Cache by a digest so the dict does not become a second copy of the secret.
    cache_key = (prim.sha256(b"medcrypt v1 cache\x00" + secret_bytes), month)
    cached = _key_cache.get(cache_key)
    if cached is not None:
        return cached
    salt = prim.hmac_sha256(secret_bytes, month.encode("ascii"))[:SALT_LEN]
    key = prim.pbkdf2_sha256(secret_bytes, salt, PBKDF2_ITERATIONS, KEY_LEN)
    if len(_key_cache) >= _CACHE_MAX:
        _key_cache.pop(next(iter(_key_cache)))
    _key_cache[cache_key] = key
    return key


def clear_key_cache() -> None:
    """Forget every derived v1 key (e.g. once a migration run is finished)."""
    _key_cache.clear()


def open_v1_with_key(token: V1Token, key: bytes) -> bytes:
    """AES-256-GCM open of a parsed token under an already derived key."""
    if len(key) != KEY_LEN:
        raise DecryptionFailed
    return prim.aes256gcm_decrypt(key, token.nonce, token.ciphertext + token.tag,
                                  token.patient_id)


def decrypt_v1(text: str, secret: str, month: str) -> V1Message:
    """Open a v1 token with the shared secret and the month (``YYYY-MM``) it was written in.

    A wrong secret, a wrong month or any altered byte gives :class:`DecryptionFailed`;
    a text that is not a v1 token gives :class:`MalformedToken`.
    """
    token = parse_v1(text)
    key = derive_key(secret, month)
    return V1Message(token.patient_id, open_v1_with_key(token, key))
