"""The record pages: create and correct a patient, their pathology, tumour markers and
treatments (with PRRT cycles) through forms validated by the API's serializers.

What is checked: each page answers the roles that may use it and 403s the others; a save writes
exactly what was submitted and nothing else; bad input is shown again as typed with the message
at its field and writes nothing; an edit of a record changed meanwhile is refused; a delete the
database refuses is explained; the record page costs the same number of queries for 1 or 10
records of each kind."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.core.models import AccessEvent
from apps.patients.models import Biomarker, Pathology, Patient, Treatment, TreatmentCycle
from tests.factories import PathologyFactory, PatientFactory, StudyFactory, TreatmentFactory

pytestmark = pytest.mark.django_db

FUTURE = (timezone.localdate() + timedelta(days=30)).isoformat()


@pytest.fixture
def reader(as_role: Any) -> Client:
    return as_role("reader", "rita-reader")


def html_of(response: Any) -> str:
    return response.content.decode()


def version_in(html: str) -> str:
    """The record version (its ETag) a form page carries in its hidden field."""
    match = re.search(r'name="etag" value="([^"]+)"', html)
    assert match, "the form carries no version"
    return unescape(match.group(1))


def input_tag(html: str, name: str) -> str:
    """The HTML tag of the input or select named ``name``."""
    match = re.search(rf'<(?:input|select)[^>]*name="{re.escape(name)}"[^>]*>', html)
    assert match, f"no input named {name}"
    return match.group(0)


def assert_error_at(html: str, name: str, text: str) -> None:
    """The message is next to the field, the field is marked invalid and points at it, and the
    summary at the top links to the field."""
    field_id = f"id_{name}"
    tag = input_tag(html, name)
    assert 'aria-invalid="true"' in tag, tag
    assert f'aria-describedby="{field_id}-error"' in tag, tag
    message = re.search(rf'<p class="field-error" id="{field_id}-error">(.*?)</p>', html, re.S)
    assert message and text in message.group(1), (name, message and message.group(1))
    summary = html.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    assert f'href="#{field_id}"' in summary


def counts() -> tuple[int, ...]:
    return (
        Patient.objects.count(),
        Pathology.objects.count(),
        Biomarker.objects.count(),
        Treatment.objects.count(),
        TreatmentCycle.objects.count(),
    )


PATIENT_VALUES = {
    "mrn": "NEW-0001",
    "family_name": "Okafor",
    "given_name": "Ada",
    "birth_date": "1961-04-05",
    "sex": "female",
    "height_cm": "168.5",
    "weight_kg": "61.0",
    "primary_site": "small_intestine",
    "histology": "net",
    "ppgl_cluster": "",
}


# --- who may use which page ---------------------------------------------------------------------


def page_urls() -> dict[str, str]:
    patient = PatientFactory()
    pathology = PathologyFactory(patient=patient)
    biomarker = Biomarker.objects.create(
        patient=patient, analyte="cea", value=Decimal("3"), measured_on=date(2024, 1, 2)
    )
    treatment = TreatmentFactory(patient=patient)
    return {
        "record": f"/patients/{patient.pk}/record/",
        "create": "/patients/new/",
        "edit": f"/patients/{patient.pk}/edit/",
        "pathology-new": f"/patients/{patient.pk}/pathology/new/",
        "pathology-edit": f"/pathology/{pathology.pk}/edit/",
        "pathology-delete": f"/pathology/{pathology.pk}/delete/",
        "biomarker-new": f"/patients/{patient.pk}/biomarkers/new/",
        "biomarker-edit": f"/biomarkers/{biomarker.pk}/edit/",
        "biomarker-delete": f"/biomarkers/{biomarker.pk}/delete/",
        "treatment-new": f"/patients/{patient.pk}/treatments/new/",
        "treatment-edit": f"/treatments/{treatment.pk}/edit/",
        "treatment-delete": f"/treatments/{treatment.pk}/delete/",
    }


WRITE_PAGES = [
    "create",
    "edit",
    "pathology-new",
    "pathology-edit",
    "pathology-delete",
    "biomarker-new",
    "biomarker-edit",
    "biomarker-delete",
    "treatment-new",
    "treatment-edit",
    "treatment-delete",
]


@pytest.mark.parametrize("role", ["reader", "clinician", "coordinator", "auditor", "admin"])
def test_every_clinical_role_sees_the_record_page(as_role: Any, role: str) -> None:
    urls = page_urls()
    response = as_role(role).get(urls["record"])
    assert response.status_code == 200
    html = html_of(response)
    assert "Pathology" in html and "Tumour markers" in html and "Treatments" in html
    assert "PRRT 177Lu-DOTATATE" in html  # the factory's treatment is listed


def test_a_user_without_a_role_gets_403_and_anonymous_users_are_sent_to_login(
    as_role: Any, user_with_role: Any
) -> None:
    urls = page_urls()
    nobody = Client()
    nobody.force_login(user_with_role(""))
    for name, url in urls.items():
        assert nobody.get(url).status_code == 403, name
    response = Client().get(urls["record"])
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("page", WRITE_PAGES)
def test_the_reader_may_open_every_form(reader: Client, page: str) -> None:
    response = reader.get(page_urls()[page])
    assert response.status_code == 200
    html = html_of(response)
    assert "<form" in html and "Cancel</a>" in html
    assert "eligible" not in html.lower()


@pytest.mark.parametrize("role", ["clinician", "coordinator", "auditor"])
@pytest.mark.parametrize("page", WRITE_PAGES)
def test_view_only_roles_get_403_on_every_form_and_change_nothing(
    as_role: Any, role: str, page: str
) -> None:
    urls = page_urls()
    client = as_role(role)
    before = counts()
    assert client.get(urls[page]).status_code == 403
    assert client.post(urls[page], {**PATIENT_VALUES, "mrn": "X-1"}).status_code == 403
    assert counts() == before


def test_controls_to_change_the_record_show_only_to_those_who_may(as_role: Any) -> None:
    urls = page_urls()
    controls = ["Add pathology report", "Add tumour marker value", "Add treatment", "/edit/"]
    reader_html = html_of(as_role("reader").get(urls["record"]))
    clinician_html = html_of(as_role("clinician").get(urls["record"]))
    for text in [*controls, "/delete/"]:
        assert text in reader_html, text
        assert text not in clinician_html, text
    patient_page = re.search(r'href="(/patients/\d+/)"', clinician_html)
    assert patient_page and patient_page.group(1) == urls["record"].replace("record/", "")


def test_the_record_page_writes_an_access_event(reader: Client) -> None:
    patient = PatientFactory()
    reader.get(f"/patients/{patient.pk}/record/")
    event = AccessEvent.objects.get(patient_id=patient.pk)
    assert (event.username, event.action) == ("rita-reader", "view_patient_record")


# --- patients -------------------------------------------------------------------------------


def test_create_a_patient_writes_what_was_submitted_and_opens_the_record(reader: Client) -> None:
    form = html_of(reader.get("/patients/new/"))
    assert "autofocus" in input_tag(form, "mrn")
    response = reader.post("/patients/new/", PATIENT_VALUES, follow=True)
    patient = Patient.objects.get(mrn="NEW-0001")
    assert response.redirect_chain == [(f"/patients/{patient.pk}/record/", 302)]
    assert "Patient created." in html_of(response)
    stored = (
        patient.family_name,
        patient.given_name,
        patient.birth_date,
        patient.sex,
        patient.height_cm,
        patient.weight_kg,
        patient.primary_site,
        patient.histology,
        patient.ppgl_cluster,
    )
    expected = ("Okafor", "Ada", date(1961, 4, 5), "female", Decimal("168.5"), Decimal("61.0"))
    assert stored == (*expected, "small_intestine", "net", None)
    assert Patient.objects.count() == 1


def test_bad_patient_input_is_shown_again_with_each_message_at_its_field(reader: Client) -> None:
    before = counts()
    response = reader.post(
        "/patients/new/",
        {
            **PATIENT_VALUES,
            "family_name": "",
            "birth_date": FUTURE,
            "height_cm": "-4",
            "sex": "martian",
        },
    )
    assert response.status_code == 200
    html = html_of(response)
    assert counts() == before
    assert_error_at(html, "family_name", "This field is required.")
    assert_error_at(html, "birth_date", "This date is in the future.")
    assert_error_at(html, "height_cm", "greater than or equal to 1")
    assert_error_at(html, "sex", "not a valid choice")
    # What was typed is still there, including the code the select does not know.
    assert f'value="{FUTURE}"' in input_tag(html, "birth_date")
    assert 'value="-4"' in input_tag(html, "height_cm")
    assert 'value="Ada"' in input_tag(html, "given_name")
    assert '<option value="martian" selected>martian (not a known code)</option>' in html
    # Focus goes to the first field in error, not the first field.
    assert "autofocus" in input_tag(html, "family_name")
    assert "autofocus" not in input_tag(html, "mrn")


def test_a_taken_mrn_is_refused_at_its_field(reader: Client) -> None:
    PatientFactory(mrn="NEW-0001")
    response = reader.post("/patients/new/", PATIENT_VALUES)
    assert_error_at(html_of(response), "mrn", "already exists")
    assert Patient.objects.count() == 1


def test_edit_a_patient_changes_only_what_was_submitted(reader: Client) -> None:
    patient = PatientFactory(family_name="Before", height_cm=Decimal("170.0"))
    other = PatientFactory(family_name="Untouched")
    url = f"/patients/{patient.pk}/edit/"
    form = html_of(reader.get(url))
    assert 'value="Before"' in input_tag(form, "family_name")
    values = {**PATIENT_VALUES, "mrn": patient.mrn, "family_name": "After", "height_cm": ""}
    response = reader.post(url, {**values, "etag": version_in(form)})
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{patient.pk}/record/"
    patient.refresh_from_db()
    other.refresh_from_db()
    assert (patient.family_name, patient.height_cm, patient.given_name) == ("After", None, "Ada")
    assert other.family_name == "Untouched"


def test_an_edit_of_a_record_changed_meanwhile_is_refused_keeping_what_was_typed(
    reader: Client,
) -> None:
    patient = PatientFactory(family_name="Original", given_name="Ann")
    url = f"/patients/{patient.pk}/edit/"
    opened = version_in(html_of(reader.get(url)))
    # Someone else saves the record while the form is open.
    patient.family_name = "Theirs"
    patient.save()
    mine = {**PATIENT_VALUES, "mrn": patient.mrn, "family_name": "Mine", "etag": opened}
    response = reader.post(url, mine)
    assert response.status_code == 409
    html = html_of(response)
    assert "Someone else changed this record since you opened it" in html
    assert 'value="Mine"' in input_tag(html, "family_name")  # what I typed
    current = html.split("Their current values", 1)[1].split("</section>", 1)[0]
    assert "<dd>Theirs</dd>" in current
    patient.refresh_from_db()
    assert patient.family_name == "Theirs"
    # The refused form now carries the current version: saving again is a deliberate overwrite.
    again = version_in(html)
    assert again != opened
    assert reader.post(url, {**mine, "etag": again}).status_code == 302
    patient.refresh_from_db()
    assert patient.family_name == "Mine"


def test_an_edit_without_a_version_is_refused(reader: Client) -> None:
    patient = PatientFactory(family_name="Kept")
    response = reader.post(f"/patients/{patient.pk}/edit/", {**PATIENT_VALUES, "mrn": patient.mrn})
    assert response.status_code == 409
    patient.refresh_from_db()
    assert patient.family_name == "Kept"


# --- pathology and tumour markers ------------------------------------------------------------


def test_a_pathology_report_with_grade_and_differentiation_not_recorded_is_saved(
    reader: Client,
) -> None:
    """Bug (found by the idle-timeout browser test): the form's "Not recorded" options send ""
    for WHO grade and differentiation, which reached the database as "" and broke its check
    constraint (shown as "another record conflicts with it"). Not recorded is null."""
    patient = PatientFactory()
    values = {
        "reported_on": "2024-05-06",
        "specimen_site": "",
        "who_grade": "",
        "ki67_percent": "12",
        "mitotic_count": "",
        "differentiation": "",
    }
    response = reader.post(f"/patients/{patient.pk}/pathology/new/", values)
    assert response.status_code == 302
    report = Pathology.objects.get(patient=patient)
    assert (report.who_grade, report.differentiation) == (None, None)


def test_add_edit_and_delete_a_pathology_report(reader: Client) -> None:
    patient = PatientFactory()
    elsewhere = PatientFactory()
    values = {
        "reported_on": "2024-05-06",
        "specimen_site": "liver biopsy",
        "who_grade": "G2",
        "ki67_percent": "7.50",
        "mitotic_count": "",
        "differentiation": "well",
        "patient": str(elsewhere.pk),  # a forged field: the patient comes from the URL
    }
    response = reader.post(f"/patients/{patient.pk}/pathology/new/", values)
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{patient.pk}/record/#pathology"
    report = Pathology.objects.get()
    assert (report.patient_id, report.reported_on, report.specimen_site, report.who_grade) == (
        patient.pk,
        date(2024, 5, 6),
        "liver biopsy",
        "G2",
    )
    assert (report.ki67_percent, report.mitotic_count, report.differentiation) == (
        Decimal("7.50"),
        None,
        "well",
    )

    edit_url = f"/pathology/{report.pk}/edit/"
    form = html_of(reader.get(edit_url))
    assert 'value="liver biopsy"' in input_tag(form, "specimen_site")
    changed = {**values, "who_grade": "G3", "ki67_percent": "25", "etag": version_in(form)}
    assert reader.post(edit_url, changed).status_code == 302
    report.refresh_from_db()
    assert (report.who_grade, report.ki67_percent, report.patient_id) == (
        "G3",
        Decimal("25"),
        patient.pk,
    )

    delete_url = f"/pathology/{report.pk}/delete/"
    confirm = reader.get(delete_url)
    assert confirm.status_code == 200 and Pathology.objects.filter(pk=report.pk).exists()
    assert "<dd>G3</dd>" in html_of(confirm)
    response = reader.post(delete_url, {"etag": version_in(html_of(confirm))}, follow=True)
    assert not Pathology.objects.filter(pk=report.pk).exists()
    assert "Pathology report deleted." in html_of(response)


def test_bad_pathology_input_writes_nothing(reader: Client) -> None:
    patient = PatientFactory()
    before = counts()
    response = reader.post(
        f"/patients/{patient.pk}/pathology/new/",
        {"reported_on": "", "ki67_percent": "140", "who_grade": "G9", "specimen_site": "node"},
    )
    html = html_of(response)
    assert counts() == before
    assert_error_at(html, "reported_on", "This field is required.")
    assert_error_at(html, "ki67_percent", "less than or equal to 100")
    assert_error_at(html, "who_grade", "not a valid choice")
    assert 'value="140"' in input_tag(html, "ki67_percent")
    assert 'value="node"' in input_tag(html, "specimen_site")


def test_bad_tumour_marker_input_writes_nothing(reader: Client) -> None:
    patient = PatientFactory()
    before = counts()
    response = reader.post(
        f"/patients/{patient.pk}/biomarkers/new/",
        {"analyte": "unobtainium", "value": "-3", "unit": "µg/L", "measured_on": FUTURE},
    )
    html = html_of(response)
    assert counts() == before
    assert_error_at(html, "analyte", "not a valid choice")
    assert_error_at(html, "value", "greater than or equal to 0")
    assert_error_at(html, "measured_on", "This date is in the future.")
    assert 'value="-3"' in input_tag(html, "value")
    assert 'value="µg/L"' in input_tag(html, "unit")


def test_add_and_edit_a_tumour_marker_value(reader: Client) -> None:
    patient = PatientFactory()
    values = {
        "analyte": "chromogranin_a",
        "value": "112.5",
        "unit": "µg/L",
        "measured_on": "2024-03-04",
    }
    assert reader.post(f"/patients/{patient.pk}/biomarkers/new/", values).status_code == 302
    marker = Biomarker.objects.get()
    assert (marker.patient_id, marker.analyte, marker.value, marker.unit, marker.measured_on) == (
        patient.pk,
        "chromogranin_a",
        Decimal("112.5"),
        "µg/L",
        date(2024, 3, 4),
    )
    url = f"/biomarkers/{marker.pk}/edit/"
    version = version_in(html_of(reader.get(url)))
    assert reader.post(url, {**values, "value": "90", "etag": version}).status_code == 302
    marker.refresh_from_db()
    assert marker.value == Decimal("90")
    record = html_of(reader.get(f"/patients/{patient.pk}/record/"))
    assert "<td>Chromogranin A</td><td>2024-03-04</td><td>90</td>" in record


def test_a_delete_is_never_done_by_get_and_a_stale_confirmation_is_refused(
    reader: Client,
) -> None:
    report = PathologyFactory(who_grade="G1")
    url = f"/pathology/{report.pk}/delete/"
    opened = version_in(html_of(reader.get(url)))
    assert Pathology.objects.filter(pk=report.pk).exists()
    report.who_grade = "G2"
    report.save()
    response = reader.post(url, {"etag": opened})
    assert response.status_code == 409
    assert "Someone else changed this record since you opened it" in html_of(response)
    assert "<dd>G2</dd>" in html_of(response)
    assert Pathology.objects.filter(pk=report.pk).exists()


# --- treatments and cycles ----------------------------------------------------------------------


def treatment_values(**cycles: str) -> dict[str, str]:
    return {
        "kind": "prrt_lu177_dotatate",
        "regimen": "4 × 7.4 GBq",
        "started_on": "2024-01-10",
        "ended_on": "",
        **cycles,
    }


def test_the_treatment_form_has_six_blank_cycle_rows(reader: Client) -> None:
    patient = PatientFactory()
    html = html_of(reader.get(f"/patients/{patient.pk}/treatments/new/"))
    for row in range(6):
        for part in ("number", "given_on", "activity_gbq"):
            assert f'for="id_cycles-{row}-{part}"' in html
            assert 'value="' not in input_tag(html, f"cycles-{row}-{part}")
    assert "cycles-6-number" not in html


def test_add_a_treatment_with_cycles_skipping_blank_rows(reader: Client) -> None:
    patient = PatientFactory()
    values = treatment_values(
        **{
            "cycles-0-number": "1",
            "cycles-0-given_on": "2024-01-10",
            "cycles-0-activity_gbq": "7.40",
            # row 1 left blank
            "cycles-2-number": "2",
            "cycles-2-given_on": "2024-03-06",
            "cycles-2-activity_gbq": "",
        }
    )
    response = reader.post(f"/patients/{patient.pk}/treatments/new/", values)
    assert response.status_code == 302
    treatment = Treatment.objects.get()
    assert (treatment.patient_id, treatment.kind, treatment.regimen) == (
        patient.pk,
        "prrt_lu177_dotatate",
        "4 × 7.4 GBq",
    )
    assert (treatment.started_on, treatment.ended_on) == (date(2024, 1, 10), None)
    cycles = [(c.number, c.given_on, c.activity_gbq) for c in treatment.cycles.order_by("number")]
    assert cycles == [(1, date(2024, 1, 10), Decimal("7.40")), (2, date(2024, 3, 6), None)]
    record = html_of(reader.get(f"/patients/{patient.pk}/record/"))
    assert "<td>2024-03-06</td>" in record and "<td>7.40</td>" in record


def test_edit_a_treatment_shows_its_cycles_and_replaces_them_with_the_rows(
    reader: Client,
) -> None:
    treatment = TreatmentFactory(regimen="old")
    TreatmentCycle.objects.create(
        treatment=treatment, number=1, given_on=date(2024, 2, 1), activity_gbq=Decimal("7.4")
    )
    TreatmentCycle.objects.create(treatment=treatment, number=2, given_on=date(2024, 4, 1))
    url = f"/treatments/{treatment.pk}/edit/"
    form = html_of(reader.get(url))
    assert 'value="2024-04-01"' in input_tag(form, "cycles-1-given_on")
    assert 'value="7.40"' in input_tag(form, "cycles-0-activity_gbq")
    values = treatment_values(
        **{
            "cycles-0-number": "1",
            "cycles-0-given_on": "2024-02-01",
            "cycles-0-activity_gbq": "7.2",
            "cycles-1-number": "",
            "cycles-1-given_on": "",
            "cycles-1-activity_gbq": "",
        }
    )
    response = reader.post(url, {**values, "regimen": "new", "etag": version_in(form)})
    assert response.status_code == 302
    treatment.refresh_from_db()
    assert treatment.regimen == "new"
    assert [(c.number, c.activity_gbq) for c in treatment.cycles.all()] == [(1, Decimal("7.2"))]


def test_a_bad_cycle_row_is_shown_at_its_row_and_cell_and_writes_nothing(
    reader: Client,
) -> None:
    patient = PatientFactory()
    before = counts()
    values = treatment_values(
        **{
            "cycles-0-number": "1",
            "cycles-0-given_on": "2024-01-10",
            # row 1 blank: the serializer's second item is the page's third row
            "cycles-2-number": "2",
            "cycles-2-given_on": "not-a-date",
            "cycles-2-activity_gbq": "-1",
            "cycles-3-number": "3",
            "cycles-3-given_on": "",
        }
    )
    response = reader.post(f"/patients/{patient.pk}/treatments/new/", values)
    html = html_of(response)
    assert counts() == before
    assert_error_at(html, "cycles-2-given_on", "Date has wrong format")
    assert_error_at(html, "cycles-2-activity_gbq", "greater than or equal to 0")
    assert_error_at(html, "cycles-3-given_on", "This field is required.")
    assert 'aria-invalid="true"' not in input_tag(html, "cycles-0-given_on")
    assert 'aria-invalid="true"' not in input_tag(html, "cycles-2-number")
    assert 'value="not-a-date"' in input_tag(html, "cycles-2-given_on")
    assert 'value="-1"' in input_tag(html, "cycles-2-activity_gbq")
    summary = html.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    assert "Cycle row 3: date given: Date has wrong format" in summary


def test_duplicate_cycle_numbers_are_shown_at_the_cycles_and_write_nothing(
    reader: Client,
) -> None:
    patient = PatientFactory()
    before = counts()
    values = treatment_values(
        **{
            "cycles-0-number": "1",
            "cycles-0-given_on": "2024-01-10",
            "cycles-1-number": "1",
            "cycles-1-given_on": "2024-03-10",
        }
    )
    html = html_of(reader.post(f"/patients/{patient.pk}/treatments/new/", values))
    assert counts() == before
    group = re.search(r'<p class="field-error" id="id_cycles-error">(.*?)</p>', html, re.S)
    assert group and "Cycle numbers must be unique." in group.group(1)
    assert 'aria-describedby="id_cycles-error"' in html
    assert 'href="#id_cycles"' in html.split('class="error-summary"', 1)[1].split("</div>", 1)[0]


def test_a_treatment_ending_before_it_started_is_refused_at_the_end_date(reader: Client) -> None:
    patient = PatientFactory()
    values = {**treatment_values(), "ended_on": "2023-12-31"}
    html = html_of(reader.post(f"/patients/{patient.pk}/treatments/new/", values))
    assert_error_at(html, "ended_on", "Must not be before started_on.")
    assert Treatment.objects.count() == 0


def test_a_treatment_with_post_therapy_scans_cannot_be_deleted(reader: Client) -> None:
    treatment = TreatmentFactory()
    TreatmentCycle.objects.create(treatment=treatment, number=1, given_on=date(2024, 2, 1))
    StudyFactory(
        patient=treatment.patient,
        post_therapy=True,
        treatment=treatment,
        cycle_number=1,
        modality="spect_ct",
        tracer="lu177_dotatate",
    )
    url = f"/treatments/{treatment.pk}/delete/"
    version = version_in(html_of(reader.get(url)))
    response = reader.post(url, {"etag": version})
    assert response.status_code == 409
    html = html_of(response)
    assert "This treatment cannot be deleted: 1 post-therapy scan is linked to it" in html
    assert Treatment.objects.filter(pk=treatment.pk).exists()
    assert TreatmentCycle.objects.filter(treatment=treatment).count() == 1


def test_a_treatment_without_scans_is_deleted_with_its_cycles(reader: Client) -> None:
    treatment = TreatmentFactory()
    TreatmentCycle.objects.create(treatment=treatment, number=1, given_on=date(2024, 2, 1))
    url = f"/treatments/{treatment.pk}/delete/"
    version = version_in(html_of(reader.get(url)))
    response = reader.post(url, {"etag": version})
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{treatment.patient_id}/record/#treatments"
    assert (Treatment.objects.count(), TreatmentCycle.objects.count()) == (0, 0)


# --- cost -------------------------------------------------------------------------------------


def record_page_queries(client: Client, records: int) -> int:
    patient = PatientFactory()
    for n in range(records):
        PathologyFactory(patient=patient, reported_on=date(2020, 1, 1) + timedelta(days=n))
        Biomarker.objects.create(
            patient=patient, analyte="cea", value=Decimal(n), measured_on=date(2020, 1, 1 + n)
        )
        treatment = TreatmentFactory(patient=patient)
        for number in (1, 2):
            TreatmentCycle.objects.create(
                treatment=treatment, number=number, given_on=date(2020, 2, number)
            )
    client.get(f"/patients/{patient.pk}/record/")  # warm the session and permission caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/patients/{patient.pk}/record/")
    assert response.status_code == 200
    assert html_of(response).count("Delete<span") == 3 * records
    return len(queries)


def test_the_record_page_query_count_does_not_grow_with_the_record(reader: Client) -> None:
    one = record_page_queries(reader, 1)
    ten = record_page_queries(reader, 10)
    assert one == ten
    assert ten <= 12
