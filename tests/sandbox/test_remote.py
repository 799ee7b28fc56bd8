"""The fakes in a child process: the real PTB and twilio clients talk to them over
loopback, the driver operations cross the pipe, and the child goes away with its parent."""

from __future__ import annotations

import os

import pytest
from telegram import Bot
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from medcrypt.bot.adapters.tg_request import AiohttpRequest
from medcrypt.crypto.errors import TransportError
from medcrypt.sandbox.remote import RemoteSandbox
from tests.support.receiver import BotReceiver


async def test_telegram_through_the_child_process() -> None:
    async with RemoteSandbox() as sb:
        assert sb.pid != os.getpid()
        info = sb.info
        assert info["tg_base_url"].startswith("http://127.0.0.1:")
        [mid] = await sb.call("user_sends_texts", [[4242, "hello from a user"]])
        assert mid == 1
        bot = Bot(info["tg_token"], base_url=info["tg_base_url"],
                  base_file_url=info["tg_file_url"], request=AiohttpRequest(4))
        async with bot:
            updates = await bot.get_updates(timeout=1)
            assert [u.message.text for u in updates if u.message] == ["hello from a user"]
            await bot.send_message(4242, "reply one")
            await bot.send_message(4242, "reply two")
        assert await sb.call("wait_tg", 4242, 2, 5) == ["reply one", "reply two"]
        totals = await sb.call("totals")
        assert totals["tg_sent"] == 2 and totals["tw_messages"] == 0


async def test_twilio_rest_through_the_child_process() -> None:
    async with RemoteSandbox() as sb:
        info = sb.info
        http = AsyncTwilioHttpClient()
        client = Client(info["tw_account_sid"], info["tw_auth_token"], http_client=http)
        client.api.base_url = info["tw_url"]
        try:
            msg = await client.messages.create_async(
                to="+15550001111", from_="+14155238886", body="out")
            assert msg.sid.startswith("SM")
        finally:
            await http.close()
        assert await sb.call("tw_bodies", "+15550001111") == ["out"]
        # Without a configured webhook the driver cannot post: a clear error, no hang.
        with pytest.raises(TransportError, match="webhook_url is not set"):
            await sb.call("whatsapp_burst", [["+15550001111", "in"]], 2)


async def test_paced_mix_reaches_a_configured_webhook() -> None:
    async with BotReceiver("placeholder") as rec, RemoteSandbox(
            webhook_url=rec.url + "/whatsapp/inbound") as sb:
        rec.auth_token = sb.info["tw_auth_token"]
        result = await sb.call("paced", [["wa", "+15550002222", "a"],
                                         ["tg", 77, "b"],
                                         ["wa", "+15550002222", "c"]], 200)
        assert result["statuses"] == [200, 200]
        assert result["offered_per_second"] > 0
        assert [s.params["Body"] for s in rec.seen] == ["a", "c"]
        assert all(s.valid for s in rec.seen)  # signed like Twilio, for the right URL
        assert await sb.call("tg_texts", 77) == []  # the user wrote; the bot did not


async def test_errors_cross_the_pipe_and_the_child_exits() -> None:
    sb = RemoteSandbox()
    await sb.start()
    proc = sb._proc
    try:
        with pytest.raises(TransportError, match="unknown sandbox operation"):
            await sb.call("__init__")
        with pytest.raises(TransportError, match="ValueError"):
            await sb.call("paced", [["sms", "+1555", "x"]], 10)
        assert await sb.call("tg_texts", 1) == []  # still serving after an error
    finally:
        await sb.stop()
    assert proc is not None and proc.returncode == 0
    with pytest.raises(TransportError, match="not running"):
        await sb.call("totals")
