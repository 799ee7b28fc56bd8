"""Audit-log cryptography: the public face of the audit modules.

Entry encoding and hashing, details sealing, pseudonyms, signed checkpoints, witness
lines and the chain verifiers - each in its own module, re-exported here so callers
keep one import (``from medcrypt.crypto.server.audit import Action, verify_chain``):

* :mod:`~medcrypt.crypto.server.audit.entry` - actions, refs, the canonical entry encoding and hash;
* :mod:`~medcrypt.crypto.server.audit.details` - details validation and XChaCha20-Poly1305 sealing;
* :mod:`~medcrypt.crypto.server.audit.checkpoint` - Ed25519 checkpoints and chat witness lines;
* :mod:`~medcrypt.crypto.server.audit.verify` - the streaming verifier (first bad seq and why);
* :mod:`~medcrypt.crypto.server.audit.coverage` - no stretch of the log unsigned for longer
  than the checkpoint policy allows;
* :mod:`~medcrypt.crypto.server.audit.segment` - the same verdict from slices walked in parallel;
* :mod:`~medcrypt.crypto.server.audit.restore` - a restore from backup as a signed,
  recognised break.

Everything here is pure (no database, no clock, no network), so the verifier can run
over rows from any store or over exported bytes, and tests pin every byte
(docs/adr/0004-audit-log.md).
"""

from __future__ import annotations

from medcrypt.crypto.errors import AuditChainBroken
from medcrypt.crypto.server.audit.checkpoint import (
    KEY_ID_BYTES,
    SIGNATURE_BYTES,
    WITNESS_HEAD_HEX,
    WITNESS_PREFIX,
    Checkpoint,
    CheckpointSigner,
    Witness,
    checkpoint_message,
    checkpoint_signature_ok,
    format_witness,
    key_id_of,
    parse_witness_lines,
    public_key_from_b64,
)
from medcrypt.crypto.server.audit.coverage import CoveragePolicy
from medcrypt.crypto.server.audit.details import (
    FORBIDDEN_DETAIL_KEYS,
    Details,
    DetailValue,
    encode_details,
    open_details,
    seal_details,
)
from medcrypt.crypto.server.audit.entry import (
    FORMAT_VERSION,
    GENESIS_HASH,
    HASH_BYTES,
    MAX_DETAILS_CIPHERTEXT,
    MAX_DETAILS_PLAINTEXT,
    MAX_REF_CHARS,
    NONCE_BYTES,
    SUBJECT_KEY_BYTES,
    SYSTEM_AUDIT,
    SYSTEM_BOT,
    SYSTEM_CLI,
    SYSTEM_SCHEDULER,
    Action,
    EntryFields,
    EntryRow,
    as_row,
    check_ref,
    decode_entry,
    encode_entry,
    entry_hash,
    pseudonym,
    rows_from_records,
    system_ref,
)
from medcrypt.crypto.server.audit.restore import (
    RestoreMark,
    restore_mark,
    split_witnesses,
)
from medcrypt.crypto.server.audit.segment import (
    SegmentResult,
    combine_segments,
    stop_seqs_of,
    verify_segment,
)
from medcrypt.crypto.server.audit.verify import VerifyReport, checkpoint_times, verify_chain

__all__ = [
    "FORBIDDEN_DETAIL_KEYS",
    "FORMAT_VERSION",
    "GENESIS_HASH",
    "HASH_BYTES",
    "KEY_ID_BYTES",
    "MAX_DETAILS_CIPHERTEXT",
    "MAX_DETAILS_PLAINTEXT",
    "MAX_REF_CHARS",
    "NONCE_BYTES",
    "SIGNATURE_BYTES",
    "SUBJECT_KEY_BYTES",
    "SYSTEM_AUDIT",
    "SYSTEM_BOT",
    "SYSTEM_CLI",
    "SYSTEM_SCHEDULER",
    "WITNESS_HEAD_HEX",
    "WITNESS_PREFIX",
    "Action",
    "AuditChainBroken",
    "Checkpoint",
    "CheckpointSigner",
    "CoveragePolicy",
    "DetailValue",
    "Details",
    "EntryFields",
    "EntryRow",
    "RestoreMark",
    "SegmentResult",
    "VerifyReport",
    "Witness",
    "as_row",
    "check_ref",
    "checkpoint_message",
    "checkpoint_signature_ok",
    "checkpoint_times",
    "combine_segments",
    "decode_entry",
    "encode_details",
    "encode_entry",
    "entry_hash",
    "format_witness",
    "key_id_of",
    "open_details",
    "parse_witness_lines",
    "pseudonym",
    "public_key_from_b64",
    "restore_mark",
    "rows_from_records",
    "seal_details",
    "split_witnesses",
    "stop_seqs_of",
    "system_ref",
    "verify_chain",
    "verify_segment",
]
