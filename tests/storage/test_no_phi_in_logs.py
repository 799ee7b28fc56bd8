"""Drive storage and the keyring with known markers; none may reach the log output.

The markers are chosen so the redaction processor's *shape* rules would not catch them
(short digit runs, plain words): the test proves storage never emits the values in the
first place - in events, exception text or SQL logging - not merely that a filter
cleaned up afterwards.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
import structlog
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from medcrypt.crypto.errors import ConfigError, DecryptionFailed, KeyVersionMissing
from medcrypt.crypto.logsetup import configure_logging
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import deks
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.keys import rewrap, verify_keyring
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.repos.identities import get_or_create_identity, reveal_address, set_label
from tests.support.databases import migrated
from tests.support.storage import KEY1, KEYS_V1, KEYS_V2, NOW, legacy_identity

CHAT_MARKER = "8675309"  # 7 digits: below the redactor's long-digit-run rule
PHONE_MARKER = "+4930901820"
LABEL_MARKER = "Zebulon Quagmire"


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    sa_logger = logging.getLogger("sqlalchemy.engine")
    saved_sa = sa_logger.level
    configure_logging(stream=stream, json=True, level="DEBUG")
    sa_logger.setLevel(logging.INFO)  # SQL statements and parameters, if any leaked
    try:
        yield stream
    finally:
        sa_logger.setLevel(saved_sa)
        root.handlers[:], root.level = saved_handlers, saved_level
        structlog.reset_defaults()


def test_no_marker_reaches_the_logs(log_stream: io.StringIO, database_url: str) -> None:
    log = structlog.get_logger("test")
    engine = make_engine(migrated(database_url))
    v1 = Keyring.from_env_value(KEYS_V1)
    sessions = session_factory(engine)
    try:
        with sessions.begin() as s:
            tg, _ = get_or_create_identity(s, v1, "telegram", CHAT_MARKER, now=NOW)
            wa, _ = get_or_create_identity(s, v1, "whatsapp", PHONE_MARKER, now=NOW)
            set_label(wa, v1, LABEL_MARKER)
            log.info("stored identities", identity=repr(tg), other=repr(wa))
            tg_id, wa_id = tg.id, wa.id
        # Transplant: copy one sealed value onto another row, then log the failure.
        with sessions.begin() as s:
            s.execute(text("UPDATE platform_identities SET address = "
                           "(SELECT address FROM platform_identities WHERE id = :a) "
                           "WHERE id = :b"), {"a": wa_id, "b": tg_id})
        with sessions() as s:
            row = s.get(PlatformIdentity, tg_id)
            assert row is not None
            try:
                reveal_address(row, v1)
            except DecryptionFailed:
                log.exception("reveal failed", table="platform_identities")
        # Duplicate insert: the driver error quotes the statement.
        try:
            with sessions.begin() as s:
                dup = PlatformIdentity(id="f" * 32, platform="whatsapp", role="unknown",
                                       created_at=NOW)
                PlatformIdentity.ADDRESS.store(dup, v1, PHONE_MARKER, session=s)
                s.add(dup)
        except IntegrityError:
            log.exception("duplicate identity")
        # Rotation, then a keyring missing the version in use.
        v2 = Keyring.from_env_value(KEYS_V2)
        with sessions.begin() as s:
            s.execute(text("DELETE FROM platform_identities WHERE id = :b"), {"b": tg_id})
        with sessions.begin() as s:  # a row as code before 0021 wrote it: rewrap logs a batch
            legacy_identity(s, v1, "telegram", "424242424")
        rewrap(sessions, v2)  # converts it and moves the KEK
        only_v1 = Keyring.from_env_value(KEYS_V1)
        with sessions() as s:
            assert deks.stale_keks(s, only_v1) == [(2, 1)]
        with sessions() as s:
            try:
                verify_keyring(s, only_v1)
            except KeyVersionMissing:
                log.exception("keyring incomplete")
            row = s.get(PlatformIdentity, wa_id)
            assert row is not None
            try:
                reveal_address(row, only_v1)
            except KeyVersionMissing:
                log.exception("missing version")
        try:
            Keyring.from_env_value(f"1:{KEY1},1:{KEY1}")
        except ConfigError:
            log.exception("bad keyring")
    finally:
        engine.dispose()
    output = log_stream.getvalue()
    for event in ("reveal failed", "duplicate identity", "keys.rewrap.batch",
                  "keyring incomplete", "missing version", "bad keyring"):
        assert event in output
    assert "DecryptionFailed" in output and "IntegrityError" in output
    for marker in (CHAT_MARKER, PHONE_MARKER, PHONE_MARKER.lstrip("+"), LABEL_MARKER, KEY1,
                   KEY1[:20]):
        assert marker not in output, marker
