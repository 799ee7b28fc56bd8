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

Key rotation (docs/adr/0041): :meth:`ErasureRecord.rekey` (run by ``keys rewrap``)
checks every line under the version it names, then writes the whole record again
with every MAC under the current version into a new file, and renames it over the old
one while holding the old file's lock. An append that opened the old file before the
rename finds, once it holds the lock, that the path names another file, and appends to
the new one instead; so no line is lost, and once the old version is removed every line
still verifies. A forged or edited line stops the rekey before anything changes: a
rotation never launders a line the old key would have refused.
"""

from __future__ import annotations

import fcntl
import hmac
import json
import os
import re
import stat
from collections import Counter
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

    def _locked(self, flags: int) -> int:
        """An fd on the file the path names *now*, exclusively locked.

        An fd opened just before a :meth:`rekey` renamed a new file into place points at
        the replaced file; writing there would lose the line. So after taking the lock
        the fd's inode is compared with the path's, and a mismatch retries on the path.
        """
        while True:
            try:
                fd = os.open(self.path, flags, 0o600)
            except OSError as exc:
                raise StorageError(f"cannot open the erasure record ({exc.strerror})"
                                   ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                held = os.fstat(fd)
                named = os.stat(self.path)
            except FileNotFoundError:
                os.close(fd)
                continue
            except OSError as exc:
                os.close(fd)
                raise StorageError(f"cannot lock the erasure record ({exc.strerror})"
                                   ) from None
            if (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino):
                return fd
            os.close(fd)

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
        fd = self._locked(os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
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
                yield self._parse(number, line)[0]

    def mac_versions(self) -> Counter[int]:
        """Lines per server-key version their MAC names (not verified: for ``keys
        status``, which must say which versions the record still needs)."""
        counts: Counter[int] = Counter()
        try:
            text = self.path.read_text(encoding="ascii")
        except FileNotFoundError:
            return counts
        except (OSError, UnicodeDecodeError) as exc:
            raise StorageError(f"cannot read the erasure record ({type(exc).__name__})"
                               ) from None
        for line in text.splitlines():
            mac_hex = line.rpartition("\t")[2]
            try:
                counts[blind_index_version(bytes.fromhex(mac_hex))] += 1
            except (ValueError, MalformedToken):
                counts[0] += 1  # not a line at all: a restore would refuse it
        return counts

    def rekey(self) -> tuple[int, int]:
        """Re-MAC every line under the keyring's current version; (lines, re-MACed).

        Every line is verified under the version it names first; one that fails raises
        StorageError naming its line number and nothing changes. Then the new record is
        written beside the old one (same owner and mode), fsynced, renamed over it and
        the directory fsynced - all under the old file's lock, so appends wait and then
        land in the new file (:meth:`_locked`). A crash before the rename leaves the old
        record whole; after it, the new one.
        """
        if not self.path.exists():
            return 0, 0
        fd = self._locked(os.O_RDONLY)
        try:
            try:  # read exactly as read() does, line by line in text mode
                with os.fdopen(os.dup(fd), "r", encoding="ascii") as handle:
                    lines = list(handle)
            except UnicodeDecodeError:
                raise StorageError("erasure record is not ASCII; the record was edited or "
                                   "damaged - rekey refused, nothing changed") from None
            bodies = [self._parse(n, line, refused="rekey refused, nothing changed")[1]
                      for n, line in enumerate(lines, start=1)]
            fresh = [f"{body}\t{self._mac(body).hex()}\n" for body in bodies]
            changed = sum(1 for old, new in zip(lines, fresh, strict=True) if old != new)
            if changed:
                self._replace("".join(fresh).encode("ascii"), os.fstat(fd))
        finally:
            os.close(fd)
        return len(bodies), changed

    def _replace(self, data: bytes, like: os.stat_result) -> None:
        """Write ``data`` to a new file and rename it over the record (lock held)."""
        tmp = self.path.with_name(f".{self.path.name}.rekey")
        try:
            tmp.unlink(missing_ok=True)  # left by a rekey that crashed before its rename
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                if (like.st_uid, like.st_gid) != (os.geteuid(), os.getegid()):
                    os.fchown(fd, like.st_uid, like.st_gid)  # the bot must still append
                os.fchmod(fd, stat.S_IMODE(like.st_mode))
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StorageError(f"cannot rewrite the erasure record ({exc.strerror}); the "
                               "old record is unchanged") from None
        try:
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as exc:
            raise StorageError(f"the erasure record was rewritten but its directory could "
                               f"not be synced ({exc.strerror})") from None

    def _parse(self, number: int, line: str, *, refused: str = "restore refused"
               ) -> tuple[ErasureFact, str]:
        def bad(why: str) -> StorageError:
            return StorageError(f"erasure record line {number}: {why}; the record was "
                                f"edited or damaged - {refused}")

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
        return fact, body
