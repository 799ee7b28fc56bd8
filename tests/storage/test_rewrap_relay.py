"""Key rotation reaches the relay's identity directory: after ``keys rewrap`` and removal
of the old key, the relay still finds and opens every address it stored."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from medcrypt.bot.domain.identities import IdentityDirectory
from medcrypt.bot.domain.messages import Platform
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.errors import KeyVersionMissing
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.keys import rewrap, verify_keyring
from tests.support.storage import KEYS_V1, KEYS_V2, NOW


def test_rewrap_covers_the_relay_identity_directory(sessions: sessionmaker[Session]) -> None:
    """The relay's own code finds and opens its identities after rewrap + key removal."""
    v1 = Keyring.from_env_value(KEYS_V1)
    with sessions.begin() as s:
        made = IdentityDirectory(v1, FixedClock(NOW)).resolve(
            s, Platform.WHATSAPP, "whatsapp:+15550004321")
    only_v2 = Keyring.from_env_value(KEYS_V2.split(",")[0])
    # The address and its blind index sit under the KEK (its DEK, the epoch's index
    # DEK: ADR 0039 Am. 1), and the KEK under key version 1.
    missing = r"keks: 1 KEK\(s\) on root version 1"
    with sessions() as s, pytest.raises(KeyVersionMissing, match=missing):
        verify_keyring(s, only_v2)
    rewrap(sessions, Keyring.from_env_value(KEYS_V2))
    directory = IdentityDirectory(only_v2, FixedClock(NOW))
    with sessions() as s:
        verify_keyring(s, only_v2)
        assert directory.find(s, Platform.WHATSAPP, "whatsapp:+15550004321") == made.identity_id
        assert directory.address_of(s, made.identity_id) == (
            Platform.WHATSAPP, "+15550004321")
