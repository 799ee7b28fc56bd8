"""An independent re-implementation of the *earlier* product's v1 writer (tests only).

The product can only read v1 (crypto/v1.py). To prove it reads what the earlier
implementation wrote, this module writes v1 tokens the way that implementation did,
straight from the algorithm in DESIGN §3.3 with ``hashlib`` and ``cryptography`` - sharing
no code with crypto/v1.py, so a bug in one is not mirrored in the other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def v1_key(secret: str, month: str) -> bytes:
    salt = hmac.new(secret.encode(), month.encode(), hashlib.sha256).digest()[:16]
    return hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, 600_000, 32)


def v1_encrypt(plaintext: bytes, patient_id: bytes, secret: str, month: str,
               nonce: bytes | None = None, *, key: bytes | None = None) -> str:
    nonce = os.urandom(12) if nonce is None else nonce
    sealed = AESGCM(key or v1_key(secret, month)).encrypt(nonce, plaintext, patient_id)
    ct, tag = sealed[:-16], sealed[-16:]
    fields = [base64.b64encode(x).decode() for x in (patient_id, nonce, ct, tag)]
    return "[MEDCRYPT:v1:" + ":".join(fields) + "]"
