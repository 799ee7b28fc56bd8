"""The real PTB ``Application`` against the fake: long polling, webhook mode, faults."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from aiohttp import web
from telegram import Bot, Update
from telegram.error import NetworkError, TimedOut
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from medcrypt.sandbox import FakeTelegram, FaultKind, Faults


def build_app(fake: FakeTelegram) -> Application:  # type: ignore[type-arg]
    app = (Application.builder().token(fake.token).base_url(fake.base_url)
           .base_file_url(fake.base_file_url).build())

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        await update.message.reply_text("echo:" + update.message.text)

    app.add_handler(MessageHandler(filters.TEXT, echo))
    return app


async def test_long_polling_delivers_user_messages_to_handlers(tg: FakeTelegram) -> None:
    app = build_app(tg)
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=2)
        tg.user_sends_text(50, "one")
        tg.user_sends_text(50, "two")
        tg.user_sends_text(51, "three")
        msgs = await tg.wait_for_messages_async(50, 2, timeout=10)
        other = await tg.wait_for_messages_async(51, 1, timeout=10)
        await app.updater.stop()
        await app.stop()
    assert [m.text for m in msgs] == ["echo:one", "echo:two"]
    assert other[0].text == "echo:three"
    assert tg.pending_updates() <= 1  # the last batch is confirmed by the next poll only


async def test_long_poll_wakes_up_when_a_user_writes(tg: FakeTelegram) -> None:
    async with Bot(tg.token, base_url=tg.base_url) as bot:
        poll = asyncio.create_task(bot.get_updates(timeout=30, read_timeout=40))
        await asyncio.sleep(0.05)
        tg.user_sends_text(52, "wake up")
        updates = await asyncio.wait_for(poll, 5)
    assert updates[0].message is not None and updates[0].message.text == "wake up"


async def test_webhook_mode_posts_updates_with_the_secret(tg: FakeTelegram) -> None:
    """The fake pushes updates to a registered webhook with its secret header. The bot
    serves its webhook itself (starlette, no PTB ``[webhooks]``/tornado), so the receiver
    here is a plain server that checks the secret and hands the update to the real PTB
    ``Application``, as the bot's webhook does."""
    secret = "s3cret-Token_1"
    app = build_app(tg)

    async def receive(request: web.Request) -> web.Response:
        if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != secret:
            return web.Response(status=403)
        await app.process_update(Update.de_json(await request.json(), app.bot))
        return web.Response()

    server = web.Application()
    server.router.add_post("/tg-hook", receive)
    runner = web.AppRunner(server)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    hook = f"http://127.0.0.1:{runner.addresses[0][1]}/tg-hook"
    try:
        async with app:
            await app.start()
            await app.bot.set_webhook(url=hook, secret_token=secret)
            assert tg.webhook.url == hook
            assert tg.webhook.secret_token == secret
            tg.user_sends_text(60, "via webhook")
            msgs = await tg.wait_for_messages_async(60, 1, timeout=10)
            async with httpx.AsyncClient() as client:
                forged = await client.post(hook, json={"update_id": 1})
            wrong = await tg.post_to_webhook_async({"update_id": 2}, secret_token="guess")
            right = await tg.post_to_webhook_async({"update_id": 3}, secret_token=secret)
            await app.stop()
    finally:
        await runner.cleanup()
    assert msgs[0].text == "echo:via webhook"
    assert tg.webhook.deliveries[0][1] == 200
    assert forged.status_code == 403  # no secret header
    assert wrong == 403 and right == 200


async def test_webhook_can_be_removed_and_set_again(tg: FakeTelegram) -> None:
    got: list[dict[str, object]] = []

    async def receive(request: web.Request) -> web.Response:
        got.append(await request.json())
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    hook = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        async with Bot(tg.token, base_url=tg.base_url) as bot:
            for round_ in range(3):
                assert await bot.set_webhook(hook)
                tg.user_sends_text(62, f"round {round_}")
                for _ in range(500):
                    if len(got) > round_:
                        break
                    await asyncio.sleep(0.01)
                assert await bot.delete_webhook()
            tg.user_sends_text(62, "polled")
            (update,) = await bot.get_updates(timeout=0)
    finally:
        await runner.cleanup()
    assert len(got) == 3
    assert update.message is not None and update.message.text == "polled"


def test_driver_refuses_text_a_telegram_app_would_split() -> None:
    fake = FakeTelegram()
    with pytest.raises(ValueError, match="4096"):
        fake.user_sends_text(1, "x" * 4097)


async def test_webhook_receiver_sees_exact_header_and_failures_are_retried(
        tg: FakeTelegram) -> None:
    seen: list[tuple[str | None, dict[str, object]]] = []

    async def receive(request: web.Request) -> web.Response:
        seen.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"),
                     await request.json()))
        return web.Response(status=500 if len(seen) == 1 else 200)

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with Bot(tg.token, base_url=tg.base_url) as bot:
            assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="abc")
            with pytest.raises(Exception, match="webhook is active"):
                await bot.get_updates(timeout=0)
            tg.user_sends_text(61, "hello")
            for _ in range(400):
                if len(seen) >= 2:
                    break
                await asyncio.sleep(0.01)
            info = await bot.get_webhook_info()
            assert await bot.delete_webhook()
    finally:
        await runner.cleanup()
    assert [s[0] for s in seen[:2]] == ["abc", "abc"]
    assert seen[0][1] == seen[1][1]  # the same update again after the failure
    assert "update_id" in seen[0][1] and "message" in seen[0][1]
    assert info.last_error_message is not None and "500" in info.last_error_message
    assert info.pending_update_count == 0


async def test_invalid_webhook_secret_is_refused(tg: FakeTelegram) -> None:
    async with Bot(tg.token, base_url=tg.base_url) as bot:
        with pytest.raises(Exception, match="unallowed characters"):
            await bot.set_webhook("http://127.0.0.1:9/x", secret_token="no spaces allowed")


async def test_fault_error_and_drop_surface_as_network_errors(tg: FakeTelegram) -> None:
    tg.user_sends_text(70, "a")
    async with Bot(tg.token, base_url=tg.base_url) as bot:
        tg.faults = Faults(error_rate=1.0, methods=frozenset({"sendMessage"}), seed=3)
        for _ in range(4):
            with pytest.raises(NetworkError):
                await bot.send_message(70, "x")
        tg.faults = Faults(drop_rate=1.0, methods=frozenset({"sendMessage"}))
        with pytest.raises(NetworkError):
            await bot.send_message(70, "x")
        tg.faults = Faults()
        await bot.send_message(70, "after the storm")
    assert [m.text for m in tg.messages_to(70)] == ["after the storm"]
    assert tg.fault_plan.counts[FaultKind.NONE] >= 1


async def test_fault_timeout_hangs_past_the_client_timeout(tg: FakeTelegram) -> None:
    tg.user_sends_text(71, "a")
    tg.faults = Faults(timeout_rate=1.0, hang_seconds=3.0, methods=frozenset({"sendMessage"}))
    async with Bot(tg.token, base_url=tg.base_url) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(71, "x", read_timeout=0.2)
    assert tg.messages_to(71) == []


async def test_lost_response_acts_but_the_client_sees_an_error(tg: FakeTelegram) -> None:
    tg.user_sends_text(72, "a")
    tg.faults = Faults(lost_response_rate=1.0, methods=frozenset({"sendMessage"}))
    async with Bot(tg.token, base_url=tg.base_url) as bot:
        with pytest.raises(NetworkError):
            await bot.send_message(72, "x")
    assert [m.text for m in tg.messages_to(72)] == ["x"]


async def test_fault_rate_limit_is_telegram_429(tg: FakeTelegram) -> None:
    tg.user_sends_text(73, "a")
    tg.faults = Faults(rate_limit_rate=1.0, retry_after=4)
    async with httpx.AsyncClient() as client:
        resp = await client.post(f"{tg.base_url}{tg.token}/sendMessage",
                                 json={"chat_id": 73, "text": "x"})
    assert resp.status_code == 429 and resp.json()["parameters"] == {"retry_after": 4}


def test_threaded_mode_serves_a_blocking_caller() -> None:
    with FakeTelegram() as fake:
        fake.user_sends_text(80, "hi")

        async def send() -> None:
            async with Bot(fake.token, base_url=fake.base_url) as bot:
                await bot.send_message(80, "from another loop")

        asyncio.run(send())
        assert fake.wait_for_messages(80, 1, timeout=5)[0].text == "from another loop"
        with pytest.raises(TimeoutError):
            fake.wait_for_messages(80, 2, timeout=0.05)
        url = fake.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)


def test_a_fake_can_be_stopped_and_started_again_keeping_its_state() -> None:
    fake = FakeTelegram()
    with fake:
        fake.user_sends_text(90, "queued while the bot was down")
    with pytest.raises(RuntimeError, match="not running"):
        _ = fake.url
    with fake:
        assert fake.pending_updates() == 1
        assert httpx.post(f"{fake.base_url}{fake.token}/getMe").json()["ok"]
