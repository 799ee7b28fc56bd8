"""Pairing in both roles on the flow screens, each side in its own browser profile (its
own keystore), the tokens carried between them as the chat would: the physician's offer
text, the patient's accept, the physician's KEY_CONFIRM. Both screens show the same
verification code; the physician's confirm and the patient's "mark verified" end on a
verified badge that survives a reload. A tampered accept is refused
with its typed error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import web
from tests.support.web import READY
from tests.support.web_flows import (
    SLOW_MS,
    accept,
    error_code,
    make_offer,
    show,
    token,
    two_set_up,
    unlock,
)


@pytest.fixture
def two(browser: Any, web_server: web.RecordingServer) -> Iterator[tuple[Any, Any]]:
    """A physician's and a patient's browser, each set up, on the pairing screen."""
    with two_set_up(browser, web_server) as (physician, patient):
        yield physician, patient


def test_web_physician_and_web_patient_pair_and_verify(two: tuple[Any, Any]) -> None:
    physician, patient = two
    offer = make_offer(physician)
    assert offer.startswith("medcrypt-pair:2:")
    accept_token, patient_code = accept(patient, offer)
    assert accept_token.startswith("[MEDCRYPT:v3:")
    physician.fill("textarea[name=accept]", f"bot notice\n{accept_token}\n")
    physician.click("[data-action=check-accept]")
    physician.wait_for_selector("[data-pair-step=physician-code]")
    assert physician.get_attribute("[data-code]", "data-code") == patient_code
    physician.click("[data-action=confirm]")
    physician.wait_for_selector("[data-pair-step=verify]")
    assert physician.get_attribute("[data-verified]", "data-verified") == "true"
    confirm_token = token(physician, "confirm")
    patient.fill("textarea[name=confirm]", confirm_token)
    patient.click("[data-action=finish]")
    patient.wait_for_selector("[data-pair-step=verify]")
    assert "Dr Rivera" in patient.inner_text("[data-step=verify]")
    assert patient.get_attribute("[data-code]", "data-code") == patient_code
    assert patient.get_attribute("[data-verified]", "data-verified") == "false"
    patient.click("[data-action=mark-verified]")
    patient.wait_for_selector("[data-verified=true]")
    # Committed: after a reload and an unlock the pairing is there, verified.
    patient.reload()
    patient.wait_for_selector(READY)
    unlock(patient)
    patient.wait_for_selector("[data-pair-step=choose]", timeout=SLOW_MS)
    listed = patient.wait_for_selector("button[data-pairing]")
    assert listed.inner_text() == "Dr Rivera"
    assert patient.get_attribute("li [data-verified]", "data-verified") == "true"
    listed.click()
    assert patient.get_attribute("[data-code]", "data-code") == patient_code


def test_a_tampered_accept_is_refused_and_changes_nothing(two: tuple[Any, Any]) -> None:
    physician, patient = two
    offer = make_offer(physician)
    accept_token, _ = accept(patient, offer)
    body = accept_token[len("[MEDCRYPT:v3:"):-1]
    flipped = body[:40] + ("A" if body[40] != "A" else "B") + body[41:]
    physician.fill("textarea[name=accept]", f"[MEDCRYPT:v3:{flipped}]")
    physician.click("[data-action=check-accept]")
    assert error_code(physician) in {"decryption_failed", "malformed_token", "bad_token"}
    assert physician.get_attribute("[data-pair-step]", "data-pair-step") == "physician-wait"
    # The genuine accept still works after the tampered one changed nothing.
    physician.fill("textarea[name=accept]", accept_token)
    physician.click("[data-action=check-accept]")
    physician.wait_for_selector("[data-pair-step=physician-code]")
    # The step survives a trip to another screen (a re-render keeps it).
    show(physician, "home")
    show(physician, "pair")
    physician.wait_for_selector("[data-pair-step=physician-code]")


def reopen(page: Any) -> None:
    """Reload and unlock: the module's screen state is gone, the keystore is not."""
    page.reload()
    page.wait_for_selector(READY)
    unlock(page)
    page.wait_for_selector("[data-pair-step=choose]", timeout=SLOW_MS)


def test_a_pairing_in_progress_resumes_after_a_reload_on_both_sides(two: tuple[Any, Any]) -> None:
    physician, patient = two
    offer = make_offer(physician)
    reopen(physician)
    physician.click("[data-resume]")
    physician.wait_for_selector("[data-pair-step=physician-wait]")
    assert token(physician, "offer") == offer
    accept_token, code = accept(patient, offer)
    reopen(patient)
    patient.click("[data-resume]")
    patient.wait_for_selector("[data-pair-step=patient-wait]")
    assert token(patient, "accept") == accept_token
    assert patient.get_attribute("[data-code]", "data-code") == code
    physician.fill("textarea[name=accept]", accept_token)
    physician.click("[data-action=check-accept]")
    physician.wait_for_selector("[data-pair-step=physician-code]")
    reopen(physician)
    physician.click("[data-resume]")
    physician.wait_for_selector("[data-pair-step=physician-code]")
    assert physician.get_attribute("[data-code]", "data-code") == code
    physician.click("[data-action=confirm]")
    physician.wait_for_selector("[data-pair-step=verify]")
    patient.fill("textarea[name=confirm]", token(physician, "confirm"))
    patient.click("[data-action=finish]")
    patient.wait_for_selector("[data-pair-step=verify]")
    # Finished pairings are listed, and no longer offered for resuming.
    reopen(patient)
    patient.wait_for_selector("button[data-pairing]")
    assert patient.query_selector("[data-resume]") is None
