from __future__ import annotations

import django_filters

from apps.core.api_base import AccessLoggedViewSet
from apps.imaging.models import ImagingStudy, Lesion, Observation
from apps.imaging.serializers import LesionSerializer, ObservationSerializer, StudySerializer


class StudyFilter(django_filters.FilterSet):
    performed_after = django_filters.DateFilter(field_name="performed_on", lookup_expr="gte")
    performed_before = django_filters.DateFilter(field_name="performed_on", lookup_expr="lte")
    mrn = django_filters.CharFilter(field_name="patient__mrn")

    class Meta:
        model = ImagingStudy
        fields = ["patient", "tracer", "tracer_class", "modality", "post_therapy", "status"]


class LesionViewSet(AccessLoggedViewSet):
    queryset = Lesion.objects.all()
    serializer_class = LesionSerializer
    filterset_fields = ["patient", "site"]


class StudyViewSet(AccessLoggedViewSet):
    queryset = ImagingStudy.objects.prefetch_related("observations")
    serializer_class = StudySerializer
    filterset_class = StudyFilter


class ObservationViewSet(AccessLoggedViewSet):
    queryset = Observation.objects.all()
    serializer_class = ObservationSerializer
    filterset_fields = ["study", "lesion", "state"]
