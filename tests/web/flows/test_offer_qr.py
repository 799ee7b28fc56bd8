"""The web physician's offer drawn as a QR code, read back by the two patients that exist:

* a screenshot of the canvas the pairing screen draws is decoded by the CLI's own reader
  (zxing-cpp, an independent decoder) to exactly the offer text, and ``medcrypt pair
  accept --qr`` on that screenshot pairs: the web physician checks the CLI's accept and
  shows the CLI's verification code;
* the same kind of screenshot is played to a second browser through Chromium's fake
  camera (``--use-file-for-fake-video-capture``, Motion-JPEG made with Pillow): the web
  patient's scanner (jsQR) reads it and the two browsers show the same code.

The canvas is drawn under the app's CSP: no policy violation is reported on that screen.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from PIL import Image

from medcrypt.companion.qr import read_qr
from tests.support import web
from tests.support.companion import PASSPHRASE
from tests.support.terminal import EXE
from tests.support.web_flows import SLOW_MS, make_offer, ready_and_set_up, token


def offer_on_screen(browser: Any, server: web.RecordingServer, shot: Path) -> tuple[Any, Any, str]:
    """A set-up web physician showing an offer; its QR canvas screenshotted to ``shot``."""
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    ctx.add_init_script(web.VIOLATION_PROBE)
    physician = ctx.new_page()
    ready_and_set_up(physician, server)
    offer = make_offer(physician)
    canvas = physician.wait_for_selector("[data-step=offer] canvas.qr")
    assert canvas.get_attribute("aria-label") == "Pairing code as a QR image"
    canvas.screenshot(path=str(shot))
    assert physician.evaluate("window.__cspViolations") == []
    return ctx, physician, offer


def physician_checks(physician: Any, accept_token: str) -> str:
    physician.fill("textarea[name=accept]", accept_token)
    physician.click("[data-action=check-accept]")
    physician.wait_for_selector("[data-pair-step=physician-code]", timeout=SLOW_MS)
    return str(physician.get_attribute("[data-code]", "data-code"))


def cli(home: Path, *argv: str) -> dict[str, Any]:
    env = {**os.environ, "MEDCRYPT_PASSPHRASE": PASSPHRASE}
    env.pop("MEDCRYPT_HOME", None)
    env.pop("MEDCRYPT_NOW", None)
    done = subprocess.run([EXE, "--home", str(home), *argv], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}


def test_the_cli_patient_pairs_from_a_screenshot_of_the_web_physicians_qr(
        browser: Any, web_server: web.RecordingServer, tmp_path: Path, artifacts: Path) -> None:
    shot = tmp_path / "web-offer-qr.png"
    ctx, physician, offer = offer_on_screen(browser, web_server, shot)
    try:
        physician.screenshot(path=str(artifacts / "pair-offer-qr-phone.png"), full_page=True)
        assert read_qr(shot) == offer  # decoded text equals the offer, byte for byte
        home = tmp_path / "patient"
        cli(home, "init", "--role", "patient")
        accepted = cli(home, "pair", "accept", "--qr", str(shot), "--json", "--no-history")
        assert str(accepted["accept_token"]).startswith("[MEDCRYPT:v3:")
        assert physician_checks(physician, str(accepted["accept_token"])) \
            == accepted["verification_code"]
    finally:
        ctx.close()


def mjpeg_of(png: Path, out: Path, frames: int = 10) -> Path:
    """The QR centred on a 640x480 grey frame, as Motion-JPEG (JPEG frames one after
    another, which Chromium's fake capture device plays in a loop)."""
    qr = Image.open(png).convert("RGB")
    qr.thumbnail((440, 440))
    frame = Image.new("RGB", (640, 480), (235, 235, 228))
    frame.paste(qr, ((640 - qr.width) // 2, (480 - qr.height) // 2))
    with out.open("wb") as f:
        for _ in range(frames):
            frame.save(f, format="JPEG", quality=90)
    return out


def test_the_web_patient_scans_the_web_physicians_qr_with_the_camera(
        browser: Any, web_server: web.RecordingServer, tmp_path: Path) -> None:
    shot = tmp_path / "web-offer-qr.png"
    ctx, physician, _offer = offer_on_screen(browser, web_server, shot)
    video = mjpeg_of(shot, tmp_path / "web-offer-qr.mjpeg")
    camera = browser.browser_type.launch(
        executable_path=web.chromium_path(), headless=True,
        args=["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
              f"--use-file-for-fake-video-capture={video}"])
    try:
        pctx = camera.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
        pctx.grant_permissions(["camera"], origin=web_server.origin)
        patient = pctx.new_page()
        ready_and_set_up(patient, web_server)
        patient.click("[data-role=patient]")
        patient.fill("input[name=name]", "Dr Rivera")
        patient.click("[data-action=scan]")
        patient.wait_for_selector("textarea[data-token=accept]", timeout=SLOW_MS)
        code = patient.get_attribute("[data-code]", "data-code")
        assert code
        assert physician_checks(physician, token(patient, "accept")) == code
    finally:
        camera.close()
        ctx.close()
