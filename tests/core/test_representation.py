"""The API's JSON on stored records, as docs/api.md fixes it: every API serializer (plain DRF)
gives decimals as strings at the column's scale, ISO 8601 dates, timestamps in UTC (``Z``),
integers as numbers, booleans as booleans and nulls as null; a page through the API is exactly
the serializer's output."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import models
from django.utils import timezone
from rest_framework import fields as drf_fields
from rest_framework import relations, serializers

import apps.core.api
import apps.decisions.serializers
import apps.imaging.serializers
import apps.patients.serializers
from apps.core.models import AccessEvent
from apps.decisions.models import Decision
from apps.imaging.models import ImagingStudy, Lesion, Observation
from apps.patients.models import Biomarker, Pathology, Patient, Treatment, TreatmentCycle
from tests.factories import (
    CaseFactory,
    LesionFactory,
    MeetingFactory,
    ObservationFactory,
    PathologyFactory,
    PatientFactory,
    TreatmentFactory,
    UserFactory,
)

# Request-only: its items take a lesion id in, and the PUT answers with ObservationSerializer.
REQUEST_ONLY = {"ObservationReadItemSerializer"}


def api_serializers() -> list[type[serializers.ModelSerializer]]:  # type: ignore[type-arg]
    found: set[type[serializers.ModelSerializer]] = set()  # type: ignore[type-arg]
    stack = list(serializers.ModelSerializer.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls.__module__.startswith("apps.") and hasattr(cls, "Meta"):  # not abstract bases
            found.add(cls)
        stack.extend(cls.__subclasses__())
    return sorted(found, key=lambda cls: cls.__name__)


def test_every_api_serializer_is_checked() -> None:
    names = {cls.__name__ for cls in api_serializers()}
    assert {
        "PatientSerializer",
        "PathologySerializer",
        "BiomarkerSerializer",
        "TreatmentSerializer",
        "CycleSerializer",
        "LesionSerializer",
        "StudySerializer",
        "ObservationSerializer",
        "ObservationReadItemSerializer",
        "MeetingSerializer",
        "CaseSerializer",
        "DecisionSerializer",
        "AccessEventSerializer",
        "FollowUpSerializer",
    } <= names


def _record(model: type[models.Model]) -> models.Model:
    """A stored record of the model with every optional column filled in."""
    if model is Patient:
        return PatientFactory(height_cm=Decimal("172.5"), weight_kg=Decimal("70.2"))
    if model is Pathology:
        return PathologyFactory(mitotic_count=Decimal("3.5"), differentiation="well")
    if model is Biomarker:
        return Biomarker.objects.create(
            patient=PatientFactory(),
            analyte="chromogranin_a",
            value=Decimal("123.4"),
            unit="ng/mL",
            measured_on=date(2024, 1, 2),
        )
    if model is Treatment:
        treatment = TreatmentFactory(ended_on=date(2024, 8, 1), regimen="4 x 7.4 GBq")
        TreatmentCycle.objects.create(
            treatment=treatment, number=1, given_on=date(2024, 2, 1), activity_gbq=Decimal("7.4")
        )
        return treatment
    if model is TreatmentCycle:
        return TreatmentCycle.objects.create(
            treatment=TreatmentFactory(), number=2, given_on=date(2024, 4, 1)
        )
    if model is Lesion:
        return LesionFactory(nodal=True)
    if model is ImagingStudy:
        observation = ObservationFactory(suv_peak=Decimal("9.125"), long_axis_mm=Decimal("21.5"))
        ObservationFactory(study=observation.study, fdg_visual=None, krenning_visual=3)
        return observation.study
    if model is Observation:
        return ObservationFactory(
            suv_peak=Decimal("8"), krenning_visual=4, fdg_vs_sstr="lower", target=True
        )
    if model is Decision:
        return Decision.objects.create(
            case=CaseFactory(),
            recommendation="prrt",
            rationale="MDT consensus",
            decided_at=timezone.now() - timedelta(hours=1),
            decided_by=UserFactory(),
        )
    if model is AccessEvent:
        return AccessEvent.objects.create(patient_id=PatientFactory().pk, action="api_read:list")
    if model._meta.model_name == "meeting":
        return MeetingFactory()
    if model._meta.model_name == "case":
        return CaseFactory()
    if model._meta.model_name == "followup":  # a progression: every column filled in
        study = ObservationFactory().study
        return model._default_manager.create(
            patient=study.patient,
            kind="progression",
            occurred_on=date(2024, 3, 1),
            basis="recist",
            study=study,
        )
    raise AssertionError(f"No record builder for {model.__name__}: add one here.")


def check_contract(serializer: serializers.Serializer, data: Any, where: str) -> int:  # type: ignore[type-arg]
    """Assert each value's JSON type and format for its field; the number of values checked."""
    checked = 0
    for name, field in serializer.fields.items():
        if field.write_only:
            continue
        value = data[name]
        at = f"{where}.{name}"
        if value is None:
            continue  # null: not recorded
        checked += 1
        if isinstance(field, serializers.ListSerializer):
            assert isinstance(value, list), at
            for item in value:
                checked += check_contract(field.child, item, at)  # type: ignore[arg-type]
        elif isinstance(field, serializers.Serializer):
            checked += check_contract(field, value, at)
        elif isinstance(field, drf_fields.DecimalField):
            places = field.decimal_places
            pattern = rf"-?\d+\.\d{{{places}}}" if places else r"-?\d+"
            assert isinstance(value, str) and re.fullmatch(pattern, value), (at, value)
        elif isinstance(field, drf_fields.DateTimeField):
            assert isinstance(value, str) and value.endswith("Z"), (at, value)
            assert datetime.fromisoformat(value).utcoffset() == timedelta(0), (at, value)
        elif isinstance(field, drf_fields.DateField):
            assert isinstance(value, str) and date.fromisoformat(value).isoformat() == value, at
        elif isinstance(field, drf_fields.BooleanField):
            assert isinstance(value, bool), (at, value)
        elif isinstance(field, drf_fields.ChoiceField):
            assert value in field.choices, (at, value)
        elif isinstance(field, drf_fields.IntegerField | relations.PrimaryKeyRelatedField):
            assert isinstance(value, int) and not isinstance(value, bool), (at, value)
        elif isinstance(field, drf_fields.CharField):
            assert isinstance(value, str), (at, value)
    return checked


@pytest.mark.django_db
@pytest.mark.parametrize(
    "serializer_class",
    [cls for cls in api_serializers() if cls.__name__ not in REQUEST_ONLY],
    ids=lambda cls: cls.__name__,
)
def test_a_stored_record_is_represented_as_the_contract_says(
    serializer_class: type[serializers.ModelSerializer],  # type: ignore[type-arg]
) -> None:
    instance = serializer_class.Meta.model._default_manager.get(
        pk=_record(serializer_class.Meta.model).pk
    )
    serializer = serializer_class(context={})
    data = serializer.to_representation(instance)
    assert json.loads(json.dumps(data)) == data  # plain JSON values only (no Decimal, date)
    assert list(data) == [name for name, field in serializer.fields.items() if not field.write_only]
    assert check_contract(serializer, data, serializer_class.__name__) > 1


@pytest.mark.django_db
def test_the_values_of_a_patient_and_an_observation() -> None:
    patient = PatientFactory(height_cm=Decimal("172.5"), weight_kg=None, ppgl_cluster=None)
    data = apps.patients.serializers.PatientSerializer(
        Patient.objects.get(pk=patient.pk), context={}
    ).data
    assert (data["height_cm"], data["weight_kg"], data["birth_date"]) == (
        "172.5",
        None,
        "1960-01-01",
    )
    assert data["ppgl_cluster"] is None and data["sex"] == "female"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", data["created_at"])
    observation = ObservationFactory(suv_peak=Decimal("8"), krenning_visual=4, target=True)
    row = apps.imaging.serializers.ObservationSerializer(
        Observation.objects.select_related("study").get(pk=observation.pk), context={}
    ).data
    assert (row["suv_max"], row["suv_peak"], row["long_axis_mm"]) == ("12.000", "8.000", None)
    assert (row["krenning_visual"], row["target"]) == (4, True)
    assert (row["study"], row["lesion"]) == (observation.study_id, observation.lesion_id)
    assert isinstance(row["flags"], list)


@pytest.mark.django_db
def test_a_page_of_patients_through_the_api_is_the_serializers_output(token_client: Any) -> None:
    PatientFactory.create_batch(3, height_cm=Decimal("180.0"))
    body = token_client("reader").get("/api/v1/patients/").json()
    reference = apps.patients.serializers.PatientSerializer(
        Patient.objects.order_by("pk"), many=True, context={}
    ).data
    assert sorted(body["results"], key=lambda row: row["id"]) == json.loads(json.dumps(reference))
