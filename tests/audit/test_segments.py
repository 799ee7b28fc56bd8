"""Slices stitched by combine_segments give verify_chain's verdict, for any cut.

Property test over in-memory chains: every tampering kind from test_verify_pure.py,
at a random place, with the rows cut into random contiguous slices (empty ones
included). The verdict - report, or first bad seq and reason - must be identical.
"""

from __future__ import annotations

import itertools
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from medcrypt.crypto.errors import AuditChainBroken
from medcrypt.crypto.server.audit import (
    CheckpointSigner,
    EntryFields,
    as_row,
    combine_segments,
    entry_hash,
    format_witness,
    parse_witness_lines,
    stop_seqs_of,
    verify_chain,
    verify_segment,
)
from medcrypt.crypto.server.audit.segment import EMPTY
from tests.support.audit_chain import ACTOR, KEYS, SUBJECT, fields_of, make_chain, rehash

N = 60
OTHER = CheckpointSigner(os.urandom(32))


def _tamper(kind: str, at: int, rows: list, cps: list) -> tuple[list, list]:
    """Apply one tampering kind at position ``at`` (0-based)."""
    rows, cps = list(rows), list(cps)
    if kind == "field":
        rows[at] = (*rows[at][:4], b"bot.started", *rows[at][5:])
    elif kind == "ts":
        rows[at] = (rows[at][0], rows[at][1] + 1, *rows[at][2:])
    elif kind == "details":
        d = bytearray(rows[at][5])
        d[3] ^= 1
        rows[at] = (*rows[at][:5], bytes(d), *rows[at][6:])
    elif kind == "prev_hash":
        rows[at] = (*rows[at][:6], bytes(32), rows[at][7])
    elif kind == "entry_hash":
        rows[at] = (*rows[at][:7], bytes(32))
    elif kind == "delete":
        del rows[at]
    elif kind == "delete_renumber":
        rows = rows[:at] + [(r[0] - 1, *r[1:]) for r in rows[at + 1:]]
    elif kind == "insert" and at > 0:
        forged = EntryFields(at + 1, rows[at - 1][1], ACTOR, SUBJECT, "relay.accepted",
                             b"x" * 60, rows[at - 1][7])
        rows = (rows[:at] + [as_row(forged, entry_hash(forged))]
                + [(r[0] + 1, *r[1:]) for r in rows[at:]])
    elif kind == "swap" and at + 1 < len(rows):
        a, b = rows[at], rows[at + 1]
        rows[at], rows[at + 1] = (a[0], *b[1:]), (b[0], *a[1:])
    elif kind == "truncate":
        rows = rows[:at]
    elif kind == "rewrite":
        rows[at] = (*rows[at][:4], b"bot.started", *rows[at][5:])
        rehash(rows, at + 1)
    elif kind == "drop_checkpoint" and cps:
        del cps[at % len(cps)]
    elif kind == "foreign_checkpoint" and cps:
        c = cps[at % len(cps)]
        cps[at % len(cps)] = OTHER.sign(c.seq, c.ts_us, c.head_hash, c.prev_sig)
    elif kind == "bad_type":
        rows[at] = (rows[at][0], "not a number", *rows[at][2:])
    return rows, cps


def _verdict(fn: object) -> tuple:
    try:
        return ("ok", fn())  # type: ignore[operator]
    except AuditChainBroken as exc:
        return ("broken", exc.seq, exc.reason)


KINDS = ["none", "field", "ts", "details", "prev_hash", "entry_hash", "delete",
         "delete_renumber", "insert", "swap", "truncate", "rewrite", "drop_checkpoint",
         "foreign_checkpoint", "bad_type"]
BASE = make_chain(N, every=10)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(KINDS), at=st.integers(0, N - 1),
       cuts=st.lists(st.integers(0, N + 1), max_size=5), witness=st.booleans(),
       claim=st.booleans())
def test_segments_match_sequential(kind: str, at: int, cuts: list[int], witness: bool,
                                   claim: bool) -> None:
    rows, cps = _tamper(kind, at, *BASE)
    witnesses = parse_witness_lines(format_witness(BASE[1][-1])) if witness else []
    claimed = (N, BASE[0][-1][7]) if claim else None
    stops = stop_seqs_of(cps, witnesses)
    bounds = [0, *sorted(min(c, len(rows)) for c in cuts), len(rows)]
    slices = [rows[a:b] for a, b in itertools.pairwise(bounds)]
    sequential = _verdict(lambda: verify_chain([rows], cps, KEYS, witnesses=witnesses,
                                               claimed_head=claimed))
    stitched = _verdict(lambda: combine_segments(
        [verify_segment([s], stops) for s in slices], cps, KEYS, witnesses=witnesses,
        claimed_head=claimed))
    assert stitched == sequential
    if kind in ("field", "details", "entry_hash", "delete") or (kind == "swap" and at < N - 1):
        assert sequential[0] == "broken"


def test_empty_and_progress() -> None:
    assert verify_segment([], [1]) == EMPTY
    assert verify_segment([[], []], []) == EMPTY
    rows, cps = BASE
    seen: list[int] = []
    seg = verify_segment([rows[:25], rows[25:]], stop_seqs_of(cps, []), progress=seen.append)
    assert seen == [25, N] and seg.rows == N and seg.broken is None
    assert [s for s, _ in seg.stops] == [c.seq for c in cps]
    assert combine_segments([EMPTY, seg, EMPTY], cps, KEYS).head_seq == N


def test_in_slice_break_is_diagnosed_with_the_sequential_context() -> None:
    rows, cps = _tamper("insert", 31, *BASE)  # the forged entry is seq 32
    seg = verify_segment([rows[30:]], stop_seqs_of(cps, []))  # it is the slice's 2nd row
    assert seg.broken is not None and seg.broken[0] == 32 and "inserted" in seg.broken[1]
    assert fields_of(seg.first).seq == 31  # type: ignore[arg-type]
