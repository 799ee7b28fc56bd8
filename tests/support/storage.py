"""The storage tests' fixed instant and server keys (two versions, for rewrap), and
identities written the way the code before the key tree (migration 0021) wrote them."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.normalize import normalize_address

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
KEY1 = base64.b64encode(bytes(range(32))).decode()
KEY2 = base64.b64encode(bytes(range(100, 132))).decode()
KEYS_V1 = f"1:{KEY1}"
KEYS_V2 = f"2:{KEY2},1:{KEY1}"


def legacy_identity(conn: Any, keyring: Keyring, platform: str, address: str, *,
                    role: str = "unknown", now: datetime = NOW) -> str:
    """Insert an identity as code before 0021 did (v1 keyring-sealed address, no DEK), in
    the columns every revision has: for tests that build data at an older revision or
    step the schema back below 0021. ``conn`` is a Connection or Session."""
    row_id = secrets.token_hex(16)
    value = normalize_address(platform, address)
    conn.execute(text(
        "INSERT INTO platform_identities (id, platform, address, address_bidx, role, "
        "created_at) VALUES (:id, :platform, :address, :bidx, :role, :at)"), {
        "id": row_id, "platform": platform, "role": role, "at": now,
        "address": keyring.seal(value.encode(), ("platform_identities", "address", row_id)),
        "bidx": keyring.blind_index("platform_identities", "address", value)})
    return row_id
