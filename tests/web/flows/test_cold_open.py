"""What the cold open (issue 14's benchmark, bench/web_thread_open.py) was made faster by,
held in place with the real app in Chromium:

* opening a thread commits nothing when no month is due to shred (the calendar used to
  re-seal and durably write the whole keystore at every open), while a month that is due
  is still shredded and committed at the open, once;
* jsQR, which only the camera scan uses, is not in what every open loads.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support import web
from tests.support.web import READY
from tests.support.web_flows import (
    SLOW_MS,
    open_thread,
    pair_web,
    seal,
    two_set_up,
    unlock,
)
from tests.support.web_idb import sealed_sha256

THREAD = "Dr Rivera"  # the patient's name for the pairing (pair_web)


def texts(page: Any) -> list[str]:
    return list(page.eval_on_selector_all("li.msg p", "ps => ps.map(p => p.textContent)"))


def reopen(page: Any) -> None:
    """Back to the list, then the thread again, until its view is drawn."""
    page.click("[data-action=back]")
    page.wait_for_selector("[data-thread-step=list]")
    page.click(f"button[data-thread]:has-text('{THREAD}')")
    page.wait_for_selector("[data-thread-open]")


def test_opening_a_thread_with_nothing_due_writes_nothing(
        browser: Any, web_server: web.RecordingServer) -> None:
    with two_set_up(browser, web_server) as (physician, patient):
        pair_web(physician, patient)
        open_thread(patient, THREAD)
        seal(patient, "the knee again", "telegram")
        before = sealed_sha256(patient)  # the message's commit
        reopen(patient)
        assert texts(patient) == ["the knee again"]
        assert sealed_sha256(patient) == before


def test_a_month_due_at_thread_open_is_shredded_and_committed_once(
        browser: Any, web_server: web.RecordingServer) -> None:
    with two_set_up(browser, web_server) as (physician, patient):
        pair_web(physician, patient)
        open_thread(patient, THREAD)
        seal(patient, "from the first month", "telegram")
        patient.clock.set_fixed_time((datetime.now(UTC) + timedelta(days=75)).timestamp())
        patient.reload()
        patient.wait_for_selector(READY)
        unlock(patient)
        patient.wait_for_selector("[data-pair-step=choose]", timeout=SLOW_MS)
        before = sealed_sha256(patient)
        open_thread(patient, THREAD)
        patient.wait_for_selector("li[data-shredded]")
        assert texts(patient) == []
        shredded = sealed_sha256(patient)
        assert shredded != before  # the shred was committed at the open
        reopen(patient)
        patient.wait_for_selector("li[data-shredded]")
        assert sealed_sha256(patient) == shredded  # and is not due again


def test_jsqr_is_loaded_by_the_scan_not_by_every_open(web_build: web.Build) -> None:
    app = web_build.outdir / "app"
    index = (app / "index.html").read_text()
    main = next(p for p in app.glob("main-*.js") if p.name in index)
    assert b"jsQR" not in main.read_bytes()
    chunks = [p for p in app.glob("chunk-*.js") if b"jsQR" in p.read_bytes()]
    assert len(chunks) == 1
    assert chunks[0].name in main.read_text()  # reached by the entry's dynamic import()
