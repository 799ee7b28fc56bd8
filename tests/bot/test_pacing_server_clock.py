"""How a replica maps the database server's send slots onto its own clock (issue 18).

A slot timed from when the reservation's answer arrived moved with that answer's delay;
sends spaced evenly on the server then arrived bunched. :class:`ServerClock` keeps the
tightest bound over recent answers, so a slow answer does not shift its slots, and no
slot is ever mapped before the instant the server meant.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from medcrypt.bot.outbox.pacing import ServerClock

#: This process's monotonic clock reads the server's Unix time minus this.
SKEW = 1_700_000_000.0 - 50.0


class Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_slow_answer_does_not_shift_its_slots() -> None:
    mono = Monotonic()
    clock = ServerClock(monotonic=mono)
    server = mono.now + SKEW
    mono.now += 0.002  # a quick answer: 2 ms on the way
    assert abs(clock.observe(server) - (server - SKEW)) <= 0.002 + 1e-6
    server2 = server + 1.0
    mono.now = server2 - SKEW + 0.300  # this answer sat 300 ms in a loaded process
    mapped = clock.observe(server2)
    assert abs(mapped - (server2 - SKEW)) <= 0.002 + 1e-6  # not 300 ms late


def test_a_stepped_server_clock_is_followed_after_the_window() -> None:
    """Every answer here took 1 ms, so each instant maps to its answer's arrival."""
    mono = Monotonic()
    clock = ServerClock(keep=4, monotonic=mono)
    for _ in range(4):
        mono.now += 0.5
        clock.observe(mono.now + SKEW - 0.001)
    step = 10.0  # the server's wall clock set back ten seconds
    for _ in range(4):
        mono.now += 0.5
        last = clock.observe(mono.now + SKEW - step - 0.001)
    assert abs(last - mono.now) < 1e-6


@given(st.lists(st.tuples(st.floats(0.0, 5.0), st.floats(0.0, 0.5)), min_size=1,
                max_size=60))
def test_a_slot_is_never_mapped_before_the_servers_instant(
        answers: list[tuple[float, float]]) -> None:
    """Whatever the answers' delays, an instant maps to no earlier than when it really
    was on this clock: a send never leaves before its slot."""
    mono = Monotonic()
    clock = ServerClock(keep=8, monotonic=mono)
    for gap, delay in answers:
        mono.now += gap
        server = mono.now + SKEW  # the server read its clock now ...
        mono.now += delay  # ... and the answer arrived after this delay
        assert clock.observe(server) >= server - SKEW - 1e-6
