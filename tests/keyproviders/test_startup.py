"""The configured provider as an operator meets it: real processes, SoftHSM2's token.

``keys provider init`` creates the keys, ``keys provider status`` is the start-up check
(and prints the checkpoint public key for auditors), and a token that lacks
CKM_AES_GCM or CKM_EDDSA stops ``keys provider status`` and ``run`` with one line and
exit 2, and ``doctor`` names it. The missing mechanism is real: SoftHSM2's
``slots.mechanisms`` setting leaves it out of the token's own list, in a child process
that reads that configuration.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.support.keyservers import SoftHsm
from tests.support.operator_cli import operator_env, run_bot, write_config


def _config(tmp_path: Path, hsm: SoftHsm, prefix: str) -> Path:
    return write_config(tmp_path / "bot.toml", {
        "database": {"url": f"sqlite:///{tmp_path / 'bot.db'}"},
        "telegram": {"enabled": False}, "whatsapp": {"enabled": False},
        "keys": {"provider": "pkcs11", "key_prefix": prefix,
                 "pkcs11": {"module": hsm.module, "token_label": hsm.token}}})


#: What the provider uses; the token under test offers all of them but one.
USED = ("CKM_AES_KEY_GEN", "CKM_AES_GCM", "CKM_EC_EDWARDS_KEY_PAIR_GEN", "CKM_EDDSA")


def _conf_without(tmp_path: Path, hsm: SoftHsm, mechanism: str) -> str:
    """The same token dir, with SoftHSM2 offering only ``USED`` less ``mechanism`` (its
    ``slots.mechanisms`` allow-list; 2.6.1 ignores a "-" deny-list)."""
    text = Path(hsm.conf).read_text()
    conf = tmp_path / f"softhsm2-no-{mechanism}.conf"
    offered = ",".join(m for m in USED if m != mechanism)
    conf.write_text(text + f"slots.mechanisms = {offered}\n")
    return str(conf)


def test_init_then_status_prints_the_public_key(tmp_path: Path, softhsm_token: SoftHsm) -> None:
    cfg = _config(tmp_path, softhsm_token, "s" + uuid.uuid4().hex[:10])
    env = operator_env(MEDCRYPT_PKCS11_PIN=softhsm_token.pin, SOFTHSM2_CONF=softhsm_token.conf)
    ran = run_bot("keys", "provider", "init", "--config", str(cfg), env=env, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "provider: pkcs11" in ran.stdout
    assert "checkpoint key: outside this process" in ran.stdout
    again = run_bot("keys", "provider", "status", "--config", str(cfg), env=env, cwd=tmp_path)
    doctor = run_bot("doctor", "--config", str(cfg), env=env, cwd=tmp_path)
    line = next(x for x in doctor.stdout.splitlines() if "key provider" in x)
    assert "ok" in line and "pkcs11" in line and "FAIL" not in line
    assert again.returncode == 0, again.stderr
    public = [line for line in ran.stdout.splitlines() if line.startswith("checkpoint public")]
    assert public and public[0] in again.stdout  # the same key, read from the token


@pytest.mark.parametrize("mechanism", ["CKM_AES_GCM", "CKM_EDDSA"])
@pytest.mark.parametrize("command", [("keys", "provider", "status"), ("run",), ("doctor",)])
def test_a_token_without_a_mechanism_stops_the_bot(
        tmp_path: Path, softhsm_token: SoftHsm, mechanism: str, command: tuple[str, ...]
) -> None:
    prefix = "s" + uuid.uuid4().hex[:10]
    cfg = _config(tmp_path, softhsm_token, prefix)
    env = operator_env(MEDCRYPT_PKCS11_PIN=softhsm_token.pin, SOFTHSM2_CONF=softhsm_token.conf)
    made = run_bot("keys", "provider", "init", "--config", str(cfg), env=env, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    env["SOFTHSM2_CONF"] = _conf_without(tmp_path, softhsm_token, mechanism)
    if command == ("run",):
        migrated = run_bot("migrate", "--config", str(cfg), env=env, cwd=tmp_path)
        assert migrated.returncode == 0, migrated.stderr
    ran = run_bot(*command, "--config", str(cfg), env=env, cwd=tmp_path, timeout=60)
    if command == ("doctor",):  # one line per check; the provider's says why
        assert ran.returncode == 1
        line = next(x for x in ran.stdout.splitlines() if "key provider" in x)
        assert "FAIL" in line and f"the token lacks {mechanism}" in line
        return
    assert ran.returncode == 2, ran.stderr
    assert ran.said == [f"medcrypt-bot: pkcs11: the token lacks {mechanism}; "
                        "the bot needs both to start"]
