"""Pairing through the QR PNG / phone photo, from two separate homes, via the real CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

from medcrypt.companion.offer_input import extract_offer_text
from medcrypt.companion.qr import read_qr
from medcrypt.crypto.keyless.wire import Kind, parse_token
from tests.support.companion import T0, Cli, Pair, phone_photo


def test_pair_through_photo_and_talk_both_ways(cli: Cli, pair: Pair) -> None:
    reg = parse_token(str(pair.offer["registration_token"]))
    assert reg.header.kind is Kind.PAIR_REGISTER
    assert reg.header.pairing_id is not None and reg.header.pairing_id.hex() == pair.pairing_id
    assert not (cli.tmp / "offer.png").exists()  # the one-time QR image was burned

    complaint = "Chest pain since Monday, worse at night."
    to_doc = cli.ok(pair.pat, "encrypt", stdin=complaint).out
    assert to_doc.startswith("[MEDCRYPT:v2:") and "Chest pain" not in to_doc
    assert cli.ok(pair.doc, "decrypt", stdin=to_doc).out == complaint

    advice = "Come in tomorrow 9:00. Bring your meds."
    to_pat = cli.ok(pair.doc, "encrypt", stdin=advice).out
    assert cli.ok(pair.pat, "decrypt", stdin=to_pat).out == advice

    assert (cli.ok(pair.doc, "safety-number").out == cli.ok(pair.pat, "safety-number").out)
    status = cli.ok(pair.pat, "status", "--json").json()
    assert status["epoch"] == "2026-11"
    assert status["next_rotation"] == "2026-12-01T00:00:00+00:00"
    assert status["grace_end_of_current_epoch"] == {pair.pairing_id: "2026-12-08T00:00:00+00:00"}


def test_offer_text_under_the_qr_works_too(cli: Cli) -> None:
    doc, pat = cli.tmp / "d", cli.tmp / "p"
    cli.ok(doc, "init", "--role", "physician")
    cli.ok(pat, "init", "--role", "patient")
    offer = cli.ok(doc, "pair", "offer", "--no-terminal", "--json").json()
    pasted = f"Here it is:\n{str(offer['offer_text'])[:60]}\n{str(offer['offer_text'])[60:]}."
    accepted = cli.ok(pat, "pair", "accept", "--offer", "-", "--json", stdin=pasted).json()
    cli.ok(doc, "pair", "complete", "-", "--code", str(accepted["verification_code"]),
           stdin=f"token: {accepted['accept_token']}")


def test_terminal_qr_is_drawn(cli: Cli) -> None:
    doc = cli.tmp / "d"
    cli.ok(doc, "init", "--role", "physician")
    out = cli.ok(doc, "pair", "offer").out
    assert "█" in out or "▀" in out
    assert "[MEDCRYPT:v3:" in out and "medcrypt-pair:2:" in out  # new pairings are v3


def test_photos_at_several_angles_decode(cli: Cli, tmp_path: Path) -> None:
    doc = cli.tmp / "d"
    cli.ok(doc, "init", "--role", "physician")
    offer = cli.ok(doc, "pair", "offer", "--png", "o.png", "--json").json()
    for i, (angle, tilt) in enumerate(((10.0, 0.0), (-12.5, 0.08), (16.0, 0.06))):
        photo = phone_photo(tmp_path / "o.png", tmp_path / f"p{i}.jpg", seed=i, angle=angle,
                            tilt=tilt)
        assert extract_offer_text(read_qr(photo)) == offer["offer_text"]


def test_third_home_that_saw_the_qr_cannot_read(cli: Cli) -> None:
    """v2 (the v3 variant, where the second accept aborts, is in test_cli_v3_pairing)."""
    doc, pat, eve = cli.tmp / "doc", cli.tmp / "pat", cli.tmp / "eve"
    cli.ok(doc, "init", "--role", "physician")
    cli.ok(pat, "init", "--role", "patient")
    cli.ok(eve, "init", "--role", "patient")
    cli.ok(doc, "pair", "offer", "--protocol", "2", "--png", "offer.png", "--json")
    shutil.copy(cli.tmp / "offer.png", cli.tmp / "eve-saw.png")
    token = cli.ok(pat, "pair", "accept", "--qr", "offer.png", "--json").json()["accept_token"]
    # Eve photographs the same QR and makes her own accept ...
    eve_token = cli.ok(eve, "pair", "accept", "--qr", "eve-saw.png", "--json").json()[
        "accept_token"]
    cli.ok(doc, "pair", "complete", str(token))
    # ... which the physician refuses: the offer is single-use.
    refused = cli(doc, "pair", "complete", str(eve_token))
    assert refused.code == 4 and "already used" in refused.err and refused.out == ""

    secret = cli.ok(doc, "encrypt", stdin="HIV test negative").out
    stolen = cli(eve, "decrypt", stdin=secret)
    assert stolen.code == 3 and stolen.out == ""
    assert "HIV" not in stolen.err
    assert cli.ok(pat, "decrypt", stdin=secret).out == "HIV test negative"
    eve_reply = cli.ok(eve, "encrypt", stdin="pretending to be the patient").out
    assert cli(doc, "decrypt", stdin=eve_reply).code == 3


def test_expired_offer_is_refused_on_both_sides(cli: Cli) -> None:
    doc, pat = cli.tmp / "doc", cli.tmp / "pat"
    cli.ok(doc, "init", "--role", "physician")
    cli.ok(pat, "init", "--role", "patient")
    cli.ok(doc, "pair", "offer", "--png", "offer.png", "--json")
    late = cli(pat, "pair", "accept", "--qr", "offer.png", now="2026-11-23T10:10:01+00:00")
    assert late.code == 4 and "expired" in late.err
    token = cli.ok(pat, "pair", "accept", "--qr", "offer.png", "--json",
                   now="2026-11-23T10:09:00+00:00").json()["accept_token"]
    assert (cli.tmp / "offer.png").exists()
    refused = cli(doc, "pair", "complete", str(token), now="2026-11-23T10:10:30+00:00")
    assert refused.code == 4 and "expired" in refused.err.lower()
    status = cli.ok(doc, "status", "--json", now="2026-11-23T10:11:00+00:00").json()
    assert status["pairings"] == [] and status["offers"][0]["open"] is False
    assert not (cli.tmp / "offer.png").exists()  # the expired QR image is removed too


def test_reused_offer_is_refused(cli: Cli, pair: Pair) -> None:
    again = cli(pair.pat, "pair", "accept", "--qr", str(pair.photo))
    assert again.code == 4 and "already" in again.err


def test_roles_are_enforced(cli: Cli, pair: Pair) -> None:
    assert cli(pair.pat, "pair", "offer").code == 2
    assert cli(pair.doc, "pair", "accept", "--qr", str(pair.photo)).code == 2


def test_bad_pinned_time_is_a_config_error(cli: Cli) -> None:
    assert T0.startswith("2026-11-23")
    bad = cli(cli.tmp / "x", "status", now="yesterday")
    assert bad.code == 2 and "MEDCRYPT_NOW" in bad.err
    naive = cli(cli.tmp / "x", "status", now="2026-11-23T10:00:00")
    assert naive.code == 2 and "zone" in naive.err
