"""The operator's backup story on SoftHSM2, through the real command line (docs/adr/0041).

With ``[keys] provider = "pkcs11"``: ``backup create`` wraps the backup's data key in the
HSM, so ``MEDCRYPT_SERVER_KEYS`` alone no longer opens the file (before, the keyring
wrapped it, and a copy of the environment opened every backup); ``backup verify`` and
``restore`` open it with one HSM call each; and after ``keys close-epoch`` destroyed the
root version that wrapped it, the file opens for no one.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from medcrypt.crypto.errors import ConfigError
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.backup import archive
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.repos.identities import get_or_create_identity
from tests.support.databases import migrated
from tests.support.jobs import SIGNING_KEY
from tests.support.keyservers import SoftHsm
from tests.support.operator_cli import operator_env, run_bot, write_config
from tests.support.storage import KEYS_V1, NOW

PHONE = "+15557771234"


def test_pkcs11_backup_needs_the_hsm_and_dies_with_its_root_version(
        tmp_path: Path, softhsm_token: SoftHsm) -> None:
    url = migrated(f"sqlite:///{tmp_path / 'bot.db'}")
    config = write_config(tmp_path / "hsm.toml", {
        "database": {"url": url}, "telegram": {"enabled": False},
        "whatsapp": {"enabled": False},
        "backup": {"erasure_record_path": str(tmp_path / "erasures")},
        "keys": {"provider": "pkcs11", "key_prefix": "b" + uuid.uuid4().hex[:10],
                 "pkcs11": {"module": softhsm_token.module,
                            "token_label": softhsm_token.token}}})
    env = operator_env(MEDCRYPT_PKCS11_PIN=softhsm_token.pin,
                       SOFTHSM2_CONF=softhsm_token.conf, MEDCRYPT_SERVER_KEYS=KEYS_V1,
                       MEDCRYPT_AUDIT_SIGNING_KEY=SIGNING_KEY)

    def bot(*argv: str) -> tuple[int, str]:
        ran = run_bot(*argv, "--config", str(config), env=env, cwd=tmp_path)
        return ran.returncode, ran.stdout + ran.stderr

    assert bot("keys", "provider", "init")[0] == 0
    ring = Keyring.from_env_value(KEYS_V1)
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as s:
            get_or_create_identity(s, ring, "whatsapp", PHONE, now=NOW)
    finally:
        engine.dispose()

    backup = tmp_path / "nightly.mcbackup"
    code, said = bot("backup", "create", str(backup))
    assert code == 0, said

    # The attack: the bot's environment (MEDCRYPT_SERVER_KEYS) and the file, no HSM.
    with pytest.raises(ConfigError, match="wrapped by the pkcs11 provider"):
        archive.verify(backup, Keyring.from_env_value(KEYS_V1))
    assert "data key under pkcs11 root version 1" in said

    code, said = bot("backup", "verify", str(backup))
    assert code == 0 and "backup OK" in said, said
    code, said = bot("backup", "restore", str(backup), "--yes")
    assert code == 0 and "restored:" in said, said

    code, said = bot("keys", "close-epoch")
    assert code == 0 and "1 root version(s) destroyed" in said, said
    code, said = bot("backup", "verify", str(backup))
    assert code == 6 and "pkcs11: root version 1" in said, said  # KeyVersionMissing
    assert "backup OK" not in said
    # A backup made after the close opens (under root version 2).
    later = tmp_path / "after-close.mcbackup"
    code, said = bot("backup", "create", str(later))
    assert code == 0 and "pkcs11 root version 2" in said, said
    code, said = bot("backup", "verify", str(later))
    assert code == 0 and "backup OK" in said, said
