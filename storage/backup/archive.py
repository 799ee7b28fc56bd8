"""An encrypted backup file: dump the database, seal it, check it, open it for a restore.

The plaintext dump exists only in a private temporary directory (mode 0700, next to
the output so it stays on the operator's chosen disk) for as long as sealing or
checking takes, and is unlinked on every path out. The file's public header records
what a restore needs before it can open anything: the dialect, the schema revision
and the audit head at the time of the backup, and ``created_us`` (taken before the
dump starts; informational - a restore re-applies the whole erasure record) - and,
for a format-2 file, which key provider and root version wrapped its data key and the
backup id the provider's audit log names when the file is opened (docs/adr/0041).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from medcrypt.crypto.errors import MalformedToken, StorageError
from medcrypt.crypto.server.backup_seal import (
    KEYRING_FORMAT,
    PROVIDER_FORMAT,
    KeyWrapper,
    ProviderWrap,
    open_stream,
    read_header,
    seal_stream,
)
from medcrypt.crypto.server.provider import KeyProvider
from medcrypt.storage.backup import engines

#: Header formats this code reads: 1 (data key under the keyring), 2 (under a provider).
FORMATS = (KEYRING_FORMAT, PROVIDER_FORMAT)


@dataclass(frozen=True)
class BackupInfo:
    """The public header of a backup file."""

    created_us: int
    dialect: str
    schema_revision: str
    audit_head_seq: int
    audit_head_hash: str
    #: ``keyring`` (format 1) or the provider that wrapped the data key (format 2).
    key_provider: str = "keyring"
    #: The provider's root version (format 2); 0 for format 1.
    key_version: int = 0
    backup_id: str = ""

    @classmethod
    def from_header(cls, header: dict[str, str | int | None]) -> BackupInfo:
        try:
            if type(header["format"]) is not int or header["format"] not in FORMATS:
                raise MalformedToken(f"backup format {header['format']} is not supported")
            info = cls(int(header["created_us"] or 0), str(header["dialect"]),
                       str(header["schema_revision"]), int(header["audit_head_seq"] or 0),
                       str(header["audit_head_hash"]))
            if header["format"] == PROVIDER_FORMAT:
                info = cls(info.created_us, info.dialect, info.schema_revision,
                           info.audit_head_seq, info.audit_head_hash,
                           str(header["key_provider"]), int(header["key_version"] or 0),
                           str(header["backup_id"]))
        except (KeyError, TypeError, ValueError):
            raise MalformedToken("backup header lacks a required field") from None
        if info.dialect not in ("sqlite", "postgresql"):
            raise MalformedToken("backup header names an unknown dialect")
        return info

    def header(self) -> dict[str, str | int | None]:
        """The fields this module sets; the seal adds ``format`` and the key's fields."""
        return {"created_us": self.created_us, "dialect": self.dialect,
                "schema_revision": self.schema_revision,
                "audit_head_seq": self.audit_head_seq, "audit_head_hash": self.audit_head_hash}


@contextmanager
def _scratch(near: Path) -> Iterator[Path]:
    """A private directory for the plaintext dump, removed with its content."""
    directory = Path(tempfile.mkdtemp(prefix=".medcrypt-backup-", dir=near))
    try:
        os.chmod(directory, 0o700)
        yield directory
    finally:
        for child in directory.iterdir():
            child.unlink()
        directory.rmdir()


def _dump(url: str, dialect: str, out: Path, pg_bin_dir: str) -> None:
    if dialect == "sqlite":
        engines.sqlite_dump(url, out)
    else:
        engines.pg_dump(url, out, pg_bin_dir)


def _check(dialect: str, dump: Path, pg_bin_dir: str) -> None:
    if dialect == "sqlite":
        engines.sqlite_check(dump)
    else:
        engines.pg_check(dump, pg_bin_dir)


def create(url: str, wrapper: KeyWrapper | ProviderWrap, info: BackupInfo, out: Path, *,
           pg_bin_dir: str = "") -> int:
    """Dump ``url`` and seal it into ``out`` (created exclusively, mode 0600); returns
    the plaintext size. A partly written ``out`` is removed on failure. ``wrapper`` is
    the keyring (``env``: format 1) or a :class:`ProviderWrap` (format 2)."""
    out = out.resolve()
    with _scratch(out.parent) as tmp:
        dump = tmp / "dump"
        _dump(url, info.dialect, dump, pg_bin_dir)
        _check(info.dialect, dump, pg_bin_dir)
        try:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise StorageError("the backup file exists already; choose a new name") from None
        try:
            with os.fdopen(fd, "wb") as dst, dump.open("rb") as src:
                size = seal_stream(wrapper, info.header(), src, dst)
                dst.flush()
                os.fsync(dst.fileno())
        except BaseException:
            out.unlink(missing_ok=True)
            raise
    return size


def peek(path: Path) -> BackupInfo:
    """The header, without a key (not authenticated until :func:`verify` or a restore)."""
    with _open(path) as src:
        header, _raw = read_header(src)
    return BackupInfo.from_header(header)


def verify(path: Path, wrapper: KeyWrapper, *, provider: KeyProvider | None = None,
           pg_bin_dir: str = "") -> BackupInfo:
    """Authenticate every byte and check the decrypted dump, without restoring it."""
    with opened(path, wrapper, provider=provider) as (info, dump):
        _check(info.dialect, dump, pg_bin_dir)
    return info


@contextmanager
def opened(path: Path, wrapper: KeyWrapper, *, provider: KeyProvider | None = None
           ) -> Iterator[tuple[BackupInfo, Path]]:
    """The authenticated header and the decrypted dump in a private scratch file; a
    format-2 file's data key is unwrapped by ``provider`` (one audited call)."""
    with _scratch(path.resolve().parent) as tmp:
        dump = tmp / "dump"
        with _open(path) as src, dump.open("wb") as dst:
            header = open_stream(wrapper, src, dst, provider=provider)
        yield BackupInfo.from_header(header), dump


@contextmanager
def _open(path: Path) -> Iterator[BinaryIO]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise StorageError(f"cannot read the backup file ({exc.strerror})") from None
    with handle:
        yield handle


def load(url: str, info: BackupInfo, dump: Path, *, pg_bin_dir: str = "") -> None:
    """Replace the database at ``url`` with the decrypted dump."""
    if engines.dialect_of(url) != info.dialect:
        raise StorageError(f"the backup is of a {info.dialect} database; the configured "
                           f"database is {engines.dialect_of(url)}")
    if info.dialect == "sqlite":
        engines.sqlite_load(url, dump)
    else:
        engines.pg_load(url, dump, pg_bin_dir)
