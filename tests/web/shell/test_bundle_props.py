"""The parser of bundle.sha256sums and the bundle check, against hostile input: any bytes
give a valid listing or MalformedSums, and any change to a valid bundle is caught."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from medcrypt.companion.webui.bundle import (
    INDEX,
    BundleMismatch,
    MalformedSums,
    check_bundle,
    parse_sums,
)

PAGE = b'<meta name="medcrypt-bundle-sha256" content="' + b"0" * 64 + b'">'


def _bundle(files: dict[str, bytes]) -> tuple[bytes, dict[str, bytes], str]:
    """A bundle made by the build's rule, in Python: sums, served files, hash."""
    digests = {p: hashlib.sha256(b).hexdigest() for p, b in files.items()}
    sums = "".join(f"{digests[p]}  {p}\n" for p in sorted(files, key=str.encode)).encode()
    bundle_hash = hashlib.sha256(sums).hexdigest()
    served = dict(files)
    served[INDEX] = files[INDEX].replace(b"0" * 64, bundle_hash.encode())
    return sums, served, bundle_hash


names = st.from_regex(r"app/[a-z]{1,8}-[0-9a-f]{16}\.(js|svg)", fullmatch=True)
contents = st.binary(max_size=64)


@given(st.binary(max_size=2048))
@settings(max_examples=300, deadline=None)
def test_any_bytes_parse_or_give_malformed_sums(data: bytes) -> None:
    try:
        listed = parse_sums(data)
    except MalformedSums:
        return
    assert INDEX in listed


@given(st.dictionaries(names, contents, max_size=6), st.data())
@settings(max_examples=200, deadline=None)
def test_any_changed_byte_fails_the_check(extra: dict[str, bytes], data: st.DataObject) -> None:
    files = {INDEX: PAGE, **extra}
    sums, served, bundle_hash = _bundle(files)
    assert check_bundle(sums, bundle_hash, served.__getitem__).sha256 == bundle_hash
    victim = data.draw(st.sampled_from(sorted(served)))
    original = served[victim]
    position = data.draw(st.integers(0, max(len(original), 1) - 1)) if original else 0
    changed = bytearray(original or b"\x00")
    changed[position] ^= data.draw(st.integers(1, 255))
    tampered = {**served, victim: bytes(changed)}
    try:
        check_bundle(sums, bundle_hash, tampered.__getitem__)
    except (BundleMismatch, MalformedSums):
        return
    raise AssertionError(f"a changed {victim} passed the check")


@given(st.binary(min_size=1, max_size=64))
@settings(max_examples=100, deadline=None)
def test_a_changed_listing_fails_against_the_expected_hash(noise: bytes) -> None:
    sums, served, bundle_hash = _bundle({INDEX: PAGE})
    try:
        check_bundle(sums + noise, bundle_hash, served.__getitem__)
    except (BundleMismatch, MalformedSums):
        return
    raise AssertionError("a changed bundle.sha256sums passed")


def test_paths_outside_the_bundle_are_refused() -> None:
    digest = "a" * 64
    for path in ("../etc/passwd", "/abs", "app/../x", "a//b", "app/./x", "bundle.sha256sums"):
        try:
            parse_sums(f"{digest}  {INDEX}\n{digest}  {path}\n".encode())
        except MalformedSums:
            continue
        raise AssertionError(path)
