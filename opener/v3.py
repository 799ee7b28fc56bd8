"""The offline opener's v3 half: a bundle of a v3 pairing (docs/adr/0026, PROTOCOL §24.3).

A v3 bundle holds the pairing's relayed MESSAGE tokens (without deposits), its segment
deposits and the sealed pinned-key records the physician's companion sent. The bot
vouches for none of them, so this opener trusts exactly one outside input: the
physician identity key the clinic **enrolled**, which the share holders give on the
command line from the clinic's own enrolment register (never from the bundle or the
bot's database). In order:

1. open each sealed record with the escrow key and verify it against the enrolled key
   (and the bundle's pairing and escrow key); the first that verifies is *the* record;
   none verifying refuses the bundle - nothing opens without a pinned record;
2. hand the record's keys, the deposits and the messages to
   :func:`crypto.endpoint.v3.breakglass.open_bundle`, which verifies every deposit
   against the record's sender key, skips and reports one that does not verify, opens
   what the rest cover and reports what stays closed.

Part of the offline opener (:mod:`medcrypt.opener`), which the bot never imports.
"""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass, field
from typing import Any

from medcrypt.crypto.endpoint.v3.breakglass import open_bundle
from medcrypt.crypto.endpoint.v3.deposit import PinnedKeys
from medcrypt.crypto.endpoint.v3.pinned import open_sealed_record
from medcrypt.crypto.errors import MalformedToken, MedCryptError, PolicyViolation
from medcrypt.crypto.keyless import record_wire, v3wire
from medcrypt.crypto.keyless.epochs import format_epoch

#: Bundle item of a v3 segment deposit (``bot.domain.breakglass.collect``).
DEPOSIT_ITEM = bytes((3, 4))


@dataclass
class OpenedV3:
    """What the v3 opener recovered, and every item it left out with why."""

    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def enrolled_key(text: str | None) -> bytes:
    """``--physician-key``: the enrolled Ed25519 key, standard base64 (32 bytes)."""
    if not text:
        raise PolicyViolation("a v3 bundle opens only against the physician key the clinic "
                              "enrolled: give it with --physician-key")
    try:
        raw = base64.b64decode(text.strip() + "=" * (-len(text.strip()) % 4), validate=True)
    except ValueError:
        raise MalformedToken("--physician-key is not base64") from None
    if len(raw) != 32:
        raise MalformedToken("--physician-key must decode to 32 bytes")
    return raw


@dataclass(frozen=True)
class _Expect:
    """What a record must name besides the enrolled key: this bundle's pairing and key."""

    pairing_id: bytes
    escrow_public: bytes
    enrolled: bytes


def _pinned(escrow_private: bytes | bytearray, expect: _Expect, sealed: list[bytes],
            skipped: list[str]) -> PinnedKeys:
    for n, box in enumerate(sealed, start=1):
        try:
            record = open_sealed_record(escrow_private, box, expect.enrolled)
        except MedCryptError as exc:
            skipped.append(f"pinned-key record {n}: {type(exc).__name__} (not the enrolled "
                           "physician's); skipped")
            continue
        if not (hmac.compare_digest(record.pairing_id, expect.pairing_id)
                and hmac.compare_digest(record.escrow_public, expect.escrow_public)):
            skipped.append(f"pinned-key record {n}: names another pairing or escrow key; "
                           "skipped")
            continue
        return PinnedKeys(record.pairing_id, record.transcript_hash, record.patient_identity,
                          record.physician_identity, record.escrow_public)
    raise PolicyViolation("no pinned-key record in this bundle verifies against the enrolled "
                          "physician key: nothing was opened")


def _record(m: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"month": format_epoch(m.epoch),
                           "direction": m.direction.name.lower(), "index": m.index,
                           "chain": m.chain_id.hex()[:16],
                           "content_type": m.content_type.name.lower()}
    if m.content_type.name == "TEXT":
        rec["text"] = m.body.decode("utf-8", errors="replace")
    else:
        rec["body_base64"] = base64.b64encode(m.body).decode("ascii")
    return rec


def open_v3(escrow_private: bytes | bytearray, escrow_public: bytes, manifest: dict[str, Any],
            items: list[bytes], enrolled: bytes) -> OpenedV3:
    """Open a v3 bundle's items (already unsealed) against the enrolled physician key."""
    out = OpenedV3()
    pairing_id = bytes.fromhex(str(manifest.get("pairing", "")))
    deposits: list[bytes] = []
    records: list[bytes] = []
    messages: list[str] = []
    for item in items:
        if item[:2] == DEPOSIT_ITEM and len(item) == 2 + v3wire.DEPOSIT_LEN:
            deposits.append(item[2:])
        elif len(item) >= 2 and item[0] == 3 and item[1] == record_wire.KIND_PIN_RECORD:
            records.append(record_wire.parse_record_token(item).sealed)
        elif len(item) >= 2 and item[0] == 3 and item[1] == v3wire.KIND_MESSAGE:
            messages.append(v3wire.encode_text(item))
        else:
            raise MalformedToken("break-glass bundle holds an item of an unexpected kind")
    pinned = _pinned(escrow_private, _Expect(pairing_id, escrow_public, enrolled), records,
                     out.skipped)
    report = open_bundle(escrow_private, pinned, deposits, messages)
    out.skipped += [f"deposit {n + 1}: {why}; skipped" for n, why in report.refused_deposits]
    out.skipped += [f"message {n + 1}: {why}; not opened" for n, why in report.unopened]
    out.records = [_record(m) for m in sorted(report.opened,
                                              key=lambda m: (m.epoch, m.position))]
    return out
