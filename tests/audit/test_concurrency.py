"""Concurrent appenders - threads and two processes - leave one unbroken chain.

Both backends: on PostgreSQL the head-row lock serialises appenders across
connections; on SQLite the write lock taken by the first statement does. Each writer
also checkpoints, so signing races with appending.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, event, select

from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.server.audit import Action, CheckpointSigner
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.audit import ENTRIES, AuditEvent, AuditLog
from tests.support.audit import NOW, SERVER_KEY, SIGNING_SEED

ROOT = Path(__file__).resolve().parents[2]


def _actions(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(conn.execute(select(ENTRIES.c.action)).scalars())


def test_threads_append_one_chain(audit_engine: Engine, keyring: Keyring,
                                  signer: CheckpointSigner, public_keys: dict) -> None:
    log = AuditLog(audit_engine, keyring, clock=FixedClock(NOW), signer=signer,
                   checkpoint_every=25)
    refs = [log.pseudonym("patient", f"t{i}") for i in range(4)]
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            for n in range(40):
                if n % 10 == 9:
                    log.append_many([AuditEvent(refs[i], Action.RELAY_ACCEPTED, refs[i])] * 3)
                else:
                    log.append(refs[i], Action.RELAY_ACCEPTED, refs[i], {"n": n})
            log.checkpoint_now()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = log.verify(public_keys)
    counts = _actions(audit_engine)
    assert counts[Action.RELAY_ACCEPTED] == 4 * (36 + 4 * 3)
    assert report.head_seq == sum(counts.values()) and report.checkpoints >= 4


def test_a_checkpoint_committed_between_a_head_read_and_its_check_is_an_advance(
    audit_engine: Engine, keyring: Keyring, signer: CheckpointSigner, public_keys: dict,
) -> None:
    """The interleaving that made four threads in one process trip the rewind guard,
    forced: thread A reads the head (naming checkpoint 1); before A compares it with what
    this process has seen, thread B commits checkpoint 2. A's head read is older than the
    process's memory, but nothing was rewound - A read it before B's commit."""
    log = AuditLog(audit_engine, keyring, clock=FixedClock(NOW), signer=signer,
                   checkpoint_every=5)
    ref = log.pseudonym("patient", "race")
    log.append(ref, Action.RELAY_ACCEPTED, ref)
    log.checkpoint_now()
    log.append_many([AuditEvent(ref, Action.RELAY_ACCEPTED, ref)] * 3)
    victim = threading.current_thread()
    fired: list[BaseException | None] = []

    def after_execute(conn: object, cursor: object, statement: str, *rest: object) -> None:
        if (threading.current_thread() is victim and not fired
                and statement.lstrip().upper().startswith("SELECT")
                and "FROM audit_head" in statement):
            fired.append(None)
            other = threading.Thread(target=lambda: _record(fired, log.checkpoint_now))
            other.start()
            other.join(30)

    event.listen(audit_engine, "after_cursor_execute", after_execute)
    try:
        mine = log.checkpoint_now()
    finally:
        event.remove(audit_engine, "after_cursor_execute", after_execute)
    assert len(fired) == 2 and fired[1] is None, fired  # B ran inside A's read, and won
    assert not log.rewound
    assert mine == log.head().last_checkpoint
    assert log.verify(public_keys).checkpoints == 2


def _record(out: list[BaseException | None], work: Callable[[], object]) -> None:
    try:
        work()
    except BaseException as exc:
        out.append(exc)
    else:
        out.append(None)


WORKER = textwrap.dedent("""
    import sys, threading, time
    from datetime import UTC, datetime
    from medcrypt.crypto.server.audit import Action, CheckpointSigner
    from medcrypt.crypto.clock import FixedClock
    from medcrypt.crypto.server.keyring import Keyring
    from medcrypt.storage.audit import AuditLog
    from medcrypt.storage.db import make_engine

    url, name, count, server_key, seed = sys.argv[1:6]
    count = int(count)
    engine = make_engine(url)
    log = AuditLog(engine, Keyring({1: bytes.fromhex(server_key)}),
                   clock=FixedClock(datetime(2026, 11, 23, 12, tzinfo=UTC)),
                   signer=CheckpointSigner(bytes.fromhex(seed)), checkpoint_every=20)
    print("ready", flush=True)
    sys.stdin.readline()  # both processes start at the same moment
    ref = log.pseudonym("physician", name)  # both race to create the pseudonym key
    print("keyed", flush=True)
    sys.stdin.readline()  # and both start appending at the same moment
    def run():
        for i in range(count):
            log.append(ref, Action.ADMIN_COMMAND, ref, {"command": "stats", "i": i})
            time.sleep(0.002)  # real traffic has gaps; SQLite's busy handler polls for them
    threads = [threading.Thread(target=run) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print("done")
""")


def test_two_processes_append_one_chain(database_url: str, audit_engine: Engine,
                                        keyring: Keyring, signer: CheckpointSigner,
                                        public_keys: dict) -> None:
    env = dict(os.environ)
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, database_url, name, "60",
                               SERVER_KEY.hex(), SIGNING_SEED.hex()],
                              env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for name in ("p1", "p2")]
    # Two starting lines: the first makes the processes race to create the pseudonym key;
    # the second makes them append together. (The key's creator holds SQLite's write lock
    # while it seals the key under a purpose DEK it makes too; the other process then
    # waits on the lock, and with one start line it could still be waiting when the
    # creator had written all its entries.)
    for said in ("ready", "keyed"):
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline().strip()
            assert line == said, (line, p.stderr.read() if p.stderr and not line else "")
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err[-2000:]
        assert out.strip() == "done"
    with audit_engine.connect() as conn:
        actors = [a for a in conn.execute(select(ENTRIES.c.actor_ref).order_by(ENTRIES.c.seq)
                                          ).scalars() if not a.startswith("system:")]
    switches = sum(1 for a, b in itertools.pairwise(actors) if a != b)
    assert switches >= 2, "the two processes did not overlap; the test proved nothing"
    counts = _actions(audit_engine)
    assert counts[Action.ADMIN_COMMAND] == 2 * 2 * 60
    # Appends never sign (ADR 0036): one checkpointer pass signs what the two wrote,
    # in steps of at most checkpoint_every entries.
    AuditLog(audit_engine, keyring, clock=FixedClock(NOW), signer=signer,
             checkpoint_every=20).checkpoint_if_due()
    log = AuditLog(audit_engine, None, clock=FixedClock(NOW))
    report = log.verify(public_keys)
    assert report.head_seq == sum(counts.values())
    assert report.checkpoints >= 2 * 2 * 60 // 20


async def test_asyncio_tasks_append_one_chain(audit_engine: Engine, keyring: Keyring,
                                              signer: CheckpointSigner,
                                              public_keys: dict) -> None:
    """The bot is async: its handlers append through ``asyncio.to_thread``."""
    log = AuditLog(audit_engine, keyring, clock=FixedClock(NOW), signer=signer,
                   checkpoint_every=10)
    ref = log.pseudonym("pairing", "async")

    async def task(i: int) -> None:
        for n in range(15):
            await asyncio.to_thread(log.append, ref, Action.RELAY_ACCEPTED, ref,
                                    {"task": i, "n": n})

    await asyncio.gather(*(task(i) for i in range(6)))
    counts = _actions(audit_engine)
    assert counts[Action.RELAY_ACCEPTED] == 90
    log.checkpoint_if_due()
    assert log.verify(public_keys).head_seq == sum(counts.values())
