"""The fake's Messages list, through the real twilio client and through the bot's
in-doubt lookup: a send that reached Twilio is found, one that did not is not."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from twilio.rest import Client

from medcrypt.sandbox import FakeTwilio
from tests.support.whatsapp import sender_for, token_delivery

pytestmark = [
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
]

A, B = "whatsapp:+15550004444", "whatsapp:+15550005555"


async def test_list_filters_by_recipient_and_follows_pages(tw: FakeTwilio,
                                                           client: Client) -> None:
    for number in (A, B):
        tw.open_window(number.removeprefix("whatsapp:"))
    sent = [await client.messages.create_async(to=A, from_=tw.whatsapp_from, body=f"a{i}")
            for i in range(5)]
    await client.messages.create_async(to=B, from_=tw.whatsapp_from, body="b")
    found = await client.messages.list_async(to=A, page_size=2, limit=10)  # three pages
    assert sorted(m.sid for m in found) == sorted(m.sid for m in sent)
    assert {m.to for m in found} == {A}
    later = datetime.now(UTC) + timedelta(days=1)
    assert await client.messages.list_async(to=A, date_sent_after=later) == []


async def test_bad_filters_and_credentials_are_refused(tw: FakeTwilio) -> None:
    url = f"{tw.api_base_url}/2010-04-01/Accounts/{tw.account_sid}/Messages.json"
    async with httpx.AsyncClient() as http:
        bad = await http.get(url, params={"DateSent>": "yesterday"},
                             auth=(tw.account_sid, tw.auth_token))
        assert bad.status_code == 400 and bad.json()["code"] == 20001
        assert (await http.get(url, auth=(tw.account_sid, "wrong"))).status_code == 401


async def test_in_doubt_lookup_finds_a_send_that_arrived(tw: FakeTwilio) -> None:
    tw.open_window(A.removeprefix("whatsapp:"))
    sender = sender_for(tw, 5.0)
    try:
        sid = await sender.send(token_delivery(1, A))
        since = time.time() - 60
        assert await sender.lookup(token_delivery(1, A), since) == sid  # not sent again
        assert await sender.lookup(token_delivery(2, A), since) is False  # never arrived
    finally:
        await sender.close()
