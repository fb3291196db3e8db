from django.contrib import admin
from django.http import HttpRequest

from apps.decisions.models import Case, Decision, Meeting


class CaseInline(admin.TabularInline):
    model = Case
    extra = 0
    raw_id_fields = ["patient"]


@admin.register(Meeting)
class MeetingAdmin(admin.ModelAdmin):
    list_display = ["title", "held_on"]
    inlines = [CaseInline]


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    """Read-only here: decisions are recorded at the meeting, through the service."""

    list_display = ["case", "recommendation", "decided_by", "decided_at", "signed_at"]
    list_filter = ["recommendation"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Decision | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Decision | None = None) -> bool:
        return False
