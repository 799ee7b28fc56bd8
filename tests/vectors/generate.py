"""Regenerate the project's own MEDCRYPT v2 and v3 test vectors (deterministic).

    .venv/bin/python -m tests.vectors.generate          # rewrite the JSON files
    .venv/bin/python -m tests.vectors.generate --check  # exit 1 if they drifted

Every random byte comes from a SHA-256 counter-mode RNG over a fixed label and is also
written into the vector (``rng_draws``, in draw order), so a second implementation can
replay the exact draws instead of reproducing our RNG.  Time comes from a FixedClock.
tests/crypto/test_vectors.py checks both directions: this script still produces the
committed files (drift), and the committed files are consumed (replayed and opened).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nacl.public

from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.endpoint import envelope, escrow, keyschedule, pairing, ratchet, safety
from medcrypt.crypto.endpoint.envelope import ContentType
from medcrypt.crypto.endpoint.session import IdentityKey, PairingSession
from medcrypt.crypto.keyless import parts, wire
from medcrypt.crypto.keyless.wire import Direction, Kind
from tests.vectors import generate_v3
from tests.vectors.gen_attachment_v3 import attachment_v3_vectors
from tests.vectors.v3_pairing_gen import v3_pairing_vectors
from tests.vectors.v3_relay_gen import v3_pin_record_vectors
from tests.vectors.v3_upgrade_gen import v3_upgrade_vectors

HERE = Path(__file__).resolve().parent
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
T1 = datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
MESSAGES = [
    ("patient", T0, ContentType.TEXT, "Fever 38.5 since yesterday evening."),
    ("physician", T0, ContentType.TEXT, "Take paracetamol 1 g, max 4 g a day."),
    ("patient", T0, ContentType.TEXT, "x" * 300),
    ("patient", T1, ContentType.CONTROL, "{\"ack\": 1}"),
    ("physician", T1, ContentType.TEXT, "é" * 2600),
]


class RecordingRng:
    """SHA-256 counter-mode bytes over a label, recording every draw."""

    def __init__(self, label: str) -> None:
        self.label = label.encode()
        self.counter = 0
        self.draws: list[str] = []

    def __call__(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(self.label + self.counter.to_bytes(8, "big")).digest()
            self.counter += 1
        self.draws.append(out[:n].hex())
        return out[:n]

    def take(self) -> list[str]:
        draws, self.draws = self.draws, []
        return draws


def keyschedule_vectors() -> dict[str, Any]:
    root = bytes(range(32))
    pid = bytes(range(0xA0, 0xB0))
    k = keyschedule.initial_epoch_key(root, 682)
    epochs = []
    for epoch in range(682, 686):
        if epoch > 682:
            k = keyschedule.advance_epoch_key(k, epoch)
        chains = {}
        for d in Direction:
            ck = ratchet.initial_chain_key(k, pid, epoch, d)
            steps = []
            for _ in range(3):
                mk, nxt = ratchet.chain_step(ck)
                steps.append({"ck": ck.hex(), "mk": mk.hex()})
                ck = nxt
            chains[d.name] = steps
        epochs.append({"epoch": epoch, "month": f"{1970 + epoch // 12}-{epoch % 12 + 1:02d}",
                       "epoch_key": k.hex(), "chains": chains})
    return {"description": "root -> K_682..K_685 -> chain keys CK_0..2 and MK_0..2 per direction",
            "root": root.hex(), "pairing_id": pid.hex(), "start_epoch": 682, "epochs": epochs}


def envelope_vectors() -> dict[str, Any]:
    seed = bytes(range(32, 64))
    header = wire.encode_sealed_header(Kind.MESSAGE, b"\x11" * 16, epoch=682,
                                       direction=Direction.PATIENT_TO_PHYSICIAN, index=5,
                                       nonce=b"\x22" * 24)
    cases = []
    for body in (b"", b"hello", b"A" * 178, b"B" * 179, b"C" * 5000):
        sealed = envelope.seal(header, ContentType.TEXT, body, T0,
                               IdentityKey(seed).sign)
        cases.append({"body": body.hex(), "envelope": sealed.hex()})
    buckets = {str(n): envelope.bucket_size(n) for n in (1, 78, 256, 257, 4096, 4097, 10000,
                                                         65614, 1048654)}
    return {"description": "inner envelope (signed, padded) and bucket sizes",
            "signer_seed": seed.hex(), "signer_public": envelope.prim.ed25519_public(seed).hex(),
            "header": header.hex(), "sent_at": T0.isoformat(), "content_type": 1,
            "cases": cases, "bucket_sizes": buckets}


def _sessions(rng: RecordingRng, out: dict[str, Any]) -> tuple[PairingSession, PairingSession]:
    clock = FixedClock(T0)
    escrow_key = nacl.public.PrivateKey(rng(32))
    physician_id, patient_id = IdentityKey(rng(32)), IdentityKey(rng(32))
    out["setup"] = {"rng_draws": rng.take(), "escrow_private": bytes(escrow_key).hex(),
                    "escrow_public": bytes(escrow_key.public_key).hex(),
                    "physician_identity_seed": physician_id.export(),
                    "patient_identity_seed": patient_id.export(), "now": T0.isoformat()}
    pending = pairing.create_offer(physician_id.public, clock=clock, rng=rng,
                                   escrow_public=bytes(escrow_key.public_key),
                                   bot_contact="telegram:@clinic_bot")
    offer = pending.offer
    out["offer"] = {"rng_draws": rng.take(), "offer_bytes": offer.to_bytes().hex(),
                    "qr_text": offer.to_qr_text(),
                    "registration_token": offer.registration_token()}
    accept, outcome = pairing.accept_offer(offer.to_qr_text(), patient_id.public, clock=clock,
                                           rng=rng)
    out["accept"] = {"rng_draws": rng.take(), "accept_token": accept,
                     "transcript_hash": outcome.transcript_hash.hex(),
                     "start_key": bytes(outcome.start_key).hex(),
                     "safety_number": safety.safety_number(physician_id.public, patient_id.public),
                     "patient_fingerprint": safety.fingerprint(patient_id.public),
                     "physician_fingerprint": safety.fingerprint(physician_id.public)}
    patient = PairingSession.from_outcome(outcome, patient_id, clock=clock, rng=rng)
    patient_entry = rng.take()
    physician_outcome = pairing.complete_offer(pending, accept, clock=clock)
    assert physician_outcome.start_key == bytes.fromhex(out["accept"]["start_key"])
    physician = PairingSession.from_outcome(physician_outcome, physician_id, clock=clock, rng=rng)
    out["session_entry"] = {"patient_rng_draws": patient_entry, "physician_rng_draws": rng.take()}
    return patient, physician


def pairing_session_vectors() -> dict[str, Any]:
    rng = RecordingRng("MEDCRYPT v2 vectors")
    out: dict[str, Any] = {"description": "QR pairing -> sessions -> messages, deposits, parts; "
                                          "rng_draws list every random byte in draw order"}
    patient, physician = _sessions(rng, out)
    sides = {"patient": patient, "physician": physician}
    messages = []
    for sender, at, ctype, text in MESSAGES:
        clock = FixedClock(at)
        result = sides[sender].encrypt(text.encode(), ctype, clock=clock, rng=rng)
        messages.append({"sender": sender, "now": at.isoformat(), "content_type": int(ctype),
                         "body": text.encode().hex(), "rng_draws": rng.take(),
                         "token": result.token, "escrow_deposit": result.escrow_deposit})
    out["messages"] = messages
    deposit = messages[0]["escrow_deposit"]
    escrow_private = bytes.fromhex(out["setup"]["escrow_private"])
    epoch_key = escrow.open_deposit(escrow_private, deposit)
    out["escrow"] = {"deposit": deposit, "epoch": epoch_key.epoch,
                     "epoch_key": epoch_key.key.hex()}
    long_token = messages[-1]["token"]
    pieces = parts.split_token(long_token, 1600, rng=rng)
    out["parts"] = {"token_message": len(messages) - 1, "max_chars": 1600,
                    "rng_draws": rng.take(), "parts": pieces}
    return out


def wire_vectors() -> dict[str, Any]:
    pid = bytes(range(16))
    return {
        "description": "keyless layouts: message header, register, file header, epochs",
        "message_header": wire.encode_sealed_header(
            Kind.MESSAGE, pid, epoch=682, direction=Direction.PHYSICIAN_TO_PATIENT, index=258,
            nonce=bytes(range(24))).hex(),
        "register": wire.encode_register(pid, 682, 7, 1795430400).hex(),
        "file_header": wire.encode_file_header(pid, 682, Direction.PATIENT_TO_PHYSICIAN,
                                               bytes(range(16, 32)),
                                               version=wire.FILE_VERSION_UNPADDED).hex(),
        "epochs": {"2026-11": 682, "1970-01": 0, "2027-01": 684},
    }


def build() -> dict[str, dict[str, Any]]:
    return {
        "v2_keyschedule.json": keyschedule_vectors(),
        "v2_envelope.json": envelope_vectors(),
        "v2_pairing_session.json": pairing_session_vectors(),
        "v2_wire.json": wire_vectors(),
        "attachment_container_v3.json": _attachment_v3(),
        "v3_session.json": generate_v3.v3_session_vectors(),
        "v3_pairing.json": v3_pairing_vectors(RecordingRng),
        "v3_upgrade.json": v3_upgrade_vectors(RecordingRng),
        "v3_pin_record.json": v3_pin_record_vectors(RecordingRng),
    }


def _attachment_v3() -> dict[str, Any]:
    rng = RecordingRng("MEDCRYPT v3 attachment vectors")
    return attachment_v3_vectors(rng, rng.take)


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    drift = []
    for name, data in build().items():
        path = HERE / name
        text = render(data)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                drift.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    for name in drift:
        print(f"vector file drifted: {name}")
    return 1 if drift else 0


if __name__ == "__main__":
    sys.exit(main())
