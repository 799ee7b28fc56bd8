"""The operator's backup story on SoftHSM2, through the real command line (docs/adr/0041).

With ``[keys] provider = "pkcs11"``: ``backup create`` wraps the backup's data key in the
HSM, so ``MEDCRYPT_SERVER_KEYS`` alone no longer opens the file (before, the keyring
wrapped it, and a copy of the environment opened every backup); ``backup verify`` and
``restore`` open it with one HSM call each; and after ``keys close-epoch`` destroyed the
root version that wrapped it, the file opens for no one. A backup made before the
provider was configured (format 1) still opens, by the keyring.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from medcrypt.bot.cli import main
from medcrypt.bot.domain.config import load_settings
from medcrypt.bot.keyproviders import open_provider
from medcrypt.crypto.errors import ConfigError
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.crypto.server.keytree import KeyTree
from medcrypt.storage.backup import archive
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.repos.identities import get_or_create_identity
from tests.support.databases import migrated
from tests.support.jobs import SIGNING_KEY
from tests.support.keyservers import SoftHsm
from tests.support.operator_cli import CLEARED, write_config
from tests.support.storage import KEYS_V1, NOW

PHONE = "+15557771234"


def test_pkcs11_backup_needs_the_hsm_and_dies_with_its_root_version(
        tmp_path: Path, softhsm_token: SoftHsm, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    url = migrated(f"sqlite:///{tmp_path / 'bot.db'}")
    config = write_config(tmp_path / "hsm.toml", {
        "database": {"url": url}, "telegram": {"enabled": False},
        "whatsapp": {"enabled": False},
        "backup": {"erasure_record_path": str(tmp_path / "erasures")},
        "keys": {"provider": "pkcs11", "key_prefix": "b" + uuid.uuid4().hex[:10],
                 "pkcs11": {"module": softhsm_token.module,
                            "token_label": softhsm_token.token}}})
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    for name, value in {"MEDCRYPT_PKCS11_PIN": softhsm_token.pin,
                        "SOFTHSM2_CONF": softhsm_token.conf,
                        "MEDCRYPT_SERVER_KEYS": KEYS_V1,
                        "MEDCRYPT_AUDIT_SIGNING_KEY": SIGNING_KEY}.items():
        monkeypatch.setenv(name, value)

    def bot(*argv: str, on: Path = config) -> tuple[int, str]:
        """``medcrypt-bot ARGV --config ON`` in this process (the CLI's own entry point;
        a child process per command made this test slow)."""
        capsys.readouterr()
        code = main([*argv, "--config", str(on)])
        said = capsys.readouterr()
        return code, said.out + said.err

    # A backup from before the provider: format 1, data key under the keyring.
    on_env = write_config(tmp_path / "env.toml", {
        "database": {"url": url}, "telegram": {"enabled": False},
        "whatsapp": {"enabled": False},
        "backup": {"erasure_record_path": str(tmp_path / "erasures")}})
    old = tmp_path / "before-the-hsm.mcbackup"
    code, said = bot("backup", "create", str(old), on=on_env)
    assert code == 0, said

    assert bot("keys", "provider", "init")[0] == 0
    # A patient, written as the bot writes one: on the HSM's key tree (an identity made
    # on the keyring's own env tree would put an env KEK in an HSM database).
    ring = Keyring.from_env_value(KEYS_V1)
    ring.tree = KeyTree(open_provider(load_settings(config)), monotonic=time.monotonic)
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
    code, said = bot("backup", "verify", str(old))  # old files still open, by the keyring
    assert code == 0 and "backup OK" in said and "under the server keyring" in said, said
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
