"""The one-query permission backend answers exactly as Django's ModelBackend."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.backends import OneQueryModelBackend
from apps.core.roles import ROLES
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def both(user: Any) -> tuple[set[str], set[str]]:
    ours = OneQueryModelBackend().get_all_permissions(type(user).objects.get(pk=user.pk))
    django = ModelBackend().get_all_permissions(type(user).objects.get(pk=user.pk))
    return ours, django


@pytest.mark.parametrize("role", [*ROLES, None])
def test_each_role_has_the_same_permissions_as_with_model_backend(role: str | None) -> None:
    user = UserFactory(role=role)
    ours, django = both(user)
    assert ours == django
    assert bool(ours) == (role is not None)


def test_own_and_group_permissions_together_and_apart() -> None:
    user = UserFactory(role="reader")
    user.user_permissions.add(Permission.objects.get(codename="add_meeting"))
    extra = Group.objects.create(name="extra")
    extra.permissions.add(Permission.objects.get(codename="view_accessevent"))
    user.groups.add(extra)
    ours, django = both(user)
    assert ours == django
    assert {"decisions.add_meeting", "core.view_accessevent", "imaging.add_observation"} <= ours


def test_inactive_anonymous_superuser_and_object_permissions() -> None:
    inactive = UserFactory(role="admin", is_active=False)
    assert both(inactive) == (set(), set())
    boss = UserFactory(is_superuser=True)
    ours, django = both(boss)
    assert ours == django and len(ours) == Permission.objects.count()
    backend = OneQueryModelBackend()
    assert backend.get_all_permissions(AnonymousUser()) == set()
    reader = UserFactory(role="reader")
    assert backend.get_all_permissions(reader, obj=reader) == set()


def test_one_query_then_none_for_the_rest_of_the_request() -> None:
    created = UserFactory(role="clinician")
    user = type(created).objects.get(pk=created.pk)  # a fresh object: nothing cached on it
    with CaptureQueriesContext(connection) as queries:
        assert user.has_perms(["patients.view_patient", "decisions.add_decision"])
        assert not user.has_perm("decisions.add_meeting")
    assert len(queries) == 1
