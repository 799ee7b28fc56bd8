"""``keys migrate --to PROVIDER``: move the key tree's KEKs from one key provider to another.

Why (issue 17, docs/adr/0039-shred-epochs.md): a KEK wrapped by one provider is refused
by another as foreign (its wrapped bytes carry the provider's tag), so a clinic moving
from ``env`` to an HSM - or between providers - cannot just change ``[keys] provider``.
Each live KEK is unwrapped by the old provider and wrapped by the new one, keeping its
id: the DEKs under it are bound to the KEK's id, not to the provider, so none of them
is touched and nothing is re-sealed. Two provider calls per KEK, never per DEK.

One transaction per KEK, written by compare-and-set (still on the old provider, same
bytes), so a run cut off is finished by running it again and a KEK is never moved twice.
Run it with the bot stopped: a bot still on the old provider would not find its KEK and
would make a new one. Afterwards the old provider's keys are needed only to open backups
taken before the move, for as long as the restore window lasts (OPERATIONS "Shred
epochs"); no HMAC depends on them beyond the KEKs (blind indexes are keyed by index DEKs
under the KEKs, whose ids and keys the move keeps; the erasure record's MACs are keyed
by the server keyring, which the move does not touch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from medcrypt.crypto.server import keytree as kt
from medcrypt.crypto.server.provider import wrapped_version
from medcrypt.storage.models.keytree import Kek


@dataclass
class MigrateReport:
    moved: int = 0
    left: int = 0
    provider_calls: int = 0


def migrate_keks(sessions: sessionmaker[Session], source: kt.KeyTree, target: kt.WrapRoot,
                 *, progress: Callable[[int, int], None] | None = None) -> MigrateReport:
    """Re-wrap every live KEK of ``source``'s provider under ``target``, keeping ids."""
    if source.provider_name == target.name:
        raise ValueError("source and target are the same provider")
    with sessions() as session:
        todo = [(str(i), bytes(w)) for i, w in session.execute(
            select(Kek.id, Kek.wrapped).where(Kek.provider == source.provider_name,
                                              Kek.retired_at.is_(None)).order_by(Kek.id))]
    report = MigrateReport()
    if progress is not None:
        progress(0, len(todo))
    for n, (kek_id, wrapped) in enumerate(todo, start=1):
        before = source.provider_calls
        kek = source.kek(kek_id, wrapped)
        moved = target.wrap(kek, kt.kek_context(kek_id))
        report.provider_calls += source.provider_calls - before + 1
        with sessions.begin() as session:
            done = session.execute(
                update(Kek).where(Kek.id == kek_id, Kek.provider == source.provider_name,
                                  Kek.wrapped == wrapped)
                .values(provider=target.name, root_version=wrapped_version(moved),
                        wrapped=moved).execution_options(synchronize_session=False))
        report.moved += int(getattr(done, "rowcount", 0) or 0)
        if progress is not None:
            progress(n, len(todo))
    source.wipe()
    with sessions() as session:
        report.left = len(session.scalars(select(Kek.id).where(
            Kek.provider == source.provider_name, Kek.retired_at.is_(None))).all())
    return report
