"""The login backends: the lockout check (django-axes), then Django's ModelBackend, with a
user's permissions read in one query and the demo password refused outside DJANGO_DEBUG=1.

Every page and API request checks permissions; Django's ModelBackend reads a user's own and
group permissions in two queries (about 2 ms together, as much as a whole hello-world page).
This reads both in one. Same answers as ModelBackend (tested against it): inactive and anonymous
users have none, superusers all, object permissions none; the result is kept on the user object
for the request, under the attribute ModelBackend uses.
"""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.db import connection
from django.http import HttpRequest

from apps.core.passwords import is_demo_password

_PERMISSIONS_SQL = """
SELECT ct.app_label, p.codename
FROM auth_permission p JOIN django_content_type ct ON ct.id = p.content_type_id
WHERE p.id IN (
  SELECT permission_id FROM auth_user_user_permissions WHERE user_id = %s
  UNION
  SELECT gp.permission_id FROM auth_group_permissions gp
  JOIN auth_user_groups ug ON ug.group_id = gp.group_id WHERE ug.user_id = %s
)
"""


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check, first in AUTHENTICATION_BACKENDS: a locked user name or
    address is refused before any password is looked at (apps/core/signin.py). Marks the
    request so the security log tells a refused attempt from a wrong password.

    Every sign-in over HTTP passes its request (the login page, the admin's, DRF); a call
    without one (Django's test `Client.login`, a script) has no address to lock and is passed
    on to the password check rather than refused with ValueError as axes' own backend does."""

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return
        try:
            super().authenticate(request, username, password, **kwargs)
        except AxesBackendPermissionDenied:
            request.netboard_locked_refused = True  # type: ignore[attr-defined]
            raise


class OneQueryModelBackend(ModelBackend):
    """ModelBackend reading a user's own and group permissions in one query, not two; the
    published demo password signs in to no account unless NETBOARD_DEMO_SIGNIN (DJANGO_DEBUG=1,
    apps/core/passwords.py)."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if not settings.NETBOARD_DEMO_SIGNIN and is_demo_password(password):
            return None  # a failed sign-in like any other (logged, counted toward a lockout)
        return super().authenticate(request, username, password, **kwargs)

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj)
        if not hasattr(user_obj, "_perm_cache"):
            with connection.cursor() as cursor:
                cursor.execute(_PERMISSIONS_SQL, [user_obj.pk, user_obj.pk])
                user_obj._perm_cache = {f"{app}.{codename}" for app, codename in cursor.fetchall()}
        permissions: set[str] = user_obj._perm_cache
        return permissions
