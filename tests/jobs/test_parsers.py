"""Property tests for the jobs' parsers: they classify or refuse, and never crash."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcrypt.bot.cli.jobs import parse_instant
from medcrypt.bot.domain.lifecycle.purge import _outbox_target, _token_target
from medcrypt.crypto.keyless.epochs import MAX_EPOCH
from medcrypt.crypto.keyless.parts import split_token
from medcrypt.crypto.keyless.wire import encode_token
from tests.fuzz.run_all import main as fuzz_main


@given(st.binary(max_size=200))
def test_routing_headers_of_garbage_are_ignored(data: bytes) -> None:
    _token_target(data)
    for kind in ("text", "document"):
        target, _group, _index = _outbox_target(kind, data)
        assert target is None or (len(target[0]) == 32 and target[1] >= 0)


@given(st.binary(min_size=16, max_size=16), st.integers(0, MAX_EPOCH - 1), st.binary(max_size=300))
def test_token_and_its_parts_name_the_same_epoch(pid: bytes, epoch: int, body: bytes) -> None:
    raw = bytes([2, 1]) + pid + epoch.to_bytes(4, "big") + b"\x00" + bytes(4) + bytes(24) + body
    token = encode_token(raw + bytes(16))
    assert _outbox_target("text", token.encode())[0] == (pid.hex(), epoch)
    parts = split_token(token, 100, rng=lambda n: bytes(n))
    if len(parts) > 1:
        first = _outbox_target("text", parts[0].encode())
        assert first[0] == (pid.hex(), epoch) and first[2] == 0


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30),
                    timezones=st.just(UTC)))
def test_now_round_trips(at: datetime) -> None:
    assert parse_instant(at.isoformat()) == at
    assert parse_instant(at.isoformat().replace("+00:00", "Z")) == at


@pytest.mark.parametrize("text", ["2026-11-08T00:00:00", "yesterday", "", "2026-13-01T00:00Z"])
def test_now_refuses_naive_or_bad_times(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_instant(text)


def test_fuzz_targets_hold() -> None:
    assert fuzz_main(["--iterations", "300", "--only", "jobs_"]) == 0


class _Tty:
    def __init__(self) -> None:
        self.text = ""

    def isatty(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self.text += s
        return len(s)

    def flush(self) -> None:
        pass


def test_progress_bar_draws_on_a_terminal_only() -> None:
    from medcrypt.bot.cli.jobs import ProgressBar

    tty = _Tty()
    bar = ProgressBar(tty, "rotate")  # type: ignore[arg-type]
    bar(500, 1000)
    bar(1000, 1000)
    bar.close()
    assert "rotate [###############...............] 500/1,000" in tty.text
    assert "1,000/1,000" in tty.text and tty.text.endswith("\r\x1b[K")
    quiet = ProgressBar(io.StringIO(), "shred")
    assert not quiet.enabled
