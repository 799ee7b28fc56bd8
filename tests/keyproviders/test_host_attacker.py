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
from medcrypt.crypto.errors import AuditChainBroken, ProviderDown
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
                    on_checkpoint=lambda _session, cp: posted.append(format_witness(cp)))


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
    """A rig's provider as the bot holds it, counting the signatures asked of it; while
    ``down`` its sign goes to the rig's unreachable service (a real ProviderDown)."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.signs = 0
        self.down = False

    def sign(self, message: bytes) -> bytes:
        self.signs += 1
        if self.down and self.rig.down is not None:
            self.rig.down()
        return self.rig.bot.sign(message)

    def public_key(self) -> bytes:
        return self.rig.bot.public_key()


@pytest.mark.parametrize("rig", ["env", "pkcs11", "transit", "kms"], indirect=True)
def test_appends_never_call_the_provider_and_an_outage_only_delays_checkpoints(
        tmp_path: Path, rig: Rig) -> None:
    """Appends never sign (ADR 0036): zero provider calls however many cross the N mark;
    the checkpointer signs N entries at a time. A provider that is down fails the
    checkpointer's pass, never an append."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    engine = make_engine(url)
    load_all().create_all(engine, tables=AUDIT_TABLES)
    engine.dispose()
    provider = _Counting(rig)
    signer = CheckpointSigner.in_provider(provider)
    log = AuditLog(make_engine(url), Keyring({1: SERVER_KEY}), clock=FixedClock(NOW),
                   signer=signer, checkpoint_every=100)
    actor = log.pseudonym("admin", "admin-a")
    for i in range(250):
        log.append_many([AuditEvent(actor, Action.RELAY_ACCEPTED, actor, {"n": i})])
    assert provider.signs == 0
    log.checkpoint_if_due()
    assert provider.signs == 2  # the last 50 wait: under N, inside the interval
    assert [cp.seq for cp in log.checkpoints()] == [100, 200]
    if rig.down is None:
        return  # env: no service to be down (rig.why_not)
    provider.down = True
    for i in range(150):
        log.append_many([AuditEvent(actor, Action.RELAY_ACCEPTED, actor, {"n": i})])
    with pytest.raises(ProviderDown):
        log.checkpoint_if_due()
    provider.down = False
    log.checkpoint_if_due()
    assert [cp.seq for cp in log.checkpoints()][2:] == [300, 400]
    public = {signer.key_id: signer.public_key}
    assert log.verify(public).unsigned_tail == 0
