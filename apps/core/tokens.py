"""Issuing and revoking API tokens for integrating systems."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from apps.core.models import ApiToken, token_digest
from apps.core.roles import ROLES


class TokenError(Exception):
    pass


@transaction.atomic
def api_token_create(
    *, name: str, role: str, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token (and its service user in `role`); return it with the key, shown once.
    With `expires_at`, the key is refused from then on.

    A revoked name can be issued again: the old row keeps its history, the new key differs.
    """
    if role not in ROLES:
        raise TokenError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    if ApiToken.objects.active().filter(name=name).exists():
        raise TokenError(f"A token named {name!r} already exists; revoke it first.")
    if expires_at is not None and expires_at <= timezone.now():
        raise TokenError("The expiry must be in the future.")
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=f"api:{name}")
    user.set_unusable_password()
    user.is_active = True
    user.save()
    user.groups.set([Group.objects.get(name=role)])
    key = ApiToken.generate_key()
    ApiToken.objects.filter(name=name).delete()  # a revoked predecessor of the same name
    token = ApiToken.objects.create(
        name=name, digest=token_digest(key), user=user, expires_at=expires_at
    )
    return token, key


@transaction.atomic
def api_token_revoke(*, name: str) -> ApiToken:
    token = ApiToken.objects.active().filter(name=name).first()
    if token is None:
        raise TokenError(f"No active token named {name!r}.")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    return token
