"""The storage tests' fixed instant and server keys (two versions, for rewrap)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
KEY1 = base64.b64encode(bytes(range(32))).decode()
KEY2 = base64.b64encode(bytes(range(100, 132))).decode()
KEYS_V1 = f"1:{KEY1}"
KEYS_V2 = f"2:{KEY2},1:{KEY1}"
