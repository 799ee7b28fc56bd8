"""The fake Bot API records every long poll (start, end, caller tag, outcome) and ends a
poll whose client hung up, as Telegram does: what the multi-replica tests read to prove
that pollers never overlap (issue 18)."""

from __future__ import annotations

import asyncio
import time

import httpx
from hypothesis import given
from hypothesis import strategies as st

from medcrypt.sandbox import FakeTelegram
from medcrypt.sandbox.fake_telegram import POLL_TAG_HEADER, _int_or_none, _parse_tag


async def test_a_poll_whose_client_hangs_up_ends_at_once(tg: FakeTelegram) -> None:
    api = f"{tg.base_url}{tg.token}"
    async with httpx.AsyncClient() as http:
        with_tag = {POLL_TAG_HEADER: "epoch=7; caller=ab12"}
        call = asyncio.create_task(http.post(f"{api}/getUpdates", data={"timeout": "30"},
                                             headers=with_tag, timeout=40))
        await asyncio.sleep(0.5)
        hung_up = time.monotonic()
        call.cancel()  # closes the connection, as a killed process does
        await asyncio.gather(call, return_exceptions=True)
    deadline = time.monotonic() + 5
    while not tg.polls and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    [poll] = tg.polls
    assert (poll.caller, poll.epoch, poll.status) == ("ab12", 7, 499)
    assert poll.end - hung_up < 1.0  # not the 30 s the client asked for
    assert poll.end - poll.start >= 0.4


async def test_overlapping_polls_are_recorded_with_the_409(tg: FakeTelegram) -> None:
    api = f"{tg.base_url}{tg.token}"
    async with httpx.AsyncClient() as http:
        first = asyncio.create_task(http.post(f"{api}/getUpdates", data={"timeout": "5"},
                                              headers={POLL_TAG_HEADER: "epoch=1; caller=a"},
                                              timeout=10))
        await asyncio.sleep(0.3)
        second = await http.post(f"{api}/getUpdates", data={"timeout": "0"},
                                 headers={POLL_TAG_HEADER: "epoch=2; caller=b"})
        answer = await first
    assert second.json()["ok"] and answer.status_code == 409
    assert tg.conflicts() == 1
    by_caller = {p.caller: p for p in tg.polls}
    assert by_caller["a"].status == 409 and by_caller["b"].status == 200
    assert by_caller["a"].start < by_caller["b"].start < by_caller["a"].end


@given(st.text(max_size=200))
def test_any_poll_tag_is_read_without_an_error(value: str) -> None:
    """The tag comes from whoever polls: any header value parses, never raises."""
    tag = _parse_tag(value)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in tag.items())
    epoch = _int_or_none(tag.get("epoch"))
    assert epoch is None or isinstance(epoch, int)


@given(st.integers(min_value=0, max_value=2**62), st.text(
    alphabet=st.characters(blacklist_characters=";=", blacklist_categories=("Cs", "Zs", "Cc")),
    min_size=1, max_size=20))
def test_a_well_formed_poll_tag_round_trips(epoch: int, caller: str) -> None:
    tag = _parse_tag(f"epoch={epoch}; caller={caller}")
    assert _int_or_none(tag["epoch"]) == epoch and tag["caller"] == caller
