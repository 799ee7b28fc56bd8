"""The web bundle's fingerprint: what it covers and how a copy is checked (ADR 0029).

``web/build.mjs`` writes ``bundle.sha256sums``: one line ``<sha256 hex>  <path>\\n`` per
file of the bundle, sorted by path (UTF-8 bytes), in ``sha256sum`` format. The bundle
hash is the SHA-256 of that file. ``app/index.html`` shows the hash to the user, and a file
cannot hold its own hash, so it is listed by the hash of its *canonical form*: the one
occurrence of the bundle hash replaced by 64 ``0``. Every other file is listed as served.

Checking is pure over bytes with the fetching injected (python-tuf's
``FetcherInterface``): :func:`check_bundle` serves ``medcrypt ui`` (a local directory,
checked before it is served) and ``medcrypt web-verify`` (any origin, over HTTP).
The hashes are public, so comparing them need not be constant-time; it is anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from medcrypt.companion.i18n import N_, error
from medcrypt.crypto.errors import BadToken, MalformedToken

SUMS = "bundle.sha256sums"
INDEX = "app/index.html"
WORKER = "app/sw.js"
ZEROS = "0" * 64
MAX_FILES = 256
MAX_SUMS_BYTES = 64 * 1024
_LINE = re.compile(r"([0-9a-f]{64})  ([A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*)")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class MalformedSums(MalformedToken):
    """``bundle.sha256sums`` is not in the one format the build writes."""


class BundleMismatch(BadToken):
    """A file, or the list of files, is not the one the expected bundle hash names."""


@dataclass(frozen=True)
class Bundle:
    """A checked bundle: every file's bytes by path, and the hash they add up to."""

    sha256: str
    sums: bytes
    files: Mapping[str, bytes]


def parse_sums(data: bytes) -> dict[str, str]:
    """Path -> sha256 hex, from exactly the format the build writes, or MalformedSums.

    Refused: anything but UTF-8 lines ending in LF; a line not ``<64 hex>  <path>``; a
    path with ``..``/``.`` segments, a leading ``/`` or characters outside
    ``[A-Za-z0-9._-/]``; paths out of order or repeated; more than 256 files; no app page.
    """
    if len(data) > MAX_SUMS_BYTES:
        raise error(MalformedSums, N_("{sums} is larger than {limit} bytes"), sums=SUMS,
                    limit=MAX_SUMS_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise error(MalformedSums, N_("{sums} is not UTF-8"), sums=SUMS) from None
    if not text.endswith("\n"):
        raise error(MalformedSums, N_("{sums} must end with a newline"), sums=SUMS)
    lines = text[:-1].split("\n")
    if len(lines) > MAX_FILES:
        raise error(MalformedSums, N_("{sums} lists more than {limit} files"), sums=SUMS,
                    limit=MAX_FILES)
    out: dict[str, str] = {}
    previous = b""
    for number, line in enumerate(lines, 1):
        match = _LINE.fullmatch(line)
        if not match:
            raise error(MalformedSums, N_("{sums} line {number} is not '<sha256>  <path>'"),
                        sums=SUMS, number=number)
        digest, path = match.groups()
        if any(part in {".", ".."} for part in path.split("/")) or path == SUMS:
            raise error(MalformedSums, N_("{sums} line {number} names a path outside the "
                                             "bundle"), sums=SUMS, number=number)
        key = path.encode()
        if key <= previous:
            raise error(MalformedSums, N_("{sums} line {number} is out of order or repeated"),
                        sums=SUMS, number=number)
        previous = key
        out[path] = digest
    if INDEX not in out:
        raise error(MalformedSums, N_("{sums} does not list {index}"), sums=SUMS, index=INDEX)
    return out


def canonical_index(data: bytes, bundle_hash: str) -> bytes:
    """``app/index.html`` with its one copy of ``bundle_hash`` set to zeros."""
    if not _HEX64.fullmatch(bundle_hash):
        raise error(MalformedSums, N_("a bundle hash is 64 lowercase hex digits"))
    needle = bundle_hash.encode()
    if data.count(needle) != 1:
        raise error(BundleMismatch, N_("{index} does not carry the bundle hash exactly once"),
                    index=INDEX)
    return data.replace(needle, ZEROS.encode())


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_bundle(sums: bytes, expect: str | None, fetch: Callable[[str], bytes]) -> Bundle:
    """Check every file ``sums`` lists, fetched by ``fetch(path)``, against it.

    With ``expect`` the list itself must hash to it; without, the hash the list gives is
    the answer (``medcrypt ui`` serving a local build). Raises BundleMismatch naming the
    first file that differs, MalformedSums for a list not in the build's format.
    """
    actual = sha256_hex(sums)
    if expect is not None:
        if not _HEX64.fullmatch(expect):
            raise error(MalformedSums,
                        N_("the expected bundle hash must be 64 lowercase hex digits"))
        if not hmac.compare_digest(actual, expect):
            raise error(BundleMismatch, N_("{sums} does not hash to the expected bundle hash "
                                              "(it gives {actual})"), sums=SUMS, actual=actual)
    listed = parse_sums(sums)
    files: dict[str, bytes] = {}
    for path, digest in listed.items():
        data = fetch(path)
        checked = canonical_index(data, actual) if path == INDEX else data
        if not hmac.compare_digest(sha256_hex(checked), digest):
            raise error(BundleMismatch, N_("{path} differs from the bundle {actual}"), path=path,
                        actual=actual)
        files[path] = data
    return Bundle(sha256=actual, sums=sums, files=files)
