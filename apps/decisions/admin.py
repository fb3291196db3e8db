from django.contrib import admin
from django.http import HttpRequest

from apps.core.admin import AccessLoggedAdmin
from apps.decisions.display import person_name
from apps.decisions.models import Case, Decision, Meeting


class CaseInline(admin.TabularInline):
    model = Case
    extra = 0
    raw_id_fields = ["patient"]


@admin.register(Meeting)
class MeetingAdmin(AccessLoggedAdmin):
    list_display = ["title", "held_on"]
    inlines = [CaseInline]

    def patient_ids_of(self, obj):  # type: ignore[no-untyped-def]
        return [case.patient_id for case in obj.cases.all()]

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).prefetch_related("cases")


@admin.register(Decision)
class DecisionAdmin(AccessLoggedAdmin):
    """Read-only here: decisions are recorded at the meeting, through the service."""

    list_display = [
        "case",
        "recommendation",
        "signer",
        "decided_at",
        "signed_at",
        "outside_meeting",
    ]
    list_filter = ["recommendation", "outside_meeting"]
    list_select_related = ["case", "decided_by"]

    @admin.display(description="decided by", ordering="decided_by")
    def signer(self, obj: Decision) -> str:
        return person_name(obj.decided_by)

    def patient_ids_of(self, obj):  # type: ignore[no-untyped-def]
        return [obj.case.patient_id]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Decision | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Decision | None = None) -> bool:
        return False
