"""No PHI, token, key or phone number survives the logging pipeline."""

from __future__ import annotations

import io
import json
import logging

import structlog

from medcrypt.crypto.logsetup import configure_logging
from medcrypt.crypto.redact import REDACTED, redact_event, scrub_text

PHONE = "+41791234567"
TOKEN = "[MEDCRYPT:v2:AgEAAAAAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA]"
KEY = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80="
PHI = "Patient reports chest pain"


def _capture() -> io.StringIO:
    out = io.StringIO()
    configure_logging(level="DEBUG", json=True, stream=out)
    return out


def test_sensitive_field_names_are_dropped_whatever_the_value() -> None:
    out = _capture()
    log = structlog.get_logger()
    log.info("relay", body=PHI, text=PHI, sender_phone=PHONE, server_key=KEY, token=TOKEN,
             nested={"message_text": PHI, "ok": 1})
    record = json.loads(out.getvalue())
    for name in ("body", "text", "sender_phone", "server_key", "token"):
        assert record[name] == REDACTED
    assert record["nested"] == {"message_text": REDACTED, "ok": 1}
    assert PHI not in out.getvalue()


def test_values_are_scrubbed_by_shape_in_any_field_and_in_the_message() -> None:
    out = _capture()
    log = structlog.get_logger()
    log.warning(f"send failed for {PHONE} with {TOKEN}", detail=f"whatsapp:{PHONE} k={KEY}",
                chat=123456789012)
    text = out.getvalue()
    for marker in (PHONE, TOKEN, KEY, "123456789012", "41791234567"):
        assert marker not in text


def test_exceptions_are_scrubbed() -> None:
    out = _capture()
    log = structlog.get_logger()
    try:
        raise ValueError(f"bad input {TOKEN} from {PHONE}")
    except ValueError:
        log.exception("boom")
    text = out.getvalue()
    assert "ValueError" in text
    assert TOKEN not in text
    assert PHONE not in text


def test_stdlib_logging_from_libraries_is_scrubbed() -> None:
    out = _capture()
    logging.getLogger("httpx").warning(
        "HTTP Request: POST https://api.telegram.org/bot123456789:"
        "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage to %s",
        PHONE,
    )
    text = out.getvalue()
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in text
    assert PHONE not in text


def test_harmless_metadata_survives() -> None:
    event = redact_event(None, "info", {"event": "rotated", "epoch": 682, "count": 3,
                                        "pairing_ref": "p_1a2b", "reason": "shredded epoch"})
    assert event == {"event": "rotated", "epoch": 682, "count": 3, "pairing_ref": "p_1a2b",
                     "reason": "shredded epoch"}


def test_bytes_are_never_rendered() -> None:
    event = redact_event(None, "info", {"event": "x", "blob": b"secret-bytes"})
    assert event["blob"] == "<12 bytes>"


def test_scrub_text_masks_truncated_tokens_and_emails() -> None:
    assert "MEDCRYPT" not in scrub_text("part [MEDCRYPT:v2:AAAA")
    assert "doc@example.org" not in scrub_text("mail doc@example.org")
