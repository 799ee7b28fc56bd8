"""Key schedule and hash ratchet in isolation: one-wayness, bounds, commit semantics."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from medcrypt.crypto.endpoint import keyschedule, ratchet
from medcrypt.crypto.errors import (
    EpochNotYet,
    EpochShredded,
    LimitExceeded,
    ReplayDetected,
    StorageError,
    WrongPairing,
)
from medcrypt.crypto.keyless.wire import Direction


def test_epoch_chain_is_deterministic_and_distinct() -> None:
    k0 = keyschedule.initial_epoch_key(b"\x01" * 32, 682)
    k1 = keyschedule.advance_epoch_key(k0, 683)
    assert keyschedule.epoch_key_at(k0, 682, 683) == k1
    assert keyschedule.epoch_key_at(k0, 682, 682) == k0
    assert len({k0, k1, keyschedule.advance_epoch_key(k1, 684)}) == 3
    assert keyschedule.initial_epoch_key(b"\x01" * 32, 683) != k1
    with pytest.raises(WrongPairing):
        keyschedule.epoch_key_at(k0, 682, 681)


def test_schedule_enters_and_shreds_on_the_calendar() -> None:
    k0 = keyschedule.initial_epoch_key(b"\x02" * 32, 682)
    s = keyschedule.EpochSchedule.begin(k0, 682, 7)
    step = s.advance(datetime(2026, 11, 30, tzinfo=UTC))
    assert [e for e, _ in step.entered] == [682] and step.entered[0][1] == bytearray(k0)
    assert bytes(s.next_key) == keyschedule.advance_epoch_key(k0, 683)
    step = s.advance(datetime(2026, 12, 1, tzinfo=UTC))
    assert [e for e, _ in step.entered] == [683] and step.shredded == []
    assert s.live == {682, 683}
    step = s.advance(datetime(2026, 12, 8, tzinfo=UTC))
    assert step.shredded == [682] and s.live == {683}
    with pytest.raises(EpochShredded, match="2026-11"):
        s.check(682, datetime(2026, 12, 8, tzinfo=UTC))
    with pytest.raises(EpochNotYet):
        s.check(684, datetime(2026, 12, 8, tzinfo=UTC))
    with pytest.raises(WrongPairing):
        s.check(600, datetime(2026, 12, 8, tzinfo=UTC))
    restored = keyschedule.EpochSchedule.load(s.export())
    assert restored.export() == s.export()
    with pytest.raises(StorageError):
        keyschedule.EpochSchedule.load({"start_epoch": 1})
    with pytest.raises(WrongPairing):
        keyschedule.EpochSchedule.begin(k0, 682, 365)


def test_chain_keys_differ_by_direction_epoch_and_pairing() -> None:
    k = b"\x03" * 32
    keys = {ratchet.initial_chain_key(k, pid, e, d)
            for pid in (b"\x00" * 16, b"\x01" * 16) for e in (682, 683) for d in Direction}
    assert len(keys) == 8


def test_recv_chain_commit_only_on_success() -> None:
    ck = ratchet.initial_chain_key(b"\x04" * 32, b"\x00" * 16, 682, Direction(0))
    send, recv = ratchet.SendChain(bytearray(ck)), ratchet.RecvChain(bytearray(ck))
    keys = [send.next_key() for _ in range(5)]
    pending = recv.lookup(3)
    assert pending.message_key == keys[3][1]
    assert recv.next_index == 0  # lookup alone changes nothing
    recv.commit(pending)
    assert recv.next_index == 4 and sorted(recv.skipped) == [0, 1, 2]
    assert recv.lookup(1).message_key == keys[1][1]
    recv.commit(recv.lookup(1))
    with pytest.raises(ReplayDetected):
        recv.lookup(1)
    with pytest.raises(ReplayDetected):
        recv.lookup(3)
    assert ratchet.message_key_at(ck, 4)[0] == keys[4][1]
    with pytest.raises(LimitExceeded):
        recv.lookup(4 + ratchet.MAX_SKIP + 1)
    loaded = ratchet.RecvChain.load(recv.export())
    assert loaded.lookup(4).message_key == keys[4][1]
    assert ratchet.SendChain.load(send.export()).next_index == 5


def test_skipped_store_is_bounded() -> None:
    recv = ratchet.RecvChain(bytearray(32))
    for step in range(3):
        recv.commit(recv.lookup(recv.next_index + ratchet.MAX_SKIP))
        assert len(recv.skipped) <= ratchet.MAX_STORED_SKIPPED
        del step
    with pytest.raises(ReplayDetected):
        recv.lookup(0)  # the oldest skipped keys were dropped
