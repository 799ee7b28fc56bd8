"""``medcrypt-bot demo`` end to end: the README's main job must run and tell the truth.

The demo runs once for the whole package (tests/demo/conftest.py), through the bot's
command line; these tests read its transcript. The demo checks its own claims and exits
1 if one fails; these tests also assert the lines a reader relies on, so a transcript
that stopped saying them (or a demo that stopped checking) fails here. The break-glass
fallback runs as its own ``medcrypt-bot demo`` process, from an empty directory with
nothing in the environment but PATH, as a new user would start it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from medcrypt.demo.month import APRIL_NOTE
from tests.support.demo import DemoRecord

#: A pairing tag as the demo prints it (PROTOCOL §37).
TAG = r"[0-9A-Z]{3}-[0-9A-Z]{3}"

pytestmark = pytest.mark.xdist_group("demo")


@pytest.fixture
def transcript(demo_run: DemoRecord) -> str:
    assert demo_run.status == 0, demo_run.transcript[-3000:]
    return demo_run.transcript


@pytest.mark.slow
def test_demo_runs_and_reports_no_plaintext(transcript: str) -> None:
    out = transcript
    assert "companion opens: 'Your HbA1c is 6.1%" in out
    assert "identical to the original" in out
    assert "Not sent: this chat only carries encrypted messages" in out
    assert out.count("no plaintext") == 3
    assert "LEAK" not in out


@pytest.mark.slow
def test_every_claim_checked_and_true(transcript: str) -> None:
    checks = re.findall(r"^  CHECK (.+): (yes|NO)$", transcript, re.MULTILINE)
    assert len(checks) == 12
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
def test_shredded_pairing_refuses_next_months_tokens(transcript: str) -> None:
    assert re.search(rf"Admin A +/shred {TAG} … → bot: Shredded pairing {TAG}\. .*"
                     r"ended for good", transcript)
    for who in ("Rivera", "Sam"):
        assert re.search(rf"^  {who} +bot: MedCrypt: the clinic shredded your conversation "
                         rf"{TAG} on 2027-04-08 09:00 UTC.*medcrypt pair end --pairing {TAG}",
                         transcript, re.MULTILINE)
    assert "[server: pairing unpaired, ended by /shred; 0 relayed token(s)" in transcript
    for who in ("Rivera", "thief"):
        assert re.search(rf"^  {who} +.*bot: Not sent: the clinic shredded conversation",
                         transcript, re.MULTILINE)
    assert "next month's tokens of the shredded pairing delivered: none" in transcript
    assert re.search(r"Rivera +companion: Ended pairing [0-9a-f]{32} on this device",
                     transcript)
    assert ("CHECK a /shred pairing refuses next month's token (both sides, nothing "
            "delivered): yes") in transcript


@pytest.mark.slow
def test_tags_and_labels_name_the_pairing(transcript: str) -> None:
    named = re.search(rf"Rivera +companion names the pairing ({TAG}); bot: Pairing offer "
                      rf"({TAG}) registered", transcript)
    assert named is not None and named.group(1) == named.group(2)
    tag = named.group(1)
    assert f"Pairing {tag} is shown as: Sam Okafor ({tag}) (on this device only" in transcript
    assert f"companion: From Sam Okafor ({tag}): 'Thank you doctor" in transcript
    assert re.search(rf"Admin A +/pairings → bot: {tag}: telegram, whatsapp; active; last "
                     r"activity 2027-04-0\d", transcript)
    assert ("CHECK one tag names the pairing at the bot, in /pairings and in the companion "
            "('From <label> (tag)'); the label never left the device: yes") in transcript
    assert "label: 'Sam Okafor'" not in transcript


@pytest.mark.slow
def test_break_glass_recovers_what_was_sent(transcript: str) -> None:
    recovered = re.findall(r"recovered +(\S+) physician_to_patient: '(.+)'", transcript)
    assert recovered == [("2027-04", APRIL_NOTE[:60])]
    assert "the shredded month 2027-03: absent" in transcript


@pytest.mark.slow
def test_v3_pairing_shows_the_code_on_both_screens_and_a_stolen_copy_stops(
        transcript: str) -> None:
    sam = re.search(r"Sam's screen shows code (\d{3} \d{3})", transcript)
    rivera = re.search(r"Rivera's screen shows code (\d{3} \d{3})", transcript)
    assert sam is not None and rivera is not None and sam.group(1) == rivera.group(1)
    assert "confirmation: verified" in transcript
    assert "the copy opens the message sent right after the copy: yes" in transcript
    assert re.search(r"after one round trip the stolen copy opens the next message: no - it "
                     r"stopped working", transcript)
    for claim in ("v3 pairing: the same code on both screens, and the confirmation verified",
                  "v3: a stolen copy of the companion opens nothing after one round trip"):
        assert f"CHECK {claim}: yes" in transcript


@pytest.mark.slow
def test_audit_verify_ok_and_head_printed(transcript: str) -> None:
    found = re.search(r"verify +Audit log OK, not witnessed: (\d+) entries, head seq (\d+) "
                      r"\(\w+\), (\d+) signed checkpoints", transcript)
    assert found is not None
    assert int(found.group(1)) >= 10 and int(found.group(3)) >= 1
    assert re.search(r"head +Audit head: seq \d+, hash [0-9a-f]{32}", transcript)


@pytest.mark.slow
def test_no_plaintext_anywhere(transcript: str) -> None:
    for where in ("database file", "requests Telegram received", "requests Twilio received"):
        assert f"check      {where}: no plaintext" in transcript
    assert "LEAK" not in transcript


@pytest.mark.slow
def test_break_glass_through_the_functions_the_commands_call(tmp_path: Path) -> None:
    """The fallback path (chat commands not used) recovers the same message."""
    done = subprocess.run([sys.executable, "-m", "medcrypt.bot", "demo", "--break-glass",
                           "functions"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=180, check=False,
                          env={"PATH": str(Path(sys.executable).parent)})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "note       break-glass driven through the functions" in done.stdout
    assert re.search(r"Admin B +approves [0-9a-f]{10} → bot: Break-glass request [0-9a-f]{10} "
                     r"approved", done.stdout)
    assert f"physician_to_patient: '{APRIL_NOTE[:60]}'" in done.stdout
    assert "CHECK break-glass recovered text equals what was sent: yes" in done.stdout
