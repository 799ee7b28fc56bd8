"""Status callbacks, media downloads and inbound webhooks, checked with RequestValidator."""

from __future__ import annotations

import httpx
import pytest
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from medcrypt.sandbox import FakeTwilio
from tests.support.receiver import BotReceiver
from tests.support.required_fields import (
    TWILIO_INBOUND_FIELDS,
    TWILIO_STATUS_CALLBACK_FIELDS,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
]

PATIENT = "whatsapp:+15551230002"


async def test_status_callbacks_are_signed_for_the_exact_url(
        tw: FakeTwilio, client: Client, receiver: BotReceiver) -> None:
    tw.open_window(PATIENT)
    callback = receiver.url + "/whatsapp/status?outbox=17"
    msg = await client.messages.create_async(to=PATIENT, from_=tw.whatsapp_from, body="tok",
                                             status_callback=callback)
    await tw.wait_until_async(lambda: len(tw.callbacks) == 2)
    assert [c.params["MessageStatus"] for c in tw.callbacks] == ["sent", "delivered"]
    validator = RequestValidator(tw.auth_token)
    for record in tw.callbacks:
        assert record.http_status == 200 and record.url == callback
        assert validator.validate(callback, record.params, record.signature)
        assert not validator.validate(callback.replace("17", "18"), record.params,
                                      record.signature)
        assert set(record.params) >= TWILIO_STATUS_CALLBACK_FIELDS
        assert record.params["MessageSid"] == msg.sid
    assert all(s.valid for s in receiver.seen)
    fetched = await client.messages(msg.sid).fetch_async()
    assert fetched.status == "delivered" and fetched.date_sent is not None


async def test_undeliverable_number_ends_undelivered_with_error_code(
        tw: FakeTwilio, client: Client, receiver: BotReceiver) -> None:
    tw.open_window(PATIENT)
    tw.set_undeliverable("+15551230002", 63024)  # bare number or whatsapp: address
    msg = await client.messages.create_async(to=PATIENT, from_=tw.whatsapp_from, body="tok",
                                             status_callback=receiver.url + "/whatsapp/status")
    await tw.wait_until_async(lambda: len(tw.callbacks) == 2)
    assert [c.params["MessageStatus"] for c in tw.callbacks] == ["sent", "undelivered"]
    assert tw.callbacks[1].params["ErrorCode"] == "63024"
    assert tw.messages[msg.sid].error_code == 63024


async def test_callback_window_mode_fails_asynchronously_like_production(
        receiver: BotReceiver) -> None:
    async with FakeTwilio(window_error="callback") as fake:
        receiver.auth_token = fake.auth_token
        client = Client(fake.account_sid, fake.auth_token)
        client.api.base_url = fake.api_base_url
        async with httpx.AsyncClient(auth=(fake.account_sid, fake.auth_token)) as http:
            resp = await http.post(
                f"{fake.url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json",
                data={"To": PATIENT, "From": fake.whatsapp_from, "Body": "tok",
                      "StatusCallback": receiver.url + "/whatsapp/status"})
        assert resp.status_code == 201
        await fake.wait_until_async(lambda: len(fake.callbacks) == 1)
    assert fake.callbacks[0].params["MessageStatus"] == "failed"
    assert fake.callbacks[0].params["ErrorCode"] == "63016"
    assert receiver.seen[-1].valid


async def test_media_is_downloaded_like_whatsapp_and_only_the_first(
        tw: FakeTwilio, client: Client, receiver: BotReceiver) -> None:
    tw.open_window(PATIENT)
    receiver.media["a1"] = (b"%PDF-1.7 sealed-attachment\xff", "application/pdf")
    receiver.media["a2"] = (b"second", "application/octet-stream")
    msg = await client.messages.create_async(
        to=PATIENT, from_=tw.whatsapp_from, body="file",
        media_url=[receiver.url + "/media/a1", receiver.url + "/media/a2"])
    assert msg.num_media == "2"
    await tw.wait_until_async(lambda: tw.messages[msg.sid].status == "delivered")
    fetched = tw.messages[msg.sid].media
    assert fetched[0].data == b"%PDF-1.7 sealed-attachment\xff" and fetched[0].status == 200
    assert fetched[1].data == b"" and "one attachment" in (fetched[1].error or "")


async def test_media_download_failure_fails_the_message(
        tw: FakeTwilio, client: Client, receiver: BotReceiver) -> None:
    tw.open_window(PATIENT)
    expired = await client.messages.create_async(
        to=PATIENT, from_=tw.whatsapp_from, media_url=[receiver.url + "/media/expired"],
        status_callback=receiver.url + "/whatsapp/status")
    remote = await client.messages.create_async(
        to=PATIENT, from_=tw.whatsapp_from, media_url=["https://example.org/x.bin"])
    # Status changes first, then the callback is posted: wait for both.
    await tw.wait_until_async(lambda: tw.messages[remote.sid].status == "failed"
                              and len(tw.callbacks) == 1)
    assert tw.messages[expired.sid].media[0].error == "HTTP 404"
    assert tw.messages[expired.sid].error_code == 11200
    assert tw.messages[remote.sid].media[0].error is not None
    assert "loopback" in (tw.messages[remote.sid].media[0].error or "")
    assert tw.callbacks[-1].params["ErrorCode"] == "11200"


async def test_inbound_webhook_is_signed_and_carries_media(
        tw: FakeTwilio, receiver: BotReceiver) -> None:
    result = await tw.user_sends_whatsapp_async(
        "+15551230002", "hello", media=[(b"%PDF-1.7", "application/pdf")],
        profile_name="Pat")
    assert result.http_status == 200 and receiver.seen[-1].valid
    params = result.params
    assert set(params) >= TWILIO_INBOUND_FIELDS
    assert params["From"] == PATIENT and params["To"] == tw.whatsapp_from
    assert params["WaId"] == "15551230002" and params["SmsStatus"] == "received"
    assert params["NumMedia"] == "1" and params["MessageType"] == "document"
    assert result.message_sid.startswith("MM")
    async with httpx.AsyncClient() as http:
        media = await http.get(params["MediaUrl0"])
    assert media.content == b"%PDF-1.7"
    assert media.headers["Content-Type"].startswith(params["MediaContentType0"])
    assert tw.last_inbound_at[PATIENT] is not None


async def test_inbound_location_carries_coordinates_and_no_media(
        tw: FakeTwilio, receiver: BotReceiver) -> None:
    result = await tw.user_sends_whatsapp_async("+15551230002", location=(19.4326, -99.1332))
    assert result.http_status == 200 and receiver.seen[-1].valid
    params = result.params
    assert set(params) >= TWILIO_INBOUND_FIELDS
    assert params["MessageType"] == "location" and params["NumMedia"] == "0"
    assert (params["Latitude"], params["Longitude"]) == ("19.4326", "-99.1332")
    assert params["Body"] == ""


@pytest.mark.parametrize("mode", ["forged", "missing"])
async def test_forged_and_missing_signatures_are_refused(
        tw: FakeTwilio, receiver: BotReceiver, mode: str) -> None:
    result = await tw.user_sends_whatsapp_async("+15551230002", "x", signature=mode)  # type: ignore[arg-type]
    assert result.http_status == 403
    assert receiver.accepted_sids == []
    assert tw.last_inbound_at == {}  # an attacker's post does not open the window
    if mode == "missing":
        assert receiver.seen[-1].signature is None


async def test_signature_for_another_url_is_refused(tw: FakeTwilio,
                                                    receiver: BotReceiver) -> None:
    result = await tw.user_sends_whatsapp_async(
        "+15551230002", "x", sign_url=receiver.url + "/whatsapp/other")
    assert result.http_status == 403


async def test_replay_reaches_the_bot_twice_with_the_same_sid(
        tw: FakeTwilio, receiver: BotReceiver) -> None:
    first = await tw.user_sends_whatsapp_async("+15551230002", "once")
    again = await tw.replay_async(first)
    same_sid = await tw.user_sends_whatsapp_async("+15551230002", "once",
                                                  message_sid=first.message_sid)
    assert (first.http_status, again.http_status, same_sid.http_status) == (200, 200, 200)
    assert again.response_body == "duplicate" and same_sid.response_body == "duplicate"
    assert receiver.accepted_sids == [first.message_sid]
    assert [i.message_sid for i in tw.inbound] == [first.message_sid] * 3


async def test_proxy_public_url_differs_from_listen_url(tw: FakeTwilio) -> None:
    async with BotReceiver(tw.auth_token, public_base="https://bot.clinic.example") as rec:
        listen = rec.url + "/whatsapp/inbound"
        public = "https://bot.clinic.example/whatsapp/inbound"
        ok = await tw.user_sends_whatsapp_async("+15551230002", "x", webhook_url=listen,
                                                sign_url=public)
        naive = await tw.user_sends_whatsapp_async("+15551230002", "x", webhook_url=listen)
    assert ok.http_status == 200 and naive.http_status == 403


def test_sync_driver_in_threaded_mode() -> None:
    with FakeTwilio() as fake, BotReceiver(fake.auth_token) as rec:
        fake.webhook_url = rec.url + "/whatsapp/inbound"
        result = fake.user_sends_whatsapp("+15551230003", "hi")
        assert result.http_status == 200
        assert fake.replay(result).response_body == "duplicate"
        client = Client(fake.account_sid, fake.auth_token)
        client.api.base_url = fake.api_base_url
        msg = client.messages.create(to="whatsapp:+15551230003", from_=fake.whatsapp_from,
                                     body="reply in window",
                                     status_callback=rec.url + "/whatsapp/status")
        fake.wait_until(lambda: len(fake.callbacks) == 2)
        assert fake.messages[msg.sid].statuses == ["queued", "sent", "delivered"]


async def test_sync_driver_refuses_in_async_mode(tw: FakeTwilio) -> None:
    tw.webhook_url = "http://127.0.0.1:9/x"
    with pytest.raises(RuntimeError, match="_async variant"):
        tw.user_sends_whatsapp("+15551230002", "x")


async def test_whatsapp_media_of_an_undocumented_type_fails_like_twilio(
        tw: FakeTwilio, client: Client, receiver: BotReceiver) -> None:
    """Twilio delivers WhatsApp media only of its documented types, and checks that the
    bytes match the Content-Type: octet-stream (12300), a "PDF" that is not one (12300)
    and a document over 16 MB (11751) fail in the status callback."""
    tw.open_window(PATIENT)
    receiver.media["bin"] = (b"\x00sealed", "application/octet-stream")
    receiver.media["fake"] = (b"\x00not a pdf", "application/pdf")
    receiver.media["big"] = (b"%PDF-1.7 " + bytes(16 * 1000 * 1000), "application/pdf")
    sids = [(await client.messages.create_async(
        to=PATIENT, from_=tw.whatsapp_from, media_url=[receiver.url + f"/media/{name}"])).sid
        for name in ("bin", "fake", "big")]
    await tw.wait_until_async(lambda: all(tw.messages[s].status == "failed" for s in sids))
    assert [tw.messages[s].error_code for s in sids] == [12300, 12300, 11751]
