"""The companion's encrypted keystore: one file, sealed under a passphrase, replaced atomically.

Why one sealed JSON document rather than a database: the state is small (an identity, a
few pairings with their epoch and chain keys, a bounded history), every command reads
and rewrites it whole, and a whole-file rewrite is what makes crypto-shredding real - a
deleted key's bytes cannot linger in free pages of a database file (docs/adr/0003).

The file's cryptography - Argon2id over the passphrase, one XChaCha20-Poly1305 seal with
the header as associated data, padding to 4 KiB, a fresh nonce per save - is the recipe
:class:`medcrypt.crypto.endpoint.keystore.KeystoreKey`, where the layout is documented
(and in docs/PROTOCOL.md 15); this module never calls a primitive. Every save writes a
new file (temp file in the same directory, fsync, ``os.replace``, fsync of the directory):
a crash leaves either the old or the new keystore, never a torn one.

Concurrent commands on one home are serialised by an exclusive ``flock`` on
``keystore.lock`` held from unlock to close, so two processes can never both
read-modify-write (which could resurrect a shredded key).

A keystore sealed under a weaker Argon2id cost than :data:`PROFILE` (every keystore made
before the cost was raised) is re-sealed under a fresh salt at that cost as soon as it
is unlocked, atomically like any save, so an old file does not stay cheap to attack.
Tests that create or unlock many keystores name a cheaper profile explicitly (the
``profile`` arguments; tests/support/companion.py for the CLI): no flag or environment
variable of the product selects one.

Passphrases are normalised to Unicode NFC before Argon2id (PROTOCOL §15): one typed
passphrase is one key whether the keyboard composes "é" or sends "e" + U+0301, and the
web companion derives the same key. Keystores sealed before under a non-NFC form open
with it (NFC is tried first, then the form as typed) and are re-sealed under the NFC
form at that unlock, like a cost raise.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import unicodedata
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from medcrypt.companion.i18n import N_, error
from medcrypt.crypto.endpoint import keystore as sealing
from medcrypt.crypto.endpoint.keystore import Argon2Profile, KeystoreKey
from medcrypt.crypto.errors import DecryptionFailed, KeystoreLocked, StorageError

FILE_NAME = "keystore.mcks"
LOCK_NAME = "keystore.lock"
#: The file format's constants, defined by the recipe and named here for this file's
#: readers (tests, fuzz targets).
MAGIC = sealing.MAGIC
FORMAT_VERSION = sealing.FORMAT_VERSION
HEADER_LEN = sealing.HEADER_LEN
PAD_BLOCK = sealing.PAD_BLOCK
OPSLIMIT = sealing.OPSLIMIT
MEMLIMIT = sealing.MEMLIMIT
#: The Argon2id cost new keystores get and older ones are raised to on unlock. Read at
#: call time, so the in-process CLI tests can lower it (tests/support/companion.py).
PROFILE: Argon2Profile = sealing.PROFILE


def normalised(passphrase: str) -> str:
    """The form of ``passphrase`` the key is derived from: Unicode NFC (PROTOCOL §15)."""
    return unicodedata.normalize("NFC", passphrase)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new content."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _remove_stale_temps(home: Path) -> None:
    """Delete temp files a crashed save left behind (called with the lock held).

    They are sealed, but may hold keys shredded since; shredding must not depend on
    the passphrase staying secret.
    """
    for stale in home.glob(f".{FILE_NAME}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()


class Keystore:
    """An unlocked keystore: ``state`` is the decrypted JSON document; ``save()`` seals it.

    Use as a context manager so the lock is released and the derived key zeroed.
    """

    def __init__(self, home: Path, key: KeystoreKey, *, state: dict[str, Any],
                 lock_fd: int) -> None:
        self.home = home
        self.path = home / FILE_NAME
        self._key = key
        self.state = state
        self._lock_fd: int | None = lock_fd
        #: The document as last read or written; ``save()`` skips an unchanged one, so
        #: read-only commands cost no write (and no fsync) at all.
        self._saved: bytes | None = None

    # ----------------------------------------------------------------- lifecycle

    @staticmethod
    def exists(home: Path) -> bool:
        return (home / FILE_NAME).is_file()

    @staticmethod
    def _lock(home: Path) -> int:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(home / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            os.close(fd)
            raise error(StorageError, N_("cannot lock the keystore: {reason}"),
                        reason=exc.strerror) from None
        return fd

    @classmethod
    def create(cls, home: Path, passphrase: str, state: dict[str, Any], *,
               profile: Argon2Profile | None = None) -> Self:
        """Create a new keystore at ``profile`` (default :data:`PROFILE`); refuses to
        overwrite an existing one."""
        lock_fd = cls._lock(home)
        try:
            if cls.exists(home):
                raise error(StorageError, N_("a keystore already exists in {home}"),
                            home=str(home))
            key = KeystoreKey.new(normalised(passphrase), profile=profile or PROFILE)
            store = cls(home, key, state=state, lock_fd=lock_fd)
        except BaseException:
            os.close(lock_fd)
            raise
        store.save()
        return store

    @classmethod
    def unlock(cls, home: Path, passphrase: str, *,
               profile: Argon2Profile | None = None) -> Self:
        """Open the keystore in ``home``; wrong passphrase or damage -> KeystoreLocked.

        A file sealed under a weaker cost than ``profile`` (default :data:`PROFILE`), or
        under a passphrase form other than NFC, is re-sealed before this returns
        (module docstring).
        """
        lock_fd = cls._lock(home)
        try:
            try:
                blob = (home / FILE_NAME).read_bytes()
            except FileNotFoundError:
                raise error(StorageError, N_("no keystore in {home}; run 'medcrypt init' "
                                             "first"), home=str(home)) from None
            _remove_stale_temps(home)
            key, padded, legacy_form = _unlock_either_form(passphrase, blob)
            try:
                try:
                    state = json.loads(padded)
                except ValueError:
                    raise error(KeystoreLocked,
                                N_("the keystore content is damaged")) from None
                if not isinstance(state, dict):
                    raise error(KeystoreLocked, N_("the keystore content is damaged"))
            except BaseException:
                key.wipe()
                raise
            store = cls(home, key, state=state, lock_fd=lock_fd)
            store._saved = store._encode()
            store._raise_cost(normalised(passphrase), profile or PROFILE, force=legacy_form)
            return store
        except BaseException:
            os.close(lock_fd)
            raise

    def _raise_cost(self, passphrase: str, target: Argon2Profile, *, force: bool = False) -> None:
        """Re-seal the document under ``target`` if the file's cost is below it (or if
        ``force``: it was sealed under a passphrase form that is not NFC).

        A fresh salt and key; the same document; the atomic save every write uses. On
        failure both keys are wiped, the unlock fails and the file is the old one.
        """
        if not force and not self._key.profile.weaker_than(target):
            return
        stronger = KeystoreKey.new(passphrase, profile=self._key.profile.raised_to(target))
        try:
            atomic_write(self.path, stronger.seal(self._saved or self._encode()))
        except BaseException:
            stronger.wipe()
            self._key.wipe()
            raise
        self._key.wipe()
        self._key = stronger

    @staticmethod
    def _parse(blob: bytes) -> tuple[bytes, int, int, bytes, bytes]:
        header = sealing.parse_header(blob)
        return header.salt, header.opslimit, header.memlimit, header.nonce, blob[HEADER_LEN:]

    def _encode(self) -> bytes:
        return json.dumps(self.state, sort_keys=True, separators=(",", ":")).encode("utf-8")

    def save(self) -> None:
        """Seal ``state`` under a fresh nonce and atomically replace the file (if changed)."""
        if self._lock_fd is None:
            raise error(StorageError, N_("the keystore is closed"))
        body = self._encode()
        if body == self._saved:
            return
        atomic_write(self.path, self._key.seal(body))
        self._saved = body

    def close(self) -> None:
        """Zero the derived key and release the lock (idempotent)."""
        self._key.wipe()
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _unlock_either_form(passphrase: str, blob: bytes) -> tuple[KeystoreKey, bytes, bool]:
    """``(key, padded document, sealed under a non-NFC form)``: NFC first, then as typed.

    Why the second try: a keystore made before normalisation was sealed under the bytes
    the keyboard sent. Only a passphrase that is not already NFC costs a second Argon2id
    run, and only when the first fails.
    """
    nfc = normalised(passphrase)
    forms = [nfc] if nfc == passphrase else [nfc, passphrase]
    for form in forms:
        try:
            key, padded = KeystoreKey.unlock(form, blob)
        except DecryptionFailed:
            continue
        return key, padded, form != nfc
    raise error(KeystoreLocked,
                N_("cannot unlock the keystore: wrong passphrase or damaged file"))
