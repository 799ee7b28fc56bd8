"""The erasure record: every shred and erasure, appended to a file outside the backup set.

Why: a backup holds rows that a later ``/shred``, ``/delete_me`` or grace sweep deleted.
Restoring it would bring them back - undoing a crypto-shredding promise - unless the
restore knows what was shredded since. The database cannot tell it (it is the thing
being replaced), so each shred is also appended here, and ``backup restore`` re-applies
the record before anything is served (docs/adr/0016). It re-applies *every* line, not
only those after the backup's time: re-applying is idempotent, and a cut by time or
file offset would miss a shred whose line was written just before the backup's
snapshot while its transaction committed just after it.

One line per fact, ``<canonical JSON>\t<hex MAC>``::

    {"at_us": 1767225600000000, "epoch": 24312, "kind": "shred", "ref": "pairing:<24 hex>"}
    {"at_us": 1767225600000000, "epoch": null, "kind": "dek", "ref": "dek:<32 hex>"}

A ``dek`` fact is one destroyed data key of the key tree (docs/adr/0039): its random id
and the time, nothing about whose it was. A restore destroys that DEK row again before
anything is served, so a backup older than the erasure cannot hand the key back to the
bot while the epoch that wrapped it is still open.

No personal data: subjects are the audit log's pseudonyms (``pairing:``/``identity:``
refs, an HMAC under the pseudonym secret kept in the database), which the restore maps
back by recomputing them for the rows it restored. Each line is MACed with a keyring
subkey (versioned like a blind index), so a line cannot be forged or edited without the
server keys; a line that fails its MAC stops the restore instead of being skipped.
Appends take an exclusive ``flock`` and ``fsync`` before returning, and are written
*before* the shredding transaction commits: a crash in between leaves a line for a
shred that did not happen, and re-applying it errs towards erasure, never away from it.
"""

from __future__ import annotations

import fcntl
import hmac
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from medcrypt.crypto.errors import ConfigError, KeyVersionMissing, MalformedToken, StorageError
from medcrypt.crypto.server.audit import check_ref
from medcrypt.crypto.server.keyring import BLIND_INDEX_BYTES, Keyring, blind_index_version

Kind = Literal["shred", "ended", "erased", "dek"]
_KINDS: frozenset[str] = frozenset({"shred", "ended", "erased", "dek"})
#: A destroyed DEK's ref: its random 128-bit id (storage.deks), never a person's id.
_DEK_REF = re.compile(r"dek:[0-9a-f]{32}\Z")


def dek_ref(dek_id: str) -> str:
    """The erasure-record ref of a destroyed DEK."""
    return _check_ref("dek", f"dek:{dek_id}")


def dek_id_of(ref: str) -> str:
    """The DEK id a ``dek`` fact names."""
    return _check_ref("dek", ref).removeprefix("dek:")


def _check_ref(kind: str, ref: str) -> str:
    if kind == "dek":
        if not isinstance(ref, str) or not _DEK_REF.match(ref):
            raise ValueError("a dek fact names a DEK id")
        return ref
    return check_ref(ref)
#: The (table, column) the MAC subkey is derived for: never a real column's index key.
_MAC_TABLE, _MAC_COLUMN = "erasure_record", "line"


@dataclass(frozen=True)
class ErasureFact:
    """One recorded fact: an epoch of a pairing shredded, a pairing ended, a person erased."""

    at_us: int
    kind: Kind
    ref: str
    epoch: int | None = None

    def encode(self) -> str:
        return json.dumps({"at_us": self.at_us, "epoch": self.epoch, "kind": self.kind,
                           "ref": self.ref}, sort_keys=True, separators=(",", ":"))


class ErasureRecord:
    """Append-only writer and MAC-checking reader of one erasure record file."""

    def __init__(self, path: str | Path, keyring: Keyring) -> None:
        if not str(path):
            raise ConfigError("backup.erasure_record_path", "is empty")
        self.path = Path(path)
        self._keyring = keyring

    def _mac(self, body: str, version: int | None = None) -> bytes:
        return self._keyring.blind_index(_MAC_TABLE, _MAC_COLUMN, body, version=version)

    def append(self, facts: list[ErasureFact]) -> None:
        """Append ``facts`` durably (flock, write, fsync), or raise StorageError."""
        if not facts:
            return
        lines = []
        for fact in facts:
            if fact.kind not in _KINDS:
                raise ValueError("unknown erasure fact kind")
            _check_ref(fact.kind, fact.ref)
            body = fact.encode()
            lines.append(f"{body}\t{self._mac(body).hex()}\n")
        data = "".join(lines).encode("ascii")
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StorageError(f"cannot open the erasure record ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError as exc:
            raise StorageError(f"cannot append to the erasure record ({exc.strerror})"
                               ) from None
        finally:
            os.close(fd)

    def read(self) -> Iterator[ErasureFact]:
        """Every fact, in file order; a line that fails its MAC or shape is an error
        naming its line number (never its content)."""
        try:
            handle = self.path.open("r", encoding="ascii")
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError) as exc:
            raise StorageError(f"cannot read the erasure record ({type(exc).__name__})"
                               ) from None
        with handle:
            for number, line in enumerate(handle, start=1):
                yield self._parse(number, line)

    def _parse(self, number: int, line: str) -> ErasureFact:
        def bad(why: str) -> StorageError:
            return StorageError(f"erasure record line {number}: {why}; the record was "
                                "edited or damaged - restore refused")

        body, sep, mac_hex = line.rstrip("\n").partition("\t")
        try:
            mac = bytes.fromhex(mac_hex)
        except ValueError:
            raise bad("MAC is not hex") from None
        if not sep or len(mac) != BLIND_INDEX_BYTES:
            raise bad("no MAC")
        try:
            expected = self._mac(body, version=blind_index_version(mac))
        except (KeyVersionMissing, MalformedToken):  # the keyring cannot check it
            raise bad("MAC under a server key version that is not configured") from None
        if not hmac.compare_digest(expected, mac):
            raise bad("MAC does not verify")
        try:
            data = json.loads(body)
            fact = ErasureFact(int(data["at_us"]), data["kind"],
                               _check_ref(data["kind"], data["ref"]),
                               None if data["epoch"] is None else int(data["epoch"]))
        except (ValueError, KeyError, TypeError):
            raise bad("malformed") from None
        if fact.kind not in _KINDS:
            raise bad("unknown kind")
        return fact
