"""Attachments between two paired browsers: the patient seals a PDF (a few MiB, read as a
stream) into an encrypted container plus a message holding its manifest; the physician
opens the message, then the container, and gets the same bytes under the same name. A
container with one byte changed gives a typed error and no file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import web
from tests.support.web_flows import (
    SLOW_MS,
    open_thread,
    pair_web,
    receive,
    token,
    two_set_up,
)


@pytest.fixture
def paired(browser: Any, web_server: web.RecordingServer) -> Iterator[tuple[Any, Any]]:
    with two_set_up(browser, web_server, downloads=True) as (physician, patient):
        pair_web(physician, patient)
        yield physician, patient


def test_a_pdf_sealed_in_one_browser_opens_in_the_other(paired: tuple[Any, Any],
                                                        tmp_path: Path) -> None:
    physician, patient = paired
    original = tmp_path / "knee scan.pdf"
    original.write_bytes(b"%PDF-1.7\n" + os.urandom(3 * 1024 * 1024 + 12345))
    open_thread(patient, "Dr Rivera")
    with patient.expect_download(timeout=SLOW_MS) as sealed_dl:
        patient.set_input_files("input[name=attach]", str(original))
    container = tmp_path / "sent.mcf"
    sealed_dl.value.save_as(container)
    assert sealed_dl.value.suggested_filename == "knee scan.pdf.mcf"
    assert container.read_bytes()[:4] == b"MCF3"
    assert b"%PDF" not in container.read_bytes()
    assert patient.query_selector("[data-file-warning]") is None  # 3 MiB fits every app
    patient.wait_for_selector("[data-outgoing]", timeout=SLOW_MS)
    parts = [token(patient, f"out-{i}")
             for i in range(int(patient.get_attribute("[data-outgoing]", "data-outgoing")))]
    open_thread(physician, "Sam — knee")
    for part in parts:
        receive(physician, part)
    physician.wait_for_selector("[data-file='knee scan.pdf'] input[name=container]")
    # One byte changed in the container: a typed error, no download.
    tampered = tmp_path / "tampered.mcf"
    data = bytearray(container.read_bytes())
    data[len(data) // 2] ^= 1
    tampered.write_bytes(bytes(data))
    physician.set_input_files("input[name=container]", str(tampered))
    el = physician.wait_for_selector("[data-file] [role=alert][data-error]", timeout=SLOW_MS)
    assert el.get_attribute("data-error") == "decryption_failed"
    with physician.expect_download(timeout=SLOW_MS) as opened_dl:
        physician.set_input_files("input[name=container]", str(container))
    assert opened_dl.value.suggested_filename == "knee scan.pdf"
    received = tmp_path / "received.pdf"
    opened_dl.value.save_as(received)
    assert received.read_bytes() == original.read_bytes()


def test_a_file_too_large_for_whatsapp_is_told_before_it_is_sealed(
        paired: tuple[Any, Any], tmp_path: Path) -> None:
    """Issue 16: "the companions warn before sealing a file that is too large for the
    destination". 16.5 MB seals into a container over WhatsApp's 16 MB and under
    Telegram's 20 MB: the warning names WhatsApp only, and the file is still sealed (the
    other person may be on Telegram)."""
    _, patient = paired
    big = tmp_path / "mri.pdf"
    big.write_bytes(b"%PDF-1.7\n" + os.urandom(16_500_000))
    open_thread(patient, "Dr Rivera")
    with patient.expect_download(timeout=SLOW_MS) as sealed_dl:
        patient.set_input_files("input[name=attach]", str(big))
    assert sealed_dl.value.suggested_filename == "mri.pdf.mcf"
    patient.wait_for_selector("[data-outgoing]", timeout=SLOW_MS)
    warnings = patient.eval_on_selector_all(
        "[data-file-warning]", "ws => ws.map(w => [w.dataset.fileWarning, w.textContent])")
    assert [app for app, _ in warnings] == ["WhatsApp"]
    assert "16 MB" in warnings[0][1] and "WhatsApp" in warnings[0][1]
