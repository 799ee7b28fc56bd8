"""The cheap audit append (issue 18): subject keys remembered in memory, and still never
used once another process erased their subject; appends that read no key statement.

Two :class:`AuditLog` objects on one database stand for two processes (the bot and a
``jobs run`` from cron). The bot appends for a patient, the other process erases that
patient, then the bot appends for the same patient again: the new entry must be sealed
under a fresh subject key, readable in the export, not under the erased key the bot
still had in memory (which would have made the new entry unreadable - erased - too).
"""

from __future__ import annotations

from sqlalchemy import Engine, event

from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.server.audit import Action, CheckpointSigner
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.audit import AuditLog


def test_an_erasure_by_another_process_retires_the_remembered_key(
        audit_engine: Engine, keyring: Keyring, signer: CheckpointSigner,
        clock: FixedClock, public_keys: dict) -> None:
    bot = AuditLog(audit_engine, keyring, clock=clock, signer=signer, checkpoint_every=500)
    cron = AuditLog(audit_engine, keyring, clock=clock, signer=signer, checkpoint_every=500)
    patient, admin = bot.pseudonym("patient", "p1"), bot.pseudonym("admin", 1)
    bot.append(admin, Action.RELAY_ACCEPTED, patient, {"direction": 0})
    bot.append(admin, Action.RELAY_ACCEPTED, patient, {"direction": 1})  # key remembered
    cron.erase_subject(patient, actor=admin)
    after = bot.append(admin, Action.RELAY_ACCEPTED, patient, {"direction": 2})
    [entry] = list(cron.export(from_seq=after.last_seq, to_seq=after.last_seq))
    assert (entry.state, entry.details) == ("ok", {"direction": 2})
    bot.checkpoint_if_due()
    assert bot.verify(public_keys).head_seq == after.last_seq


def test_a_remembered_subject_key_is_not_read_again(
        audit_engine: Engine, keyring: Keyring, signer: CheckpointSigner,
        clock: FixedClock) -> None:
    log = AuditLog(audit_engine, keyring, clock=clock, signer=signer, checkpoint_every=500)
    patient, admin = log.pseudonym("patient", "p2"), log.pseudonym("admin", 1)
    log.append(admin, Action.RELAY_ACCEPTED, patient, {"direction": 0})
    statements: list[str] = []
    event.listen(audit_engine, "before_cursor_execute",
                 lambda *a: statements.append(a[2]))
    log.append(admin, Action.RELAY_ACCEPTED, patient, {"direction": 1})
    assert not [s for s in statements if "audit_subject_keys" in s]
