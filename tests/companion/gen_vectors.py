"""Generate the companion's committed vectors (unpadded attachment containers, v1 tokens).

Run ``python -m tests.companion.gen_vectors`` to rewrite tests/vectors/attachment_container.json
(``MCF2``, the format readers still open; the padded ``MCF3`` vectors come from
tests/vectors/generate.py) and tests/vectors/v1_tokens.json; test_attachment.py fails if
the committed files drift from what this produces. Every input is fixed (key, ids,
stream header through an injected RNG; v1 nonces), so a second implementation can check
itself byte for byte.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

from medcrypt.crypto.keyless.wire import Direction
from tests.support.mcf2_writer import seal_mcf2
from tests.support.v1_reference import v1_encrypt, v1_key

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
ATTACHMENT_FILE = VECTORS / "attachment_container.json"
V1_FILE = VECTORS / "v1_tokens.json"


def pattern(n: int) -> bytes:
    """The documented plaintext formula: byte i = i mod 251."""
    return bytes(i % 251 for i in range(n))


def fixed_rng(stream: bytes):  # type: ignore[no-untyped-def]
    buf = io.BytesIO(stream)

    def rng(n: int) -> bytes:
        out = buf.read(n)
        assert len(out) == n
        return out
    return rng


def attachment_vectors() -> dict[str, object]:
    cases = []
    for size, full in ((0, True), (100, True), (65536, False), (65537 + 1000, False)):
        rng_bytes = bytes(range(32)) + bytes(range(100, 116)) + bytes(range(200, 224))
        container, manifest = seal_mcf2(
            pattern(size), pairing_id=bytes(range(16, 32)), epoch=682,
            direction=Direction.PHYSICIAN_TO_PATIENT, name="lab-result.pdf",
            mime_type="application/pdf", rng=fixed_rng(rng_bytes))
        case: dict[str, object] = {
            "plaintext_size": size,
            "rng_hex": rng_bytes.hex(),
            "pairing_id_hex": bytes(range(16, 32)).hex(),
            "epoch": 682,
            "direction": 1,
            "name": "lab-result.pdf",
            "mime_type": "application/pdf",
            "manifest_hex": manifest.to_bytes().hex(),
            "plaintext_sha256_hex": hashlib.sha256(pattern(size)).hexdigest(),
            "container_size": len(container),
            "container_sha256_hex": hashlib.sha256(container).hexdigest(),
        }
        if full:
            case["container_hex"] = container.hex()
        cases.append(case)
    return {
        "description": "MEDCRYPT v2 attachment containers; plaintext byte i = i mod 251; rng "
                       "yields file key (32), file id (16), secretstream header (24) in order",
        "chunk_size": 65536,
        "cases": cases,
    }


def v1_vectors() -> dict[str, object]:
    cases = []
    for secret, month, pid, text, nonce in (
        ("correct horse battery staple", "2025-03", b"patient-0042", b"BP 120/80, continue", 1),
        ("s\u00e9cret partag\u00e9", "2024-12", b"P\x00\xff7", b"", 2),
        ("clinic-shared-secret", "2025-01", b"MRN-99812",
         "Kontrolle in 2 Wochen \u2013 Blutbild".encode(), 3),
    ):
        nonce_bytes = bytes([nonce]) * 12
        key = v1_key(secret, month)
        cases.append({
            "secret": secret, "month": month, "patient_id_hex": pid.hex(),
            "plaintext_hex": text.hex(), "key_hex": key.hex(),
            "token": v1_encrypt(text, pid, secret, month, nonce_bytes, key=key),
        })
    return {"description": "MEDCRYPT v1 tokens written by the reference v1 writer", "cases": cases}


def main() -> None:
    ATTACHMENT_FILE.write_text(json.dumps(attachment_vectors(), indent=1) + "\n")
    V1_FILE.write_text(json.dumps(v1_vectors(), indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
