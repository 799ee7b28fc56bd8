"""The real python-telegram-bot ``Bot`` against the fake Bot API: shapes and errors."""

from __future__ import annotations

import asyncio
import datetime as dtm

import httpx
import pytest
from telegram import Bot
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter

from medcrypt.sandbox import FakeTelegram, RateLimits

# retry_after is read as an int on purpose (what PTB 22 returns by default).
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def make_bot(fake: FakeTelegram, token: str | None = None) -> Bot:
    return Bot(token or fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)


def seconds(value: int | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


async def test_get_me_describes_the_bot(tg: FakeTelegram) -> None:
    async with make_bot(tg) as bot:
        me = await bot.get_me()
    assert me.is_bot and me.username == "medcrypt_sandbox_bot"
    assert me.id == int(tg.token.split(":")[0])


async def test_wrong_token_is_invalid_token() -> None:
    async with FakeTelegram() as fake:
        bot = make_bot(fake, token="123:wrong-token")
        with pytest.raises(InvalidToken):
            await bot.initialize()
    assert fake.requests[0].api_method == "getMe"


async def test_wrong_token_raw_response_shape(tg: FakeTelegram) -> None:
    async with httpx.AsyncClient() as client:
        resp = await client.post(f"{tg.url}/bot1:nope/getMe")
    assert resp.status_code == 401
    assert resp.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_user_text_arrives_as_update_and_reply_is_recorded(tg: FakeTelegram) -> None:
    mid = tg.user_sends_text(1001, "/start hello", first_name="Pat")
    async with make_bot(tg) as bot:
        updates = await bot.get_updates(timeout=0)
        assert len(updates) == 1
        msg = updates[0].message
        assert msg is not None and msg.message_id == mid and msg.text == "/start hello"
        assert msg.chat.type == "private" and msg.chat.id == 1001
        assert msg.from_user is not None and msg.from_user.first_name == "Pat"
        assert msg.entities[0].type == "bot_command" and msg.entities[0].length == 6
        sent = await bot.send_message(1001, "welcome")
        assert sent.message_id == mid + 1 and sent.from_user is not None
        assert sent.from_user.is_bot
        # Confirming with offset removes the update for good.
        assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == ()
    assert [m.text for m in tg.messages_to(1001)] == ["welcome"]


async def test_unknown_chat_and_long_text_are_bad_requests(tg: FakeTelegram) -> None:
    tg.user_sends_text(7, "hi")
    async with make_bot(tg) as bot:
        with pytest.raises(BadRequest, match=r"[Cc]hat not found"):
            await bot.send_message(999, "x")
        with pytest.raises(BadRequest, match="too long"):
            await bot.send_message(7, "x" * 4097)
        await bot.send_message(7, "x" * 4096)
        # Telegram counts UTF-16 code units: 2049 emoji are 4098 units.
        with pytest.raises(BadRequest, match="too long"):
            await bot.send_message(7, "\U0001f600" * 2049)
    assert len(tg.messages_to(7)) == 1


async def test_blocked_user_is_forbidden(tg: FakeTelegram) -> None:
    tg.user_sends_text(8, "hi")
    tg.block_user(8)
    async with make_bot(tg) as bot:
        with pytest.raises(Forbidden, match="blocked"):
            await bot.send_message(8, "x")


async def test_document_upload_get_file_download_and_resend(tg: FakeTelegram) -> None:
    tg.user_sends_text(5, "hi")
    payload = bytes(range(256)) * 40
    async with make_bot(tg) as bot:
        msg = await bot.send_document(5, payload, filename="sealed.medcrypt",
                                      caption="attachment")
        doc = msg.document
        assert doc is not None and doc.file_size == len(payload)
        assert doc.file_name == "sealed.medcrypt" and msg.caption == "attachment"
        tg_file = await bot.get_file(doc.file_id)
        assert bytes(await tg_file.download_as_bytearray()) == payload
        again = await bot.send_document(5, doc.file_id)
        assert again.document is not None and again.document.file_id == doc.file_id
        with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
            await bot.send_document(5, "not-a-file-id")
    sent = tg.messages_to(5)
    assert [m.document for m in sent] == [payload, payload]


async def test_user_document_can_be_fetched_by_the_bot(tg: FakeTelegram) -> None:
    tg.user_sends_document(6, "report.pdf", b"%PDF-1.7 fake", caption="c")
    async with make_bot(tg) as bot:
        (update,) = await bot.get_updates(timeout=0)
        assert update.message is not None
        doc = update.message.document
        assert doc is not None and doc.mime_type == "application/pdf"
        data = await (await bot.get_file(doc.file_id)).download_as_bytearray()
    assert bytes(data) == b"%PDF-1.7 fake"


async def test_delete_message_user_and_own(tg: FakeTelegram) -> None:
    user_mid = tg.user_sends_text(3, "plaintext secret")
    async with make_bot(tg) as bot:
        assert await bot.delete_message(3, user_mid)
        own = await bot.send_message(3, "x")
        assert await bot.delete_message(3, own.message_id)
        with pytest.raises(BadRequest, match="not found"):
            await bot.delete_message(3, user_mid)
    user_msg = tg.user_message(3, user_mid)
    assert user_msg is not None and user_msg.deleted
    assert tg.messages_to(3)[0].deleted


async def test_injected_429_is_retry_after_for_that_chat_only(tg: FakeTelegram) -> None:
    tg.user_sends_text(10, "a")
    tg.user_sends_text(11, "b")
    tg.inject_429(10, retry_after=7, times=2)
    async with make_bot(tg) as bot:
        for _ in range(2):
            with pytest.raises(RetryAfter) as info:
                await bot.send_message(10, "x")
            assert seconds(info.value.retry_after) == 7
        await bot.send_message(11, "other chat is not delayed")
        await bot.send_message(10, "third try passes")
    assert [m.text for m in tg.messages_to(10)] == ["third try passes"]


async def test_429_raw_shape(tg: FakeTelegram) -> None:
    tg.user_sends_text(12, "a")
    tg.inject_429(12, retry_after=3)
    async with httpx.AsyncClient() as client:
        resp = await client.post(f"{tg.base_url}{tg.token}/sendMessage",
                                 json={"chat_id": 12, "text": "x"})
    assert resp.status_code == 429
    assert resp.json() == {"ok": False, "error_code": 429,
                           "description": "Too Many Requests: retry after 3",
                           "parameters": {"retry_after": 3}}


async def test_rate_limits_per_chat_burst() -> None:
    now = [0.0]
    async with FakeTelegram(rate_limits=RateLimits(per_chat_burst=2),
                            monotonic=lambda: now[0]) as fake:
        fake.user_sends_text(20, "a")
        fake.user_sends_text(21, "b")
        async with make_bot(fake) as bot:
            await bot.send_message(20, "1")
            await bot.send_message(20, "2")
            with pytest.raises(RetryAfter) as info:
                await bot.send_message(20, "3")
            assert seconds(info.value.retry_after) == 1
            await bot.send_message(21, "other chat has its own bucket")
            now[0] += 1.0
            await bot.send_message(20, "refilled")
    assert [m.text for m in fake.messages_to(20)] == ["1", "2", "refilled"]


async def test_rate_limits_global() -> None:
    now = [0.0]
    limits = RateLimits(global_per_second=30, global_burst=30)
    async with FakeTelegram(rate_limits=limits, monotonic=lambda: now[0]) as fake:
        for uid in range(100, 131):
            fake.user_sends_text(uid, "x")
        async with make_bot(fake) as bot:
            for uid in range(100, 130):
                await bot.send_message(uid, "ok")
            with pytest.raises(RetryAfter):
                await bot.send_message(130, "over the global limit")
    assert fake.messages_to(130) == []


async def test_second_long_poll_conflicts_the_first(tg: FakeTelegram) -> None:
    async with make_bot(tg) as bot1, make_bot(tg) as bot2:
        first = asyncio.create_task(bot1.get_updates(timeout=5, read_timeout=10))
        await asyncio.sleep(0.1)
        second = asyncio.create_task(bot2.get_updates(timeout=0))
        with pytest.raises(Conflict, match="terminated by other getUpdates"):
            await first
        assert await second == ()


async def test_allowed_updates_filters_callback_queries(tg: FakeTelegram) -> None:
    tg.user_sends_text(30, "hello")
    async with make_bot(tg) as bot:
        sent = await bot.send_message(30, "pick")
        tg.user_presses_button(30, sent.message_id, "yes")
        updates = await bot.get_updates(timeout=0, allowed_updates=["message"])
        assert [u.message is not None for u in updates] == [True]
        assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == ()


async def test_callback_query_and_answer(tg: FakeTelegram) -> None:
    tg.user_sends_text(31, "hello")
    async with make_bot(tg) as bot:
        sent = await bot.send_message(31, "pick")
        (first,) = await bot.get_updates(timeout=0)
        tg.user_presses_button(31, sent.message_id, "yes")
        (update,) = await bot.get_updates(offset=first.update_id + 1, timeout=0)
        query = update.callback_query
        assert query is not None and query.data == "yes"
        assert await bot.answer_callback_query(query.id)


async def test_request_log_keeps_every_body(tg: FakeTelegram) -> None:
    tg.user_sends_text(40, "a")
    async with make_bot(tg) as bot:
        await bot.send_message(40, "MARKER-1234")
        await bot.send_document(40, b"FILE-MARKER", filename="f.bin")
    assert b"MARKER-1234" in tg.request_bytes()
    assert b"FILE-MARKER" in tg.request_bytes()
    methods = [r.api_method for r in tg.requests]
    assert "sendMessage" in methods and "sendDocument" in methods


async def test_raw_json_and_query_encodings_are_accepted(tg: FakeTelegram) -> None:
    tg.user_sends_text(41, "a")
    async with httpx.AsyncClient() as client:
        r1 = await client.post(f"{tg.base_url}{tg.token}/sendMessage",
                               json={"chat_id": 41, "text": "json"})
        r2 = await client.get(f"{tg.base_url}{tg.token}/sendMessage",
                              params={"chat_id": "41", "text": "query"})
        r3 = await client.post(f"{tg.base_url}{tg.token}/noSuchMethod")
        r4 = await client.post(f"{tg.base_url}{tg.token}/sendMessage",
                               json={"chat_id": 41})
    assert r1.json()["result"]["text"] == "json" and r2.json()["result"]["text"] == "query"
    assert r3.status_code == 404 and r3.json()["description"] == "Not Found"
    assert r4.status_code == 400
    assert r4.json()["description"] == "Bad Request: message text is empty"


async def test_files_over_20_mb_cannot_be_fetched_by_bots(tg: FakeTelegram) -> None:
    tg.user_sends_document(13, "scan.bin", b"\x00" * (20 * 1024 * 1024 + 1))
    async with make_bot(tg) as bot:
        (update,) = await bot.get_updates(timeout=0)
        assert update.message is not None and update.message.document is not None
        with pytest.raises(BadRequest, match="too big"):
            await bot.get_file(update.message.document.file_id)


async def test_file_download_needs_the_right_token(tg: FakeTelegram) -> None:
    tg.user_sends_text(14, "a")
    async with make_bot(tg) as bot:
        msg = await bot.send_document(14, b"secret bytes", filename="f.bin")
        assert msg.document is not None
        path = (await bot.get_file(msg.document.file_id)).file_path
    assert path is not None
    relative = path.split(tg.token + "/", 1)[1]
    async with httpx.AsyncClient() as client:
        ok = await client.get(f"{tg.base_file_url}{tg.token}/{relative}")
        wrong = await client.get(f"{tg.base_file_url}1:wrong/{relative}")
    assert ok.content == b"secret bytes"
    assert wrong.status_code == 404 and b"secret" not in wrong.content


async def test_users_who_never_started_the_bot_cannot_be_written_to(tg: FakeTelegram) -> None:
    """Telegram: a user the bot never heard from gets 403 "bot can't initiate
    conversation with a user"; an id Telegram does not know, 400 "chat not found"."""
    tg.user_exists(11)
    async with make_bot(tg) as bot:
        with pytest.raises(Forbidden, match="can't initiate conversation"):
            await bot.send_message(11, "x")
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.send_message(12, "x")
        tg.user_sends_text(11, "/start")
        assert (await bot.send_message(11, "x")).text == "x"


async def test_block_and_unblock_arrive_as_my_chat_member(tg: FakeTelegram) -> None:
    tg.user_sends_text(13, "/start")
    tg.block_user(13)
    tg.unblock_user(13)
    async with make_bot(tg) as bot:
        updates = await bot.get_updates(timeout=0, allowed_updates=["my_chat_member"])
    changes = [(u.my_chat_member.old_chat_member.status, u.my_chat_member.new_chat_member.status)
               for u in updates if u.my_chat_member is not None]
    assert changes == [("member", "kicked"), ("kicked", "member")]
