"""The operator's story on SoftHSM2, through the real command line: a database on the
``env`` provider moves to PKCS#11 (``keys migrate --to pkcs11``), the config switches,
and ``keys close-epoch`` then ends the epoch in the HSM - old root version destroyed."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from medcrypt.bot.keyproviders.pkcs11 import Pkcs11Provider
from medcrypt.crypto.server import keytree as kt
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.repos.identities import get_or_create_identity, reveal_address
from tests.support.databases import migrated
from tests.support.keyservers import SoftHsm
from tests.support.operator_cli import operator_env, run_bot, write_config
from tests.support.storage import KEYS_V1, NOW


def test_env_to_pkcs11_then_close_the_epoch(tmp_path: Path, softhsm_token: SoftHsm) -> None:
    prefix = "m" + uuid.uuid4().hex[:10]
    url = migrated(f"sqlite:///{tmp_path / 'bot.db'}")
    keys = {"key_prefix": prefix,
            "pkcs11": {"module": softhsm_token.module, "token_label": softhsm_token.token}}
    base = {"database": {"url": url}, "telegram": {"enabled": False},
            "whatsapp": {"enabled": False}}
    on_env = write_config(tmp_path / "env.toml", {**base, "keys": {**keys, "provider": "env"}})
    on_hsm = write_config(tmp_path / "hsm.toml", {**base, "keys": {**keys,
                                                                    "provider": "pkcs11"}})
    env = operator_env(MEDCRYPT_PKCS11_PIN=softhsm_token.pin, SOFTHSM2_CONF=softhsm_token.conf,
                       MEDCRYPT_SERVER_KEYS=KEYS_V1)
    made = run_bot("keys", "provider", "init", "--config", str(on_hsm), env=env, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    ring = Keyring.from_env_value(KEYS_V1)
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as s:
            people = [get_or_create_identity(s, ring, "telegram", str(70_000_000 + i),
                                             now=NOW)[0].id for i in range(3)]
    finally:
        engine.dispose()

    moved = run_bot("keys", "migrate", "--to", "pkcs11", "--config", str(on_env), env=env,
                    cwd=tmp_path)
    assert moved.returncode == 0, moved.stderr
    assert "moved 1 KEK(s) from env to pkcs11 (2 provider call(s)); 0 left on env" in moved.stdout
    closed = run_bot("keys", "close-epoch", "--config", str(on_hsm), env=env, cwd=tmp_path)
    assert closed.returncode == 0, closed.stderr
    assert ("KEK on root version 2; 3 blind index(es) recomputed, 3 DEK(s) rewrapped, "
            "1 KEK(s) retired, "
            "1 root version(s) destroyed") in closed.stdout

    hsm = Pkcs11Provider(softhsm_token.module, softhsm_token.token, softhsm_token.pin,
                         prefix=prefix)
    try:
        assert hsm.versions() == (2,)
        ring = Keyring.from_env_value(KEYS_V1)
        ring.tree = kt.KeyTree(hsm, monotonic=time.monotonic)
        engine = make_engine(url)
        try:
            with session_factory(engine)() as s:
                for i, person in enumerate(people):
                    row = s.get(PlatformIdentity, person)
                    assert row is not None and reveal_address(row, ring) == str(70_000_000 + i)
        finally:
            engine.dispose()
    finally:
        hsm.close()
