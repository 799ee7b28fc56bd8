"""A PHI-free text table of the jobs in plain words: next run, last run, what it did.

Shared by ``medcrypt-bot jobs list`` and the admins' ``/jobs`` chat command, so both
show the same thing. A clinic admin reads it, not the developer who wrote the job: the
summary a run records (``epoch=683``, ``scrub=sqlite_wal_checkpoint_truncate``) is
turned into words and dates here (issue 16); a key this table does not know yet is
shown with its underscores as spaces rather than dropped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from medcrypt.bot.domain.i18n import N_, SOURCE_LANGUAGE, Nn_, translate, translate_plural
from medcrypt.bot.domain.lifecycle.names import JOBS
from medcrypt.bot.domain.lifecycle.runs import LastRun, last_runs
from medcrypt.bot.domain.services import Services
from medcrypt.bot.scheduler.runner import next_runs
from medcrypt.crypto.keyless.epochs import format_epoch

# In the admin's language in chat (``/jobs``); ``medcrypt-bot jobs list`` prints English.
# English keeps its one "(s)" form for any count, as the table always read; Spanish gets
# its two.

#: What each job is, for a reader who does not know the code.
TITLES = {
    "rotation": N_("monthly key rotation (new month opened for every pairing, members told)"),
    "shred_sweep": N_("destroys what the relay holds of months past their grace window"),
    "key_epoch": N_("closes the shred epoch when it is due: a new key-encryption key, every "
                    "live data key rewrapped under it, the old root version destroyed"),
}
#: How a run was started.
TRIGGERS = {"schedule": N_("on schedule"), "startup": N_("at bot start (catching up)"),
            "manual": N_("started by hand")}
#: What the post-shred scrub did (storage.remanence.scrub).
SCRUBS = {
    "busy": N_("database compaction postponed (database busy)"),
    "sqlite_wal_checkpoint_truncate": N_("database file compacted"),
    "postgres_vacuum": N_("database vacuumed"),
    "postgres_vacuum_full": N_("database fully vacuumed"),
}
_COUNTS: dict[str, tuple[str, str]] = {
    "pairings": Nn_("{n} pairing(s) checked", "{n} pairing(s) checked"),
    "epochs_created": Nn_("{n} month(s) opened", "{n} month(s) opened"),
    "epochs_retired": Nn_("{n} month(s) now in their grace window",
                          "{n} month(s) now in their grace window"),
    "epochs_shredded": Nn_("{n} month(s) destroyed", "{n} month(s) destroyed"),
    "notices_queued": Nn_("{n} notice(s) to members", "{n} notice(s) to members"),
    "warnings_queued": Nn_("{n} warning(s) to members", "{n} warning(s) to members"),
    "notices": Nn_("{n} notice(s) to members", "{n} notice(s) to members"),
    "tokens": Nn_("{n} stored message(s) deleted", "{n} stored message(s) deleted"),
    "escrow": Nn_("{n} escrow deposit(s) deleted", "{n} escrow deposit(s) deleted"),
    "deposits": Nn_("{n} escrow deposit(s) deleted", "{n} escrow deposit(s) deleted"),
    "media": Nn_("{n} file(s) deleted", "{n} file(s) deleted"),
    "parts": Nn_("{n} message piece(s) deleted", "{n} message piece(s) deleted"),
    "records": Nn_("{n} pairing record(s) deleted", "{n} pairing record(s) deleted"),
    # The key_epoch job (bot/domain/lifecycle/key_epochs.py, storage/kek_epochs.py).
    "kek_age_days": Nn_("key-encryption key {n} day(s) old",
                        "key-encryption key {n} day(s) old"),
    "opened": Nn_("{n} new key-encryption key(s)", "{n} new key-encryption key(s)"),
    "rewrapped": Nn_("{n} data key(s) rewrapped", "{n} data key(s) rewrapped"),
    "retired_keks": Nn_("{n} key-encryption key(s) retired",
                        "{n} key-encryption key(s) retired"),
    "destroyed_versions": Nn_("{n} old root version(s) destroyed",
                              "{n} old root version(s) destroyed"),
    "provider_calls": Nn_("{n} key-provider call(s)", "{n} key-provider call(s)"),
    "pending": Nn_("{n} data key(s) or blind index(es) still to move",
                   "{n} data key(s) or blind index(es) still to move"),
    "reindexed": Nn_("{n} blind index(es) recomputed", "{n} blind index(es) recomputed"),
    "index_keys_destroyed": Nn_("{n} old blind-index key(s) destroyed",
                                "{n} old blind-index key(s) destroyed"),
    "removable_env_versions": Nn_("{n} server key version(s) may now be removed",
                                  "{n} server key version(s) may now be removed"),
}
#: Yes/no facts a run records as 1, said in words when true.
_FLAGS = {
    "due": N_("epoch due"),
    "needs_operator": N_("waiting for the operator: run 'medcrypt-bot keys close-epoch'"),
}
ROOT_VERSION = N_("root version {n}")
FOR_MONTH = N_("for {month}")
DONE = N_("done")
LAST_RUN = N_("  last run: {at}, {trigger} (as of {as_of}): {outcome}")
NEVER_RUN = N_("  last run: never")
NEXT_RUN = N_("  next run: {at}")
NEXT_RUN_NOT_STARTED = N_("  next run: {at} (bot not started yet)")


def _scrub(value: Any, language: str) -> str:
    word = SCRUBS.get(str(value))
    if str(value) == "none":
        return ""
    return translate(language, word) if word else str(value).replace("_", " ")


def _fmt(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def plain_summary(summary: dict[str, Any], language: str = SOURCE_LANGUAGE) -> str:
    """A run's recorded counts as words: nothing for zeros, months by name."""
    words = []
    for key, value in summary.items():
        if value in (0, "none", None, ""):
            continue
        if key == "epoch":
            words.append(translate(language, FOR_MONTH, month=format_epoch(int(value))))
        elif key == "scrub":
            words.append(_scrub(value, language))
        elif key in _FLAGS:
            words.append(translate(language, _FLAGS[key]))
        elif key == "root_version":
            words.append(translate(language, ROOT_VERSION, n=value))
        elif key in _COUNTS and isinstance(value, int):
            words.append(translate_plural(language, _COUNTS[key], value))
        else:
            words.append(f"{key.replace('_', ' ')}: {value}")
    return ", ".join(w for w in words if w)


def _last(run: LastRun, language: str) -> str:
    what = plain_summary(run.summary, language)
    outcome = translate(language, DONE) if run.outcome == "ok" else run.outcome.replace("_", " ")
    trigger = TRIGGERS.get(run.trigger)
    line = translate(language, LAST_RUN, at=_fmt(run.started_at), as_of=_fmt(run.as_of),
                     trigger=translate(language, trigger) if trigger else run.trigger,
                     outcome=outcome)
    if run.error:
        line += f" ({run.error})"
    return line + (f"; {what}" if what else "")


def format_listing(ctx: Services, now: datetime, language: str = SOURCE_LANGUAGE) -> str:
    """PHI-free table of jobs (shared with the ``/jobs`` chat command), in ``language``."""
    nxt = next_runs(ctx, now)
    last = last_runs(ctx)
    lines = []
    for job in JOBS:
        at, stored = nxt[job]
        title = TITLES.get(job)
        lines.append(f"{job}: {translate(language, title) if title else JOBS[job]}")
        lines.append(translate(language, NEXT_RUN if stored else NEXT_RUN_NOT_STARTED,
                               at=_fmt(at)))
        run = last.get(job)
        lines.append(translate(language, NEVER_RUN) if run is None else _last(run, language))
    return "\n".join(lines)
