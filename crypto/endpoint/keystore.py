"""The companion keystore's cryptography: passphrase to key, document to file bytes and back.

The companion keeps every key it holds in one file sealed under the user's passphrase
(docs/PROTOCOL.md 15, docs/adr/0003-keystore.md). This module is the whole of that
file's cryptography; :mod:`medcrypt.companion.keystore` keeps the rest (the lock, the
atomic replace, the JSON document) and never sees a primitive.

File layout (all integers big-endian)::

    magic "MCKS" | version u8 (=1) | opslimit u32 | memlimit u32 | salt 16 B | nonce 24 B
    ciphertext = XChaCha20-Poly1305-IETF(key, nonce, padded document, ad = the 53 bytes above)

key = Argon2id(UTF-8 passphrase, salt, opslimit, memlimit) -> 32 bytes. The parameters
are in the authenticated header, so they cannot be silently downgraded (a weakened header
derives another key and fails the tag), and absurd ones are refused before Argon2id runs,
so a hostile file cannot make an unlock hang. New keystores use :data:`PROFILE`; a file
sealed under a weaker :class:`Argon2Profile` is re-sealed under it when next unlocked
(:mod:`medcrypt.companion.keystore`). The
document is padded with spaces to a multiple of 4 KiB so the file size says little about
how many pairings or history entries it holds. Every :meth:`KeystoreKey.seal` draws a
fresh nonce itself: a caller cannot reuse one.

Why a key object rather than two functions of the passphrase: Argon2id costs tens of
milliseconds by design, and a command that unlocks, changes and saves the keystore
derives once. The derived key lives only in the object's ``bytearray``, which
:meth:`KeystoreKey.wipe` zeroes (on ``close`` of the keystore, and on every failed
unlock); the libraries take ``bytes``, so each call makes a short-lived copy - the limit
of what Python allows.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.errors import DecryptionFailed, KeystoreLocked, StorageError

MAGIC = b"MCKS"
FORMAT_VERSION = 1
HEADER = struct.Struct(">4sBII16s24s")
HEADER_LEN = HEADER.size  # 53
SALT_LEN = prim.ARGON2ID_SALT_LEN
NONCE_LEN = prim.XNONCE_LEN
KEY_LEN = prim.KEY_LEN
PAD_BLOCK = 4096
_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Argon2Profile:
    """An Argon2id cost: passes (``opslimit``) over ``memlimit`` bytes of memory."""

    opslimit: int
    memlimit: int

    def weaker_than(self, other: Argon2Profile) -> bool:
        """Whether either cost falls short of ``other``'s (so a re-seal is due)."""
        return self.opslimit < other.opslimit or self.memlimit < other.memlimit

    def raised_to(self, other: Argon2Profile) -> Argon2Profile:
        """Each cost at least ``other``'s: an upgrade never lowers what a file has."""
        return Argon2Profile(max(self.opslimit, other.opslimit),
                             max(self.memlimit, other.memlimit))


#: The Argon2id cost of new keystores, and what older ones are raised to when unlocked:
#: 3 passes over 128 MiB, 0.2-0.3 s here - half again the passes and twice the memory of
#: libsodium's INTERACTIVE, while a whole ``medcrypt decrypt`` stays well below its 800 ms
#: budget (measured in docs/adr/0003-keystore.md; ``python -m bench.bench_coldstart``).
PROFILE = Argon2Profile(3, 128 * _MIB)
#: What every keystore was sealed with before (libsodium INTERACTIVE, 2 passes, 64 MiB).
LEGACY_INTERACTIVE = Argon2Profile(prim.ARGON2ID_OPSLIMIT_INTERACTIVE,
                                   prim.ARGON2ID_MEMLIMIT_INTERACTIVE)
OPSLIMIT = PROFILE.opslimit
MEMLIMIT = PROFILE.memlimit
#: The cheapest parameters libsodium accepts (a reader's lower bound; tests name them
#: explicitly to stay fast - the product never does).
OPSLIMIT_MIN = prim.ARGON2ID_OPSLIMIT_MIN
MEMLIMIT_MIN = prim.ARGON2ID_MEMLIMIT_MIN
#: Refuse absurd parameters from a tampered or foreign header before running Argon2id.
MAX_OPSLIMIT = 16
MAX_MEMLIMIT = 1024 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class KeystoreHeader:
    """The clear, authenticated header of a keystore file."""

    opslimit: int
    memlimit: int
    salt: bytes
    nonce: bytes


def parse_header(blob: bytes) -> KeystoreHeader:
    """Read and bound-check the header; anything unusable is :class:`KeystoreLocked`."""
    if len(blob) < HEADER_LEN + prim.TAG_LEN:
        raise KeystoreLocked("the keystore file is truncated")
    magic, version, opslimit, memlimit, salt, nonce = HEADER.unpack_from(blob)
    if magic != MAGIC or version != FORMAT_VERSION:
        raise KeystoreLocked("not a MedCrypt keystore (or an unsupported version)")
    if not (OPSLIMIT_MIN <= opslimit <= MAX_OPSLIMIT
            and MEMLIMIT_MIN <= memlimit <= MAX_MEMLIMIT):
        raise KeystoreLocked("the keystore header has out-of-range parameters")
    return KeystoreHeader(opslimit, memlimit, salt, nonce)


class KeystoreKey:
    """The Argon2id key of one keystore (one salt, one cost) in a wipeable buffer.

    Use as a context manager, or call :meth:`wipe`, so the key is zeroed when done.
    """

    __slots__ = ("_key", "_wiped", "memlimit", "opslimit", "salt")

    def __init__(self, passphrase: str, salt: bytes, *, opslimit: int, memlimit: int) -> None:
        if not passphrase:
            raise KeystoreLocked("the keystore passphrase is empty")
        self.salt = salt
        self.opslimit = opslimit
        self.memlimit = memlimit
        self._wiped = False
        self._key = prim.argon2id_derive(passphrase.encode("utf-8"), salt, opslimit=opslimit,
                                         memlimit=memlimit, length=KEY_LEN)

    @classmethod
    def new(cls, passphrase: str, *, profile: Argon2Profile = PROFILE,
            rng: prim.Rng = os.urandom) -> Self:
        """The key of a new keystore (or of a re-seal): a fresh random salt from ``rng``."""
        return cls(passphrase, rng(SALT_LEN), opslimit=profile.opslimit,
                   memlimit=profile.memlimit)

    @property
    def profile(self) -> Argon2Profile:
        """The Argon2id cost this key was derived with (the file header's)."""
        return Argon2Profile(self.opslimit, self.memlimit)

    @classmethod
    def unlock(cls, passphrase: str, blob: bytes) -> tuple[Self, bytes]:
        """Derive the key a keystore file names and open the file with it.

        Returns the key (for later saves) and the padded document. A wrong passphrase or
        any altered byte is :class:`~medcrypt.crypto.errors.DecryptionFailed`, raised
        after the derived key has been zeroed.
        """
        header = parse_header(blob)
        key = cls(passphrase, header.salt, opslimit=header.opslimit, memlimit=header.memlimit)
        try:
            return key, key.open(blob)
        except BaseException:
            key.wipe()
            raise

    def seal(self, document: bytes, *, rng: prim.Rng = os.urandom) -> bytes:
        """The keystore file bytes for ``document``, under a fresh nonce from ``rng``."""
        self._check()
        padded = document + b" " * (-len(document) % PAD_BLOCK)
        nonce = rng(NONCE_LEN)
        header = HEADER.pack(MAGIC, FORMAT_VERSION, self.opslimit, self.memlimit, self.salt,
                             nonce)
        return header + prim.xchacha_encrypt(self._key, nonce, padded, header)

    def open(self, blob: bytes) -> bytes:
        """The padded document of a file sealed under this key (spaces pad it; JSON ignores
        them). A file of another salt or cost was not sealed under this key:
        :class:`~medcrypt.crypto.errors.DecryptionFailed`, like any failed tag."""
        self._check()
        header = parse_header(blob)
        if (header.salt, header.opslimit, header.memlimit) != (
                self.salt, self.opslimit, self.memlimit):
            raise DecryptionFailed
        return prim.xchacha_decrypt(self._key, header.nonce, blob[HEADER_LEN:],
                                    blob[:HEADER_LEN])

    def wipe(self) -> None:
        """Zero the derived key (idempotent); the object refuses to work afterwards."""
        prim.wipe(self._key)
        self._wiped = True

    def _check(self) -> None:
        # A zeroed key would still "work": refuse rather than seal under 32 zero bytes.
        if self._wiped:
            raise StorageError("the keystore key has been wiped")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.wipe()
