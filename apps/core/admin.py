from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.core.access import record_access
from apps.core.mfa import mfa_reset
from apps.core.models import AccessEvent, ApiToken, SecurityEvent
from apps.core.signin import sign_out_everywhere, signin_unlock


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "created_at", "last_used_at", "expires_at", "revoked_at"]
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


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "kind", "username", "user_id", "ip_address", "actor", "detail"]
    list_filter = ["kind"]
    search_fields = ["username", "actor", "=ip_address"]
    date_hierarchy = "at"


@admin.register(AccessAttempt)
class SignInLockoutAdmin(admin.ModelAdmin):
    """django-axes' attempt records: who failed to sign in, from where, how often. Unlocking
    goes through the audited action, never a plain delete."""

    list_display = ["attempt_time", "username", "ip_address", "failures_since_start", "locked"]
    search_fields = ["username", "=ip_address"]
    fields = ["username", "ip_address", "user_agent", "path_info", "attempt_time"]
    readonly_fields = fields
    actions = ["unlock"]

    @admin.display(boolean=True, description="locked")
    def locked(self, obj):  # type: ignore[no-untyped-def]
        from django.conf import settings

        return obj.failures_since_start >= settings.AXES_FAILURE_LIMIT

    @admin.action(description="Unlock: forget these failed sign-ins", permissions=["unlock"])
    def unlock(self, request, queryset):  # type: ignore[no-untyped-def]
        by = request.user.get_username()
        pairs = sorted(set(queryset.values_list("username", "ip_address")), key=str)
        for username, address in pairs:
            if username:
                signin_unlock(username=username, by=by)
            if address:
                signin_unlock(ip_address=address, by=by)
        self.message_user(request, f"Unlocked {len(pairs)} user name/address pair(s).")

    def has_unlock_permission(self, request):  # type: ignore[no-untyped-def]
        return request.user.has_perm("axes.delete_accessattempt")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


User = get_user_model()
admin.site.unregister(User)
# django-otp's device admins would let keys and recovery codes be edited unaudited: devices are
# managed by their users (enrolment) and reset by the audited action below.
admin.site.unregister(TOTPDevice)
admin.site.unregister(StaticDevice)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin, with "Sign out everywhere", "Unlock sign-in" and "Reset two-factor
    sign-in". Changing a user's password, groups (their role) or deactivating them also signs
    them out everywhere (apps/core/signin.py)."""

    actions = ["sign_out_everywhere", "unlock_sign_in", "reset_two_factor"]

    @admin.action(description="Sign out everywhere", permissions=["change"])
    def sign_out_everywhere(self, request, queryset):  # type: ignore[no-untyped-def]
        ended = sum(
            sign_out_everywhere(user, "administrator's action", always_record=True)
            for user in queryset
        )
        self.message_user(
            request, f"{queryset.count()} user(s) signed out everywhere ({ended} session(s))."
        )

    @admin.action(description="Unlock sign-in", permissions=["change"])
    def unlock_sign_in(self, request, queryset):  # type: ignore[no-untyped-def]
        by = request.user.get_username()
        for user in queryset:
            signin_unlock(username=user.get_username(), by=by)
        self.message_user(
            request, f"Sign-in unlocked for {queryset.count()} user(s).", messages.SUCCESS
        )

    @admin.action(description="Reset two-factor sign-in (lost device)", permissions=["change"])
    def reset_two_factor(self, request, queryset):  # type: ignore[no-untyped-def]
        by = request.user.get_username()
        for user in queryset:
            mfa_reset(user=user, by=by)
        self.message_user(
            request,
            f"Two-factor sign-in reset for {queryset.count()} user(s): they set it up again at "
            "their next sign-in.",
            messages.SUCCESS,
        )


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
