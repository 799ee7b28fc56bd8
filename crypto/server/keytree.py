"""The server's key tree: provider root -> epoch KEK -> data keys (DEKs) -> sealed values.

Why a tree (issue 17, docs/adr/0037-key-tree.md): a provider call per message or per new
person would put the HSM, Transit or KMS on the relay's hot path. So the provider wraps
one thing only, the *epoch KEK*, and each replica unwraps it once per TTL; every data key
(one per purpose, one per person) is wrapped locally under the KEK, and every sealed value
is sealed locally under its data key. Creating, opening and rotating a DEK is local work.

This module is pure (no database, no clock read of its own): the storage layer
(``medcrypt.storage.deks``) keeps the ``keks`` and ``deks`` rows and hands their bytes in,
and checks the DEK row in the caller's transaction before every seal and open, so a DEK
cached here is never used once its row says it was destroyed.

Byte layouts (docs/PROTOCOL.md, "Server storage: the key tree"); integers big-endian,
``lp(x)`` is the keyring's length-prefixed typed part (:func:`keyring.encode_aad`)::

    wrapped KEK   provider bytes of wrap(KEK, {"purpose": "kek", "kek_id": <id>})
    wrapped DEK   "W1" | nonce 24 | XChaCha20-Poly1305(DEK) ; AAD = lp(label) | lp(purpose)
                  | lp(person id or "") | lp(dek id) | u32 version | lp(kek id)
    sealed value  00 00 | 02 | dek id 16 | u32 dek version | nonce 24 | ct + tag ;
                  AAD = lp(label) | lp(dek id) | u32 version | lp(table) | lp(column)
                  | lp(row id)

A v1 keyring value starts with its key version (1..65535), never ``00 00``, so the two
formats cannot be confused.
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.errors import MalformedToken
from medcrypt.crypto.server.keyring import KEY_BYTES, NONCE_BYTES, TAG_BYTES, _lp
from medcrypt.crypto.server.provider import WrapContext

#: First bytes of a tree-sealed value: a v1 keyring value never names key version 0.
SEALED_MARKER = b"\x00\x00\x02"
DEK_ID_BYTES = 16
SEALED_HEADER_BYTES = len(SEALED_MARKER) + DEK_ID_BYTES + 4 + NONCE_BYTES
MIN_TREE_SEALED_BYTES = SEALED_HEADER_BYTES + TAG_BYTES
WRAPPED_DEK_TAG = b"W1"
WRAPPED_DEK_BYTES = len(WRAPPED_DEK_TAG) + NONCE_BYTES + KEY_BYTES + TAG_BYTES
MAX_DEK_VERSION = 0xFFFFFFFF
#: How long a replica keeps an unwrapped KEK (and the DEKs opened under it).
DEFAULT_TTL_SECONDS = 3600.0

_SEAL_LABEL = b"medcrypt/server-keytree/sealed-value/v2"
_DEK_LABEL = b"medcrypt/server-keytree/wrapped-dek/v1"
_KEK_PURPOSE = "kek"
_K = TypeVar("_K", str, tuple[str, int])


class WrapRoot(Protocol):
    """What the tree needs of a key provider: wrap and unwrap short secrets.

    Any :class:`~medcrypt.crypto.server.provider.KeyProvider` is one; only the KEK ever
    reaches it.
    """

    @property
    def name(self) -> str: ...

    def wrap(self, plaintext: bytes | bytearray, context: WrapContext) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: WrapContext) -> bytearray: ...


def kek_context(kek_id: str) -> dict[str, str]:
    """The provider context of a KEK: purpose and id, never personal data."""
    return {"purpose": _KEK_PURPOSE, "kek_id": kek_id}


def new_id(rng: Callable[[int], bytes] = os.urandom) -> str:
    """A fresh KEK or DEK id: 128 random bits as 32 lower-case hex characters."""
    return rng(DEK_ID_BYTES).hex()


def _id_bytes(dek_id: str) -> bytes:
    try:
        raw = bytes.fromhex(dek_id)
    except ValueError:
        raise MalformedToken("a DEK id is 32 hex characters") from None
    if len(raw) != DEK_ID_BYTES or raw.hex() != dek_id:
        raise MalformedToken("a DEK id is 32 lower-case hex characters")
    return raw


def _check_version(version: int) -> None:
    if not 1 <= version <= MAX_DEK_VERSION:
        raise ValueError("DEK versions are 1..2^32-1")


@dataclass(frozen=True, slots=True)
class DekRef:
    """The DEK a tree-sealed value names in its header (no key needed to read it)."""

    dek_id: str
    version: int


def is_tree_sealed(sealed: bytes) -> bool:
    """Whether ``sealed`` is in the tree format (else it is a v1 keyring value)."""
    return sealed[:len(SEALED_MARKER)] == SEALED_MARKER


def sealed_dek(sealed: bytes) -> DekRef:
    """The DEK id and version a tree-sealed value claims (for checks and status)."""
    if len(sealed) < MIN_TREE_SEALED_BYTES or not is_tree_sealed(sealed):
        raise MalformedToken("not a tree-sealed value")
    at = len(SEALED_MARKER)
    dek_id = sealed[at:at + DEK_ID_BYTES].hex()
    version: int = struct.unpack_from(">I", sealed, at + DEK_ID_BYTES)[0]
    if version == 0:
        raise MalformedToken("tree-sealed value names DEK version 0")
    return DekRef(dek_id, version)


def _dek_aad(purpose: str, person_id: str | None, dek_id: str, version: int,
             kek_id: str) -> bytes:
    return (_lp(_DEK_LABEL) + _lp(purpose) + _lp(person_id or "") + _lp(dek_id)
            + struct.pack(">I", version) + _lp(kek_id))


def _value_aad(dek_id: str, version: int, table: str, column: str, row_id: str) -> bytes:
    return (_lp(_SEAL_LABEL) + _lp(dek_id) + struct.pack(">I", version) + _lp(table)
            + _lp(column) + _lp(row_id))


def wrap_dek(kek: bytearray, dek: bytearray, *, purpose: str, person_id: str | None,
             dek_id: str, version: int, kek_id: str,
             rng: Callable[[int], bytes] = os.urandom) -> bytes:
    """Wrap a DEK under the KEK, locally, bound to who and what it is for."""
    _id_bytes(dek_id)
    _check_version(version)
    if len(dek) != KEY_BYTES:
        raise ValueError(f"DEKs are {KEY_BYTES} bytes")
    nonce = rng(NONCE_BYTES)
    aad = _dek_aad(purpose, person_id, dek_id, version, kek_id)
    return WRAPPED_DEK_TAG + nonce + prim.xchacha_encrypt(kek, nonce, bytes(dek), aad)


def unwrap_dek(kek: bytearray, wrapped: bytes, *, purpose: str, person_id: str | None,
               dek_id: str, version: int, kek_id: str) -> bytearray:
    """Inverse of :func:`wrap_dek`; another binding or a changed byte is DecryptionFailed."""
    if len(wrapped) != WRAPPED_DEK_BYTES or wrapped[:2] != WRAPPED_DEK_TAG:
        raise MalformedToken("wrapped DEK has the wrong length or tag")
    aad = _dek_aad(purpose, person_id, dek_id, version, kek_id)
    nonce = wrapped[2:2 + NONCE_BYTES]
    return bytearray(prim.xchacha_decrypt(kek, nonce, wrapped[2 + NONCE_BYTES:], aad))


def seal_value(dek: bytearray, ref: DekRef, plaintext: bytes, *, table: str, column: str,
               row_id: str, rng: Callable[[int], bytes] = os.urandom) -> bytes:
    """Seal one column value under a DEK, bound to the DEK and the cell it lives in."""
    raw_id = _id_bytes(ref.dek_id)
    _check_version(ref.version)
    nonce = rng(NONCE_BYTES)
    if len(nonce) != NONCE_BYTES:
        raise ValueError("rng returned the wrong number of bytes")
    header = SEALED_MARKER + raw_id + struct.pack(">I", ref.version) + nonce
    aad = _value_aad(ref.dek_id, ref.version, table, column, row_id)
    return header + prim.xchacha_encrypt(dek, nonce, plaintext, aad)


def open_value(dek: bytearray, sealed: bytes, *, table: str, column: str,
               row_id: str) -> bytes:
    """Open a tree-sealed value; a moved value or another DEK is DecryptionFailed."""
    ref = sealed_dek(sealed)
    nonce = sealed[SEALED_HEADER_BYTES - NONCE_BYTES:SEALED_HEADER_BYTES]
    aad = _value_aad(ref.dek_id, ref.version, table, column, row_id)
    return prim.xchacha_decrypt(dek, nonce, sealed[SEALED_HEADER_BYTES:], aad)


@dataclass(frozen=True, slots=True)
class DekRow:
    """A ``deks`` row as storage read it in the caller's transaction."""

    dek_id: str
    version: int
    purpose: str
    person_id: str | None
    kek_id: str
    #: NULL once destroyed.
    wrapped: bytes | None

    @property
    def ref(self) -> DekRef:
        return DekRef(self.dek_id, self.version)


class _Entry:
    """One cached key, with the keys derived from it (zeroed together)."""

    __slots__ = ("derived", "expires", "key", "wrapped")

    def __init__(self, key: bytearray, expires: float, wrapped: bytes) -> None:
        self.key = key
        self.expires = expires
        self.wrapped = wrapped
        self.derived: dict[tuple[str, ...], bytearray] = {}

    def wipe(self) -> None:
        prim.wipe(self.key)
        for sub in self.derived.values():
            prim.wipe(sub)
        self.derived.clear()


class KeyTree:
    """One replica's view of the tree: the provider root and the caches under it.

    ``monotonic`` is the injected clock the TTL is measured on. ``provider_calls``
    counts this tree's own requests to the root (KEK wraps and unwraps); the providers
    count theirs too (PKCS#11 ``calls``), which is what the relay test reads.
    """

    def __init__(self, root: WrapRoot, *, monotonic: Callable[[], float],
                 ttl_seconds: float = DEFAULT_TTL_SECONDS, max_deks: int = 100_000,
                 rng: Callable[[int], bytes] = os.urandom) -> None:
        if ttl_seconds <= 0:
            raise ValueError("the KEK TTL must be positive")
        self.root = root
        self._now = monotonic
        self._ttl = ttl_seconds
        self._max_deks = max_deks
        self._rng = rng
        self._lock = threading.Lock()
        self._keks: dict[str, _Entry] = {}
        self._deks: dict[tuple[str, int], _Entry] = {}
        self.provider_calls = 0

    @property
    def provider_name(self) -> str:
        return self.root.name

    # -- KEKs -------------------------------------------------------------------------

    def new_kek(self) -> tuple[str, bytes]:
        """A fresh KEK wrapped by the provider (one provider call): ``(kek id, wrapped)``.
        It is cached at once, so the replica that made it needs no unwrap."""
        kek_id = new_id(self._rng)
        kek = bytearray(self._rng(KEY_BYTES))
        self.provider_calls += 1
        wrapped = self.root.wrap(kek, kek_context(kek_id))
        with self._lock:
            old = self._keks.pop(kek_id, None)
            if old is not None:
                old.wipe()
            self._keks[kek_id] = _Entry(kek, self._now() + self._ttl, wrapped)
        return kek_id, wrapped

    def kek(self, kek_id: str, wrapped: bytes) -> bytearray:
        """The KEK, unwrapped by the provider at most once per TTL on this replica."""
        with self._lock:
            entry = self._live(self._keks, kek_id, self._now())
            if entry is not None and prim.constant_time_equal(entry.wrapped, wrapped):
                return entry.key
        self.provider_calls += 1
        kek = self.root.unwrap(wrapped, kek_context(kek_id))
        if len(kek) != KEY_BYTES:
            prim.wipe(kek)
            raise MalformedToken("the provider returned a KEK of the wrong length")
        with self._lock:
            old = self._keks.pop(kek_id, None)
            if old is not None:
                old.wipe()
            # Stamped now, under the lock: each cache stays in expiry order (_expire).
            self._keks[kek_id] = _Entry(kek, self._now() + self._ttl, wrapped)
        return kek

    def rewrap_kek(self, kek_id: str, wrapped: bytes) -> bytes:
        """The same KEK wrapped again under the provider's current root version (root
        rotation costs calls per KEK, never per DEK). The KEK itself does not change."""
        kek = self.kek(kek_id, wrapped)
        self.provider_calls += 1
        new = self.root.wrap(kek, kek_context(kek_id))
        with self._lock:
            entry = self._keks.get(kek_id)
            if entry is not None:
                entry.wrapped = new
        return new

    # -- DEKs -------------------------------------------------------------------------

    def create_dek(self, *, purpose: str, person_id: str | None, kek_id: str,
                   kek_wrapped: bytes, dek_id: str | None = None,
                   version: int = 1) -> DekRow:
        """A fresh DEK wrapped locally under the KEK (no provider call once warm)."""
        kek = self.kek(kek_id, kek_wrapped)
        dek_id = dek_id or new_id(self._rng)
        dek = bytearray(self._rng(KEY_BYTES))
        wrapped = wrap_dek(kek, dek, purpose=purpose, person_id=person_id, dek_id=dek_id,
                           version=version, kek_id=kek_id, rng=self._rng)
        self._remember((dek_id, version), dek, wrapped)
        return DekRow(dek_id, version, purpose, person_id, kek_id, wrapped)

    def dek(self, row: DekRow, kek_wrapped: bytes) -> bytearray:
        """The DEK of a live row the caller just read; cached until the KEK's TTL ends.

        The cache is keyed by the row's wrapped bytes too, so a row rewrapped or
        replaced elsewhere is unwrapped afresh. Destroyed rows never reach here: the
        storage layer refuses them first.
        """
        return self._dek_entry(row, kek_wrapped).key

    def derived(self, row: DekRow, kek_wrapped: bytes, name: tuple[str, ...],
                derive: Callable[[bytearray], bytearray]) -> bytearray:
        """A key derived from the DEK of a live row the caller just read (the blind
        index's column subkey): ``derive(dek)`` runs once per cached DEK and ``name``, and
        the result lives and is zeroed with the DEK's cache entry - it is never returned
        for a row whose DEK this cache would not return."""
        with self._lock:
            entry = self._fresh_entry(row)
            if entry is not None:
                return _derived_in(entry, name, derive)
        while True:
            entry = self._dek_entry(row, kek_wrapped)
            with self._lock:
                # Derived under the lock from an entry still in the cache: one dropped
                # (expired, forgotten, replaced) since _dek_entry returned it has a
                # zeroed key, and a subkey of zeros would be a silent look-up miss.
                if self._deks.get((row.dek_id, row.version)) is entry:
                    return _derived_in(entry, name, derive)

    def _fresh_entry(self, row: DekRow) -> _Entry | None:
        """The cached entry of ``row`` if it holds the row's wrapped bytes (lock held)."""
        if row.wrapped is None:
            raise ValueError("a destroyed DEK row has no key")
        entry = self._live(self._deks, (row.dek_id, row.version), self._now())
        if entry is not None and prim.constant_time_equal(entry.wrapped, row.wrapped):
            return entry
        return None

    def _dek_entry(self, row: DekRow, kek_wrapped: bytes) -> _Entry:
        with self._lock:
            entry = self._fresh_entry(row)
            if entry is not None:
                return entry
        assert row.wrapped is not None  # _fresh_entry refused a destroyed row
        kek = self.kek(row.kek_id, kek_wrapped)
        dek = unwrap_dek(kek, row.wrapped, purpose=row.purpose, person_id=row.person_id,
                         dek_id=row.dek_id, version=row.version, kek_id=row.kek_id)
        return self._remember((row.dek_id, row.version), dek, row.wrapped)

    def forget_kek(self, kek_id: str) -> None:
        """Zero and drop a cached KEK (its epoch closed: nothing is wrapped under it)."""
        with self._lock:
            entry = self._keks.pop(kek_id, None)
            if entry is not None:
                entry.wipe()

    def forget_dek(self, dek_id: str) -> None:
        """Zero and drop every cached version of a DEK (after destroying it here)."""
        with self._lock:
            for key in [k for k in self._deks if k[0] == dek_id]:
                self._deks.pop(key).wipe()

    def cached_dek(self, dek_id: str, version: int) -> bool:
        """Whether this replica still holds the DEK in memory (tests, status)."""
        with self._lock:
            return (dek_id, version) in self._deks

    def _remember(self, key: tuple[str, int], dek: bytearray, wrapped: bytes) -> _Entry:
        with self._lock:
            old = self._deks.pop(key, None)
            if old is not None:
                if old.key is dek:  # the same key again: only its derived keys go
                    old.key = bytearray()
                old.wipe()
            if len(self._deks) >= self._max_deks:  # drop the oldest entry (insertion order)
                self._deks.pop(next(iter(self._deks))).wipe()
            entry = self._deks[key] = _Entry(dek, self._now() + self._ttl, wrapped)
            return entry

    def _live(self, cache: dict[_K, _Entry], key: _K, now: float) -> _Entry | None:
        """``cache[key]`` unless expired, after zeroing what expired (lock held)."""
        self._expire(now)
        entry = cache.get(key)
        return entry if entry is not None and entry.expires > now else None

    def _expire(self, now: float) -> None:
        """Zero and drop expired entries (call with the lock held).

        Every entry is stamped with the clock under the lock when it is inserted, and a
        refreshed entry is re-inserted, so each dict is in expiry order: the expired
        ones are a prefix. Scanning only that prefix keeps a look-up O(1) however many
        DEKs a replica holds (it scanned every entry on every look-up before).
        """
        _drop_expired(self._keks, now)
        _drop_expired(self._deks, now)

    def wipe(self) -> None:
        """Zero every cached key; the tree unwraps again on next use."""
        with self._lock:
            for entry in [*self._keks.values(), *self._deks.values()]:
                entry.wipe()
            self._keks.clear()
            self._deks.clear()


def _derived_in(entry: _Entry, name: tuple[str, ...],
                derive: Callable[[bytearray], bytearray]) -> bytearray:
    """``entry``'s key derived as ``name``, made on first use (call with the lock held)."""
    sub = entry.derived.get(name)
    if sub is None:
        sub = entry.derived[name] = derive(entry.key)
    return sub


def _drop_expired(cache: dict[_K, _Entry], now: float) -> None:
    """Zero and drop the expired prefix of a cache kept in expiry order."""
    while cache:
        first = next(iter(cache))
        if cache[first].expires > now:
            return
        cache.pop(first).wipe()
