"""Reading the audit log for checks: head, checkpoints and the chain verification.

Verification streams ``(seq, ts_us, actor, subject, action, details, prev_hash,
entry_hash)`` tuples straight from the DBAPI cursor of one consistent snapshot
(REPEATABLE READ on PostgreSQL, one read transaction on SQLite) into the pure
verifier, with the text columns cast to bytes in SQL: SQLAlchemy ``Row`` objects and
re-encoding three strings per row would each cost more than the SHA-256. Logs of at
least :data:`PARALLEL_MIN_ENTRIES` entries are split into seq slices verified by
worker processes (:mod:`storage.audit_parallel`), with the same verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from contextlib import closing
from typing import Any

from sqlalchemy import Connection, LargeBinary, cast, func, select

from medcrypt.crypto.server.audit import Checkpoint, VerifyReport, Witness, verify_chain
from medcrypt.crypto.server.audit.checkpoint import AuditPublicKey
from medcrypt.storage.audit_core import CHECKPOINTS, CP_COLUMNS, ENTRIES, AuditBase, Head
from medcrypt.storage.audit_parallel import (
    PARALLEL_MIN_ENTRIES,
    default_jobs,
    plan_slices,
    verify_parallel,
    worker_target,
)
from medcrypt.storage.db import is_sqlite


class ReadMixin(AuditBase):
    """``head``, ``checkpoints`` and ``verify``."""

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
        parallel_from: int = PARALLEL_MIN_ENTRIES,
    ) -> VerifyReport:
        """Verify the whole log from one consistent snapshot (see crypto.audit).

        ``jobs`` worker processes (default ``min(cpu_count, 4)``) verify logs of at least
        ``parallel_from`` entries; ``jobs=1`` always walks in this process. Both give
        the same report, or the same first bad seq and reason.
        """
        jobs = default_jobs() if jobs is None else jobs
        if jobs < 1 or batch_size < 1:
            raise ValueError("verify needs jobs >= 1 and batch_size >= 1")
        with self._connect() as conn:
            if not is_sqlite(self._engine):  # one snapshot for head, checkpoints, entries
                conn.execution_options(isolation_level="REPEATABLE READ")  # in place
            cps = self._checkpoints(conn, 1, None)
            head = self._read_head(conn)
            slices = plan_slices(conn, jobs, parallel_from)
            target = worker_target(conn)
            if slices is not None and target is not None:
                return verify_parallel(
                    conn, target, slices, lambda after, upto: verify_sql(conn, after, upto),
                    local_batches=lambda sql: closing(_stream_entries(conn, batch_size, sql)),
                    checkpoints=cps, public_keys=public_keys, witnesses=witnesses,
                    claimed_head=(head.seq, head.entry_hash), progress=progress,
                    batch_size=batch_size)
            # closing(): a break stops the walk mid-stream; the cursor must close before
            # the connection does, not whenever the generator is collected.
            with closing(_stream_entries(conn, batch_size)) as batches:
                return verify_chain(batches, cps, public_keys, witnesses=witnesses,
                                    claimed_head=(head.seq, head.entry_hash),
                                    progress=progress)


def verify_sql(conn: Connection, after: int | None = None, upto: int | None = None) -> str:
    """The verify query, text columns cast to bytes (``convert_to`` on PostgreSQL: a
    ``text::bytea`` cast would interpret backslash escapes); optionally one seq slice
    ``after < seq <= upto``. Every stored column is selected: each one is hashed or
    compared, so a change to any of them is detected."""
    def raw(column: Any) -> Any:
        if conn.dialect.name == "postgresql":
            return func.convert_to(column, "UTF8")
        return cast(column, LargeBinary)

    c = ENTRIES.c
    stmt = select(c.seq, c.ts_us, raw(c.actor_ref), raw(c.subject_ref), raw(c.action),
                  c.details, c.prev_hash, c.entry_hash).order_by(c.seq)
    if after is not None:
        stmt = stmt.where(c.seq > after)
    if upto is not None:
        stmt = stmt.where(c.seq <= upto)
    return str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))


def _stream_entries(
    conn: Connection, batch_size: int, sql: str | None = None
) -> Generator[Sequence[Any], None, None]:
    """Entry tuples straight from the driver, in ``batch_size`` lists.

    The hot path of verify: SQLAlchemy's Row objects and result processors cost more
    than the SHA-256 itself, so the compiled Core statement runs on the DBAPI cursor of
    the *same* connection (same transaction, same snapshot). On PostgreSQL it is a
    named, server-side cursor, so a million rows never sit in memory at once.
    """
    sql = sql or verify_sql(conn)
    raw: Any = conn.connection.dbapi_connection
    cursor = raw.cursor() if is_sqlite(conn.engine) else raw.cursor(name="medcrypt_verify")
    try:
        cursor.execute(sql)
        while batch := cursor.fetchmany(batch_size):
            yield batch
    finally:
        cursor.close()
