"""Attack: someone on the bot's host, holding the bot's provider credentials (the PKCS#11
PIN, the Transit token, the AWS role), rewrites the audit history and re-signs it.

A provider-held checkpoint key cannot be stolen, but it can be *used* by whoever holds
the bot's credentials while they hold them (THREAT_MODEL, ADR 0033). The test runs the
attack for real against each provider: the bot's log is signed through the provider and
its witness lines go to the "chat"; the attacker cuts an admin command out of the
database file, re-chains the rest (tests/support/audit_attack.py) and has the provider
sign a checkpoint over the forged head with the bot's own credentials. Without witness
lines the auditor's verify passes - the attack works, which is the point of stating it;
with the witness lines posted before the cut it fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.errors import AuditChainBroken
from medcrypt.crypto.server.audit import Action, CheckpointSigner
from medcrypt.crypto.server.audit.checkpoint import format_witness, parse_witness_lines
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.audit import AuditEvent, AuditLog
from medcrypt.storage.db import make_engine
from medcrypt.storage.models import load_all
from tests.support.audit import AUDIT_TABLES, NOW, SERVER_KEY
from tests.support.audit_attack import cut_history
from tests.support.keyrigs import Rig


def _log(url: str, signer: CheckpointSigner, posted: list[str]) -> AuditLog:
    return AuditLog(make_engine(url), Keyring({1: SERVER_KEY}), clock=FixedClock(NOW),
                    signer=signer, checkpoint_every=5,
                    on_checkpoint=lambda cp: posted.append(format_witness(cp)))


@pytest.mark.parametrize("rig", ["pkcs11", "transit", "kms"], indirect=True)
def test_resigning_through_the_provider_is_caught_only_by_witness_lines(
        tmp_path: Path, rig: Rig) -> None:
    db = tmp_path / "audit.db"
    url = f"sqlite:///{db}"
    engine = make_engine(url)
    load_all().create_all(engine, tables=AUDIT_TABLES)
    engine.dispose()
    signer = CheckpointSigner.in_provider(rig.bot)
    assert signer.key_outside_process
    chat: list[str] = []
    log = _log(url, signer, chat)
    actor = log.pseudonym("admin", "admin-a")
    subject = log.pseudonym("patient", "p-1")
    for i in range(9):
        action = Action.ADMIN_COMMAND if i == 6 else Action.RELAY_ACCEPTED
        log.append_many([AuditEvent(actor, action, subject, {"n": i})])
    log.checkpoint_now()
    public = {signer.key_id: signer.public_key}
    assert log.verify(public, witnesses=parse_witness_lines("\n".join(chat))).witnessed_seq

    cut = cut_history(db, [Action.ADMIN_COMMAND.value])
    assert cut.removed_entries >= 1
    # The attacker: a fresh process (no memory of later checkpoints) with the bot's
    # credentials asks the provider to sign the forged head.
    attacker = _log(url, CheckpointSigner.in_provider(rig.bot), [])
    attacker.checkpoint_now()

    report = _log(url, signer, []).verify(public)  # the auditor, without witness lines
    assert report.witnessed_seq == 0  # "OK, not witnessed": the attack passes here
    with pytest.raises(AuditChainBroken, match="witness"):
        _log(url, signer, []).verify(public, witnesses=parse_witness_lines("\n".join(chat)))


class _Counting:
    """The env provider, counting what the audit log asks of it."""

    def __init__(self) -> None:
        import os

        from medcrypt.crypto.server.env_provider import EnvProvider

        self.inner = EnvProvider({1: os.urandom(32)}, os.urandom(32))
        self.signs = 0

    def sign(self, message: bytes) -> bytes:
        self.signs += 1
        return self.inner.sign(message)

    def public_key(self) -> bytes:
        return self.inner.public_key()


def test_appends_call_the_provider_once_per_checkpoint_and_never_per_entry(
        tmp_path: Path) -> None:
    """Today's coverage rules (ADR 0014) sign inside the append that owes a checkpoint:
    with a provider that is one call per ``checkpoint_every`` entries, under the head
    lock. Pinned here so the move off the append path (issue 17, not done) shows."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    engine = make_engine(url)
    load_all().create_all(engine, tables=AUDIT_TABLES)
    engine.dispose()
    provider = _Counting()
    log = AuditLog(make_engine(url), Keyring({1: SERVER_KEY}), clock=FixedClock(NOW),
                   signer=CheckpointSigner.in_provider(provider), checkpoint_every=100)
    actor = log.pseudonym("admin", "admin-a")
    for i in range(250):
        log.append_many([AuditEvent(actor, Action.RELAY_ACCEPTED, actor, {"n": i})])
    checkpoints = log.checkpoints()
    # The first append comes "late" (no checkpoint yet) and signs; then one per 100.
    assert provider.signs == len(checkpoints) == 3
    assert [cp.seq for cp in checkpoints][1:] == [102, 202]
