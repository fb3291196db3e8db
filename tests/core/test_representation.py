"""The API's compiled representation (apps/core/representation.py) gives exactly DRF's output:
every API serializer on stored records in several time zones, and each plainly read field on
generated values (Hypothesis), compared as JSON so that 1 and True or "1.0" and "1.00" differ."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import models
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import serializers

import apps.core.api
import apps.decisions.serializers
import apps.imaging.serializers
import apps.patients.serializers  # noqa: F401 - registers the serializers below
from apps.core.models import AccessEvent
from apps.core.representation import FastRepresentation, _drf_reader
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

ZONES = ["UTC", "Europe/Zurich", "America/New_York"]


def api_serializers() -> list[type[FastRepresentation]]:
    found: set[type[FastRepresentation]] = set()
    stack = list(FastRepresentation.__subclasses__())
    while stack:
        cls = stack.pop()
        found.add(cls)
        stack.extend(cls.__subclasses__())
    return sorted(found, key=lambda cls: cls.__name__)


def as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=False)


def drf(serializer: serializers.ModelSerializer, instance: Any) -> dict[str, Any]:  # type: ignore[type-arg]
    """DRF's own to_representation, bypassing the compiled plan."""
    return serializers.ModelSerializer.to_representation(serializer, instance)  # type: ignore[no-any-return]


def plainly_read(serializer: FastRepresentation) -> list[str]:
    """The fields the plan reads as plain columns (not through DRF's path)."""
    return [
        name
        for name, read in serializer._compile()
        if "_drf_reader" not in getattr(read, "__qualname__", "")
    ]


def test_every_api_serializer_is_compared() -> None:
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
    } <= names


def test_plain_columns_take_the_fast_path_and_computed_fields_drfs() -> None:
    patient = plainly_read(apps.patients.serializers.PatientSerializer())
    assert {"id", "mrn", "birth_date", "height_cm", "created_at", "updated_at"} <= set(patient)
    observation = plainly_read(apps.imaging.serializers.ObservationSerializer())
    assert {"study", "lesion", "suv_max", "state", "heterogeneous"} <= set(observation)
    assert not {"krenning_computed", "flags"} & set(observation)  # method fields: DRF's path
    study = plainly_read(apps.imaging.serializers.StudySerializer())
    assert "observations" not in study  # nested: DRF's path (and each item the plan)


def _record(model: type[models.Model]) -> models.Model:
    """A stored record of the model with every optional column filled in."""
    if model is Patient:
        return PatientFactory(height_cm=Decimal("172.5"), weight_kg=Decimal("70.25"))
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
    raise AssertionError(f"No record builder for {model.__name__}: add one here.")


@pytest.mark.django_db
@pytest.mark.parametrize("serializer_class", api_serializers(), ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("zone", ZONES)
def test_a_stored_record_is_represented_exactly_as_drf_does(
    serializer_class: type[FastRepresentation], zone: str
) -> None:
    instance = serializer_class.Meta.model._default_manager.get(
        pk=_record(serializer_class.Meta.model).pk
    )
    with timezone.override(ZoneInfo(zone)):
        fast = outcome(lambda: serializer_class(context={}).to_representation(instance))
        reference = outcome(lambda: drf(serializer_class(context={}), instance))
    assert fast == reference


def outcome(represent: Any) -> tuple[str, str]:
    """The JSON, or the error's type: a request-only serializer (ObservationReadItemSerializer,
    whose lesion field takes an id in and cannot show a lesion) fails alike both ways."""
    try:
        return ("json", as_json(represent()))
    except Exception as exc:  # noqa: BLE001 - compared, not hidden
        return ("error", type(exc).__name__)


@pytest.mark.django_db
def test_a_page_of_patients_through_the_api_matches_drf(token_client: Any) -> None:
    PatientFactory.create_batch(3, height_cm=Decimal("180.0"))
    body = token_client("reader").get("/api/v1/patients/").json()
    serializer = apps.patients.serializers.PatientSerializer(context={})
    reference = [drf(serializer, patient) for patient in Patient.objects.order_by("pk")]
    assert sorted(body["results"], key=lambda row: row["id"]) == json.loads(as_json(reference))


# --- Generated values, field by field ---------------------------------------------------------


def _decimals(field: models.DecimalField) -> st.SearchStrategy[Decimal]:  # type: ignore[type-arg]
    whole = 10 ** (field.max_digits - field.decimal_places) - 1
    # At the column's scale (as read from PostgreSQL) and at other scales (DRF quantizes those).
    places = st.integers(min_value=0, max_value=field.decimal_places + 2)
    return places.flatmap(
        lambda p: st.decimals(min_value=0, max_value=whole, places=p, allow_nan=False)
    )


# Hypothesis takes naive bounds; `timezones` makes the values aware.
_AWARE = st.datetimes(
    min_value=datetime(1990, 1, 1),  # noqa: DTZ001
    max_value=datetime(2040, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


def _values(model: type[models.Model]) -> st.SearchStrategy[dict[str, Any]]:
    strategies: dict[str, st.SearchStrategy[Any]] = {}
    for field in model._meta.concrete_fields:
        if field.is_relation or field.primary_key:
            continue
        if isinstance(field, models.DecimalField):
            strategy: st.SearchStrategy[Any] = _decimals(field)
        elif isinstance(field, models.DateTimeField):
            strategy = _AWARE
        elif isinstance(field, models.DateField):
            strategy = st.dates(min_value=date(1900, 1, 1), max_value=date(2040, 1, 1))
        elif field.choices:
            strategy = st.sampled_from([value for value, _label in field.flatchoices])
        elif isinstance(field, models.BooleanField):
            strategy = st.booleans()
        elif isinstance(field, models.IntegerField):
            strategy = st.integers(min_value=0, max_value=30_000)
        elif isinstance(field, models.CharField):
            strategy = st.text(max_size=20)
        else:
            continue
        if field.null:
            strategy = st.none() | strategy
        strategies[field.attname] = strategy
    strategies["id"] = st.integers(min_value=1, max_value=2**40)
    return st.fixed_dictionaries(strategies)


PLAIN_MODELS = {
    apps.patients.serializers.PatientSerializer: Patient,
    apps.patients.serializers.PathologySerializer: Pathology,
    apps.imaging.serializers.StudySerializer: ImagingStudy,
    apps.imaging.serializers.ObservationSerializer: Observation,
}


@pytest.mark.parametrize("serializer_class", list(PLAIN_MODELS), ids=lambda cls: cls.__name__)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), zone=st.sampled_from(ZONES))
def test_each_plain_field_reads_as_drf_on_any_value(
    serializer_class: type[FastRepresentation], data: st.DataObject, zone: str
) -> None:
    model = PLAIN_MODELS[serializer_class]
    values = data.draw(_values(model))
    instance = model(**values, patient_id=7) if model is not Patient else model(**values)
    if model is Observation:
        instance.study_id, instance.lesion_id = 11, 13
    with timezone.override(ZoneInfo(zone)):
        serializer = serializer_class(context={})
        plain = set(plainly_read(serializer))
        for name, read in serializer._compile():
            if name in plain:
                reference = _drf_reader(serializer.fields[name])(instance)
                assert as_json(read(instance)) == as_json(reference), name
