"""PTB's Bot on the aiohttp transport (bot.adapters.tg_request) against the fake Bot API:
JSON and multipart calls, file download, PTB's error parsing, timeouts, dropped
connections (without the token in the error), and proxies only when configured."""

from __future__ import annotations

import os

import pytest
from telegram import Bot
from telegram.error import NetworkError, RetryAfter, TimedOut

from medcrypt.bot.adapters.tg_polling import retry_after_seconds
from medcrypt.bot.adapters.tg_request import AiohttpRequest
from medcrypt.sandbox import FakeTelegram, Faults


def make_bot(tg: FakeTelegram, request: AiohttpRequest | None = None) -> Bot:
    return Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url,
               request=request or AiohttpRequest(4))


async def test_messages_documents_and_file_download(tg: FakeTelegram) -> None:
    tg.user_sends_text(301, "hi")
    blob = os.urandom(70_000)
    tg.user_sends_document(301, "lab.mcf", blob)
    async with make_bot(tg) as bot:
        me = await bot.get_me()
        assert me.is_bot
        updates = await bot.get_updates(timeout=0)
        assert updates[0].message is not None and updates[0].message.text == "hi"
        doc = updates[1].message.document if updates[1].message else None
        assert doc is not None
        file = await bot.get_file(doc.file_id)
        assert bytes(await file.download_as_bytearray()) == blob
        sent = await bot.send_message(301, "ünïcode ✓")
        assert sent.text == "ünïcode ✓"
        await bot.send_document(301, document=blob, filename="back.mcf")
    got = tg.messages_to(301)
    assert [m.text for m in got][:1] == ["ünïcode ✓"]
    assert got[1].document == blob and got[1].file_name == "back.mcf"


async def test_platform_errors_are_parsed_by_ptb(tg: FakeTelegram) -> None:
    tg.user_sends_text(302, "hi")
    tg.inject_429(302, retry_after=7)
    async with make_bot(tg) as bot:
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(302, "x")
        assert retry_after_seconds(caught.value) == 7
        await bot.send_message(302, "after the 429")
    assert [m.text for m in tg.messages_to(302)] == ["after the 429"]


async def test_dropped_connection_is_a_network_error_without_the_token(
        tg: FakeTelegram) -> None:
    tg.user_sends_text(303, "hi")
    async with make_bot(tg) as bot:
        tg.faults = Faults(drop_rate=1.0, methods=frozenset({"sendMessage"}))
        with pytest.raises(NetworkError) as caught:
            await bot.send_message(303, "x")
        assert not isinstance(caught.value, TimedOut)
        assert tg.token not in str(caught.value)
        assert tg.token.split(":")[1] not in repr(caught.value)


async def test_hanging_platform_times_out(tg: FakeTelegram) -> None:
    tg.user_sends_text(304, "hi")
    request = AiohttpRequest(2, read_timeout=0.3, write_timeout=0.3, connect_timeout=0.3,
                             pool_timeout=0.3)
    async with make_bot(tg, request) as bot:
        tg.faults = Faults(timeout_rate=1.0, hang_seconds=3,
                           methods=frozenset({"sendMessage"}))
        with pytest.raises(TimedOut):
            await bot.send_message(304, "x")


async def test_lifecycle_and_proxy_only_when_configured(
        tg: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> None:
    request = AiohttpRequest(1)
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request(tg.base_url + "/getMe", "POST")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    await request.initialize()
    assert request._session is not None and not request._session.trust_env
    await request.shutdown()
    await request.shutdown()  # idempotent
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    await request.initialize()
    assert request._session is not None and request._session.trust_env
    await request.shutdown()
    with pytest.raises(ValueError, match="at least 1"):
        AiohttpRequest(0)
