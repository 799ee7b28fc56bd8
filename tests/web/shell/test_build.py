"""web/build.mjs: reproducible, content-hashed, the bundle hash as ADR 0029 defines it,
and under the size ceiling."""

from __future__ import annotations

import re
from pathlib import Path

from medcrypt.companion.webui.bundle import INDEX, SUMS, canonical_index, check_bundle, parse_sums
from tests.support import web

GZIP = re.compile(r"gzipped ([0-9.]+) KiB in all")


def _tree(root: Path) -> dict[str, bytes]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def test_two_builds_of_one_tree_are_byte_identical(web_build: web.Build, tmp_path: Path) -> None:
    again = web.build_web(tmp_path / "again")
    # And from a copy of the sources at another absolute path: no path leaks into output.
    moved = web.build_copy(web.copy_web_tree(tmp_path / "elsewhere" / "web"), tmp_path / "moved")
    first = _tree(web_build.outdir)
    assert _tree(again.outdir) == first
    assert _tree(moved.outdir) == first
    assert again.bundle_hash == moved.bundle_hash == web_build.bundle_hash


def test_the_bundle_hash_covers_every_file(web_build: web.Build) -> None:
    root = web_build.outdir
    sums = (root / SUMS).read_bytes()
    listed = parse_sums(sums)
    on_disk = set(_tree(root)) - {SUMS}
    assert set(listed) == on_disk  # nothing served is left out
    bundle = check_bundle(sums, web_build.bundle_hash, lambda p: (root / p).read_bytes())
    assert bundle.sha256 == web_build.bundle_hash
    page = (root / INDEX).read_bytes()
    assert f'content="{web_build.bundle_hash}"'.encode() in page
    assert canonical_index(page, web_build.bundle_hash).count(b"0" * 64) == 1
    # Content-hashed names: the name carries the first 16 hex of the file's SHA-256.
    for path, digest in listed.items():
        named = re.search(r"-([0-9a-f]{16})\.[a-z]+$", path)
        if named:
            assert digest.startswith(named.group(1)), path


def test_the_gzipped_bundle_is_within_400_kib(web_build: web.Build) -> None:
    found = GZIP.search(web_build.output)
    assert found, web_build.output
    assert float(found.group(1)) <= 400
    print(f"gzipped bundle: {found.group(1)} KiB")
