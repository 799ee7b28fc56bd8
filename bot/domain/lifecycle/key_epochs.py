"""The ``key_epoch`` job: close the key tree's shred epoch when it is due.

Why a job (issue 17, docs/adr/0039-shred-epochs.md): a person erased today stays
recoverable from every backup until the root version that wrapped their DEK's KEK is
destroyed, so the epoch must close on time, not when an operator remembers. The
scheduler checks daily (:data:`CHECK_SLACK`) and closes once the current KEK would pass
``keys.shred_epoch_days`` before the next check, or when an earlier close was cut off.
As a job it holds the job lock (one closer at a time, ``keys close-epoch`` included) and,
on PostgreSQL replicas, runs on the scheduler role's fenced sessions: every batch proves
the lease is still held before it writes.

A close the bot's credentials cannot do - ``env`` needs a new server key from the
operator, Transit's bot token may not rotate - is reported (``needs_operator``, a
warning log line naming the command) and changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog

from medcrypt.bot.domain.services import Progress, Services
from medcrypt.crypto.errors import ProviderDenied
from medcrypt.crypto.server.provider import KeyAdmin
from medcrypt.storage import deks, kek_epochs

log = structlog.get_logger("bot.jobs")

#: The scheduler checks once a day: an epoch closes when it would outlive its length
#: before the next check.
CHECK_SLACK = timedelta(days=1)


def close_if_due(ctx: Services, as_of: datetime, *, force: bool = False,
                 progress: Progress | None = None,
                 batch: int | None = None) -> dict[str, Any]:
    """Close the epoch if due (or ``force``); PHI-free counts for ``job_runs``."""
    tree = deks.tree_of(ctx.keyring)
    admin = tree.root if isinstance(tree.root, KeyAdmin) else None
    with ctx.run_sessions() as sessions:
        with sessions() as session:
            state = kek_epochs.status(session, tree.provider_name)
        due = force or state.due(as_of, ctx.settings.keys.shred_epoch_days, slack=CHECK_SLACK)
        if not due or state.current is None:
            return {"due": 0, "kek_age_days": _age(state, as_of)}
        try:
            report = kek_epochs.close_epoch(sessions, tree, admin, now=as_of,
                                            batch=batch or kek_epochs.DEFAULT_BATCH,
                                            progress=progress)
        except (kek_epochs.NeedsOperator, ProviderDenied) as exc:
            if force:
                raise
            log.warning("key_epoch_needs_operator", provider=tree.provider_name,
                        error=type(exc).__name__)
            return {"due": 1, "needs_operator": 1, "kek_age_days": _age(state, as_of)}
    summary: dict[str, Any] = {"due": 1, **report.summary()}
    if report.removable_env_versions:
        summary["removable_env_versions"] = len(report.removable_env_versions)
    return summary


def _age(state: kek_epochs.EpochStatus, as_of: datetime) -> int:
    current = state.current
    if current is None:
        return 0
    return max(0, (as_of - current.created_at).days)
