"""Two-factor sign-in and the idle timeout in Chromium (issue 17):

- a clinician's first sign-in enrols an authenticator app (the code computed with pyotp from
  the key the page shows), shows the recovery codes, and signs in; the next sign-in asks for a
  code again;
- a clinician typing a decision who sits idle past the timeout and then saves is sent to the
  login, and after signing in finds the form as they left it (a draft kept in the page), saves
  it, and the draft is gone."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect

from apps.decisions.models import Decision
from apps.patients.models import Pathology
from tests.factories import CaseFactory, PatientFactory, UserFactory

from .conftest import ARTIFACTS
from .keyboard import type_credentials, type_sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_enrol_an_authenticator_then_sign_in_with_its_code(
    live_server: Any, chromium_page: Any, settings: Any
) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.NETBOARD_MFA_REQUIRED_ROLES = ["clinician"]
    UserFactory(username="dr-totp", role="clinician", is_staff=False)
    page, base = chromium_page, live_server.url

    type_sign_in(page, base, "dr-totp")
    expect(page.locator("h1")).to_have_text("Set up two-factor sign-in")
    expect(page.locator(".qr svg")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "mfa-enrol.png"), full_page=True)
    key = page.locator("#otp-key").inner_text().replace(" ", "")
    totp = pyotp.TOTP(key)
    expect(page.locator("#id_code")).to_be_focused()
    page.keyboard.type(totp.now())
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Your recovery codes")
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url(base + "/")
    expect(page.get_by_role("button", name="Sign out dr-totp")).to_be_visible()

    # Sign out; signing in again asks for the current code.
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out dr-totp").click()
    type_sign_in(page, base, "dr-totp")
    expect(page.locator("h1")).to_have_text("Two-factor sign-in")
    assert page.url == base + "/accounts/login/code/"
    page.keyboard.type("000000" if not totp.verify("000000", valid_window=1) else "999999")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("p.error[role=alert]")).to_contain_text("did not match")
    time.sleep(1.1)  # django-otp waits 1 s after a wrong code before it looks at another
    page.locator("#id_code").fill(totp.at(time.time() + 30))  # the step after the one used
    with page.expect_navigation():
        page.locator("#id_code").press("Enter")
    page.wait_for_url(base + "/")
    expect(page.get_by_role("button", name="Sign out dr-totp")).to_be_visible()


def no_drafts_left(page: Any) -> None:
    left = page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('netboard-draft'))")
    assert left == [], left


def test_idle_on_the_decision_page_its_poll_signs_out_and_the_draft_comes_back(
    live_server: Any, chromium_page: Any, settings: Any
) -> None:
    """The case page polls for changes: idle past the timeout, the poll sends the whole page to
    the login. What was typed comes back after signing in."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.NETBOARD_SESSION_IDLE_SECONDS = 3
    UserFactory(username="dr-idle", role="clinician", is_staff=False)
    case = CaseFactory()
    page, base = chromium_page, live_server.url
    path = f"/cases/{case.pk}/decision/"

    type_sign_in(page, base, "dr-idle", next_path=path)
    page.wait_for_url(base + path)
    rationale = "Discussed at the board: SSTR-positive disease, no FDG-only lesion; PRRT."
    page.locator("#decision_recommendation").select_option("prrt")
    page.locator("#decision_rationale").fill(rationale)
    page.locator("#decision_attendees").fill("Dr A, Dr B")

    page.wait_for_url(re.compile(r".*/accounts/login/\?next=.*"), timeout=30_000)
    expect(page.locator(".messages")).to_contain_text("Signed out after")
    assert not Decision.objects.filter(case=case).exists()

    settings.NETBOARD_SESSION_IDLE_SECONDS = 900
    type_credentials(page, "dr-idle")
    page.wait_for_url(base + path)
    expect(page.locator(".draft-restored")).to_contain_text("Put back what you typed")
    expect(page.locator("#decision_rationale")).to_have_value(rationale)
    expect(page.locator("#decision_recommendation")).to_have_value("prrt")
    expect(page.locator("#decision_attendees")).to_have_value("Dr A, Dr B")
    page.screenshot(path=str(ARTIFACTS / "draft-restored.png"), full_page=True)

    with page.expect_navigation():
        page.get_by_role("button", name="Save draft").click()
    decision = Decision.objects.get(case=case)
    assert decision.rationale == rationale and decision.recommendation == "prrt"
    page.goto(base + path)
    expect(page.locator("#decision-title")).to_be_visible()
    assert page.locator(".draft-restored").count() == 0, "the saved draft is not put back"
    no_drafts_left(page)


def test_a_form_sent_after_the_timeout_goes_to_sign_in_and_comes_back_filled(
    live_server: Any, chromium_page: Any, settings: Any
) -> None:
    """A form page that does not poll: the Save after the timeout is answered with the login;
    after it, the form is back as it was sent, and Save then saves it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.NETBOARD_SESSION_IDLE_SECONDS = 3
    UserFactory(username="rd-idle", role="reader", is_staff=False)
    patient = PatientFactory()
    page, base = chromium_page, live_server.url
    path = f"/patients/{patient.pk}/pathology/new/"

    type_sign_in(page, base, "rd-idle", next_path=path)
    page.wait_for_url(base + path)
    page.locator("#id_reported_on").fill("2024-03-01")
    page.locator("#id_ki67_percent").fill("12")
    page.locator("#id_who_grade").select_option(index=2)
    grade = page.locator("#id_who_grade").input_value()
    time.sleep(4)  # idle past the 3-second timeout
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    assert page.url.startswith(base + "/accounts/login/")
    assert not Pathology.objects.filter(patient=patient).exists(), "nothing saved signed out"

    settings.NETBOARD_SESSION_IDLE_SECONDS = 900
    type_credentials(page, "rd-idle")
    page.wait_for_url(base + path)
    expect(page.locator(".draft-restored")).to_be_visible()
    expect(page.locator("#id_ki67_percent")).to_have_value("12")
    expect(page.locator("#id_reported_on")).to_have_value("2024-03-01")
    expect(page.locator("#id_who_grade")).to_have_value(grade)
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    saved = Pathology.objects.get(patient=patient)
    assert str(saved.ki67_percent) in ("12", "12.0", "12.00")
    no_drafts_left(page)
