"""The server keyring: parsing MEDCRYPT_SERVER_KEYS, seal/open, AAD binding, blind indexes."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import struct

import nacl.bindings
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given
from hypothesis import strategies as st

from medcrypt.crypto.errors import ConfigError, DecryptionFailed, KeyVersionMissing, MalformedToken
from medcrypt.crypto.server.keyring import (
    HEADER_BYTES,
    Keyring,
    blind_index_version,
    encode_aad,
    format_server_keys,
    parse_server_keys,
    sealed_version,
)
from tests.support.storage import KEY1, KEY2, KEYS_V1, KEYS_V2

AAD = ("platform_identities", "address", "a" * 32)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "no keys"),
        ("   ", "no keys"),
        (f"1:{KEY1},1:{KEY2}", "duplicate key version 1"),
        ("1:not*base64!", "not base64"),
        (f"1:{base64.b64encode(b'short').decode()}", "must be 32 bytes, got 5"),
        (f"1:{base64.b64encode(bytes(33)).decode()}", "must be 32 bytes, got 33"),
        (KEY1, "expected 'version:base64key'"),
        (f"x:{KEY1}", "decimal integer"),
        (f"0:{KEY1}", "between 1 and 65535"),
        (f"70000:{KEY1}", "between 1 and 65535"),
        (f"1:{KEY1},", "entry 2"),
        ("1:", "not base64"),
    ],
)
def test_bad_key_lists_name_the_variable(value: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        Keyring.from_env_value(value)
    assert info.value.key == "MEDCRYPT_SERVER_KEYS"
    assert reason in str(info.value)
    assert KEY1 not in str(info.value) and KEY2 not in str(info.value)


def test_missing_variable_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="MEDCRYPT_SERVER_KEYS"):
        Keyring.from_environ({})


def test_highest_version_seals_every_version_opens() -> None:
    old = Keyring.from_env_value(KEYS_V1)
    both = Keyring.from_env_value(KEYS_V2)
    assert both.current_version == 2 and both.versions == (2, 1)
    sealed_v1 = old.seal(b"+491512345678", AAD)
    assert sealed_version(sealed_v1) == 1
    assert both.open(sealed_v1, AAD) == b"+491512345678"
    sealed_v2 = both.seal(b"x", AAD)
    assert sealed_version(sealed_v2) == 2
    with pytest.raises(KeyVersionMissing, match="version 2"):
        old.open(sealed_v2, AAD)


def test_urlsafe_and_unpadded_keys_are_accepted() -> None:
    raw = bytes([0xFB] * 32)
    urlsafe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert bytes(parse_server_keys(f"3:{urlsafe}")[3]) == raw


@pytest.mark.parametrize(
    "other", [("other_table", "address", "a" * 32), ("platform_identities", "label", "a" * 32),
              ("platform_identities", "address", "b" * 32), ("platform_identities", "address")],
)
def test_context_is_bound(other: tuple[str, ...]) -> None:
    ring = Keyring.from_env_value(KEYS_V1)
    sealed = ring.seal(b"secret", AAD)
    with pytest.raises(DecryptionFailed):
        ring.open(sealed, other)


def test_version_byte_is_authenticated() -> None:
    ring = Keyring.from_env_value(KEYS_V2)
    sealed = bytearray(ring.seal(b"secret", AAD))
    sealed[1] = 1  # claim version 1: same layout, other key and other AAD
    with pytest.raises(DecryptionFailed):
        ring.open(bytes(sealed), AAD)


def test_aad_parts_are_length_prefixed() -> None:
    assert encode_aad(1, ["ab", "c"]) != encode_aad(1, ["a", "bc"])
    assert encode_aad(1, ["1"]) != encode_aad(1, [1])
    assert encode_aad(1, [b"x"]) != encode_aad(1, ["x"])


def test_rng_is_injectable_and_layout_is_exact() -> None:
    ring = Keyring.from_env_value(KEYS_V1)
    sealed = ring.seal(b"abc", AAD, rng=lambda n: b"\x07" * n)
    assert sealed[:2] == b"\x00\x01"
    assert sealed[2:HEADER_BYTES] == b"\x07" * 24
    assert len(sealed) == HEADER_BYTES + 3 + 16
    assert sealed == ring.seal(b"abc", AAD, rng=lambda n: b"\x07" * n)


def test_short_sealed_value_is_malformed() -> None:
    ring = Keyring.from_env_value(KEYS_V1)
    with pytest.raises(MalformedToken):
        ring.open(b"\x00\x01" + bytes(10), AAD)
    with pytest.raises(MalformedToken):
        sealed_version(bytes(50))


def test_blind_index_keys_are_separated_per_column_and_version() -> None:
    ring = Keyring.from_env_value(KEYS_V2)
    a = ring.blind_index("platform_identities", "address", "+491512345678")
    assert a == ring.blind_index("platform_identities", "address", "+491512345678")
    assert blind_index_version(a) == 2 and len(a) == 34
    assert a != ring.blind_index("clinic_admins", "address", "+491512345678")
    assert a != ring.blind_index("platform_identities", "label", "+491512345678")
    v1 = ring.blind_index("platform_identities", "address", "+491512345678", version=1)
    assert v1[2:] != a[2:]
    assert ring.blind_index_candidates("platform_identities", "address", "+491512345678") == [
        a, v1]
    # The blind-index subkey is derived: HMAC under it differs from one under the master.
    assert a[2:] != hmac.new(base64.b64decode(KEY2), b"+491512345678", hashlib.sha256).digest()


def test_wipe_zeroes_key_material() -> None:
    ring = Keyring.from_env_value(KEYS_V2)
    ring.blind_index("t", "c", "v")
    held = [*ring._masters.values(), *ring._seal_keys.values(), *ring._blind_keys.values()]
    ring.wipe()
    assert all(not any(k) for k in held)
    with pytest.raises(KeyVersionMissing):
        ring.seal(b"x", AAD)


def test_repr_shows_no_key() -> None:
    ring = Keyring.from_env_value(KEYS_V2)
    assert KEY1 not in repr(ring) and "versions=[2, 1]" in repr(ring)


keys_st = st.dictionaries(
    st.integers(1, 0xFFFF), st.binary(min_size=32, max_size=32), min_size=1, max_size=6
)


@given(keys_st)
def test_format_then_parse_round_trips(keys: dict[int, bytes]) -> None:
    text = format_server_keys((v, base64.b64encode(k).decode()) for v, k in keys.items())
    parsed = parse_server_keys(text)
    assert {v: bytes(k) for v, k in parsed.items()} == keys
    assert Keyring(parsed).current_version == max(keys)


@given(st.text(max_size=200))
def test_parser_raises_only_config_errors(text: str) -> None:
    with contextlib.suppress(ConfigError):
        parse_server_keys(text)


@given(
    st.binary(max_size=512),
    st.lists(st.one_of(st.binary(max_size=40), st.text(max_size=40),
                       st.integers(0, 2**63)), max_size=4),
)
def test_seal_open_round_trip(plaintext: bytes, parts: list[bytes | str | int]) -> None:
    ring = Keyring.from_env_value(KEYS_V2)
    sealed = ring.seal(plaintext, parts)
    assert ring.open(sealed, parts) == plaintext
    assert plaintext not in sealed[HEADER_BYTES:] or len(plaintext) < 4


@given(st.binary(max_size=200))
def test_open_of_garbage_raises_only_typed_errors(data: bytes) -> None:
    ring = Keyring.from_env_value(KEYS_V1)
    with pytest.raises((DecryptionFailed, MalformedToken, KeyVersionMissing)):
        ring.open(data, AAD)


@given(st.binary(min_size=1, max_size=64), st.data())
def test_any_bit_flip_is_detected(plaintext: bytes, data: st.DataObject) -> None:
    ring = Keyring.from_env_value(KEYS_V1)
    sealed = bytearray(ring.seal(plaintext, AAD))
    pos = data.draw(st.integers(0, len(sealed) - 1))
    sealed[pos] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises((DecryptionFailed, MalformedToken, KeyVersionMissing)):
        ring.open(bytes(sealed), AAD)


def test_construction_matches_an_independent_computation() -> None:
    """Rebuild a sealed value from the spec with PyNaCl and cryptography directly."""
    master = bytes(range(32))
    ring = Keyring.from_env_value(f"1:{base64.b64encode(master).decode()}")
    nonce = bytes(range(24))
    sealed = ring.seal(b"+491512345678", AAD, rng=lambda n: nonce)

    def lp(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(tag + data)) + tag + data

    subkey = HKDF(algorithm=hashes.SHA256(), length=32,
                  salt=b"medcrypt/server-keyring/hkdf-salt/v1",
                  info=b"medcrypt/server-keyring/seal/v1").derive(master)
    aad = (lp(b"b", b"medcrypt/server-keyring/v1") + b"\x00\x01" + struct.pack(">I", 3)
           + b"".join(lp(b"s", p.encode()) for p in AAD))
    expected = b"\x00\x01" + nonce + nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        b"+491512345678", aad, nonce, subkey)
    assert sealed == expected
    # Pinned bytes: a change here breaks every database already written.
    assert sealed.hex() == (
        "0001000102030405060708090a0b0c0d0e0f1011121314151617badef95c42d32bd59425a24e1a171f"
        "7e11b3a3c64946ca264f54a30eda")
    assert ring.blind_index("platform_identities", "address", "+491512345678").hex() == (
        "000189337e814ab54aa3a9773482a30d20932c77c1cc88a08a311d561210f2bb47e3")
