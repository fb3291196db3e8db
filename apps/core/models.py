"""Shared records: API tokens for hospital systems, the append-only access and security logs,
and browser sessions that know their user."""

from __future__ import annotations

import hashlib
import secrets

import pghistory
import pghistory.trigger
import pgtrigger
from django.conf import settings
from django.contrib.sessions.base_session import AbstractBaseSession
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "nbk_"  # noqa: S105 - a public prefix that marks NETboard keys, not a secret


def token_digest(key: str) -> str:
    """SHA-256 of the key. Keys carry 256 bits of entropy, so a fast hash is enough and keeps
    authentication cheap (a password hasher costs ~0.5 s per request)."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """One token per integrating system. Only the digest is stored; the key is shown once."""

    name = models.SlugField(max_length=64, unique=True)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_token"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Optional: after this the key is refused ("expired"), as if revoked.
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def generate_key() -> str:
        return TOKEN_PREFIX + secrets.token_urlsafe(32)


@pgtrigger.register(
    pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)
)
class AccessEvent(models.Model):
    """Who read which patient's data, when and how (as trusted EHRs keep).

    No foreign keys: deleting a user or a patient must never touch this append-only table.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user_id = models.BigIntegerField(null=True)
    username = models.CharField(max_length=150, blank=True)
    api_system = models.CharField(max_length=64, blank=True)
    patient_id = models.BigIntegerField()  # indexed with `at` below, which serves both
    action = models.CharField(max_length=64)
    path = models.CharField(max_length=255, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["patient_id", "-at"])]

    def __str__(self) -> str:
        return f"{self.username or self.api_system} {self.action} patient {self.patient_id}"


def audited() -> object:
    """Track every insert, update and delete of a clinical model by database trigger.

    Triggers see the ORM, bulk and queryset updates and raw SQL alike. Each event row holds the
    row's values after the change (before it, for a delete) and the request context; the audit
    views pair each update with the previous event to show before/after (`pgh_diff`).
    The triggers are statement-level (`_StatementEvent`): one INSERT of all the statement's
    events, so a complete read of 40 observations costs one trigger run, not 40.
    A new tracker set per model: pghistory trackers keep per-model state.
    """
    return pghistory.track(
        _StatementRowEvent(label="insert", row="NEW", operation=pgtrigger.Insert),
        _StatementRowEvent(label="update", row="NEW", operation=pgtrigger.Update),
        _StatementRowEvent(label="delete", row="OLD", operation=pgtrigger.Delete),
    )


# pghistory's statement-level SQL attaches the context through ``_pgh_attach_context()``, which
# also writes it to the ``pghistory_context`` table; our events carry the context in their own
# JSON column (PGHISTORY_CONTEXT_FIELD), so that second write is dropped.
_ATTACH_CONTEXT = "WITH _pgh_attached_context AS ( SELECT _pgh_attach_context() AS value ) "
_ATTACHED_CONTEXT = ", _pgh_attached_context;"


class _StatementEvent(pghistory.trigger.Event):
    """pghistory's statement-level event trigger, without the copy of the context."""

    def get_func(self, model: type[models.Model]) -> pgtrigger.Func:
        sql = str(super().get_func(model).func)
        if _ATTACH_CONTEXT not in sql or _ATTACHED_CONTEXT not in sql:
            # A new pghistory writes other SQL: look again rather than install it blindly.
            raise ImproperlyConfigured(f"Unexpected pghistory trigger SQL: {sql[:200]}")
        return pgtrigger.Func(sql.replace(_ATTACH_CONTEXT, "").replace(_ATTACHED_CONTEXT, ";"))


class _StatementRowEvent(pghistory.RowEvent):
    """pghistory's row event (insert, update or delete), tracked by a `_StatementEvent`."""

    def add_event_trigger(self, event_model: type[models.Model]) -> None:
        trigger = _StatementEvent(
            event_model=event_model,
            label=self.label,
            name=self.trigger_name,
            row=self.row,
            operation=self.operation,
            condition=self.condition,
            level=pghistory.Statement,
        )
        pgtrigger.register(trigger)(event_model.pgh_tracked_model)  # type: ignore[attr-defined]


class ClinicalRecord(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class IdempotencyKey(models.Model):
    """The first successful response to a POST sent with an ``Idempotency-Key``, kept 24 hours
    (API.md): a repeat with the same key and request gets this response again, not a second
    record. Keys are per user (each integrating system is a user)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField(encoder=DjangoJSONEncoder)
    location = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique")
        ]

    def __str__(self) -> str:
        return f"idempotency key of user {self.user_id}"


class SecurityEventKind(models.TextChoices):
    SIGNIN = "signin", "signed in"
    SIGNIN_FAILED = "signin_failed", "sign-in failed"
    LOCKOUT = "lockout", "locked out"
    UNLOCK = "unlock", "unlocked"
    SIGNOUT = "signout", "signed out"
    SIGNOUT_EVERYWHERE = "signout_everywhere", "signed out everywhere"
    PASSWORD_CHANGED = "password_changed", "password changed"
    ROLE_CHANGED = "role_changed", "role changed"
    DEACTIVATED = "deactivated", "deactivated"
    MFA_ENROLLED = "mfa_enrolled", "two-factor enrolled"
    MFA_FAILED = "mfa_failed", "two-factor code wrong"
    MFA_RESET = "mfa_reset", "two-factor reset"
    RECOVERY_CODE_USED = "recovery_code_used", "recovery code used"
    RECOVERY_CODES_RENEWED = "recovery_codes_renewed", "recovery codes renewed"


@pgtrigger.register(
    pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)
)
class SecurityEvent(models.Model):
    """Sign-ins, failed sign-ins, lockouts, unlocks, sign-outs, account changes that end
    sessions (apps/core/signin.py) and two-factor enrolment, failures and resets
    (apps/core/mfa.py). Never a password, a code or a key.

    No foreign keys, as AccessEvent: deleting a user must never touch this append-only table.
    `username` is the name as typed for a failed sign-in (it may name no user), `user_id` the
    user's id when there is one; `actor` whoever did it to them (an administrator), if not they.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=32, choices=SecurityEventKind.choices)
    username = models.CharField(max_length=150, blank=True)
    user_id = models.BigIntegerField(null=True)
    ip_address = models.GenericIPAddressField(null=True)
    actor = models.CharField(max_length=150, blank=True)
    detail = models.CharField(max_length=255, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["username", "-at"])]

    def __str__(self) -> str:
        return f"{self.username} {self.kind} at {self.at:%Y-%m-%d %H:%M:%S}"


class UserSession(AbstractBaseSession):
    """A browser session (Django's database session) with the id of its signed-in user, so a
    user's sessions can all be ended at once (apps/core/sessions.py, `user_sessions_end`)."""

    user_id = models.BigIntegerField(null=True, db_index=True)

    class Meta(AbstractBaseSession.Meta):
        verbose_name = "session"

    @classmethod
    def get_session_store_class(cls) -> type:
        from apps.core.sessions import SessionStore

        return SessionStore
