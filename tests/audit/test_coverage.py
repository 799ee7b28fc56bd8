"""Checkpoint coverage, pure: the three promises, their exceptions, and the same verdict
from slices as from one walk.

Chains are built transaction by transaction (tests/support/audit_chain.py:
``timed_chain``) with the policy ``every=5``, ``interval=60 min``, ``grace=10 min``, so
each case reads as a clinic's timeline in minutes.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medcrypt.crypto.errors import AuditChainBroken
from medcrypt.crypto.server.audit import (
    CoveragePolicy,
    checkpoint_times,
    combine_segments,
    format_witness,
    parse_witness_lines,
    stop_seqs_of,
    verify_chain,
    verify_segment,
)
from tests.support.audit_chain import KEYS, rehash, timed_chain

T0 = 1_795_435_200_000_000  # 2026-11-23 12:00 UTC
MIN = 60_000_000
EVERY, INTERVAL, GRACE = 5, 60 * MIN, 10 * MIN


def at(minute: float) -> int:
    return T0 + int(minute * MIN)


def policy(now_minute: float) -> CoveragePolicy:
    return CoveragePolicy(EVERY, INTERVAL, at(now_minute), GRACE)


def verdict(rows: list, cps: list, now_minute: float, witnesses: list | None = None) -> tuple:
    try:
        report = verify_chain([rows], cps, KEYS, witnesses=witnesses or [],
                              coverage=policy(now_minute))
    except AuditChainBroken as exc:
        return ("broken", exc.seq, exc.reason)
    return ("ok", report)


#: A day as the writer keeps it: signed first, quiet stretches, a count checkpoint,
#: a late transaction closed by its own checkpoint, a downtime closed by the restart.
DAY = [(at(0), 1, True), (at(5), 2, False), (at(20), 2, True), (at(30), 3, False),
       (at(61), 1, True), (at(62), 4, True), (at(300), 1, True), (at(301), 2, False)]


def test_a_log_kept_by_the_promises_verifies() -> None:
    rows, cps = timed_chain(DAY)
    result = verdict(rows, cps, now_minute=310)
    assert result[0] == "ok", result
    report = result[1]
    assert report.coverage_checked and report.unsigned_tail == 2
    assert (report.witnessed_seq, report.last_checkpoint_ts_us) == (0, at(300))


def test_more_than_every_entries_between_checkpoints_is_a_gap() -> None:
    rows, cps = timed_chain([(at(0), 1, True), (at(1), 6, True)])
    result = verdict(rows, cps, now_minute=2)
    assert result[:2] == ("broken", 3)
    assert "6 entries between checkpoints 2 and 9 without a signed checkpoint" in result[2]
    exactly = timed_chain([(at(0), 1, True), (at(1), 5, True)])
    assert verdict(*exactly, now_minute=2)[0] == "ok"


def test_a_tail_longer_than_every_is_a_gap() -> None:
    rows, cps = timed_chain([(at(0), 1, True), (at(1), 6, False)])
    result = verdict(rows, cps, now_minute=2)
    assert result[:2] == ("broken", 3) and "the 6 newest entries" in result[2]


def test_a_late_entry_not_signed_in_its_own_transaction_is_a_gap() -> None:
    """The reviewers' cut, re-signed later: entries kept from after the interval that
    no checkpoint of their own transaction closed."""
    rows, cps = timed_chain([(at(0), 1, True), (at(90), 2, False), (at(100), 1, True)])
    result = verdict(rows, cps, now_minute=101)
    assert result[:2] == ("broken", 3)
    assert "written 90 min after checkpoint 2, past the 60 min interval" in result[2]
    assert "without a signed checkpoint" in result[2]


def test_downtime_closed_by_the_restarts_own_checkpoint_is_not_a_gap() -> None:
    rows, cps = timed_chain([(at(0), 1, True), (at(10), 1, False), (at(2000), 3, True)])
    assert verdict(rows, cps, now_minute=2001)[0] == "ok"


def test_the_open_tail_is_accepted_only_while_young() -> None:
    rows, cps = timed_chain([(at(0), 1, True), (at(30), 2, False)])
    assert verdict(rows, cps, now_minute=60 + 10)[0] == "ok"  # interval + grace
    result = verdict(rows, cps, now_minute=60 + 10 + 1)
    assert result[:2] == ("broken", 3)
    assert "the 2 newest entries (seq 3..4) have waited 71 min since checkpoint 2" in result[2]


def test_a_late_entry_left_last_is_a_gap_even_while_young() -> None:
    rows, cps = timed_chain([(at(0), 1, True), (at(61), 1, False)])
    result = verdict(rows, cps, now_minute=62)
    assert result[:2] == ("broken", 3) and "past the 60 min interval" in result[2]


def test_no_checkpoint_at_all_is_a_gap_from_seq_one() -> None:
    rows, cps = timed_chain([(at(0), 3, False)])
    result = verdict(rows, cps, now_minute=1)
    assert result[:2] == ("broken", 1) and "no signed checkpoint" in result[2]


def test_a_cut_back_to_a_checkpoint_verifies_but_not_as_witnessed() -> None:
    """The limit the witness lines are for: nothing kept after a genuine checkpoint."""
    rows, cps = timed_chain(DAY)
    cut = cps[2].seq  # the checkpoint at minute 61
    rows_cut, cps_cut = rows[:cut], cps[:3]
    result = verdict(rows_cut, cps_cut, now_minute=10_000)
    assert result[0] == "ok" and result[1].witnessed_seq == 0
    witnesses = parse_witness_lines(format_witness(cps[-1]))
    caught = verdict(rows_cut, cps_cut, now_minute=10_000, witnesses=witnesses)
    assert caught[0] == "broken" and "log truncated" in caught[2]
    full = verdict(rows, cps, now_minute=310, witnesses=witnesses)
    assert full[0] == "ok" and full[1].witnessed_seq == cps[-1].seq


def test_without_a_policy_only_the_chain_is_checked() -> None:
    rows, cps = timed_chain([(at(0), 3, False)])
    report = verify_chain([rows], cps, KEYS)
    assert report.head_seq == 3 and not report.coverage_checked


def test_policy_values_are_checked() -> None:
    for bad in ((0, INTERVAL, 0, GRACE), (1, 0, 0, GRACE), (1, INTERVAL, 0, -1)):
        with pytest.raises(ValueError, match="coverage needs"):
            CoveragePolicy(*bad)


# --- slices give the sequential verdict -------------------------------------------

def _cut_after(rows: list, cps: list, first: int) -> tuple:
    """The attacker's edit: drop the two entries at ``first`` and every checkpoint from
    there on (rows and chain entries), then re-chain what is left."""
    gone = {c.seq for c in cps if c.seq >= first} | {first, first + 1}
    forged = [(seq, *r[1:]) for seq, r in enumerate((r for r in rows if r[0] not in gone),
                                                    start=1)]
    rehash(forged, first)
    return forged, [c for c in cps if c.seq < first]


SCENARIOS = {
    "day": timed_chain(DAY),
    "late_unclosed": timed_chain([(at(0), 1, True), (at(61), 2, False), (at(62), 1, False),
                                  (at(70), 1, True)]),
    "count": timed_chain([(at(0), 1, True), (at(1), 7, True), (at(2), 1, False)]),
    "tail_old": timed_chain([(at(0), 1, True), (at(1), 3, False)]),
    "pause": timed_chain([(at(0), 2, True), (at(61), 3, True), (at(62), 2, False),
                          (at(130), 0, True)]),
}
SCENARIOS["attacked"] = _cut_after(*SCENARIOS["day"], first=7)


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(sorted(SCENARIOS)), cuts=st.lists(st.integers(0, 20), max_size=4),
       now_minute=st.sampled_from([63, 70, 71, 310, 400]), witness=st.booleans())
def test_slices_match_the_sequential_verdict(name: str, cuts: list[int], now_minute: int,
                                             witness: bool) -> None:
    rows, cps = SCENARIOS[name]
    witnesses = parse_witness_lines(format_witness(cps[0])) if witness and cps else []
    cover = policy(now_minute)
    bounds = [0, *sorted(min(c, len(rows)) for c in cuts), len(rows)]
    slices = [rows[a:b] for a, b in itertools.pairwise(bounds)]
    stops = stop_seqs_of(cps, witnesses)
    times = checkpoint_times(cps)

    def sequential() -> object:
        return verify_chain([rows], cps, KEYS, witnesses=witnesses, coverage=cover)

    def stitched() -> object:
        segments = [verify_segment([s], stops, interval_us=INTERVAL, checkpoint_times=times)
                    for s in slices]
        return combine_segments(segments, cps, KEYS, witnesses=witnesses, coverage=cover)

    outcomes = []
    for walk in (sequential, stitched):
        try:
            outcomes.append(("ok", walk()))
        except AuditChainBroken as exc:
            outcomes.append(("broken", exc.seq, exc.reason))
    assert outcomes[0] == outcomes[1]


def test_every_scenario_means_what_its_name_says() -> None:
    results = {name: verdict(*chain, now_minute=310) for name, chain in SCENARIOS.items()}
    # A checkpoint-only transaction after a pause is what a bot coming back writes; a
    # running bot that finds the head rewound refuses to write it (test_rewound.py).
    assert results["day"][0] == results["pause"][0] == "ok"
    for name in ("late_unclosed", "count", "tail_old", "attacked"):
        assert results[name][0] == "broken", name
