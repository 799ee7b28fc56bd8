"""``keys rewrap`` with a provider configured (SoftHSM2): old v1 values are converted to
DEKs under the KEK the *provider* wraps - the one the bot uses - and never under a
second, ``env``-wrapped KEK that a dump plus ``MEDCRYPT_SERVER_KEYS`` would open.

Before ADR 0037's Amendment 1 the command built an ``env`` tree whatever ``[keys]
provider`` said (this test failed so: a KEK with provider ``env`` appeared).
"""

from __future__ import annotations

import base64
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from medcrypt.bot.cli import main
from medcrypt.bot.keyproviders.pkcs11 import Pkcs11Provider
from medcrypt.crypto.server import keytree as kt
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import migrate
from medcrypt.storage.db import make_engine
from tests.support.keyservers import SoftHsm
from tests.support.operator_cli import write_config

NOW = datetime(2026, 12, 1, tzinfo=UTC)
REASONS = {f"{i:032x}": f"reason {i}" for i in range(1, 4)}


def test_rewrap_seals_under_the_providers_kek(
        tmp_path: Path, softhsm_token: SoftHsm, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    hsm = softhsm_token
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    prefix = "w" + uuid.uuid4().hex[:10]
    cfg = write_config(tmp_path / "bot.toml", {
        "database": {"url": url},
        "telegram": {"enabled": False}, "whatsapp": {"enabled": False},
        "keys": {"provider": "pkcs11", "key_prefix": prefix,
                 "pkcs11": {"module": hsm.module, "token_label": hsm.token}}})
    keys = "1:" + base64.b64encode(os.urandom(32)).decode()
    for name in ("MEDCRYPT_CONFIG", "MEDCRYPT_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MEDCRYPT_SERVER_KEYS", keys)
    monkeypatch.setenv("MEDCRYPT_PKCS11_PIN", hsm.pin)
    ring = Keyring.from_env_value(keys)
    Pkcs11Provider(hsm.module, hsm.token, hsm.pin, prefix=prefix, create=True).close()
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:  # break-glass reasons as code before 0023 wrote them
            for row_id, reason in REASONS.items():
                conn.execute(text(
                    "INSERT INTO breakglass_requests (id, code, pairing_id, requester_id, "
                    "status, reason, requested_at, expires_at) VALUES (:id, :code, :p, :r, "
                    "'denied', :s, :t, :e)"), {
                    "id": row_id, "code": row_id[-10:], "p": b"\x03" * 16, "r": "f" * 32,
                    "s": ring.seal(reason.encode(), ("breakglass_requests", "reason", row_id)),
                    "t": NOW, "e": NOW + timedelta(hours=1)})
        assert main(["--config", str(cfg), "keys", "rewrap"]) == 0
        assert f"rewrapped {len(REASONS)} value(s)" in capsys.readouterr().out
        with engine.connect() as conn:
            assert conn.execute(text("SELECT provider FROM keks")).scalars().all() == ["pkcs11"]
            rows = conn.execute(text(
                "SELECT b.reason, b.dek_id, d.purpose, k.provider FROM breakglass_requests b "
                "JOIN deks d ON d.id = b.dek_id JOIN keks k ON k.id = d.kek_id")).all()
        assert len(rows) == len(REASONS)
        for sealed, dek_id, purpose, provider in rows:
            assert kt.sealed_dek(bytes(sealed)).dek_id == dek_id
            assert (purpose, provider) == ("breakglass", "pkcs11")
        assert main(["--config", str(cfg), "keys", "rewrap"]) == 0
        assert "rewrapped 0 value(s)" in capsys.readouterr().out
    finally:
        engine.dispose()
