"""What every job needs, handed in by whoever runs it (bot run loop, CLI, tests).

One small frozen object instead of globals, so the same job function runs under the
scheduler, under ``medcrypt-bot jobs run --now ...`` and in a 14-month time-travel test
with a :class:`crypto.clock.FixedClock`, against SQLite or PostgreSQL.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from medcrypt.bot.domain.config import Settings
from medcrypt.crypto.clock import Clock
from medcrypt.crypto.errors import ConfigError
from medcrypt.crypto.server.audit import Checkpoint, CheckpointSigner, system_ref
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.audit import AuditLog
from medcrypt.storage.db import Engine, SessionFactory, job_sessions, make_engine, session_factory

#: Progress callback: (done, total) in the job's unit (pairings or epochs).
Progress = Callable[[int, int], None]

SCHEDULER_REF = system_ref("scheduler")

#: SQLite page cache (KiB) of the one connection a rotation or sweep runs on. Each batch
#: inserts at random places of the same large indexes (audit subject refs, outbox dedupe
#: keys, epoch keys); with SQLite's default 2 MiB every batch re-read those pages, which
#: cost rotation a third of its time at 100,000 pairings. Given back when the run ends.
JOB_CACHE_KIB = 65536


@functools.lru_cache(maxsize=200_000)
def _ref(audit: AuditLog, kind: str, raw_id: str) -> str:
    """Pseudonyms are deterministic per audit log; a batch asks for each one twice."""
    return audit.pseudonym(kind, raw_id)


@dataclass(frozen=True)
class JobContext:
    settings: Settings
    engine: Engine
    clock: Clock
    audit: AuditLog
    sessions: SessionFactory = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sessions", session_factory(self.engine))

    def warm(self) -> None:
        """Load the audit pseudonym secret before any write transaction opens.

        On first use the audit log creates that secret on its own connection; doing it
        while a job's transaction holds SQLite's write lock would wait on ourselves.
        """
        self.audit.pseudonym("pairing", "warm-up")

    @contextmanager
    def run_sessions(self) -> Iterator[SessionFactory]:
        """Sessions for one job run: on SQLite all on one pooled connection whose page
        cache is job-sized (:data:`JOB_CACHE_KIB`) for the run (one transaction per
        batch, as with :attr:`sessions`); on PostgreSQL plain sessions."""
        with job_sessions(self.engine, JOB_CACHE_KIB) as sessions:
            yield sessions

    def pairing_ref(self, pairing_id: str) -> str:
        return _ref(self.audit, "pairing", pairing_id)

    def identity_ref(self, identity_id: str) -> str:
        return _ref(self.audit, "identity", identity_id)


def audit_signer(settings: Settings,
                 environ: Mapping[str, str] | None = None) -> CheckpointSigner | None:
    """The checkpoint signing key, when configured (it is optional for jobs)."""
    try:
        return CheckpointSigner.from_b64(settings.secret("audit.signing_key_env",
                                                         environ=environ),
                                         name=settings.audit.signing_key_env)
    except ConfigError:
        return None


def context_from_settings(
    settings: Settings, clock: Clock, *, environ: Mapping[str, str] | None = None,
    engine: Engine | None = None, on_checkpoint: Callable[[Checkpoint], None] | None = None,
) -> JobContext:
    """Build a context the way the CLI and the bot do: engine, server keyring, audit log.

    The checkpoint signing key is optional (without it no checkpoint is signed);
    ``on_checkpoint`` hears of every checkpoint written (the bot posts witness lines).
    """
    keyring = Keyring.from_environ(environ, env_name=settings.keyring.server_keys_env)
    signer = audit_signer(settings, environ)
    engine = engine or make_engine(settings.database_url)
    audit = AuditLog(
        engine, keyring, clock=clock, signer=signer,
        checkpoint_every=settings.audit.checkpoint_every_entries,
        checkpoint_interval=timedelta(minutes=settings.audit.checkpoint_interval_minutes),
        postgres_vacuum=settings.database.postgres_vacuum, on_checkpoint=on_checkpoint,
    )
    return JobContext(settings=settings, engine=engine, clock=clock, audit=audit)
