"""``medcrypt-bot demo`` end to end: the README's main job must run and tell the truth.

The demo is run exactly as ``scripts/demo.sh`` runs it (a ``medcrypt-bot demo``
process); the test reads its transcript. The demo checks its own claims and exits 1 if
one fails; this test also asserts the lines a reader relies on, so a transcript that
stopped saying them (or a demo that stopped checking) fails here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from medcrypt.demo.month import APRIL_NOTE

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def transcript() -> str:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MEDCRYPT_CONFIG", "MEDCRYPT_NOW", "MEDCRYPT_HOME")}
    done = subprocess.run([sys.executable, "-m", "medcrypt.bot", "demo"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_every_claim_checked_and_true(transcript: str) -> None:
    checks = re.findall(r"^  CHECK (.+): (yes|NO)$", transcript, re.MULTILINE)
    assert len(checks) == 8
    assert all(ok == "yes" for _, ok in checks), checks
    assert "Done: only tokens crossed the platforms and the server." in transcript


@pytest.mark.slow
def test_clinic_setup_gives_three_truncated_shares(transcript: str) -> None:
    shares = re.findall(r"share given to (Dr A|Dr B|Director C)\s*: (\w+ \w+ … \w+ \w+) "
                        r"\((\d+) words\)", transcript)
    assert [s[0] for s in shares] == ["Dr A", "Dr B", "Director C"]
    assert all(int(n) >= 20 for _, _, n in shares)


@pytest.mark.slow
def test_rotation_notice_reaches_both(transcript: str) -> None:
    seen = re.findall(r"^  (Rivera|Sam) +bot: MedCrypt: new encryption keys from today "
                      r"\(2027-04\)", transcript, re.MULTILINE)
    assert sorted(seen) == ["Rivera", "Sam"]


@pytest.mark.slow
def test_old_month_token_refused_after_grace(transcript: str) -> None:
    assert re.search(r"Rivera +bot: Not sent: .*2027-03.* shredded", transcript)
    assert re.search(r"companion: medcrypt: error: epoch 2027-03 was shredded at 2027-04-08",
                     transcript)
    assert "fragments of the shredded tokens: none found" in transcript


@pytest.mark.slow
def test_break_glass_recovers_what_was_sent(transcript: str) -> None:
    recovered = re.findall(r"recovered +(\S+) physician_to_patient: '(.+)'", transcript)
    assert recovered == [("2027-04", APRIL_NOTE[:60])]
    assert "the shredded month 2027-03: absent" in transcript


@pytest.mark.slow
def test_audit_verify_ok_and_head_printed(transcript: str) -> None:
    found = re.search(r"verify +Audit log OK: (\d+) entries, head seq (\d+) \(\w+\), "
                      r"(\d+) signed checkpoints", transcript)
    assert found is not None
    assert int(found.group(1)) >= 10 and int(found.group(3)) >= 1
    assert re.search(r"head +Audit head: seq \d+, hash [0-9a-f]{32}", transcript)


@pytest.mark.slow
def test_no_plaintext_anywhere(transcript: str) -> None:
    for where in ("database file", "requests Telegram received", "requests Twilio received"):
        assert f"check      {where}: no plaintext" in transcript
    assert "LEAK" not in transcript


@pytest.mark.slow
def test_break_glass_through_the_functions_the_commands_call() -> None:
    """The fallback path (chat commands not used) recovers the same message."""
    done = subprocess.run([sys.executable, "-m", "medcrypt.bot", "demo", "--break-glass",
                           "functions"], cwd=ROOT, capture_output=True, text=True,
                          timeout=180, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "note       break-glass driven through the functions" in done.stdout
    assert re.search(r"Admin B +approves [0-9a-f]{10} → bot: Break-glass request [0-9a-f]{10} "
                     r"approved", done.stdout)
    assert f"physician_to_patient: '{APRIL_NOTE[:60]}'" in done.stdout
    assert "CHECK break-glass recovered text equals what was sent: yes" in done.stdout
