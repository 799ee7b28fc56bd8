"""``dek`` facts in the erasure record: a destroyed DEK's random id and the time, nothing
else; the parser takes exactly ``dek:<32 lower-case hex>`` and refuses the rest."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medcrypt.crypto.errors import StorageError
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.backup.erasure_record import (
    ErasureFact,
    ErasureRecord,
    dek_id_of,
    dek_ref,
)

RING = Keyring({1: bytes(range(32))})
DEK_IDS = st.binary(min_size=16, max_size=16).map(bytes.hex)


@settings(max_examples=50, deadline=None)
@given(ids=st.lists(DEK_IDS, min_size=1, max_size=5), at=st.integers(0, 2**62))
def test_dek_facts_round_trip(tmp_path_factory: pytest.TempPathFactory, ids: list[str],
                              at: int) -> None:
    path = tmp_path_factory.mktemp("record") / "erasures"
    record = ErasureRecord(path, RING)
    facts = [ErasureFact(at, "dek", dek_ref(i)) for i in ids]
    record.append(facts)
    assert list(record.read()) == facts
    assert [dek_id_of(f.ref) for f in record.read()] == ids


@settings(max_examples=200, deadline=None)
@given(ref=st.text(max_size=60))
def test_only_a_dek_id_is_a_dek_ref(ref: str) -> None:
    if re.fullmatch(r"dek:[0-9a-f]{32}", ref):
        assert dek_id_of(ref) == ref[4:]
        return
    with pytest.raises(ValueError, match="DEK id"):
        dek_id_of(ref)
    with pytest.raises(ValueError):
        ErasureRecord(Path(os.devnull), RING).append([ErasureFact(1, "dek", ref)])


@settings(max_examples=50, deadline=None)
@given(junk=st.text(alphabet="0123456789abcdefABCDEF+: ", min_size=1, max_size=40))
def test_a_dek_line_with_another_ref_does_not_parse(
        tmp_path_factory: pytest.TempPathFactory, junk: str) -> None:
    """A line MACed correctly but naming something other than a DEK id (a phone number,
    an identity id) is refused by number: the MAC proves who wrote it, not what."""
    ref = f"dek:{junk}"
    if re.fullmatch(r"dek:[0-9a-f]{32}", ref):
        return
    path = tmp_path_factory.mktemp("record") / "erasures"
    body = ErasureFact(7, "dek", ref).encode()
    mac = RING.blind_index("erasure_record", "line", body)
    path.write_text(f"{body}\t{mac.hex()}\n")
    with pytest.raises(StorageError, match="line 1: malformed"):
        list(ErasureRecord(path, RING).read())


def test_a_phone_number_is_no_dek_ref(tmp_path: Path) -> None:
    record = ErasureRecord(tmp_path / "erasures", RING)
    with pytest.raises(ValueError, match="DEK id"):
        record.append([ErasureFact(1, "dek", "dek:+15551230001")])
    assert not (tmp_path / "erasures").exists()
