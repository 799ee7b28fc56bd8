"""Attack: the container's length must not tell the bot (or a platform) a file's size.

An observer of the relayed document knows its length. Before the padded container
(PROTOCOL §14, ADR 0022) that length was ``size + 83`` for a small file, so two lab
reports of 1000 and 1001 bytes were told apart by anyone on the path. Text messages
were already bucketed (§8); a file must reveal no more than its bucket either.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from medcrypt.crypto.endpoint.attachment import (
    CHUNK_SIZE,
    Manifest,
    container_size,
    open_file,
    padded_size,
    seal_file,
)
from medcrypt.crypto.keyless.wire import Direction
from tests.support.companion import Cli, Pair
from tests.vectors.gen_attachment_v3 import pattern

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def _container_len(cli: Cli, pair: Pair, size: int) -> int:
    src = cli.tmp / f"result-{size}.txt"
    src.write_bytes(b"K" * size)
    cli.ok(pair.doc, "send-file", str(src), "--out", f"r{size}.mcf")
    return (cli.tmp / f"r{size}.mcf").stat().st_size


def test_files_of_1000_and_1001_bytes_give_containers_of_one_length(cli: Cli,
                                                                    pair: Pair) -> None:
    lengths = {size: _container_len(cli, pair, size) for size in (1000, 1001)}
    # The exact size must not be readable from the length (it was length - 83).
    assert all(length - 83 != size for size, length in lengths.items()), lengths
    assert lengths[1000] == lengths[1001], lengths


def test_padded_file_still_opens_to_its_exact_bytes(cli: Cli, pair: Pair) -> None:
    src = cli.tmp / "note.txt"
    src.write_bytes(b"Hb 13.1 g/dL\n" * 77)
    token = cli.ok(pair.doc, "send-file", str(src), "--out", "note.mcf").out
    cli.ok(pair.pat, "decrypt", stdin=token)
    out = cli.tmp / "got.txt"
    cli.ok(pair.pat, "open-file", str(cli.tmp / "note.mcf"), "--out", str(out))
    assert out.read_bytes() == src.read_bytes()


# --------------------------------------------------------------------------- the property


def _sealed_len(size: int) -> int:
    out = io.BytesIO()
    seal_file(io.BytesIO(bytes(size)), out, pairing_id=bytes(16), epoch=682,
              direction=Direction.PATIENT_TO_PHYSICIAN, name="a.bin")
    return len(out.getvalue())


def _bucket_floor(size: int) -> int:
    """The smallest size with the same padded size (padded_size is monotone)."""
    low, high, target = 0, size, padded_size(size)
    while low < high:
        mid = (low + high) // 2
        if padded_size(mid) == target:
            high = mid
        else:
            low = mid + 1
    return low


@settings(max_examples=60, deadline=None)
@given(size=st.integers(0, 300_000), where=st.floats(0, 1))
def test_container_length_is_a_function_of_the_bucket_only(size: int, where: float) -> None:
    low, high = _bucket_floor(size), padded_size(size)
    other = low + int(where * (high - low))
    assert padded_size(other) == high
    assert _sealed_len(size) == _sealed_len(other) == container_size(size)
    if low > 0:  # the neighbouring bucket is told apart, and no finer
        assert _sealed_len(low - 1) < _sealed_len(size)


# --------------------------------------------------------------------------- vectors


def test_committed_padded_vectors_replay_and_open() -> None:
    vectors = json.loads((VECTORS / "attachment_container_v3.json").read_text())
    assert vectors["chunk_size"] == CHUNK_SIZE
    lengths = {}
    for case in vectors["cases"]:
        plaintext = pattern(case["plaintext_size"])
        draws = [bytes.fromhex(d) for d in case["rng_draws"]]
        out = io.BytesIO()
        manifest = seal_file(
            io.BytesIO(plaintext), out, pairing_id=bytes.fromhex(case["pairing_id"]),
            epoch=case["epoch"], direction=Direction(case["direction"]), name=case["name"],
            mime_type=case["mime_type"], rng=lambda n, d=draws: d.pop(0))
        container = out.getvalue()
        assert not draws
        assert manifest.to_bytes().hex() == case["manifest"]
        assert hashlib.sha256(container).hexdigest() == case["container_sha256"]
        if "container" in case:
            container = bytes.fromhex(case["container"])
        assert len(container) == case["container_size"]
        assert container[:5] == b"MCF3\x03"
        back = io.BytesIO()
        open_file(io.BytesIO(container), back,
                  Manifest.from_bytes(bytes.fromhex(case["manifest"])))
        assert hashlib.sha256(back.getvalue()).hexdigest() == case["plaintext_sha256"]
        lengths[case["plaintext_size"]] = case["container_size"]
    assert lengths[1000] == lengths[1001]
