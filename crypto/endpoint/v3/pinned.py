"""The pinned-key record: what break-glass trusts about a pairing (PROTOCOL §34).

Break-glass must never trust keys the bot or a deposit supplies.  The physician's
companion therefore signs, at pairing end, one record of the pairing - pairing id,
transcript hash, both identity keys, escrow key - with the identity key the clinic
enrolled in an admin step.  Break-glass verifies the record against that *enrolled* key
(:func:`verify_record`) and then checks each deposit's signature against the sender key
the record names.  A record without an escrow key would protect nothing, so there is none.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint.session import IdentityKey
from medcrypt.crypto.errors import MalformedToken, WrongPairing

RECORD_VERSION = 3
RECORD_TYPE = 1
LABEL_RECORD = b"MEDCRYPT v3 pinned-key record"
_BODY = struct.Struct(">BB16s32s32s32s32s")  # version type pid T I_d I_p escrow
BODY_LEN = _BODY.size  # 146
RECORD_LEN = BODY_LEN + 64  # 210


@dataclass(frozen=True, slots=True)
class PinnedRecord:
    pairing_id: bytes
    transcript_hash: bytes
    physician_identity: bytes
    patient_identity: bytes
    escrow_public: bytes
    raw: bytes

    def text(self) -> str:
        return prim.b64e(self.raw)


def sign_record(identity: IdentityKey, *, pairing_id: bytes, transcript_hash: bytes,
                patient_identity: bytes, escrow_public: bytes | None) -> PinnedRecord:
    """The physician's companion signs the record with its (enrolled) identity key."""
    if escrow_public is None:
        raise MalformedToken("a pairing without an escrow key has no pinned-key record")
    for value, size, what in ((pairing_id, 16, "pairing id"), (transcript_hash, 32, "transcript"),
                              (patient_identity, 32, "patient identity"),
                              (escrow_public, 32, "escrow key")):
        if len(value) != size:
            raise MalformedToken(f"{what} must be {size} bytes")
    body = _BODY.pack(RECORD_VERSION, RECORD_TYPE, pairing_id, transcript_hash, identity.public,
                      patient_identity, escrow_public)
    return _record(body + identity.sign(LABEL_RECORD + body))


def verify_record(raw: bytes, enrolled_physician: bytes) -> PinnedRecord:
    """Parse and verify a record against the clinic-enrolled physician key.

    MalformedToken for any other length or version; WrongPairing when the record names
    another physician key; DecryptionFailed (opaque) for a bad signature.
    """
    if len(raw) != RECORD_LEN:
        raise MalformedToken("pinned-key record has the wrong length")
    if raw[0] != RECORD_VERSION or raw[1] != RECORD_TYPE:
        raise MalformedToken("unsupported pinned-key record")
    record = _record(raw)
    if not prim.constant_time_equal(record.physician_identity, enrolled_physician):
        raise WrongPairing("the record is not signed by the enrolled physician key")
    prim.ed25519_verify(enrolled_physician, LABEL_RECORD + raw[:BODY_LEN], raw[BODY_LEN:])
    return record


def open_sealed_record(escrow_private: bytes | bytearray, sealed: bytes,
                       enrolled_physician: bytes) -> PinnedRecord:
    """Break-glass: open a record the companion sealed to the escrow key (PROTOCOL §34.3)
    and verify it against the enrolled key, as :func:`verify_record`."""
    return verify_record(prim.sealed_box_open(escrow_private, sealed), enrolled_physician)


def _record(raw: bytes) -> PinnedRecord:
    _v, _t, pid, transcript, physician, patient, escrow = _BODY.unpack_from(raw)
    return PinnedRecord(pid, transcript, physician, patient, escrow, bytes(raw))
