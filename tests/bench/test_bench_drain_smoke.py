"""The issue 18 benchmarks run end to end on tiny loads (no timing is asserted: a loaded
machine would make that flaky). They must really drain, append and relay what they
claim to measure, so the figures they print mean something."""

from __future__ import annotations

import re

import pytest

from bench import bench_audit_append, bench_drain, bench_intake
from tests.support.databases import PG_URL


def test_drain_benchmark_drains_each_fresh_backlog(capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDCRYPT_BENCH_PG_URL", raising=False)
    assert bench_drain.main(["--sizes=200,600", "--repeat=1", "--sample=100"]) == 0
    out = capsys.readouterr().out
    figures = re.findall(r"^\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x", out, re.M)
    assert [int(size) for size, *_ in figures] == [200, 600]
    assert all(float(wall) > 0 for _size, wall, _cpu, _ratio in figures)


def test_drain_sample_really_leaves_the_queue(tmp_path: object) -> None:
    """What is timed is the drain: the sampled rows end ``sent``, and per chat they are
    the chat's oldest rows (head of line held while draining)."""
    from sqlalchemy import select

    from medcrypt.storage.db import session_factory
    from medcrypt.storage.models.outbox import OutboxMessage

    url = f"sqlite:///{tmp_path}/d.db"
    engine = bench_drain._build(url, 600)
    _wall, _cpu, done = bench_drain._drain(engine, 300)
    with session_factory(engine)() as s:
        rows = s.execute(select(OutboxMessage.dest_identity_id, OutboxMessage.id,
                                OutboxMessage.status)).all()
    engine.dispose()
    sent = [r for r in rows if r.status == "sent"]
    assert done >= 300 and len(sent) == done
    for chat in {r.dest_identity_id for r in sent}:
        mine = [r for r in rows if r.dest_identity_id == chat]
        waiting = [r.id for r in mine if r.status != "sent"]
        assert not waiting or max(r.id for r in mine if r.status == "sent") < min(waiting)


def test_audit_append_benchmark_reports_a_ratio(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDCRYPT_BENCH_PG_URL", raising=False)
    assert bench_audit_append.main(["--ops=20", "--rounds=1"]) == 0
    assert re.search(r"sqlite\s+append\s+[\d.]+ us\s+insert\+commit\s+[\d.]+ us\s+ratio",
                     capsys.readouterr().out)


@pytest.mark.postgres
def test_intake_benchmark_compares_the_backends(capsys: pytest.CaptureFixture[str]) -> None:
    if not PG_URL:
        pytest.skip("no PostgreSQL server (set MEDCRYPT_TEST_PG_URL)")
    assert bench_intake.main(["--messages=20", "--rounds=1", f"--pg-url={PG_URL}"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"postgresql\s+[\d.]+ ms CPU/message", out)
    assert re.search(r"ratio\s+[\d.]+x", out)
