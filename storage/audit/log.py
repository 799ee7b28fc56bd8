"""The audit log of one database: append, checkpoints, pseudonyms, read, verify, export
and crypto-shredding, in one class.

Appends are serialised so the chain never forks: the first statement of every append
transaction *writes* the single ``audit_head`` row. On PostgreSQL that takes the row
lock (what ``SELECT ... FOR UPDATE`` would) and later appenders queue behind it; on
SQLite a write as the first statement takes the database write lock before anything
is read - what ``BEGIN IMMEDIATE`` does, which the engine's own ``BEGIN`` hook does not
let us spell. The unique ``seq`` primary key is the backstop. Details are validated
and encoded before the lock, so the critical section is one encryption, one SHA-256
and one insert per entry.

Passing ``session=`` makes the entry part of the caller's transaction (the business
change and its audit record commit or roll back together). On SQLite append before
reading other tables in that transaction, or the write lock may be refused
(SQLITE_BUSY) and the caller retries.

Appends never sign and never call the key provider (docs/adr/0036): checkpoints are the
checkpointer's, a role held under the ``audit_checkpointer`` lease (on SQLite the one bot
process). It reads the head without a lock, signs outside any transaction, and commits
with a compare-and-set on the previous checkpoint's seq and signature; a lost race throws
the signature away and starts again from the new head. It signs at most
``checkpoint_every`` entries past the last checkpoint each time (catching up in steps
after an outage), so the count rule holds between every two checkpoints. The witness
lines are queued by ``on_checkpoint`` in the checkpoint's own transaction (the outbox),
never held in memory. An append that leaves ``checkpoint_every`` or more entries
unsigned calls ``on_due``, a signal that wakes the checkpointer and nothing more.

The checkpointer also remembers the newest checkpoint it has seen committed. Each head
read is compared with what was remembered *before* the read started (a checkpoint another
thread commits during the read is not in it, and is no rewind). A head that names the same
checkpoint, or a later one whose checkpoint rows chain back to the remembered one and
whose signatures under this writer's key verify, is an advance. A head that names an
older checkpoint, another signature at the same seq, or a later checkpoint that does not
chain back (history cut, then re-signed past the cut) means the log was rewound under
it: it refuses to sign from then on (and logs ``audit_log_rewound``), so the stretch
appended since stays unsigned and ``audit verify`` fails there rather than seeing a
clean chain re-signed by the bot itself.

Verification reads head, checkpoints and entries from one snapshot, holds them to the
checkpoint coverage of this log's policy at its clock's time, and for logs of at least
:data:`~.parallel.PARALLEL_MIN_ENTRIES` entries are split into seq slices verified by
worker processes (:mod:`.parallel`), with the same verdict. ``export`` is the HIPAA
accounting of disclosures (erased subjects shown as ``erased``, not skipped);
``erase_subject`` deletes a subject's key while the hash chain, which covers the
ciphertext, still verifies.
"""

from __future__ import annotations

import base64
import dataclasses
import hmac
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

import structlog
from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    delete,
    exists,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from medcrypt.crypto.clock import Clock
from medcrypt.crypto.errors import ConfigError, DecryptionFailed, StorageError
from medcrypt.crypto.server import keytree
from medcrypt.crypto.server.audit import (
    GENESIS_HASH,
    SUBJECT_KEY_BYTES,
    SYSTEM_AUDIT,
    Action,
    Checkpoint,
    CheckpointSigner,
    CoveragePolicy,
    Details,
    RestoreMark,
    VerifyReport,
    Witness,
    check_ref,
    checkpoint_signature_ok,
    pseudonym,
    restore_mark,
    split_witnesses,
    verify_chain,
)
from medcrypt.crypto.server.audit.checkpoint import AuditPublicKey
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import deks, purpose_deks
from medcrypt.storage.audit import parallel
from medcrypt.storage.audit.chain import TransactionChain
from medcrypt.storage.audit.queries import (
    Prebuilt,
    decrypt_row,
    insert_and_move_head,
    insert_entries,
    stream_entries,
    verify_sql,
)
from medcrypt.storage.audit.records import (
    CHECKPOINTS,
    CP_COLUMNS,
    ENTRIES,
    HEAD,
    SECRETS,
    SUBJECT_KEYS,
    Appended,
    AuditEvent,
    ExportedEntry,
    Head,
    HeadRow,
    Prepared,
    genesis_head,
    insert_ignore,
    prepare,
    storage_error,
    to_us,
    transient,
)
from medcrypt.storage.db import (
    SessionFactory,
    is_sqlite,
    session_factory,
    sqlite_checkpoint_truncate,
)
from medcrypt.storage.encrypted import EncryptedField, Sealed
from medcrypt.storage.models.audit import AuditSecret, AuditSubjectKey

log = structlog.get_logger("storage.audit")

WRITE_ATTEMPTS = 5
_KEY_CACHE_MAX = 4096
#: How long past the interval an open tail may wait for a periodic checkpoint: twice the
#: bot's maintenance tick (bot/app/bot.py, five minutes).
CHECKPOINT_GRACE = timedelta(minutes=10)
_T = TypeVar("_T")

# The append path's statements, built once: building and compiling them per call cost
# more than running them (issue 18: a single append was 7.9x one INSERT + commit).
_HEAD_COLUMNS = (HEAD.c.seq, HEAD.c.entry_hash, HEAD.c.checkpoint_seq,
                 HEAD.c.checkpoint_ts_us, HEAD.c.checkpoint_sig, HEAD.c.erasures)
#: Writes the head row (the lock) and reads it back, in one statement.
_LOCK_HEAD = Prebuilt(update(HEAD).where(HEAD.c.id == literal_column("1"))
                      .values(seq=HEAD.c.seq).returning(*_HEAD_COLUMNS))
_READ_HEAD = select(*_HEAD_COLUMNS).where(HEAD.c.id == 1)
_MOVE = (update(HEAD).where(HEAD.c.id == literal_column("1"))
         .values(seq=bindparam("h_seq"), entry_hash=bindparam("h_hash")))
_MOVE_HEAD = Prebuilt(_MOVE)
#: The checkpointer's compare-and-set: the head must still name the checkpoint the new
#: one was signed after, and the signed entry must still have the signed hash.
_CAS_HEAD = (update(HEAD).where(
    HEAD.c.id == 1, HEAD.c.checkpoint_seq == bindparam("p_prev_seq"),
    HEAD.c.checkpoint_sig == bindparam("p_prev_sig"), HEAD.c.seq >= bindparam("p_seq"),
    exists().where(ENTRIES.c.seq == bindparam("p_seq"),
                   ENTRIES.c.entry_hash == bindparam("p_hash")))
    .values(checkpoint_seq=bindparam("p_seq"), checkpoint_ts_us=bindparam("p_ts"),
            checkpoint_sig=bindparam("p_sig")))
_ENTRY_HASH = select(ENTRIES.c.entry_hash).where(ENTRIES.c.seq == bindparam("e_seq"))
#: Consecutive lost compare-and-sets before a checkpointer pass gives up until the next.
CAS_ATTEMPTS = 5
_COUNT_ERASURE = update(HEAD).where(HEAD.c.id == 1).values(erasures=HEAD.c.erasures + 1)
_INSERT_CHECKPOINT = insert(CHECKPOINTS)
_LOAD_KEYS = select(SUBJECT_KEYS.c.subject_ref, SUBJECT_KEYS.c.wrapped,
                    SUBJECT_KEYS.c.dek_id, SUBJECT_KEYS.c.dek_version).where(
    SUBJECT_KEYS.c.subject_ref.in_(bindparam("refs", expanding=True)))
_INSERT_KEYS = insert(SUBJECT_KEYS)


class AuditLog:
    """The audit log of one database. Thread-safe: state is in the database, and the
    only in-memory state is caches of values read from it.

    ``keyring`` may be ``None`` for a verify-only auditor: checking the chain needs
    neither the server keys nor the signing key, only the checkpoint public key.
    """

    def __init__(
        self,
        engine: Engine,
        keyring: Keyring | None,
        *,
        clock: Clock,
        signer: CheckpointSigner | None = None,
        checkpoint_every: int = 1000,
        checkpoint_interval: timedelta = timedelta(hours=1),
        checkpoint_grace: timedelta = CHECKPOINT_GRACE,
        on_checkpoint: Callable[[Session, Checkpoint], None] | None = None,
        on_due: Callable[[], None] | None = None,
        postgres_vacuum: Literal["none", "vacuum", "vacuum_full"] = "vacuum",
        rng: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if checkpoint_every < 1:
            raise ConfigError("audit.checkpoint_every_entries", "must be at least 1")
        if checkpoint_interval <= timedelta(0):
            raise ConfigError("audit.checkpoint_interval_minutes", "must be at least 1")
        self._engine = engine
        self._keyring = keyring
        self._clock = clock
        self._signer = signer
        self._every = checkpoint_every
        self._interval_us = checkpoint_interval // timedelta(microseconds=1)
        self._grace_us = checkpoint_grace // timedelta(microseconds=1)
        self._on_checkpoint = on_checkpoint
        self._on_due = on_due
        self._sessions = session_factory(engine)
        self._vacuum = postgres_vacuum
        self._rng = rng
        self._key_cache: dict[tuple[str, bytes], bytes] = {}
        #: Subject keys known committed, by ref, valid while the head's erasure count
        #: is :attr:`_subjects_erasures` (checked under the head lock by every append).
        self._subjects: dict[str, bytes] = {}
        self._subjects_erasures = -1
        self._pseudonym_key: bytes | None = None
        #: The newest checkpoint seen committed (seq, signature), only ever moved forward
        #: under its lock, and whether the head has since been found rewound (module
        #: docstring).
        self._seen_cp: tuple[int, bytes] = (0, b"")
        self._seen_lock = threading.Lock()
        self._rewound = False

    # -- appending ----------------------------------------------------------------------

    def append(
        self, actor: str, action: Action, subject: str, details: Details | None = None,
        *, session: Session | None = None,
    ) -> Appended:
        """Append one entry. ``actor`` and ``subject`` come from :meth:`pseudonym`."""
        return self.append_many([AuditEvent(actor, action, subject, details)], session=session)

    def append_many(
        self, events: Iterable[AuditEvent], *, session: Session | None = None
    ) -> Appended:
        """Append several entries in one transaction (one lock, one executemany).

        Never signs and never calls the key provider (ADR 0036): when the unsigned tail
        reaches ``checkpoint_every`` it only calls ``on_due``, the checkpointer's signal.
        """
        prepared = [prepare(e) for e in events]
        if not prepared:
            raise ValueError("append_many needs at least one event")
        if session is not None:
            try:
                return self._write(session.connection(), prepared, in_session=True)
            except DBAPIError as exc:
                raise storage_error(exc) from None
        learned: dict[str, bytes] = {}
        result = self._transaction(lambda conn: self._write(conn, prepared, learned=learned))
        self._subjects.update(learned)  # committed: safe to use without reading them again
        return result

    # -- the checkpointer (off the append path: ADR 0036) -----------------------------------

    def checkpoint_if_due(self, now: datetime | None = None, *,
                          sessions: SessionFactory | None = None) -> Checkpoint | None:
        """Sign checkpoints while N entries or the interval passed since the last one.

        The checkpointer's verb (the maintenance tick and the ``on_due`` signal call it).
        A cheap unlocked read decides; a log that fell behind (a provider outage) is
        caught up in steps of at most N entries, so the count rule still holds between
        every two checkpoints. ``sessions`` are the checkpointer role's fenced sessions.
        """
        if self._signer is None:
            return None
        now_us = to_us(now if now is not None else self._clock.now())
        return self._sign_passes(now_us, force=False, sessions=sessions)

    def checkpoint_now(self, now: datetime | None = None, *,
                       sessions: SessionFactory | None = None) -> Checkpoint:
        """Sign up to the current head (bot shutdown, before a backup, tests). With
        nothing unsigned a checkpoint entry is appended first, so a fresh signed time
        is recorded either way."""
        if self._signer is None:
            raise ConfigError("audit.signing_key_env", "no checkpoint signing key configured")
        now_us = to_us(now if now is not None else self._clock.now())
        result = self._sign_passes(now_us, force=True, sessions=sessions)
        if result is None and not self._rewound:  # another checkpointer covered the head
            result = self.head().last_checkpoint
        if result is None:  # only a rewound log is refused a forced checkpoint
            raise StorageError(f"refusing to sign: this process saw checkpoint "
                               f"{self._seen_cp[0]}, which the checkpoint the database "
                               "names does not chain back to - the audit log was rewound; "
                               "check it with `medcrypt-bot audit verify --witness FILE`")
        return result

    def checkpoint_open_tail(self, *, sessions: SessionFactory | None = None
                             ) -> Checkpoint | None:
        """Sign the entries no checkpoint covers yet, if any and a key is configured.

        For a writer that is about to stop (the bot's shutdown): a tail left open would
        fail verification once it is older than the interval, as a cut log does.
        """
        if self._signer is None or self._rewound:
            return None
        with self._connect() as conn:
            head = self._read_head(conn)
        if head.seq == head.cp_seq:
            return None
        return self.checkpoint_now(sessions=sessions)

    def _sign_passes(self, now_us: int, *, force: bool,
                     sessions: SessionFactory | None) -> Checkpoint | None:
        """Sign and commit checkpoints until nothing is due (or, forced, up to the head
        as it was on entry). A lost compare-and-set discards its signature and starts
        again from the new head; :data:`CAS_ATTEMPTS` losses in a row give up."""
        last: Checkpoint | None = None
        goal: int | None = None
        losses = 0
        while True:
            with self._connect() as conn:
                seen = self._seen_cp  # before the read: what it must not be older than
                head = self._read_head(conn)
                self._check_rewound(conn, head, seen, committed=True)
            if self._rewound:
                return last
            if goal is None:
                goal = head.seq if head.seq > head.cp_seq else head.seq + 1
            wanted = (head.cp_seq < goal) if force else self._due(head, now_us)
            if not wanted:
                return last
            if head.seq == head.cp_seq:  # nothing unsigned: a checkpoint entry to sign
                head = self._transaction(lambda conn: self._marker(conn, now_us))
                goal = max(goal, head.seq)
            cp = self._sign_over(head, now_us)  # no transaction open, no lock held
            if self._commit_checkpoint(cp, head, sessions):
                last, losses = cp, 0
                continue
            losses += 1  # another checkpointer won: this signature is thrown away
            if losses >= CAS_ATTEMPTS:
                log.warning("audit_checkpoint_cas_lost", attempts=losses)
                return last

    def _marker(self, conn: Connection, ts_us: int) -> HeadRow:
        """Append the checkpoint entry a checkpoint with nothing else to sign covers."""
        head = self._lock_head(conn)
        event = prepare(AuditEvent(SYSTEM_AUDIT, Action.CHECKPOINT, SYSTEM_AUDIT,
                                   {"previous_checkpoint_seq": head.cp_seq}))
        done = self._write(conn, [event], ts_us=ts_us, head=head)
        return head._replace(seq=done.last_seq, entry_hash=done.entry_hash)

    def _sign_over(self, head: HeadRow, now_us: int) -> Checkpoint:
        """Sign the chain up to at most N entries past the last checkpoint (rule 1)."""
        if self._signer is None:
            raise ConfigError("audit.signing_key_env", "no checkpoint signing key configured")
        target = min(head.seq, head.cp_seq + self._every)
        digest = head.entry_hash
        if target != head.seq:
            with self._connect() as conn:
                digest = bytes(conn.execute(_ENTRY_HASH, {"e_seq": target}).scalar_one())
        return self._signer.sign(target, now_us, digest, head.cp_sig)

    def _commit_checkpoint(self, cp: Checkpoint, head: HeadRow,
                           sessions: SessionFactory | None) -> bool:
        """Commit ``cp`` if the head still names the checkpoint it was signed after (the
        compare-and-set) and its entry still has the signed hash; queue its witness
        lines (``on_checkpoint``) in the same transaction."""
        factory = sessions or self._sessions
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with factory.begin() as session:
                    conn = session.connection()
                    moved = conn.execute(_CAS_HEAD, {
                        "p_seq": cp.seq, "p_ts": cp.ts_us, "p_sig": cp.sig,
                        "p_prev_seq": head.cp_seq, "p_prev_sig": head.cp_sig,
                        "p_hash": cp.head_hash}).rowcount
                    if moved != 1:
                        return False
                    conn.execute(_INSERT_CHECKPOINT, {
                        "seq": cp.seq, "ts_us": cp.ts_us, "head_hash": cp.head_hash,
                        "key_id": cp.key_id, "prev_sig": cp.prev_sig, "sig": cp.sig})
                    if self._on_checkpoint is not None:
                        self._on_checkpoint(session, cp)
            except IntegrityError:
                return False  # a checkpoint at this seq exists: another signer won
            except DBAPIError as exc:
                if not transient(exc) or attempt == WRITE_ATTEMPTS - 1:
                    raise storage_error(exc) from None
                time.sleep(0.05 * 2**attempt)
                continue
            self._remember(cp.seq, cp.sig)
            return True
        raise AssertionError("unreachable")  # pragma: no cover

    @property
    def rewound(self) -> bool:
        """Whether this writer found the log rewound under it (and stopped signing)."""
        return self._rewound

    def pseudonym(self, kind: str, raw_id: str | int | bytes) -> str:
        """The stable, non-invertible reference of a person or object (``patient:<hex>``)."""
        return pseudonym(self._pseudonym_secret(), kind, raw_id)

    def pseudonym_secret_exists(self, *, session: Session | None = None) -> bool:
        """Whether the pseudonym secret was created already: a read, so a caller inside
        a write transaction (``session``) can ask without waiting on its own lock, which
        creating the secret there would."""
        if self._pseudonym_key is not None:
            return True
        stmt = select(SECRETS.c.name).where(SECRETS.c.name == "pseudonym")
        if session is not None:
            return session.connection().execute(stmt).first() is not None
        with self._connect() as conn:
            return conn.execute(stmt).first() is not None

    # -- reading and verifying -------------------------------------------------------------

    def head(self) -> Head:
        with self._connect() as conn:
            row = self._read_head(conn)
            cps = self._checkpoints(conn, row.cp_seq, row.cp_seq) if row.cp_seq else []
        return Head(row.seq, row.entry_hash, cps[0] if cps else None)

    def checkpoints(self, after_seq: int = 0, limit: int = 1000) -> list[Checkpoint]:
        """Checkpoints after ``after_seq``, oldest first (to post missed witness lines)."""
        with self._connect() as conn:
            stmt = (select(*CP_COLUMNS).where(CHECKPOINTS.c.seq > after_seq)
                    .order_by(CHECKPOINTS.c.seq).limit(limit))
            return [Checkpoint(*row) for row in conn.execute(stmt)]

    def verify(
        self,
        public_keys: Mapping[bytes, AuditPublicKey],
        *,
        witnesses: Sequence[Witness] = (),
        progress: Callable[[int], None] | None = None,
        batch_size: int = 2_000,
        jobs: int | None = None,
        parallel_from: int = parallel.PARALLEL_MIN_ENTRIES,
    ) -> VerifyReport:
        """Verify the whole log from one consistent snapshot (see crypto.audit), coverage
        included: judged by this log's checkpoint policy at its clock's ``now``.

        ``jobs`` worker processes (default ``min(cpu_count, 4)``) verify logs of at least
        ``parallel_from`` entries; ``jobs=1`` always walks in this process. Both give
        the same report, or the same first bad seq and reason.
        """
        jobs = parallel.default_jobs() if jobs is None else jobs
        if jobs < 1 or batch_size < 1:
            raise ValueError("verify needs jobs >= 1 and batch_size >= 1")
        coverage = CoveragePolicy(self._every, self._interval_us, to_us(self._clock.now()),
                                  self._grace_us, off_path=True)
        with self._connect() as conn:
            if not is_sqlite(self._engine):  # one snapshot for head, checkpoints, entries
                conn.execution_options(isolation_level="REPEATABLE READ")  # in place
            cps = self._checkpoints(conn, 1, None)
            head = self._read_head(conn)
            marks = self._restore_marks(conn, cps)
            witnesses, aside = split_witnesses(witnesses, marks)
            report = self._walk(conn, cps, head, public_keys, witnesses, coverage=coverage,
                                progress=progress, batch_size=batch_size, jobs=jobs,
                                parallel_from=parallel_from)
        return dataclasses.replace(report, restores=tuple(marks),
                                   witnesses_set_aside=len(aside))

    def _walk(
        self, conn: Connection, cps: list[Checkpoint], head: HeadRow,
        public_keys: Mapping[bytes, AuditPublicKey], witnesses: Sequence[Witness], *,
        coverage: CoveragePolicy, progress: Callable[[int], None] | None,
        batch_size: int, jobs: int, parallel_from: int,
    ) -> VerifyReport:
        """The chain walk of :meth:`verify`: in this process, or sliced over workers."""
        slices = parallel.plan_slices(conn, jobs, parallel_from)
        target = parallel.worker_target(conn)
        if slices is not None and target is not None:
            return parallel.verify_parallel(
                conn, target, slices, lambda after, upto: verify_sql(conn, after, upto),
                local_batches=lambda sql: closing(stream_entries(conn, batch_size, sql)),
                checkpoints=cps, public_keys=public_keys, witnesses=witnesses,
                claimed_head=(head.seq, head.entry_hash), coverage=coverage,
                progress=progress, batch_size=batch_size)
        # closing(): a break stops the walk mid-stream; the cursor must close before
        # the connection does, not whenever the generator is collected.
        with closing(stream_entries(conn, batch_size)) as batches:
            return verify_chain(batches, cps, public_keys, witnesses=witnesses,
                                claimed_head=(head.seq, head.entry_hash),
                                coverage=coverage, progress=progress)

    def _restore_marks(self, conn: Connection, cps: list[Checkpoint]) -> list[RestoreMark]:
        """Restore entries and the checkpoint entry after each, checked for their shape
        (:func:`restore_mark`); the walk then checks that checkpoint's signature."""
        seqs = [int(s) for s in conn.execute(
            select(ENTRIES.c.seq).where(ENTRIES.c.action == Action.AUDIT_RESTORED.value)
            .order_by(ENTRIES.c.seq)).scalars()]
        by_seq = {cp.seq: cp for cp in cps}
        marks = []
        for seq in seqs:
            sql = verify_sql(conn, seq - 1, seq + 1)
            with closing(stream_entries(conn, 2, sql)) as batches:
                rows = [tuple(r) for batch in batches for r in batch]
            entry = rows[0]
            following = rows[1] if len(rows) > 1 else None
            marks.append(restore_mark(entry, following, by_seq))
        return marks

    def append_signed(self, events: Iterable[AuditEvent]) -> Appended:
        """Append ``events`` and a checkpoint entry in one transaction, then sign a
        checkpoint over exactly that entry (outside the transaction).

        For entries the verifier only accepts when signed by a checkpoint of their own
        (``audit.restored``, written while the bot is stopped): without a signing key
        this refuses rather than write one the verifier would reject.
        """
        if self._signer is None:
            raise ConfigError("audit.signing_key_env", "no checkpoint signing key "
                                                       "configured: a restore entry must "
                                                       "be signed")
        prepared = [prepare(e) for e in events]
        now_us = to_us(self._clock.now())

        def write(conn: Connection) -> tuple[Appended, HeadRow]:
            head = self._lock_head(conn)
            marker = prepare(AuditEvent(SYSTEM_AUDIT, Action.CHECKPOINT, SYSTEM_AUDIT,
                                        {"previous_checkpoint_seq": head.cp_seq}))
            done = self._write(conn, prepared, ts_us=now_us, head=head)
            mid = head._replace(seq=done.last_seq, entry_hash=done.entry_hash)
            mark = self._write(conn, [marker], ts_us=now_us, head=mid)
            return done, mid._replace(seq=mark.last_seq, entry_hash=mark.entry_hash)

        result, head = self._transaction(write)
        if head.seq - head.cp_seq > self._every:  # catch up first: rule 1 holds
            self._sign_passes(now_us, force=False, sessions=None)
            with self._connect() as conn:
                current = self._read_head(conn)
            head = head._replace(cp_seq=current.cp_seq, cp_ts_us=current.cp_ts_us,
                                 cp_sig=current.cp_sig)
        cp = self._sign_over(head, now_us)
        if self._rewound or cp.seq != head.seq or not self._commit_checkpoint(cp, head, None):
            raise StorageError("the audit log refused to sign the entry (rewound log, or "
                               "another writer moved the head)")
        return dataclasses.replace(result, checkpoints=(cp,))

    # -- export and erasure ----------------------------------------------------------------

    def export(
        self, *, from_seq: int = 1, to_seq: int | None = None, subject: str | None = None,
        batch_size: int = 2000,
    ) -> Iterator[ExportedEntry]:
        """Decrypt entries for an admin; erased subjects come back as ``state="erased"``."""
        stmt = select(ENTRIES.c.seq, ENTRIES.c.ts_us, ENTRIES.c.actor_ref,
                      ENTRIES.c.subject_ref, ENTRIES.c.action, ENTRIES.c.details,
                      ).where(ENTRIES.c.seq >= from_seq).order_by(ENTRIES.c.seq)
        if to_seq is not None:
            stmt = stmt.where(ENTRIES.c.seq <= to_seq)
        if subject is not None:
            stmt = stmt.where(ENTRIES.c.subject_ref == check_ref(subject))
        keys: dict[str, bytes | None] = {}
        with self._connect() as conn:
            result = conn.execution_options(yield_per=batch_size).execute(stmt)
            for part in result.partitions():
                missing = {row[3] for row in part} - keys.keys()
                if missing:
                    found = self._load_subject_keys(conn, missing)
                    keys.update({ref: found.get(ref) for ref in missing})
                for row in part:
                    yield decrypt_row(keys[row[3]], row)

    def erase_subject(self, subject_ref: str, *, actor: str, purge: bool = True) -> None:
        """Crypto-shred everything written about ``subject_ref``; the chain still verifies.

        The erasure itself is logged first (its details go with the key), then the key
        row is deleted in the same transaction, then the deleted bytes are purged from
        SQLite's WAL or PostgreSQL's dead tuples. ``purge=False`` is for a caller that
        erases many subjects and scrubs the database once at the end.
        """
        check_ref(subject_ref)
        if subject_ref.startswith("system:"):
            raise ValueError("system refs cannot be erased")
        prepared = [prepare(AuditEvent(actor, Action.SUBJECT_ERASED, subject_ref, {}))]

        def work(conn: Connection) -> Appended:
            result = self._write(conn, prepared)
            conn.execute(delete(SUBJECT_KEYS).where(SUBJECT_KEYS.c.subject_ref == subject_ref))
            conn.execute(_COUNT_ERASURE)  # every writer drops its cached subject keys
            return result

        self._transaction(work)
        for cached in [k for k in list(self._key_cache) if k[0] == subject_ref]:
            self._key_cache.pop(cached, None)  # list(): other threads may be inserting
        if purge:
            self._purge_deleted()

    # -- plumbing --------------------------------------------------------------------------

    def _transaction(self, work: Callable[[Connection], _T]) -> _T:
        """Run ``work`` in its own transaction, retrying while the database stays busy."""
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with self._engine.connect() as conn:
                    result = work(conn)
                    conn.commit()
                    return result
            except IntegrityError:
                raise StorageError("audit append refused by the unique seq constraint: "
                                   "another writer bypassed the head lock") from None
            except DBAPIError as exc:
                if not transient(exc):
                    raise storage_error(exc) from None
                if attempt == WRITE_ATTEMPTS - 1:
                    raise StorageError("audit log write failed: the database stayed busy "
                                       f"through {WRITE_ATTEMPTS} attempts") from None
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """A read connection whose driver errors become one clear StorageError."""
        try:
            with self._engine.connect() as conn:
                yield conn
        except DBAPIError as exc:
            raise storage_error(exc) from None

    def _lock_head(self, conn: Connection, *, committed: bool = True) -> HeadRow:
        """Write the head row first: the lock that serialises the chain (module docstring),
        and hold the head's checkpoint to what this process has seen."""
        seen = self._seen_cp  # before the lock: a checkpoint committed later is not in it
        found = _LOCK_HEAD.run(conn)
        if not found:
            conn.execute(insert_ignore(conn, HEAD, genesis_head()))
            found = _LOCK_HEAD.run(conn)
        head = _head_row(found[0] if found else None)
        self._check_rewound(conn, head, seen, committed=committed)
        return head

    def _read_head(self, conn: Connection) -> HeadRow:
        return _head_row(conn.execute(_READ_HEAD).first())

    def _due(self, head: HeadRow, now_us: int) -> bool:
        return (head.seq - head.cp_seq >= self._every
                or now_us - head.cp_ts_us >= self._interval_us)

    @property
    def _keys(self) -> Keyring:
        if self._keyring is None:
            raise ConfigError("keyring.server_keys_env", "the audit log needs the server "
                                                         "keyring to write or decrypt")
        return self._keyring

    def _write(
        self, conn: Connection, prepared: Sequence[Prepared], *,
        ts_us: int | None = None, head: HeadRow | None = None, in_session: bool = False,
        learned: dict[str, bytes] | None = None,
    ) -> Appended:
        """Lock, chain, encrypt and insert. Never signs (ADR 0036): past
        ``checkpoint_every`` unsigned entries it calls ``on_due`` and nothing more.
        ``learned`` receives the subject keys used, for the caller to remember once its
        transaction has committed."""
        head = head or self._lock_head(conn, committed=not in_session)
        if head.erasures != self._subjects_erasures:  # a subject was erased somewhere
            self._subjects.clear()
            self._subjects_erasures = head.erasures
        ts = ts_us if ts_us is not None else to_us(self._clock.now())
        keys = self._subject_keys(conn, {e[2] for e in prepared}, ts)
        if learned is not None:
            learned.update(keys)
        chain = TransactionChain(head, ts, keys, rng=self._rng)
        mine = [chain.add(entry) for entry in prepared]
        first_seq, last_seq, last_hash = mine[0][0], mine[-1][0], mine[-1][1]
        if not (len(chain.rows) == 1 and insert_and_move_head(
                conn, chain.rows[0], chain.seq, chain.prev)):
            insert_entries(conn, chain.rows)
            _MOVE_HEAD.run(conn, {"h_seq": chain.seq, "h_hash": chain.prev})
        if self._on_due is not None and chain.seq - head.cp_seq >= self._every:
            self._on_due()  # a signal only: the checkpointer reads the committed head
        return Appended(first_seq, last_seq, last_hash)

    def _subject_keys(self, conn: Connection, refs: set[str], ts_us: int) -> dict[str, bytes]:
        """Existing subject keys, creating missing ones (caller holds the head lock).
        Keys remembered from committed appends are not read again."""
        keys = {ref: key for ref in refs if (key := self._subjects.get(ref)) is not None}
        unknown = refs - keys.keys()
        if not unknown:
            return keys
        keys |= self._load_subject_keys(conn, unknown)
        new = sorted(refs - keys.keys())
        if new:
            rows = []
            # Sealed under the audit-subject purpose DEK (ADR 0037, Amendment 1): read
            # in this transaction, no provider call once the KEK is warm.
            dek, dek_key = purpose_deks.sealing_dek(
                conn, deks.tree_of(self._keys), AuditSubjectKey.KEY.tree_purpose or "",
                now=self._clock.now())
            for ref in new:
                key = self._rng(SUBJECT_KEY_BYTES)
                keys[ref] = key
                wrapped = keytree.seal_value(
                    dek_key, dek.ref, base64.b64encode(key), table=AuditSubjectKey.KEY.table,
                    column=AuditSubjectKey.KEY.column, row_id=ref, rng=self._rng)
                rows.append({"subject_ref": ref, "wrapped": Sealed(wrapped), "created_us": ts_us,
                             "dek_id": dek.dek_id, "dek_version": dek.version})
            conn.execute(_INSERT_KEYS, rows)
        return keys

    def _load_subject_keys(self, conn: Connection, refs: set[str]) -> dict[str, bytes]:
        found = list(conn.execute(_LOAD_KEYS, {"refs": sorted(refs)}))
        # Every DEK these values name is checked in this transaction before any key is
        # used - also for values whose subject key is cached - so a destroyed DEK stops
        # this replica too (one SELECT per DEK, and they share one or two).
        dek_keys = {str(d): self._live_dek(conn, str(d)) for d in
                    {row.dek_id for row in found if row.dek_id is not None}}
        return {row.subject_ref: self._unwrap(AuditSubjectKey.KEY, row.subject_ref, row,
                                              dek_keys)
                for row in found}

    def _live_dek(self, conn: Connection, dek_id: str) -> tuple[int, bytearray]:
        row, key = deks.live_dek(conn, deks.tree_of(self._keys), dek_id)
        return row.version, key

    def _unwrap(self, field: EncryptedField, ref: str, row: Any,
                dek_keys: dict[str, tuple[int, bytearray]]) -> bytes:
        """Open the base64 key sealed in ``field`` of the row ``ref`` (its ``wrapped``,
        ``dek_id``, ``dek_version``): under its DEK, whose row the caller checked in its
        transaction (``dek_keys``), or - not yet rewrapped - under the keyring."""
        sealed: Sealed = row.wrapped
        dek_id, dek_version = row.dek_id, row.dek_version
        ref_dek = sealed.dek
        checked = None if ref_dek is None else dek_keys.get(ref_dek.dek_id)
        # The header must name the DEK the row references by foreign key, and that row
        # was just found live - checked before the cache, so a cached key never outlives
        # its DEK.
        if ref_dek is not None and (
                ref_dek.dek_id != dek_id or ref_dek.version != dek_version
                or checked is None or checked[0] != ref_dek.version):
            raise DecryptionFailed()
        cache_key = (ref, sealed.data)
        key = self._key_cache.get(cache_key)
        if key is None:
            if checked is None:
                plain = self._keys.open(sealed.data, field.aad(ref))
            else:
                plain = keytree.open_value(checked[1], sealed.data, table=field.table,
                                           column=field.column, row_id=ref)
            key = base64.b64decode(plain)
            if len(self._key_cache) >= _KEY_CACHE_MAX:
                self._key_cache.clear()
            self._key_cache[cache_key] = key
        return key

    def _checkpoints(self, conn: Connection, first: int, last: int | None) -> list[Checkpoint]:
        stmt = select(*CP_COLUMNS).where(CHECKPOINTS.c.seq >= first).order_by(
            CHECKPOINTS.c.seq)
        if last is not None:
            stmt = stmt.where(CHECKPOINTS.c.seq <= last)
        return [Checkpoint(int(r[0]), int(r[1]), *(bytes(v) for v in r[2:]))
                for r in conn.execute(stmt)]

    def _check_rewound(self, conn: Connection, head: HeadRow, seen: tuple[int, bytes], *,
                       committed: bool) -> None:
        """Tell a concurrent advance from a rewind (module docstring).

        ``seen`` is the newest checkpoint this process knew of before ``head`` was read,
        so every checkpoint in it was committed before the read began and a read that
        names an older one was not merely early. A later checkpoint is an advance only
        if the checkpoint rows from the seen one up to it link by ``prev_sig`` and the
        signatures made with this writer's key verify. ``committed`` says the read shows
        only committed rows; a head read inside a caller's session is checked the same
        way but not remembered.
        """
        seen_seq, seen_sig = seen
        if head.cp_seq == seen_seq and hmac.compare_digest(head.cp_sig, seen_sig):
            return
        if head.cp_seq > seen_seq and (
                seen_seq == 0 or self._chains_back(conn, head, seen_seq, seen_sig)):
            if committed:
                self._remember(head.cp_seq, head.cp_sig)
            return
        if not self._rewound:
            log.critical("audit_log_rewound", seen_checkpoint_seq=seen_seq,
                         head_checkpoint_seq=head.cp_seq, head_seq=head.seq)
        self._rewound = True

    def _chains_back(self, conn: Connection, head: HeadRow, seen_seq: int,
                     seen_sig: bytes) -> bool:
        """Whether the checkpoint ``head`` names chains back to (seen_seq, seen_sig):
        one read of the checkpoint rows between them, each naming the previous one's
        signature, those signed with this writer's key verifying under it. Runs once
        per checkpoint another writer committed, so it stays off the append's cost."""
        cps = self._checkpoints(conn, seen_seq, head.cp_seq)
        if (not cps or cps[0].seq != seen_seq or cps[-1].seq != head.cp_seq
                or not hmac.compare_digest(cps[0].sig, seen_sig)
                or not hmac.compare_digest(cps[-1].sig, head.cp_sig)):
            return False
        keys = {self._signer.key_id: self._signer.public_key} if self._signer else {}
        for prev, cp in itertools.pairwise(cps):
            if not hmac.compare_digest(cp.prev_sig, prev.sig):
                return False
            if cp.key_id in keys and not checkpoint_signature_ok(cp, keys):
                return False
        return True

    def _remember(self, seq: int, sig: bytes) -> None:
        """Move the newest seen checkpoint forward, never back (threads race to it)."""
        with self._seen_lock:
            if seq > self._seen_cp[0]:
                self._seen_cp = (seq, sig)

    def _pseudonym_secret(self) -> bytes:
        """Load the pseudonym key, creating it on first use.

        Creation is its own write-first transaction (retried while busy): a read
        followed by an insert in one SQLite transaction fails outright when another
        process created the row in between, instead of waiting.
        """
        if self._pseudonym_key is None:
            field = AuditSecret.VALUE
            select_secret = select(SECRETS.c.wrapped, SECRETS.c.dek_id,
                                   SECRETS.c.dek_version).where(SECRETS.c.name == "pseudonym")
            with self._connect() as conn:
                found = conn.execute(select_secret).first()
            if found is None:  # first use: a concurrent creator may win, both read its row
                self._transaction(self._create_pseudonym_secret)
            with self._connect() as conn:
                found = conn.execute(select_secret).one()
                checked = ({} if found.dek_id is None
                           else {str(found.dek_id): self._live_dek(conn, str(found.dek_id))})
                self._pseudonym_key = self._unwrap(field, "pseudonym", found, checked)
        return self._pseudonym_key

    def _create_pseudonym_secret(self, conn: Connection) -> None:
        """Seal a fresh pseudonym key under the audit-secret purpose DEK and insert it
        unless another process did first."""
        field = AuditSecret.VALUE
        now = self._clock.now()
        dek, dek_key = purpose_deks.sealing_dek(conn, deks.tree_of(self._keys),
                                                field.tree_purpose or "", now=now)
        wrapped = keytree.seal_value(dek_key, dek.ref,
                                     base64.b64encode(self._rng(SUBJECT_KEY_BYTES)),
                                     table=field.table, column=field.column,
                                     row_id="pseudonym", rng=self._rng)
        row = {"name": "pseudonym", "wrapped": Sealed(wrapped), "created_us": to_us(now),
               "dek_id": dek.dek_id, "dek_version": dek.version}
        conn.execute(insert_ignore(conn, SECRETS, row))

    def _purge_deleted(self) -> None:
        """Make deleted key bytes unrecoverable from the WAL / dead tuples.

        A concurrent reader (a running verify) can pin WAL frames for a moment, so the
        SQLite checkpoint is retried briefly before the error reaches the caller - whose
        erasure is committed either way; only the purge of the WAL copy is pending.
        """
        if is_sqlite(self._engine):
            for attempt in range(WRITE_ATTEMPTS):
                try:
                    sqlite_checkpoint_truncate(self._engine)
                    return
                except StorageError:
                    if attempt == WRITE_ATTEMPTS - 1:
                        raise StorageError(
                            "subject erased, but a reader kept SQLite from truncating its WAL: "
                            "run the erase again (or the shred job) to purge the WAL copy"
                        ) from None
                    time.sleep(0.1 * 2**attempt)
        elif self._vacuum != "none":
            sql = "VACUUM FULL audit_subject_keys" if self._vacuum == "vacuum_full" else (
                "VACUUM audit_subject_keys")
            with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql(sql)


def _head_row(row: Any) -> HeadRow:
    if row is None:
        return HeadRow(0, GENESIS_HASH, 0, 0, b"")
    return HeadRow(int(row[0]), bytes(row[1]), int(row[2]), int(row[3]), bytes(row[4]),
                   int(row[5]))
