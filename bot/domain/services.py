"""The bot's one dependency bundle: the long-lived collaborators every layer works with.

The composition root (:mod:`bot.app.wiring`) builds one :class:`Services` per process -
the bot run loop, each ``medcrypt-bot`` command, the demo and the tests alike - and
hands the same object to the relay, the commands, the outbox worker, the scheduler and
the key-lifecycle jobs. One frozen object instead of globals, so the same job function
runs under the scheduler, under ``medcrypt-bot jobs run --now ...`` and in a 14-month
time-travel test with a :class:`crypto.clock.FixedClock`, against SQLite or PostgreSQL.

There is exactly one :class:`storage.audit.AuditLog` per engine - this bundle's - so its
pseudonym secret is loaded once per process, and :meth:`Services.warm` is the one place
that knows why it must be loaded before a write transaction opens.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

from medcrypt.bot.domain.auditing import Auditor
from medcrypt.bot.domain.channels import Channel
from medcrypt.bot.domain.config import Settings
from medcrypt.bot.domain.events import NoEvents, RelayEvents
from medcrypt.bot.domain.identities import IdentityDirectory
from medcrypt.bot.domain.messages import Platform
from medcrypt.crypto.clock import Clock
from medcrypt.crypto.server.audit import system_ref
from medcrypt.crypto.server.audit.checkpoint import AuditPublicKey
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.audit import AuditLog
from medcrypt.storage.backup.erasure_record import ErasureFact, ErasureRecord
from medcrypt.storage.db import Engine, SessionFactory, job_sessions, session_factory

#: Progress callback: (done, total) in the job's unit (pairings or epochs).
Progress = Callable[[int, int], None]

SCHEDULER_REF = system_ref("scheduler")
#: A PHI-free table of the jobs' next and last runs (``/jobs``, ``medcrypt-bot jobs list``).
#: The scheduler knows when jobs run next; the commands, below it, get the listing here.
#: The last argument is the reader's language.
JobListing = Callable[["Services", datetime, str], str]
#: ``<platform>:<address>`` as an admin types it -> (platform, address), or None.
AdminTarget = Callable[[str], tuple[Platform, str] | None]

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
class Services:
    settings: Settings
    engine: Engine
    clock: Clock
    #: The server keyring: sealed addresses, break-glass reasons, audit subject keys.
    keyring: Keyring
    #: The audit log of :attr:`engine` - the only one the process opens on it.
    audit: AuditLog
    #: Every platform as its adapter describes it (:mod:`bot.domain.channels`).
    channels: Mapping[Platform, Channel]
    #: Supplied by the adapters, which know how each platform names a person.
    admin_target: AdminTarget
    job_listing: JobListing
    #: Checkpoint public keys ``/audit_verify`` checks signatures against.
    audit_public_keys: Mapping[bytes, AuditPublicKey] = field(default_factory=dict)
    rng: Callable[[int], bytes] = os.urandom
    #: Where shreds and erasures are also written, outside the backup set, so a restore
    #: can re-apply them (storage/backup/erasure_record.py); None when not configured.
    erasure_record: ErasureRecord | None = None
    #: Where the relay, the outbox and the jobs report counts (the app's metrics).
    events: RelayEvents = field(default_factory=NoEvents)
    #: Sessions fenced by a role's lease (``bot.app.roles``): when set, every
    #: transaction of this bundle - :attr:`sessions` and :meth:`run_sessions` - first
    #: proves the role is still held (the scheduler's copy, see :meth:`fenced`).
    fence: SessionFactory | None = None
    sessions: SessionFactory = field(init=False)
    directory: IdentityDirectory = field(init=False)
    #: Relay events into :attr:`audit` (keeps the last few for ``/stats`` and tests).
    auditor: Auditor = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sessions", self.fence or session_factory(self.engine))
        object.__setattr__(self, "directory", IdentityDirectory(self.keyring, self.clock))
        object.__setattr__(self, "auditor", Auditor(self.audit))

    def warm(self) -> None:
        """Load the audit pseudonym secret before any write transaction opens.

        On first use the audit log reads - and on a fresh database creates - that secret
        on a connection of its own. Done while a transaction of this process holds
        SQLite's write lock (an inbound message being handled, a job's batch), it would
        wait on ourselves. The bot calls this once at start, each job before its first
        transaction; after the first call it costs nothing.
        """
        self.audit.pseudonym("pairing", "warm-up")

    @contextmanager
    def run_sessions(self) -> Iterator[SessionFactory]:
        """Sessions for one job run: on SQLite all on one pooled connection whose page
        cache is job-sized (:data:`JOB_CACHE_KIB`) for the run (one transaction per
        batch, as with :attr:`sessions`); on PostgreSQL plain sessions, or the fenced
        ones of a role."""
        if self.fence is not None:
            yield self.fence
            return
        with job_sessions(self.engine, JOB_CACHE_KIB) as sessions:
            yield sessions

    def fenced(self, sessions: SessionFactory) -> Services:
        """The same bundle whose transactions all run on ``sessions`` (a role's fenced
        sessions): the scheduler's jobs write nothing once the lease is lost."""
        return replace(self, fence=sessions)

    def record_erasure(self, facts: list[ErasureFact]) -> None:
        """Append shreds to the erasure record, if one is configured. Called inside the
        shredding transaction, before it commits (the record's module docstring says
        why that order)."""
        if self.erasure_record is not None and facts:
            self.erasure_record.append(facts)

    def pairing_ref(self, pairing_id: str) -> str:
        return _ref(self.audit, "pairing", pairing_id)

    def identity_ref(self, identity_id: str) -> str:
        return _ref(self.audit, "identity", identity_id)
