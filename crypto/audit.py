"""Audit-log cryptography: entry encoding and hashing, details sealing, pseudonyms,
signed checkpoints, witness lines and a streaming chain verifier.

Everything here is pure (no database, no clock, no network), so the verifier can run
over rows from any store or over exported bytes, and tests pin every byte.

Entry hash (all integers big-endian, docs/adr/0004-audit-log.md)::

    SHA-256( "MEDCRYPT-AUDIT-ENTRY\\0v1\\0"
             | seq u64 | ts_us i64 | len(actor) u16 | len(subject) u16 | len(action) u16
             | len(details) u32 | actor | subject | action | details | prev_hash[32] )

The lengths sit up front so the encoding is injective and decodes without scanning; the
label separates it from every other hash of the project and carries the version.
``details`` is the ciphertext, so a flipped ciphertext byte breaks the chain even for a
subject whose key was erased. The verifier checks the chain link by link and the
Ed25519 checkpoints (the CloudTrail digest-chain idea: each signature also covers the
previous one), and compares witness lines copied from the admins' chat.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import struct
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nacl import bindings as _nacl
from nacl.exceptions import CryptoError

from crypto.errors import AuditChainBroken, ConfigError, DecryptionFailed, MalformedToken


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
    WEBHOOK_FORGED = "webhook.forged"
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


FORMAT_VERSION = 1
HASH_BYTES = 32
GENESIS_HASH = bytes(HASH_BYTES)
SUBJECT_KEY_BYTES = 32
NONCE_BYTES = 24
KEY_ID_BYTES = 8
SIGNATURE_BYTES = 64
MAX_REF_CHARS = 48
MAX_DETAILS_PLAINTEXT = 4096
MAX_DETAILS_CIPHERTEXT = 1 + NONCE_BYTES + MAX_DETAILS_PLAINTEXT + 16

_ENTRY_LABEL = b"MEDCRYPT-AUDIT-ENTRY\x00v1\x00"
_DETAILS_LABEL = b"MEDCRYPT-AUDIT-DETAILS\x00v1\x00"
_PSEUDONYM_LABEL = b"MEDCRYPT-AUDIT-PSEUDONYM\x00v1\x00"
_CHECKPOINT_LABEL = b"MEDCRYPT-AUDIT-CHECKPOINT\x00v1\x00"
_HEADER = struct.Struct(">QqHHHI")
_ACTIONS: frozenset[str] = frozenset(a.value for a in Action)

_KIND_RE = re.compile(r"[a-z][a-z_]{1,15}\Z")
_REF_RE = re.compile(r"(?:[a-z][a-z_]{1,15}:[0-9a-f]{24}|system:[a-z][a-z_]{0,23})\Z")
_DETAIL_KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,31}\Z")
#: Detail keys that name message content or direct identifiers: refused outright, so a
#: caller cannot put a body or a phone number into the log even by accident.
FORBIDDEN_DETAIL_KEYS = frozenset({
    "body", "text", "plaintext", "message", "content", "caption", "token",
    "phone", "phone_number", "msisdn", "number", "name", "email", "address",
})

DetailValue = str | int | bool | None | list[str | int | bool | None]
Details = Mapping[str, DetailValue]
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
    msg = _PSEUDONYM_LABEL + _lp(kind.encode("ascii")) + _lp(typed)
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


def _lp(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


# --- details ---------------------------------------------------------------------

def encode_details(details: Details | None) -> bytes:
    """Canonical JSON of a flat mapping of small values, after refusing content keys."""
    items = dict(details or {})
    for key, value in items.items():
        if not isinstance(key, str) or not _DETAIL_KEY_RE.match(key):
            raise ValueError("detail keys must be short lowercase identifiers")
        if key in FORBIDDEN_DETAIL_KEYS:
            raise ValueError(f"detail key {key!r} would hold content or an identifier")
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list) and len(value) > 64:
            raise ValueError("detail lists hold at most 64 values")
        for v in values:
            if v is not None and not isinstance(v, str | int | bool):
                raise TypeError("detail values must be str, int, bool, None or lists of them")
    data = json.dumps(items, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    encoded = data.encode("utf-8")
    if len(encoded) > MAX_DETAILS_PLAINTEXT:
        raise ValueError(f"details exceed {MAX_DETAILS_PLAINTEXT} bytes")
    return encoded


def _details_aad(seq: int, subject_ref: str, action: str) -> bytes:
    return (_DETAILS_LABEL + struct.pack(">Q", seq)
            + _lp(subject_ref.encode("ascii")) + _lp(action.encode("ascii")))


def seal_details(
    subject_key: bytes, seq: int, subject_ref: str, action: str, plaintext: bytes,
    *, rng: Callable[[int], bytes],
) -> bytes:
    """``0x01 | nonce 24 | XChaCha20-Poly1305``; AAD binds seq, subject and action."""
    nonce = rng(NONCE_BYTES)
    if len(nonce) != NONCE_BYTES:
        raise ValueError("rng returned the wrong number of bytes")
    ct: bytes = _nacl.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, _details_aad(seq, subject_ref, action), nonce, subject_key)
    return bytes([FORMAT_VERSION]) + nonce + ct


def open_details(
    subject_key: bytes, seq: int, subject_ref: str, action: str, sealed: bytes
) -> dict[str, DetailValue]:
    """Decrypt and parse details; any failure is the opaque :class:`DecryptionFailed`."""
    if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[0] != FORMAT_VERSION:
        raise DecryptionFailed()
    try:
        plain: bytes = _nacl.crypto_aead_xchacha20poly1305_ietf_decrypt(
            sealed[1 + NONCE_BYTES:], _details_aad(seq, subject_ref, action),
            sealed[1:1 + NONCE_BYTES], subject_key)
        parsed = json.loads(plain.decode("utf-8"))
    except (CryptoError, UnicodeError, ValueError):
        raise DecryptionFailed() from None
    if not isinstance(parsed, dict):
        raise DecryptionFailed()
    return parsed


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
    return _encode_raw(f.seq, f.ts_us, (f.actor.encode("ascii"), f.subject.encode("ascii"),
                                        f.action.encode("ascii"), f.details, f.prev_hash))


def _encode_raw(seq: int, ts_us: int, parts: Sequence[bytes]) -> bytes:
    """Label, header, then actor, subject, action, details and prev_hash as given."""
    a, s, c, d, prev = parts
    return b"".join((_ENTRY_LABEL, _HEADER.pack(seq, ts_us, len(a), len(s), len(c), len(d)),
                     a, s, c, d, prev))


def entry_hash(f: EntryFields) -> bytes:
    return hashlib.sha256(encode_entry(f)).digest()


def as_row(f: EntryFields, stored_hash: bytes) -> EntryRow:
    """The verifier's row for an entry (text fields as ASCII bytes)."""
    return (f.seq, f.ts_us, f.actor.encode("ascii"), f.subject.encode("ascii"),
            f.action.encode("ascii"), f.details, f.prev_hash, stored_hash)


def decode_entry(data: bytes) -> EntryFields:
    """Parse canonical entry bytes back into fields; strict, for exported copies."""
    base = len(_ENTRY_LABEL)
    if len(data) < base + _HEADER.size + HASH_BYTES or not data.startswith(_ENTRY_LABEL):
        raise MalformedToken("not a MEDCRYPT audit entry (label or length)")
    seq, ts_us, la, ls, lc, ld = _HEADER.unpack_from(data, base)
    pos = base + _HEADER.size
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
    """Turn ``canonical bytes | entry_hash`` records into rows for :func:`verify_chain`."""
    for record in records:
        body, stored = record[:-HASH_BYTES], record[-HASH_BYTES:]
        yield as_row(decode_entry(body), stored)


# --- checkpoints -----------------------------------------------------------------

@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: the chain up to ``seq`` has head ``head_hash`` at ``ts_us``."""

    seq: int
    ts_us: int
    head_hash: bytes
    key_id: bytes
    prev_sig: bytes
    sig: bytes

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.ts_us / 1_000_000, tz=UTC)


def checkpoint_message(
    seq: int, ts_us: int, head_hash: bytes, key_id: bytes, prev_sig: bytes
) -> bytes:
    return (_CHECKPOINT_LABEL + struct.pack(">Qq", seq, ts_us) + key_id + head_hash
            + struct.pack(">H", len(prev_sig)) + prev_sig)


def key_id_of(public_key: Ed25519PublicKey) -> bytes:
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(b"MEDCRYPT-AUDIT-KEY-ID\x00v1\x00" + raw).digest()[:KEY_ID_BYTES]


def public_key_from_b64(text: str, *, name: str = "audit public key") -> Ed25519PublicKey:
    raw = _b64_32(text, name)
    return Ed25519PublicKey.from_public_bytes(raw)


def _b64_32(text: str, name: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip().encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ConfigError(name, "not base64") from None
    if len(raw) != 32:
        raise ConfigError(name, f"must be 32 bytes, got {len(raw)}")
    return raw


class CheckpointSigner:
    """Holds the Ed25519 checkpoint key (from a base64 32-byte seed)."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise ValueError("Ed25519 seed must be 32 bytes")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._key.public_key()
        self.key_id = key_id_of(self.public_key)

    @classmethod
    def from_b64(cls, text: str, *, name: str = "MEDCRYPT_AUDIT_SIGNING_KEY") -> CheckpointSigner:
        seed = bytearray(_b64_32(text, name))
        try:
            return cls(bytes(seed))
        finally:
            seed[:] = bytes(len(seed))

    def public_b64(self) -> str:
        return base64.b64encode(self.public_key.public_bytes(Encoding.Raw,
                                                            PublicFormat.Raw)).decode("ascii")

    def sign(self, seq: int, ts_us: int, head_hash: bytes, prev_sig: bytes) -> Checkpoint:
        ts_us -= ts_us % 1_000_000  # whole seconds, so witness lines carry the exact value
        sig = self._key.sign(checkpoint_message(seq, ts_us, head_hash, self.key_id, prev_sig))
        return Checkpoint(seq, ts_us, head_hash, self.key_id, prev_sig, sig)


def checkpoint_signature_ok(cp: Checkpoint, keys: Mapping[bytes, Ed25519PublicKey]) -> bool:
    key = keys.get(bytes(cp.key_id))
    if key is None or len(cp.sig) != SIGNATURE_BYTES:
        return False
    try:
        key.verify(bytes(cp.sig), checkpoint_message(cp.seq, cp.ts_us, bytes(cp.head_hash),
                                                     bytes(cp.key_id), bytes(cp.prev_sig)))
    except InvalidSignature:
        return False
    return True


# --- witness lines ---------------------------------------------------------------

WITNESS_PREFIX = "MEDCRYPT-AUDIT v1"
WITNESS_HEAD_HEX = 32
_WITNESS_RE = re.compile(
    r"MEDCRYPT-AUDIT v1 seq=(\d{1,19}) head=([0-9a-fA-F]{16,64}) "
    r"ts=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) sig=([A-Za-z0-9+/]{86}==)(?=\s|$)")


@dataclass(frozen=True)
class Witness:
    """A checkpoint as copied from the admins' chat: seq, head prefix, time, signature."""

    seq: int
    head_prefix: bytes
    ts_us: int
    sig: bytes


def format_witness(cp: Checkpoint) -> str:
    ts = datetime.fromtimestamp(cp.ts_us // 1_000_000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (f"{WITNESS_PREFIX} seq={cp.seq} head={bytes(cp.head_hash).hex()[:WITNESS_HEAD_HEX]}"
            f" ts={ts} sig={base64.b64encode(bytes(cp.sig)).decode('ascii')}")


def parse_witness_lines(text: str) -> list[Witness]:
    """Every witness line in pasted chat text; other lines (names, dates) are ignored.

    A line that starts a witness but does not parse is an error, not silently skipped:
    a witness the admin meant to check must not vanish.
    """
    found: list[Witness] = []
    for line in text.splitlines():
        at = line.find("MEDCRYPT-AUDIT")
        if at < 0 and not ("head=" in line and "sig=" in line):
            continue
        match = _WITNESS_RE.match(line, at) if at >= 0 else None
        if match is None:
            raise MalformedToken("a MEDCRYPT-AUDIT witness line does not parse")
        seq_text, head_hex, ts_text, sig_b64 = match.groups()
        head = bytes.fromhex(head_hex if len(head_hex) % 2 == 0 else head_hex[:-1])
        try:
            when = datetime.strptime(ts_text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            sig = base64.b64decode(sig_b64, validate=True)
        except (ValueError, binascii.Error):
            raise MalformedToken("a witness line has a bad time or signature") from None
        seq = int(seq_text)
        if seq < 1 or seq >= 2**63 or len(sig) != SIGNATURE_BYTES:
            raise MalformedToken("a witness line has an out-of-range field")
        found.append(Witness(seq, head, int(when.timestamp()) * 1_000_000, sig))
    return found


# --- verification ----------------------------------------------------------------

@dataclass(frozen=True)
class VerifyReport:
    entries: int
    head_seq: int
    head_hash: bytes
    checkpoints: int
    last_checkpoint_seq: int
    witnesses: int

    @property
    def unsigned_tail(self) -> int:
        """Entries after the last checkpoint: not yet protected against a rewrite."""
        return self.head_seq - self.last_checkpoint_seq


def verify_chain(
    batches: Iterable[Sequence[EntryRow]],
    checkpoints: Iterable[Checkpoint],
    public_keys: Mapping[bytes, Ed25519PublicKey],
    *,
    witnesses: Sequence[Witness] = (),
    claimed_head: tuple[int, bytes] | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Walk every entry in seq order, checking hashes, links, checkpoints and witnesses.

    ``batches`` are lists of :data:`EntryRow` tuples (a database cursor's batches, text
    columns cast to bytes): the inner loop is tuple unpacking, one join and one SHA-256.
    Raises :class:`AuditChainBroken` naming the first sequence number that cannot be
    trusted and why; otherwise returns a :class:`VerifyReport`.
    """
    stops = _Stops(checkpoints, public_keys, witnesses)
    sha, join, pack, label = hashlib.sha256, b"".join, _HEADER.pack, _ENTRY_LABEL
    expected, prev, prev2, count = 1, GENESIS_HASH, GENESIS_HASH, 0
    next_stop = stops.next_seq()
    for batch in batches:
        for seq, ts, a, s, c, d, ph, eh in batch:
            try:
                h = sha(join((label, pack(seq, ts, len(a), len(s), len(c), len(d)),
                              a, s, c, d, ph))).digest()
            except (struct.error, TypeError):
                if any(isinstance(x, str) for x in (a, s, c)):  # caller's mistake, not data's
                    raise TypeError("verify_chain rows carry text as bytes (see as_row)"
                                    ) from None
                raise AuditChainBroken(seq, "an entry field has the wrong type or range") from None
            if seq != expected or ph != prev or h != eh:
                _diagnose(seq, expected, (seq, ts, a, s, c, d, ph, eh), prev, prev2)
            prev2, prev, expected = prev, h, seq + 1
            if seq == next_stop:
                stops.reached(seq, h)
                next_stop = stops.next_seq()
        count += len(batch)
        if progress is not None:
            progress(count)
    head_seq = expected - 1
    stops.finish(head_seq)
    if claimed_head is not None and (claimed_head[0] != head_seq
                                     or bytes(claimed_head[1]) != prev):
        raise AuditChainBroken(min(claimed_head[0], head_seq) + 1,
                               f"the head record names seq {claimed_head[0]} but the log "
                               f"ends at seq {head_seq}: entries were removed or rewritten")
    return VerifyReport(count, head_seq, prev, stops.verified, stops.last_good,
                        stops.witnessed)


def _diagnose(
    seq: int, expected: int, row: EntryRow, prev: bytes, prev2: bytes
) -> None:
    """Explain the first break; only runs once, so it may recompute hashes freely."""
    ph, eh = row[6], row[7]
    if not isinstance(seq, int):
        raise AuditChainBroken(expected, "an entry has a non-integer seq")
    if seq > expected:
        raise AuditChainBroken(expected, f"entry missing: seq {expected} was deleted")
    if seq < expected:
        raise AuditChainBroken(seq, "entries out of order or duplicated")
    if ph == prev:
        raise AuditChainBroken(seq, "content does not match its hash: a field or the "
                                    "details ciphertext was changed")
    if seq > 1 and ph == prev2 and _rehash(seq - 1, row) == eh:
        raise AuditChainBroken(seq - 1, "entry inserted: the entry after it links past it "
                                        "and was renumbered")
    if _rehash(seq + 1, row) == eh:
        raise AuditChainBroken(seq, "entry deleted before this one and the rest renumbered")
    raise AuditChainBroken(seq, "does not link to the previous entry: entry replaced, "
                                "moved or reordered")


def _rehash(seq: int, row: EntryRow) -> bytes | None:
    """The hash the row would have at another position (None if it cannot be encoded)."""
    try:
        return hashlib.sha256(_encode_raw(seq, row[1], row[2:7])).digest()
    except (struct.error, TypeError):
        return None


class _Stops:
    """Checkpoints and witness lines, consulted when the walk reaches their seq."""

    def __init__(self, checkpoints: Iterable[Checkpoint],
                 keys: Mapping[bytes, Ed25519PublicKey], witnesses: Sequence[Witness]) -> None:
        self.cps = {cp.seq: cp for cp in checkpoints}
        self.keys = keys
        self.wits: dict[int, list[Witness]] = {}
        for w in witnesses:
            self.wits.setdefault(w.seq, []).append(w)
        self.order = iter(sorted(set(self.cps) | set(self.wits)))
        self.last_good = 0
        self.prev_sig = b""
        self.verified = 0
        self.witnessed = 0

    def next_seq(self) -> int:
        return next(self.order, -1)

    def _broken(self, why: str) -> AuditChainBroken:
        return AuditChainBroken(self.last_good + 1, why)

    def reached(self, seq: int, head: bytes) -> None:
        cp = self.cps.get(seq)
        for w in self.wits.get(seq, ()):
            if not head.startswith(w.head_prefix):
                raise self._broken(f"entries up to seq {seq} do not match the witness line "
                                   f"posted in chat: the chain was rewritten")
            if cp is None:
                raise AuditChainBroken(seq, "the checkpoint witnessed in chat is missing "
                                            "from the database")
            if not hmac.compare_digest(bytes(cp.sig), w.sig) or cp.ts_us != w.ts_us:
                raise AuditChainBroken(seq, "the checkpoint differs from its witness line")
            self.witnessed += 1
        if cp is None:
            return
        if not checkpoint_signature_ok(cp, self.keys):
            raise self._broken(f"checkpoint at seq {seq} has an invalid signature or an "
                               f"unknown key: entries after seq {self.last_good} are "
                               f"unverified")
        if not hmac.compare_digest(bytes(cp.prev_sig), self.prev_sig):
            raise self._broken(f"checkpoint at seq {seq} does not link to the previous "
                               f"checkpoint: a checkpoint was removed or replaced")
        if not hmac.compare_digest(bytes(cp.head_hash), head):
            raise self._broken(f"entries {self.last_good + 1}..{seq} do not match the head "
                               f"signed at checkpoint {seq}: the chain was rewritten")
        self.last_good, self.prev_sig = seq, bytes(cp.sig)
        self.verified += 1

    def finish(self, head_seq: int) -> None:
        """Checkpoints or witnesses beyond the last entry mean the tail was cut off."""
        beyond = sorted(s for s in (*self.cps, *self.wits) if s > head_seq)
        if not beyond:
            return
        seq = beyond[0]
        cp = self.cps.get(seq)
        if cp is not None and not checkpoint_signature_ok(cp, self.keys):
            raise AuditChainBroken(seq, "a checkpoint with an invalid signature lies beyond "
                                        "the end of the log")
        source = "checkpoint" if cp is not None else "witness line"
        raise AuditChainBroken(head_seq + 1, f"log truncated: it ends at seq {head_seq} but "
                                             f"a signed {source} covers seq {seq}")


__all__ = [
    "GENESIS_HASH",
    "Action",
    "AuditChainBroken",
    "Checkpoint",
    "CheckpointSigner",
    "EntryFields",
    "EntryRow",
    "VerifyReport",
    "Witness",
    "as_row",
    "check_ref",
    "checkpoint_signature_ok",
    "decode_entry",
    "encode_details",
    "encode_entry",
    "entry_hash",
    "format_witness",
    "open_details",
    "parse_witness_lines",
    "pseudonym",
    "seal_details",
    "system_ref",
    "verify_chain",
]
