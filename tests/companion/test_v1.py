"""v1 migration: reads what the earlier implementation wrote, fails cleanly otherwise."""

from __future__ import annotations

import base64
import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medcrypt.crypto.endpoint import v1
from medcrypt.crypto.errors import ConfigError, DecryptionFailed, MalformedToken, MedCryptError
from tests.support.v1_reference import v1_encrypt, v1_key

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
SECRET = "correct horse battery staple"
MONTH = "2025-03"


@pytest.fixture(scope="module")
def key() -> bytes:
    return v1_key(SECRET, MONTH)


def test_committed_vectors_open() -> None:
    data = json.loads((VECTORS / "v1_tokens.json").read_text())
    for case in data["cases"]:
        msg = v1.decrypt_v1(case["token"], case["secret"], case["month"])
        assert msg.plaintext == bytes.fromhex(case["plaintext_hex"])
        assert msg.patient_id == bytes.fromhex(case["patient_id_hex"])
        assert v1.derive_key(case["secret"], case["month"]).hex() == case["key_hex"]


def test_derived_key_matches_reference_and_is_cached(key: bytes) -> None:
    v1.clear_key_cache()
    assert v1.derive_key(SECRET, MONTH) == key
    assert len(v1._key_cache) == 1
    assert v1.derive_key(SECRET, MONTH) == key
    assert len(v1._key_cache) == 1
    # The cache is keyed by a digest, never by the secret itself.
    assert all(SECRET.encode() not in k[0] for k in v1._key_cache)


def test_round_trip_through_reference_writer(key: bytes) -> None:
    token = v1_encrypt(b"Take 5 mg twice daily", b"patient-7", SECRET, MONTH, key=key)
    msg = v1.decrypt_v1(token, SECRET, MONTH)
    assert msg.plaintext == b"Take 5 mg twice daily"
    assert msg.patient_id == b"patient-7"
    # Surrounding whitespace from a chat copy is fine; unpadded base64 too.
    assert v1.decrypt_v1("  " + token.replace("=", "") + "\n", SECRET, MONTH) == msg


def test_wrong_secret_or_month_fails_opaquely(key: bytes) -> None:
    token = v1_encrypt(b"x", b"p", SECRET, MONTH, key=key)
    with pytest.raises(DecryptionFailed):
        v1.decrypt_v1(token, SECRET + "!", MONTH)
    with pytest.raises(DecryptionFailed):
        v1.decrypt_v1(token, SECRET, "2025-04")


def test_every_field_is_authenticated(key: bytes) -> None:
    token = v1_encrypt(b"hemoglobin 13.5", b"patient-9", SECRET, MONTH, key=key)
    parsed = v1.parse_v1(token)
    fields = [parsed.patient_id, parsed.nonce, parsed.ciphertext, parsed.tag]
    for i in range(4):
        for pos in range(len(fields[i])):
            changed = list(fields)
            b = bytearray(changed[i])
            b[pos] ^= 0x01
            changed[i] = bytes(b)
            text = "[MEDCRYPT:v1:" + ":".join(base64.b64encode(x).decode() for x in changed) + "]"
            with pytest.raises(DecryptionFailed):
                v1.open_v1_with_key(v1.parse_v1(text), key)


@pytest.mark.parametrize("text", [
    "", "[MEDCRYPT:v1:]", "[MEDCRYPT:v2:AAAA]", "[MEDCRYPT:v1:a:b:c]",
    "[MEDCRYPT:v1:cA==:AQEBAQEBAQEBAQEB:AA==:" + "A" * 20 + "]",       # tag too short
    "[MEDCRYPT:v1:cB==:AQEBAQEBAQEBAQEB:AA==:" + "A" * 22 + "]",       # non-canonical bits
    "[MEDCRYPT:v1:cA==:AQEBAQEB:AA==:" + "A" * 22 + "==]",              # nonce too short
    "[MEDCRYPT:v1::AQEBAQEBAQEBAQEB:AA==:" + "A" * 22 + "==]",           # empty patient id
    "[MEDCRYPT:v1:c*A=:AQEBAQEBAQEBAQEB:AA==:" + "A" * 22 + "==]",      # bad alphabet
    "[MEDCRYPT:v1:cA=:AQEBAQEBAQEBAQEB:AA==:" + "A" * 22 + "==]",       # bad padding
    "[MEDCRYPT:v1:c:AQEBAQEBAQEBAQEB:AA==:" + "A" * 22 + "==]",         # impossible length
])
def test_malformed_tokens(text: str) -> None:
    with pytest.raises(MalformedToken):
        v1.parse_v1(text)


@pytest.mark.parametrize("month", ["2025-13", "2025-00", "25-03", "2025-3", "2025/03", ""])
def test_bad_month_is_a_usage_error(month: str) -> None:
    with pytest.raises(ConfigError):
        v1.derive_key(SECRET, month)


def test_find_v1_tokens(key: bytes) -> None:
    a = v1_encrypt(b"a", b"p", SECRET, MONTH, key=key)
    b = v1_encrypt(b"b", b"q", SECRET, MONTH, key=key)
    assert v1.find_v1_tokens(f"hi {a}\n*bold* {b} bye") == [a, b]


def test_wycheproof_aes_gcm_256_through_v1_open() -> None:
    data = json.loads((VECTORS / "v1_wycheproof_aes_gcm_256.json").read_text())
    checked = 0
    for t in data["tests"]:
        token = v1.V1Token(bytes.fromhex(t["aad"]), bytes.fromhex(t["iv"]),
                           bytes.fromhex(t["ct"]), bytes.fromhex(t["tag"]))
        if t["result"] == "valid":
            assert v1.open_v1_with_key(token, bytes.fromhex(t["key"])) == bytes.fromhex(t["msg"])
        else:
            with pytest.raises(DecryptionFailed):
                v1.open_v1_with_key(token, bytes.fromhex(t["key"]))
        checked += 1
    assert checked >= 60


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_parser_raises_only_project_errors_on_any_text(text: str) -> None:
    with contextlib.suppress(MedCryptError):
        v1.parse_v1(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64), st.binary(min_size=1, max_size=40), st.binary(max_size=400))
def test_parser_round_trips_fields(ct: bytes, pid: bytes, _unused: bytes) -> None:
    nonce, tag = b"\x01" * 12, b"\x02" * 16
    fields = (pid, nonce, ct, tag)
    text = "[MEDCRYPT:v1:" + ":".join(base64.b64encode(x).decode() for x in fields) + "]"
    assert v1.parse_v1(text) == v1.V1Token(pid, nonce, ct, tag)
