"""Key-rotation registration for tables that seal by hand.

``bot_identities`` (storage/models/bot_relay.py, owned by the relay) stores
``keyring.seal(address)`` bytes in a plain ``LargeBinary`` with AAD ``(table,
"address_sealed", id)`` and a blind index over ``"platform:address"`` keyed by
``"address_index"`` (bot/relay/identities.py). Unregistered, ``keys rewrap`` would skip
it and ``keys status`` would not count it, so removing an old key would silently make
every relay address unreadable. Registering it here covers it without touching that
table's schema or ciphertexts; tests/storage/test_migrations.py checks that every
sealed column of every model is registered.
"""

from __future__ import annotations

from typing import Any

from storage.encrypted import EncryptedField, register
from storage.models.bot_relay import BotIdentity


def _platform_prefixed(row: Any, address: str) -> str:
    return f"{row.platform}:{address}"


BOT_IDENTITY_ADDRESS = EncryptedField(
    "bot_identities",
    "address_sealed",
    blind_index="address_index",
    raw_bytes=True,
    index_key="address_index",
    index_input=_platform_prefixed,
)

register(BotIdentity, BOT_IDENTITY_ADDRESS)
