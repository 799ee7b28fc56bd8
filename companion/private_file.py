"""Files the companion writes for its user alone: mode 0600 whatever the umask.

An offer PNG carries the one-time pairing secret and an opened attachment is clinical
content; on a shared machine a umask of 0002 or 0000 would let other accounts read them.
The file is created under a random temporary name beside its destination with
``O_CREAT | O_EXCL`` (which also refuses a symlink planted there) and mode 0600, then
renamed over the destination, so a file already there - with whatever mode - is replaced
by the private one, and a reader never sees it half written.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

PRIVATE_MODE = 0o600


def temp_beside(path: Path) -> Path:
    """A fresh hidden name in the destination's directory (same file system: atomic rename)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")


def create_private(path: Path) -> BinaryIO:
    """A new file at ``path``, mode 0600 from its first byte; fails if ``path`` exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    return os.fdopen(fd, "wb")


@contextlib.contextmanager
def replaced_privately(path: Path) -> Iterator[BinaryIO]:
    """Write a 0600 temporary file; on success it replaces ``path``, on failure it is gone."""
    tmp = temp_beside(path)
    try:
        with create_private(tmp) as dst:
            yield dst
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
