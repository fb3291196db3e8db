"""ApiForm: a page form takes its fields from the API serializer, validates and saves through
it, keeps what was typed, and puts each error at its field."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import QueryDict

from apps.core.forms import ApiForm
from apps.patients.models import Patient
from apps.patients.serializers import PatientSerializer
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


class PatientForm(ApiForm):
    serializer_class = PatientSerializer
    model = Patient
    field_names = ["mrn", "family_name", "given_name", "birth_date", "sex", "height_cm"]


class DerivedForm(ApiForm):
    serializer_class = PatientSerializer
    model = Patient
    exclude = ("ppgl_cluster",)


class RelabelledForm(DerivedForm):
    labels = {"mrn": "MRN"}


def test_the_fields_are_the_serializers_writable_ones_in_its_order_less_the_excluded() -> None:
    expected = [
        "mrn",
        "family_name",
        "given_name",
        "birth_date",
        "sex",
        "height_cm",
        "weight_kg",
        "primary_site",
        "histology",
    ]  # not id, created_at, updated_at (read-only) nor ppgl_cluster (excluded)
    assert DerivedForm.field_names == expected
    assert list(DerivedForm().fields) == expected
    assert RelabelledForm.field_names == expected  # inherited, not derived again
    assert RelabelledForm()["mrn"].label == "MRN"
    assert PatientForm.field_names[-1] == "height_cm"  # a list set by the form is kept


def test_excluding_a_name_the_serializer_does_not_take_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="created_at"):

        class Wrong(ApiForm):
            serializer_class = PatientSerializer
            model = Patient
            exclude = ("created_at",)


def posted(**values: Any) -> QueryDict:
    data = QueryDict(mutable=True)
    base = {"mrn": "F-1", "family_name": "Quill", "given_name": "", "sex": "female"}
    data.update({**base, **values})
    return data


def test_a_valid_form_saves_through_the_serializer() -> None:
    form = PatientForm(posted(birth_date="1950-02-03", height_cm=""))
    assert form.is_valid(), form.errors
    patient = form.save()
    assert isinstance(patient, Patient)
    stored = Patient.objects.get(mrn="F-1")
    assert (stored.family_name, str(stored.birth_date), stored.height_cm) == (
        "Quill",
        "1950-02-03",
        None,
    )


def test_errors_land_on_their_fields_and_the_typed_values_stay() -> None:
    form = PatientForm(posted(birth_date="2999-01-01", height_cm="-4", sex="martian"))
    assert not form.is_valid()
    assert set(form.errors) == {"birth_date", "height_cm", "sex"}
    assert "future" in form.errors["birth_date"][0]
    html = form.as_div()
    assert 'value="2999-01-01"' in html and 'value="-4"' in html
    assert Patient.objects.count() == 0


def test_a_database_refusal_becomes_a_form_error_and_writes_nothing() -> None:
    form = PatientForm(posted(mrn="RACE-1"))
    assert form.is_valid(), form.errors
    PatientFactory(mrn="RACE-1")  # someone else took the MRN after validation
    assert form.save() is None
    assert "database refused" in form.non_field_errors()[0]
    assert Patient.objects.filter(mrn="RACE-1").count() == 1


def test_an_edit_starts_from_the_record_and_changes_only_it() -> None:
    patient = PatientFactory(mrn="E-1", family_name="Before")
    other = PatientFactory(mrn="E-2", family_name="Other")
    unbound = PatientForm(instance=patient)
    assert unbound["family_name"].value() == "Before"
    etag = unbound["etag"].value()
    form = PatientForm(posted(mrn="E-1", family_name="After", etag=etag), instance=patient)
    assert form.is_valid(), form.errors
    form.save()
    patient.refresh_from_db()
    other.refresh_from_db()
    assert (patient.family_name, other.family_name) == ("After", "Other")


def test_an_edit_of_a_record_changed_meanwhile_is_refused_then_can_be_repeated() -> None:
    patient = PatientFactory(mrn="C-1", family_name="Shown")
    etag = PatientForm(instance=patient)["etag"].value()
    theirs = Patient.objects.get(pk=patient.pk)
    theirs.family_name = "Theirs"
    theirs.save()  # someone else saved it: a new updated_at, a new ETag
    patient.refresh_from_db()
    form = PatientForm(posted(mrn="C-1", family_name="Mine", etag=etag), instance=patient)
    assert not form.is_valid() and form.conflict
    message = form.non_field_errors()[0]
    assert "Someone else changed" in message and "Theirs" in message
    assert 'value="Mine"' in form.as_div()
    patient.refresh_from_db()
    assert patient.family_name == "Theirs"
    # The form now carries the current ETag: saving again is a deliberate overwrite.
    again = PatientForm(form.data, instance=patient)
    assert again.is_valid(), again.errors
    again.save()
    patient.refresh_from_db()
    assert patient.family_name == "Mine"
