"""Fuzz targets for the audit log's parsers: witness lines and canonical entries."""

from __future__ import annotations

from medcrypt.crypto.server.audit import (
    GENESIS_HASH,
    CheckpointSigner,
    EntryFields,
    decode_entry,
    encode_entry,
    entry_hash,
    format_witness,
    parse_witness_lines,
    rows_from_records,
)

_SIGNER = CheckpointSigner(bytes(range(1, 33)))
_FIELDS = EntryFields(42, 1_795_435_200_000_000, "physician:00112233445566778899aabb",
                      "patient:ffeeddccbbaa998877665544", "relay.accepted", bytes(range(41)),
                      GENESIS_HASH)
_ENTRY = encode_entry(_FIELDS)
_WITNESS = format_witness(_SIGNER.sign(42, _FIELDS.ts_us, entry_hash(_FIELDS), b""))


def _witness(data: bytes) -> object:
    return parse_witness_lines(data.decode("utf-8", errors="replace"))


def _record(data: bytes) -> object:
    return list(rows_from_records([data]))


TARGETS = {
    "witness_lines": (_witness, [_WITNESS.encode(), f"Bot: {_WITNESS}\nok\n".encode()]),
    "entry_decoder": (decode_entry, [_ENTRY]),
    "entry_record": (_record, [_ENTRY + entry_hash(_FIELDS)]),
}
