"""Audit entries: the closed action vocabulary, pseudonymous refs and the canonical
encoding every entry hash covers.

Entry hash (all integers big-endian, docs/adr/0004-audit-log.md)::

    SHA-256( "MEDCRYPT-AUDIT-ENTRY\\0v1\\0"
             | seq u64 | ts_us i64 | len(actor) u16 | len(subject) u16 | len(action) u16
             | len(details) u32 | actor | subject | action | details | prev_hash[32] )

The lengths sit up front so the encoding is injective and decodes without scanning; the
label separates it from every other hash of the project and carries the version.
``details`` is the ciphertext, so a flipped ciphertext byte breaks the chain even for a
subject whose key was erased. Pure: no database, clock or network.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import struct
import unicodedata
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import NamedTuple

from medcrypt.crypto.errors import MalformedToken


class Action(StrEnum):
    """The closed vocabulary of audited events. Values are stored and hashed: never edit."""

    PAIRING_REGISTERED = "pairing.registered"
    PAIRING_ACCEPTED = "pairing.accepted"
    CONSENT_RECORDED = "pairing.consent_recorded"
    PAIRING_UNPAIRED = "pairing.unpaired"
    RELAY_ACCEPTED = "relay.accepted"
    RELAY_REFUSED = "relay.refused"
    PLAINTEXT_BLOCKED = "relay.plaintext_blocked"
    EPOCH_ROTATED = "keys.epoch_rotated"
    EPOCH_RETIRED = "keys.epoch_retired"
    EPOCH_SHREDDED = "keys.epoch_shredded"
    ADMIN_COMMAND = "admin.command"
    ADMIN_REFUSED = "admin.refused"
    CONFIRMATION_REFUSED = "confirmation.refused"
    WEBHOOK_FORGED = "webhook.forged"
    #: Platform input the bot could not read and skipped (details: platform, reason, id).
    PLATFORM_INPUT_SKIPPED = "platform.input_skipped"
    BREAKGLASS_REQUESTED = "breakglass.requested"
    BREAKGLASS_APPROVED = "breakglass.approved"
    BREAKGLASS_DENIED = "breakglass.denied"
    BREAKGLASS_EXPORTED = "breakglass.exported"
    BREAKGLASS_OPENED = "breakglass.opened"
    KEY_CHANGED = "config.key_changed"
    CONFIG_CHANGED = "config.changed"
    BOT_STARTED = "bot.started"
    BOT_STOPPED = "bot.stopped"
    CHECKPOINT = "audit.checkpoint"
    SUBJECT_ERASED = "audit.subject_erased"
    #: The database was restored from a backup: entries after the backup's head were lost
    #: (details: backup_head_seq, lost_to_seq). Always signed by its own checkpoint.
    AUDIT_RESTORED = "audit.restored"


FORMAT_VERSION = 1
HASH_BYTES = 32
GENESIS_HASH = bytes(HASH_BYTES)
SUBJECT_KEY_BYTES = 32
NONCE_BYTES = 24
MAX_REF_CHARS = 48
MAX_DETAILS_PLAINTEXT = 4096
MAX_DETAILS_CIPHERTEXT = 1 + NONCE_BYTES + MAX_DETAILS_PLAINTEXT + 16

ENTRY_LABEL = b"MEDCRYPT-AUDIT-ENTRY\x00v1\x00"
_PSEUDONYM_LABEL = b"MEDCRYPT-AUDIT-PSEUDONYM\x00v1\x00"
#: seq u64, ts_us i64, then the lengths of actor, subject, action (u16) and details (u32).
ENTRY_HEADER = struct.Struct(">QqHHHI")
_ACTIONS: frozenset[str] = frozenset(a.value for a in Action)

_KIND_RE = re.compile(r"[a-z][a-z_]{1,15}\Z")
_REF_RE = re.compile(r"(?:[a-z][a-z_]{1,15}:[0-9a-f]{24}|system:[a-z][a-z_]{0,23})\Z")

#: One stored entry as the verifier reads it: seq, ts_us, actor_ref, subject_ref,
#: action, details ciphertext, prev_hash, entry_hash - the three text fields as their
#: ASCII bytes (the database hands them over cast to bytes: decoding and re-encoding a
#: million strings would cost more than hashing them).
EntryRow = tuple[int, int, bytes, bytes, bytes, bytes, bytes, bytes]


# --- references ------------------------------------------------------------------

#: Refs of the non-person actors and subjects the project uses.
SYSTEM_AUDIT = "system:audit"
SYSTEM_BOT = "system:bot"
SYSTEM_CLI = "system:cli"
SYSTEM_SCHEDULER = "system:scheduler"


def pseudonym(key: bytes, kind: str, raw_id: str | int | bytes) -> str:
    """``kind:<24 hex>``: HMAC-SHA256 of the raw id under the audit pseudonym key.

    Deterministic (the same person always maps to the same ref) and not invertible
    without the key, even for low-entropy ids such as phone numbers.
    """
    if len(key) != SUBJECT_KEY_BYTES:
        raise ValueError("pseudonym key must be 32 bytes")
    if not _KIND_RE.match(kind) or kind == "system":
        raise ValueError("pseudonym kind must be 2-16 lowercase letters and not 'system'")
    if isinstance(raw_id, bool):
        raise TypeError("raw_id must be str, int or bytes")
    if isinstance(raw_id, int):
        typed = b"i" + str(raw_id).encode("ascii")
    elif isinstance(raw_id, str):
        typed = b"s" + unicodedata.normalize("NFC", raw_id).encode("utf-8")
    elif isinstance(raw_id, bytes):
        typed = b"b" + raw_id
    else:
        raise TypeError("raw_id must be str, int or bytes")
    msg = _PSEUDONYM_LABEL + length_prefixed(kind.encode("ascii")) + length_prefixed(typed)
    return f"{kind}:{hmac.new(key, msg, hashlib.sha256).digest()[:12].hex()}"


def system_ref(name: str) -> str:
    """The reference of a non-person actor or subject (``system:bot``, ``system:cli``)."""
    ref = f"system:{name}"
    check_ref(ref)
    return ref


def check_ref(ref: str) -> str:
    """Refuse anything that is not a pseudonym or a system ref (never a name or number)."""
    if not isinstance(ref, str) or not _REF_RE.match(ref):
        raise ValueError("audit refs must come from pseudonym() or system_ref()")
    return ref


def length_prefixed(data: bytes) -> bytes:
    """``len u32 | data``: the unambiguous concatenation used inside labelled inputs."""
    return struct.pack(">I", len(data)) + data


# --- entries ---------------------------------------------------------------------

class EntryFields(NamedTuple):
    """Every hashed field of an entry, in hash order."""

    seq: int
    ts_us: int
    actor: str
    subject: str
    action: str
    details: bytes
    prev_hash: bytes


def encode_entry(f: EntryFields) -> bytes:
    """The canonical bytes an entry hash covers (see the module docstring)."""
    if len(f.prev_hash) != HASH_BYTES:
        raise ValueError("prev_hash must be 32 bytes")
    return encode_raw(f.seq, f.ts_us, (f.actor.encode("ascii"), f.subject.encode("ascii"),
                                       f.action.encode("ascii"), f.details, f.prev_hash))


def encode_raw(seq: int, ts_us: int, parts: Sequence[bytes]) -> bytes:
    """Label, header, then actor, subject, action, details and prev_hash as given."""
    a, s, c, d, prev = parts
    return b"".join((ENTRY_LABEL, ENTRY_HEADER.pack(seq, ts_us, len(a), len(s), len(c), len(d)),
                     a, s, c, d, prev))


def entry_hash(f: EntryFields) -> bytes:
    return hashlib.sha256(encode_entry(f)).digest()


def as_row(f: EntryFields, stored_hash: bytes) -> EntryRow:
    """The verifier's row for an entry (text fields as ASCII bytes)."""
    return (f.seq, f.ts_us, f.actor.encode("ascii"), f.subject.encode("ascii"),
            f.action.encode("ascii"), f.details, f.prev_hash, stored_hash)


def decode_entry(data: bytes) -> EntryFields:
    """Parse canonical entry bytes back into fields; strict, for exported copies."""
    base = len(ENTRY_LABEL)
    if len(data) < base + ENTRY_HEADER.size + HASH_BYTES or not data.startswith(ENTRY_LABEL):
        raise MalformedToken("not a MEDCRYPT audit entry (label or length)")
    seq, ts_us, la, ls, lc, ld = ENTRY_HEADER.unpack_from(data, base)
    pos = base + ENTRY_HEADER.size
    if len(data) != pos + la + ls + lc + ld + HASH_BYTES:
        raise MalformedToken("audit entry length does not match its header")
    if ld > MAX_DETAILS_CIPHERTEXT or max(la, ls) > MAX_REF_CHARS:
        raise MalformedToken("audit entry field too long")
    try:
        fields = []
        for n in (la, ls, lc):
            fields.append(data[pos:pos + n].decode("ascii"))
            pos += n
    except UnicodeDecodeError:
        raise MalformedToken("audit entry text field is not ASCII") from None
    actor, subject, action = fields
    if action not in _ACTIONS:
        raise MalformedToken("audit entry has an unknown action")
    if not (_REF_RE.match(actor) and _REF_RE.match(subject)):
        raise MalformedToken("audit entry has a malformed ref")
    return EntryFields(seq, ts_us, actor, subject, action, data[pos:pos + ld], data[pos + ld:])


def rows_from_records(records: Iterable[bytes]) -> Iterable[EntryRow]:
    """Turn ``canonical bytes | entry_hash`` records into rows for the verifier."""
    for record in records:
        body, stored = record[:-HASH_BYTES], record[-HASH_BYTES:]
        yield as_row(decode_entry(body), stored)
