"""The relay benchmark runs end to end on a tiny load (no timing is asserted: a loaded
CI machine would make that flaky). It proves every message was relayed exactly once
through the real bot and the sandbox child process, so the figures it prints measure
real work."""

from __future__ import annotations

import re

import pytest

from bench import bench_relay
from tests.support.ports import worker_port


@pytest.mark.slow
def test_relay_benchmark_runs_and_relays_everything(capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # The bench picks the bot's webhook port by bind-and-close, in the range where the
    # other worker's servers bind port 0: take it from this worker's block instead.
    monkeypatch.setattr(bench_relay, "_port", worker_port)
    assert bench_relay.main(["--messages=100", "--pairs=4", "--latency-messages=40",
                             "--rate=40"]) == 0
    out = capsys.readouterr().out
    assert "fakes: process" in out
    assert re.findall(r"recorded sent (\d+)", out) == ["100", "100"]
    for label in ("tg_to_wa", "wa_to_tg", "both"):
        assert re.search(rf"{label}\s+p50\s+[\d.]+ ms\s+p99", out)
    assert "claim transaction" in out
    # The collector's share is measured, and the started bot froze its startup heap.
    assert len(re.findall(r"garbage collector\s+[\d.]+ ms/msg", out)) == 2
    frozen = re.search(r"froze out of the collector's passes: (\d+)", out)
    assert frozen is not None and int(frozen.group(1)) > 10_000
    # 4 pairings x (notices) + 100 + 20 paced each way reached each platform.
    totals = re.search(r"telegram (\d+) messages, twilio (\d+) messages", out)
    assert totals is not None
    assert int(totals.group(1)) >= 120 and int(totals.group(2)) >= 120


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(SystemExit):
        bench_relay.main(["--messages=10"])
