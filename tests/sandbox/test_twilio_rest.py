"""The real twilio ``Client`` (async transport) against the fake Messages API."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from medcrypt.crypto.clock import FixedClock
from medcrypt.sandbox import FakeTwilio, Faults
from tests.support.required_fields import (
    TWILIO_ERROR_FIELDS,
    TWILIO_MESSAGE_PROPERTIES,
    TWILIO_MESSAGE_STATUSES,
)

# twilio's own async transport uses aiohttp APIs that aiohttp now deprecates.
pytestmark = [
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
]

PATIENT = "whatsapp:+15551230001"
TEMPLATE = "HX" + "ab" * 16


async def test_create_returns_a_queued_message_with_a_sid(tw: FakeTwilio, client: Client) -> None:
    tw.open_window(PATIENT)
    msg = await client.messages.create_async(to=PATIENT, from_=tw.whatsapp_from, body="tok")
    assert msg.sid is not None and re.fullmatch(r"SM[0-9a-f]{32}", msg.sid)
    assert msg.status == "queued" and msg.body == "tok" and msg.to == PATIENT
    assert msg.num_segments == "1" and msg.num_media == "0"
    assert [m.sid for m in tw.messages_to("+15551230001")] == [msg.sid]


async def test_raw_json_has_every_spec_property(tw: FakeTwilio) -> None:
    tw.open_window(PATIENT)
    async with httpx.AsyncClient(auth=(tw.account_sid, tw.auth_token)) as http:
        resp = await http.post(f"{tw.url}/2010-04-01/Accounts/{tw.account_sid}/Messages.json",
                               data={"To": PATIENT, "From": tw.whatsapp_from, "Body": "x"})
        assert resp.status_code == 201
        body = resp.json()
        fetched = await http.get(f"{tw.url}{body['uri']}")
    assert set(body) == TWILIO_MESSAGE_PROPERTIES
    assert body["status"] in TWILIO_MESSAGE_STATUSES
    assert body["direction"] == "outbound-api" and body["api_version"] == "2010-04-01"
    created = parsedate_to_datetime(body["date_created"])
    assert created.tzinfo is not None
    assert body["uri"] == f"/2010-04-01/Accounts/{tw.account_sid}/Messages/{body['sid']}.json"
    assert fetched.status_code == 200 and set(fetched.json()) == TWILIO_MESSAGE_PROPERTIES


async def test_wrong_credentials_are_401_20003(tw: FakeTwilio) -> None:
    async with httpx.AsyncClient(auth=(tw.account_sid, "wrong")) as http:
        resp = await http.post(f"{tw.url}/2010-04-01/Accounts/{tw.account_sid}/Messages.json",
                               data={"To": PATIENT, "From": tw.whatsapp_from, "Body": "x"})
    async with httpx.AsyncClient() as anon_http:
        anon = await anon_http.post(
            f"{tw.url}/2010-04-01/Accounts/{tw.account_sid}/Messages.json", data={"To": PATIENT})
    assert resp.status_code == 401 and set(resp.json()) == TWILIO_ERROR_FIELDS
    assert resp.json()["code"] == 20003
    assert resp.headers["WWW-Authenticate"].startswith("Basic")
    assert anon.status_code == 401
    assert tw.messages == {}


async def test_outside_window_is_63016_and_nothing_is_sent(tw: FakeTwilio,
                                                          client: Client) -> None:
    with pytest.raises(TwilioRestException) as info:
        await client.messages.create_async(to=PATIENT, from_=tw.whatsapp_from, body="tok")
    assert info.value.code == 63016 and info.value.status == 400
    assert tw.messages_to(PATIENT) == []


async def test_window_closes_24_hours_after_the_last_inbound() -> None:
    clock = FixedClock(datetime(2026, 11, 23, 12, tzinfo=UTC))
    async with FakeTwilio(clock=clock) as fake:
        http = AsyncTwilioHttpClient()
        client = Client(fake.account_sid, fake.auth_token, http_client=http)
        client.api.base_url = fake.api_base_url
        fake.open_window(PATIENT)
        clock.set(clock.now() + timedelta(hours=23, minutes=59))
        await client.messages.create_async(to=PATIENT, from_=fake.whatsapp_from, body="a")
        clock.set(clock.now() + timedelta(minutes=1))
        with pytest.raises(TwilioRestException) as info:
            await client.messages.create_async(to=PATIENT, from_=fake.whatsapp_from, body="b")
        await http.close()
    assert info.value.code == 63016
    assert fake.last_inbound_at[PATIENT] == datetime(2026, 11, 23, 12, tzinfo=UTC)


async def test_template_by_content_sid_is_allowed_outside_the_window(
        tw: FakeTwilio, client: Client) -> None:
    tw.templates[TEMPLATE] = "You have a new secure message from {{1}}"
    msg = await client.messages.create_async(
        to=PATIENT, from_=tw.whatsapp_from, content_sid=TEMPLATE,
        content_variables=json.dumps({"1": "your clinic"}))
    assert msg.body == "You have a new secure message from your clinic"
    with pytest.raises(TwilioRestException) as info:
        await client.messages.create_async(to=PATIENT, from_=tw.whatsapp_from,
                                           content_sid="HX" + "cd" * 16)
    assert info.value.code == 21655
    with pytest.raises(TwilioRestException) as info:
        await client.messages.create_async(to=PATIENT, from_=tw.whatsapp_from,
                                           content_sid=TEMPLATE, content_variables="[1")
    assert info.value.code == 21656


@pytest.mark.parametrize(("form", "code"), [
    ({"From": "whatsapp:+14155238886", "Body": "x"}, 21604),
    ({"To": PATIENT, "Body": "x"}, 21603),
    ({"To": PATIENT, "From": "whatsapp:+14155238886"}, 21619),
    ({"To": PATIENT, "From": "whatsapp:+14155238886", "Body": "x" * 1601}, 21617),
    ({"To": "whatsapp:12345", "From": "whatsapp:+14155238886", "Body": "x"}, 21211),
    ({"To": PATIENT, "From": "+14155238886", "Body": "x"}, 21910),
    ({"To": PATIENT, "From": "whatsapp:+14155230000", "Body": "x"}, 63007),
    ({"To": PATIENT, "MessagingServiceSid": "MG1", "Body": "x"}, 21701),
    ({"To": PATIENT, "From": "whatsapp:+14155238886", "ContentVariables": "{}"}, 21654),
    ({"To": PATIENT, "From": "whatsapp:+14155238886", "Body": "x",
      "StatusCallback": "not a url"}, 21609),
])
async def test_validation_errors_have_twilio_codes(tw: FakeTwilio, form: dict[str, str],
                                                   code: int) -> None:
    tw.open_window(PATIENT)
    async with httpx.AsyncClient(auth=(tw.account_sid, tw.auth_token)) as http:
        resp = await http.post(f"{tw.url}/2010-04-01/Accounts/{tw.account_sid}/Messages.json",
                               data=form)
    assert resp.status_code == 400
    assert resp.json()["code"] == code and set(resp.json()) == TWILIO_ERROR_FIELDS
    assert tw.messages == {}


async def test_1600_characters_exactly_is_accepted(tw: FakeTwilio, client: Client) -> None:
    tw.open_window(PATIENT)
    msg = await client.messages.create_async(to=PATIENT, from_=tw.whatsapp_from,
                                             body="y" * 1600)
    assert msg.status == "queued"


async def test_injected_429_is_20429(tw: FakeTwilio, client: Client) -> None:
    tw.open_window(PATIENT)
    tw.inject_429(PATIENT, times=1)
    with pytest.raises(TwilioRestException) as info:
        await client.messages.create_async(to=PATIENT, from_=tw.whatsapp_from, body="a")
    assert info.value.status == 429 and info.value.code == 20429
    await client.messages.create_async(to=PATIENT, from_=tw.whatsapp_from, body="b")
    assert [m.body for m in tw.messages_to(PATIENT)] == ["b"]


async def test_faults_error_and_drop(tw: FakeTwilio, client: Client) -> None:
    tw.open_window(PATIENT)
    tw.faults = Faults(error_rate=1.0, seed=1)
    with pytest.raises(TwilioRestException) as info:
        await client.messages.create_async(to=PATIENT, from_=tw.whatsapp_from, body="a")
    assert info.value.status in (500, 502)
    tw.faults = Faults(drop_rate=1.0)
    async with httpx.AsyncClient(auth=(tw.account_sid, tw.auth_token)) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post(f"{tw.url}/2010-04-01/Accounts/{tw.account_sid}/Messages.json",
                            data={"To": PATIENT, "From": tw.whatsapp_from, "Body": "x"})
    tw.faults = Faults(timeout_rate=1.0, hang_seconds=2)
    async with httpx.AsyncClient(auth=(tw.account_sid, tw.auth_token), timeout=0.2) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post(f"{tw.url}/2010-04-01/Accounts/{tw.account_sid}/Messages.json",
                            data={"To": PATIENT, "From": tw.whatsapp_from, "Body": "x"})
    assert tw.messages == {}
    assert len(tw.requests) == 3


def test_sync_client_against_the_threaded_sandbox() -> None:
    with FakeTwilio() as fake:
        client = Client(fake.account_sid, fake.auth_token)
        client.api.base_url = fake.api_base_url
        fake.open_window(PATIENT)
        msg = client.messages.create(to=PATIENT, from_=fake.whatsapp_from, body="hello")
        fake.wait_until(lambda: fake.messages[msg.sid].status == "delivered")
        assert client.messages(msg.sid).fetch().status == "delivered"
        with pytest.raises(TwilioRestException) as info:
            client.messages("SM" + "0" * 32).fetch()
        assert info.value.status == 404 and info.value.code == 20404
