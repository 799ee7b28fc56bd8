"""Malformed bodies at the Telegram webhook: 400 and a reason in the log, nothing more.

The attack (issue 12, item 10): a POST carrying the right secret token but a JSON array
body. On 06f4938 ``Update.de_json`` raised AttributeError, which the handler did not
expect: 500 and a traceback in the log. An update object PTB cannot parse got 400, so
Telegram would have redelivered it for ever, holding back every later update.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from medcrypt.bot.app.logs import setup_logging
from medcrypt.bot.domain.config import parse_settings
from tests.support.ports import worker_port
from tests.support.rigs import Rig, live_bot

SECRET = "edge-Secret_0123456789"
NAME = "EvangelinaOrtiz-Brambila"
TEXT = "the lump in my breast is growing"


@pytest.fixture
async def webhook_rig(tmp_path: Path) -> AsyncIterator[tuple[Rig, str]]:
    setup_logging(parse_settings({"logging": {"format": "json", "level": "INFO"}}))
    port = worker_port()
    async with live_bot(tmp_path, environ={"TELEGRAM_WEBHOOK_SECRET": SECRET},
                        telegram={"mode": "webhook", "listen_port": port,
                                  "webhook_url": f"https://127.0.0.1:{port}/telegram"}) as rig:
        yield rig, f"http://127.0.0.1:{port}/telegram"


async def post(url: str, body: bytes, *, secret: str = SECRET) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(url, content=body, headers={
            "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret})


def message(update_id: int, **changes: Any) -> dict[str, Any]:
    user = {"id": 4242002, "is_bot": False, "first_name": NAME}
    msg = {"message_id": 7, "date": 1_767_000_000, "text": TEXT, "from": user,
           "chat": {"id": 4242002, "type": "private", "first_name": NAME}}
    return {"update_id": update_id, "message": {**msg, **changes}}


async def test_json_array_body_with_the_right_secret_gets_400_and_no_traceback(
        webhook_rig: tuple[Rig, str], capsys: pytest.CaptureFixture[str]) -> None:
    _rig, url = webhook_rig
    body = json.dumps([message(1)]).encode()
    response = await post(url, body)
    assert response.status_code == 400
    logged = capsys.readouterr().err
    assert "Traceback" not in logged
    assert "telegram_webhook_refused" in logged and "malformed" in logged
    for secret in (NAME, "Evangelina", TEXT, "breast"):
        assert secret not in logged


@pytest.mark.parametrize("body", [
    b"not json at all", b"\xff\xfe\x00garbage", b"42", b'"a string"', b"null",
    b'{"update_id": "seven"}', b'{"no_update_id": true}', b"[]", b"{" * 5000,
], ids=["text", "not-utf8", "number", "string", "null", "update-id-string", "no-update-id",
        "empty-array", "deep-nesting"])
async def test_other_malformed_bodies_get_400_and_no_traceback(
        webhook_rig: tuple[Rig, str], capsys: pytest.CaptureFixture[str],
        body: bytes) -> None:
    _rig, url = webhook_rig
    response = await post(url, body)
    assert response.status_code == 400
    assert "Traceback" not in capsys.readouterr().err


async def test_update_ptb_cannot_parse_is_confirmed_and_audited_not_redelivered(
        webhook_rig: tuple[Rig, str], capsys: pytest.CaptureFixture[str]) -> None:
    rig, url = webhook_rig
    poison = message(31, **{"from": {"id": 4242002, "first_name": NAME}})  # no is_bot
    response = await post(url, json.dumps(poison).encode())
    # 200: Telegram stops redelivering it, so it cannot hold back later updates.
    assert response.status_code == 200
    assert (await post(url, json.dumps(message(32)).encode())).status_code == 200
    skipped = [dict(e.details or {}) for e in rig.audit_log().export()
               if e.action == "platform.input_skipped"]
    assert skipped == [{"platform": "telegram", "reason": "unparseable", "update_id": 31}]
    logged = capsys.readouterr().err
    assert "Traceback" not in logged
    for secret in (NAME, "Evangelina", TEXT, "breast"):
        assert secret not in logged
