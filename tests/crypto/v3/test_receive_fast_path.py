"""The receiver's fast path (the next message of a live segment) against the general plan.

``Session.decrypt`` opens most tokens without building a plan; the claim is that it
reaches exactly the state the general plan would.  Two pairs made from the same random
draws run one schedule in lockstep, one with the fast path switched off; after every
step their tokens, what they opened, the errors they raised and their whole exported
states must be equal.  Schedules cover DH steps (whose chains name the previous chain
in every token), month re-keys, loss, reordering, replays and late tokens of old chains.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medcrypt.crypto.endpoint.v3.session import Session
from medcrypt.crypto.errors import MedCryptError
from medcrypt.crypto.keyless import v3wire
from medcrypt.crypto.keyless.epochs import epoch_of
from tests.support.v3pairs import CounterRng, make_v3_pair

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

#: send from side 0/1; deliver the k-th pending token to side 0/1; move the clock on.
_SEND = st.tuples(st.just("send"), st.integers(0, 1), st.just(0))
_DELIVER = st.tuples(st.just("deliver"), st.integers(0, 1), st.integers(0, 5))
_WAIT = st.tuples(st.just("wait"), st.just(0), st.sampled_from([1, 6, 13]))
SCHEDULES = st.lists(st.one_of(_SEND, _SEND, _DELIVER, _DELIVER, _DELIVER, _WAIT),
                     min_size=4, max_size=40)


class Lane:
    """One pair and the tokens in flight to each side."""

    def __init__(self, label: str, *, fast: bool) -> None:
        self.rng = CounterRng(label)
        pair = make_v3_pair(epoch_of(T0), rng=self.rng)
        self.sides: list[Session] = [pair.patient, pair.physician]
        self.pending: list[list[str]] = [[], []]
        self.delivered: list[str] = []
        self.fast_hits = 0
        for side in self.sides:
            if fast:
                original = side._next_in_segment

                def counted(h: v3wire.MessageHeader, original=original) -> object:
                    found = original(h)
                    self.fast_hits += found is not None
                    return found

                side._next_in_segment = counted  # type: ignore[method-assign]
            else:
                side._next_in_segment = lambda h: None  # type: ignore[method-assign]

    def step(self, action: str, who: int, arg: int, now: datetime) -> object:
        if action == "send":
            token = self.sides[who].encrypt(b"note %d" % len(self.delivered), now=now,
                                            rng=self.rng)
            self.pending[1 - who].append(token)
            self.delivered.append(token)
            return token
        queue = self.pending[who]
        if action == "deliver" and queue:
            # Out of order within the queue; an arg past its end replays a sent token.
            token = queue.pop(arg) if arg < len(queue) else self.delivered[arg % len(
                self.delivered)]
            try:
                return self.sides[who].decrypt(token, now=now)
            except MedCryptError as error:
                return type(error).__name__
        return None

    def states(self) -> list[dict[str, object]]:
        return [side.export_state() for side in self.sides]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule=SCHEDULES)
def test_fast_path_reaches_the_general_plans_state(
    schedule: list[tuple[str, int, int]],
) -> None:
    fast, general = Lane("fast path", fast=True), Lane("fast path", fast=False)
    now = T0
    for action, who, arg in schedule:
        if action == "wait":
            now += timedelta(days=arg)
            continue
        assert fast.step(action, who, arg, now) == general.step(action, who, arg, now)
        assert fast.states() == general.states()


def test_tokens_of_a_dh_made_chain_take_the_fast_path() -> None:
    """Every in-order token after a conversation's first exchange names the previous
    chain; all but the first of a chain open on the fast path, to the same state."""
    fast, general = Lane("dh chain", fast=True), Lane("dh chain", fast=False)
    script = [("send", 0, 0), ("deliver", 1, 0), ("send", 1, 0), ("deliver", 0, 0)]
    script += [("send", 0, 0), ("deliver", 1, 0)] * 5
    for action, who, arg in script:
        assert fast.step(action, who, arg, T0) == general.step(action, who, arg, T0)
        assert fast.states() == general.states()
    names_previous = [v3wire.parse_message_text(t).header.prev_len for t in fast.delivered[2:]]
    assert all(names_previous)
    # The pairing chain's message, and the DH-made chain's four after its first (which
    # makes the chain: the general plan).
    assert fast.fast_hits == 1 + 4
