"""Signed audit checkpoints and the witness lines posted to the admins' chat.

A checkpoint is an Ed25519 signature over seq, time, key id, head hash and the previous
checkpoint's signature (the CloudTrail digest-chain idea: deleting a middle checkpoint
breaks the next). Its witness line goes to the admins' chat, out of reach of whoever
can write the database, so ``audit verify --witness`` catches a truncation that also
removed the checkpoint rows. Pure: the clock's time is passed in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from medcrypt.crypto._primitives import Ed25519PublicKey, Ed25519Signer
from medcrypt.crypto.errors import ConfigError, MalformedToken

KEY_ID_BYTES = 8
SIGNATURE_BYTES = 64
_CHECKPOINT_LABEL = b"MEDCRYPT-AUDIT-CHECKPOINT\x00v1\x00"

#: The key a checkpoint verifies under (raw Ed25519 bytes as a value).  Named here so
#: storage and the CLI can annotate key mappings without importing the private
#: primitives module or a crypto library.
AuditPublicKey = Ed25519PublicKey


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
    return hashlib.sha256(b"MEDCRYPT-AUDIT-KEY-ID\x00v1\x00"
                          + public_key.raw).digest()[:KEY_ID_BYTES]


def public_key_from_b64(text: str, *, name: str = "audit public key") -> Ed25519PublicKey:
    return Ed25519PublicKey(_b64_32(text, name))


def _b64_32(text: str, name: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip().encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ConfigError(name, "not base64") from None
    if len(raw) != 32:
        raise ConfigError(name, f"must be 32 bytes, got {len(raw)}")
    return raw


class MessageSigner(Protocol):
    """What a key provider offers the checkpoint signer (crypto.server.provider)."""

    def sign(self, message: bytes) -> bytes: ...

    def public_key(self) -> bytes: ...


class CheckpointSigner:
    """Signs checkpoints: with an Ed25519 seed held here (``env``), or through a key
    provider (:meth:`in_provider`: PKCS#11, Transit, KMS) that keeps the key out of
    this process. Either way the public key and key id are known up front."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise ValueError("Ed25519 seed must be 32 bytes")
        key = Ed25519Signer(seed)
        self._sign_bytes: Callable[[bytes], bytes] = key.sign
        self.public_key = Ed25519PublicKey(key.public)
        self.key_id = key_id_of(self.public_key)
        #: True when the private key never exists in this process (a provider holds it).
        self.key_outside_process = False

    @classmethod
    def in_provider(cls, provider: MessageSigner) -> CheckpointSigner:
        """A signer whose private key stays in ``provider``; its public key is read once.

        Each signature the provider returns is verified before it is used: a provider
        that signs with another key (a misconfigured alias, a swapped token object)
        fails here, not later in ``audit verify``.
        """
        signer = cls.__new__(cls)
        public = provider.public_key()
        if len(public) != 32:
            raise ConfigError("keys.provider", "the checkpoint key is not an Ed25519 key")
        signer.public_key = Ed25519PublicKey(bytes(public))
        signer.key_id = key_id_of(signer.public_key)
        signer.key_outside_process = True

        def sign(message: bytes) -> bytes:
            sig = provider.sign(message)
            if len(sig) != SIGNATURE_BYTES or not signer.public_key.verify(message, sig):
                raise ConfigError("keys.provider",
                                  "the provider's checkpoint signature does not verify "
                                  "under its own public key")
            return sig

        signer._sign_bytes = sign
        return signer

    @classmethod
    def from_b64(cls, text: str, *, name: str = "MEDCRYPT_AUDIT_SIGNING_KEY") -> CheckpointSigner:
        seed = bytearray(_b64_32(text, name))
        try:
            return cls(bytes(seed))
        finally:
            seed[:] = bytes(len(seed))

    def public_b64(self) -> str:
        return base64.b64encode(self.public_key.raw).decode("ascii")

    def sign(self, seq: int, ts_us: int, head_hash: bytes, prev_sig: bytes) -> Checkpoint:
        ts_us -= ts_us % 1_000_000  # whole seconds, so witness lines carry the exact value
        sig = self._sign_bytes(checkpoint_message(seq, ts_us, head_hash, self.key_id, prev_sig))
        return Checkpoint(seq, ts_us, head_hash, self.key_id, prev_sig, sig)


def checkpoint_signature_ok(cp: Checkpoint, keys: Mapping[bytes, Ed25519PublicKey]) -> bool:
    key = keys.get(bytes(cp.key_id))
    if key is None or len(cp.sig) != SIGNATURE_BYTES:
        return False
    return key.verify(checkpoint_message(cp.seq, cp.ts_us, bytes(cp.head_hash),
                                         bytes(cp.key_id), bytes(cp.prev_sig)), bytes(cp.sig))


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
        if base64.b64encode(sig).decode("ascii") != sig_b64:
            # The last character of 64 bytes carries 4 unused bits: without this check,
            # 16 spellings of one signature would all pass as the line the admin saw.
            raise MalformedToken("a witness line's signature is not canonical base64")
        seq = int(seq_text)
        if seq < 1 or seq >= 2**63 or len(sig) != SIGNATURE_BYTES:
            raise MalformedToken("a witness line has an out-of-range field")
        found.append(Witness(seq, head, int(when.timestamp()) * 1_000_000, sig))
    return found
