"""Threads between two paired browsers: a long message split for WhatsApp's 1600
characters and joined from its parts pasted in any order, a reply for Telegram opened
from a ``#token`` link after a reload, peer text shown as text only, a tampered token
and a replay refused with their typed errors (nothing added to the thread), and a month
shredded by the calendar leaving a line that says so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from tests.support import web
from tests.support.web import READY, open_app
from tests.support.web_flows import (
    SLOW_MS,
    error_code,
    open_thread,
    pair_web,
    receive,
    seal,
    two_set_up,
    unlock,
)

LONG = "Knee pain after the run, left side. " * 80  # ~2,900 characters


@pytest.fixture
def paired(browser: Any, web_server: web.RecordingServer) -> Iterator[tuple[Any, Any]]:
    with two_set_up(browser, web_server) as (physician, patient):
        pair_web(physician, patient)
        yield physician, patient


def texts(page: Any, direction: str) -> list[str]:
    return list(page.eval_on_selector_all(f"li.msg[data-dir={direction}] p",
                                          "ps => ps.map(p => p.textContent)"))


def test_parts_in_any_order_a_link_reply_and_text_only(paired: tuple[Any, Any],
                                                     web_server: web.RecordingServer) -> None:
    physician, patient = paired
    open_thread(patient, "Dr Rivera")
    parts = seal(patient, LONG, "whatsapp")
    assert len(parts) >= 2 and all(len(p) <= 1600 for p in parts)
    assert texts(patient, "out") == [LONG]
    open_thread(physician, "Sam — knee")
    for part in reversed(parts):  # last part first, one paste each
        receive(physician, f"Bot: new message\n{part}")
    assert texts(physician, "in") == [LONG]
    hostile = '<img src=x id=pwn><b>bold?</b>'
    reply = seal(physician, hostile, "telegram")
    assert len(reply) == 1 and len(reply[0]) <= 4096
    # The reply arrives by link: reload, unlock, the fragment waits in the inbox and the
    # open thread reads it. (From another page: the shell reads the fragment at start.)
    patient.goto("about:blank")
    open_app(patient, web_server, "#" + quote(reply[0], safe=""))
    assert "#" not in patient.url
    unlock(patient)
    patient.wait_for_selector("[data-pair-step=choose]", timeout=SLOW_MS)
    open_thread(patient, "Dr Rivera")
    patient.wait_for_function("() => document.querySelectorAll('li.msg[data-dir=in]').length == 1")
    assert texts(patient, "in") == [hostile]
    assert patient.query_selector("#pwn") is None and patient.query_selector("li.msg b") is None
    assert texts(patient, "out") == [LONG]


def test_tampered_and_replayed_tokens_get_typed_errors(paired: tuple[Any, Any]) -> None:
    physician, patient = paired
    open_thread(patient, "Dr Rivera")
    [tok] = seal(patient, "short one", "telegram")
    open_thread(physician, "Sam — knee")
    body = tok[len("[MEDCRYPT:v3:"):-1]
    i = len(body) // 2
    tampered = f"[MEDCRYPT:v3:{body[:i]}{'A' if body[i] != 'A' else 'B'}{body[i + 1:]}]"
    receive(physician, tampered)
    assert error_code(physician) in {"decryption_failed", "malformed_token"}
    assert texts(physician, "in") == []
    receive(physician, tok)
    assert texts(physician, "in") == ["short one"]
    receive(physician, tok)
    assert error_code(physician) == "replay_detected"
    assert texts(physician, "in") == ["short one"]


def test_a_shredded_month_leaves_a_line(paired: tuple[Any, Any]) -> None:
    _, patient = paired
    open_thread(patient, "Dr Rivera")
    seal(patient, "from the first month", "telegram")
    assert texts(patient, "out") == ["from the first month"]
    later = datetime.now(UTC) + timedelta(days=75)
    patient.clock.set_fixed_time(later.timestamp())
    patient.reload()
    patient.wait_for_selector(READY)
    unlock(patient)
    patient.wait_for_selector("[data-pair-step=choose]", timeout=SLOW_MS)
    open_thread(patient, "Dr Rivera")
    patient.wait_for_selector("li[data-shredded]")
    assert texts(patient, "out") == []
    assert "were shredded" in patient.inner_text("li[data-shredded]")
