from __future__ import annotations

from rest_framework import mixins, serializers, viewsets

from apps.core.models import AccessEvent


class AccessEventSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = AccessEvent
        fields = [
            "id",
            "at",
            "user_id",
            "username",
            "api_system",
            "patient_id",
            "action",
            "path",
            "request_id",
        ]
        read_only_fields = fields


class AccessEventViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Who read which patient's data (auditors only). Never writable."""

    serializer_class = AccessEventSerializer
    queryset = AccessEvent.objects.all()
    filterset_fields = ["patient_id", "user_id", "action"]
