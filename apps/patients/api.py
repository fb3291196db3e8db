from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Model

from apps.core.api_base import AccessLoggedViewSet
from apps.patients.models import Biomarker, Pathology, Patient, Treatment
from apps.patients.serializers import (
    BiomarkerSerializer,
    PathologySerializer,
    PatientSerializer,
    TreatmentSerializer,
)


class PatientViewSet(AccessLoggedViewSet):
    queryset = Patient.objects.all()
    serializer_class = PatientSerializer
    filterset_fields = ["mrn", "primary_site"]

    def patient_ids(self, objects: Iterable[Model]) -> list[int]:
        return [obj.pk for obj in objects]


class PathologyViewSet(AccessLoggedViewSet):
    queryset = Pathology.objects.all()
    serializer_class = PathologySerializer
    filterset_fields = ["patient"]


class BiomarkerViewSet(AccessLoggedViewSet):
    queryset = Biomarker.objects.all()
    serializer_class = BiomarkerSerializer
    filterset_fields = ["patient", "analyte"]


class TreatmentViewSet(AccessLoggedViewSet):
    queryset = Treatment.objects.prefetch_related("cycles")
    serializer_class = TreatmentSerializer
    filterset_fields = ["patient", "kind"]
