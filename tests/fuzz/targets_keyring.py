"""Fuzz targets for the server keyring's parsers.

* ``env_parser`` - ``MEDCRYPT_SERVER_KEYS`` text: must parse or raise ConfigError.
* ``sealed_value`` - bytes from the database: must open or raise DecryptionFailed /
  MalformedToken / KeyVersionMissing, never anything else.
* ``blind_index_header`` - stored index bytes: version or MalformedToken.
"""

from __future__ import annotations

import base64

from medcrypt.crypto.server.keyring import (
    Keyring,
    blind_index_version,
    parse_server_keys,
    sealed_version,
)

_KEY1 = base64.b64encode(bytes(range(32))).decode()
_KEY2 = base64.b64encode(bytes(range(50, 82))).decode()
_RING = Keyring.from_env_value(f"2:{_KEY2},1:{_KEY1}")
_AAD = ("platform_identities", "address", "0" * 32)


def _env_parser(data: bytes) -> object:
    return parse_server_keys(data.decode("utf-8", "replace"))


def _sealed_value(data: bytes) -> object:
    sealed_version(data)
    return _RING.open(data, _AAD)


def _blind_index_header(data: bytes) -> object:
    return blind_index_version(data)


TARGETS = {
    "env_parser": (
        _env_parser,
        [f"2:{_KEY2},1:{_KEY1}".encode(), f"1:{_KEY1}".encode(), b"1:", b"", b" , ",
         f"65535:{_KEY1.rstrip('=')}".encode()],
    ),
    "sealed_value": (
        _sealed_value,
        [_RING.seal(b"+491512345678", _AAD), _RING.seal(b"", _AAD), b"\x00\x01" + bytes(40)],
    ),
    "blind_index_header": (
        _blind_index_header,
        [_RING.blind_index("platform_identities", "address", "+491512345678"), bytes(34)],
    ),
}
