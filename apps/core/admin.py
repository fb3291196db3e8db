from django.contrib import admin

from apps.core.access import record_access
from apps.core.models import AccessEvent, ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["name", "user", "created_at", "last_used_at"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False  # keys are issued by `manage.py create_api_token` so they are shown once


@admin.register(AccessEvent)
class AccessEventAdmin(admin.ModelAdmin):
    list_display = ["at", "username", "api_system", "patient_id", "action", "path"]
    list_filter = ["action"]
    search_fields = ["username", "api_system", "=patient_id"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class AccessLoggedAdmin(admin.ModelAdmin):
    """Admin pages that show patient data write access events, like every other read."""

    def patient_ids_of(self, obj):  # type: ignore[no-untyped-def]
        return [obj.patient_id]

    def changelist_view(self, request, extra_context=None):  # type: ignore[no-untyped-def]
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            ids = [pid for obj in changelist.result_list for pid in self.patient_ids_of(obj)]
            record_access(request, ids, f"admin_list:{self.model._meta.model_name}")
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):  # type: ignore[no-untyped-def]
        response = super().change_view(request, object_id, form_url, extra_context)
        original = getattr(response, "context_data", {}).get("original")
        if original is not None:
            record_access(
                request, self.patient_ids_of(original), f"admin_view:{self.model._meta.model_name}"
            )
        return response
