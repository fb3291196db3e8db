"""A bad setting stops start-up with a message that names the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from netboard.env import env_uid_root
from tests.static_root import with_static_root, write_manifest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "x7#pQ2!vL9@mR4$tW8^zK1&cN6*bH3(fJ5)dG0-sA2+eY7=uI9",
    "DJANGO_ALLOWED_HOSTS": "netboard.hospital.example",
}


def run_manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "NETBOARD_"))}
    return subprocess.run(  # noqa: S603 - fixed interpreter and arguments
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_DEBUG": "perhaps"}, "DJANGO_DEBUG must be one of"),
        ({"DATABASE_URL": "mysql://root@localhost/netboard"}, "DATABASE_URL must be a postgres://"),
        ({"DATABASE_URL": "postgres://localhost:5432/"}, "DATABASE_URL must name a database"),
        ({"REDIS_URL": "http://localhost:6379"}, "REDIS_URL must be a redis://"),
        ({"CELERY_BROKER_URL": "amqp://guest@localhost//"}, "CELERY_BROKER_URL must be a redis://"),
        ({"NETBOARD_RULES": "{not json"}, "NETBOARD_RULES is not valid JSON"),
        ({"NETBOARD_RULES": "[1, 2]"}, "NETBOARD_RULES must be a JSON object"),
        ({"NETBOARD_RULES": '{"ki67_hihg": 55}'}, "NETBOARD_RULES: "),
        ({"NETBOARD_RULES": '{"ki67_high": "lots"}'}, "NETBOARD_RULES: "),
        ({"DJANGO_DEBUG": "0"}, "DJANGO_SECRET_KEY is required"),
        ({"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "short"}, "DJANGO_SECRET_KEY must be a random"),
        ({**PRODUCTION, "DJANGO_ALLOWED_HOSTS": ""}, "DJANGO_ALLOWED_HOSTS is required"),
        ({"DATABASE_CONN_MAX_AGE": "forever"}, "DATABASE_CONN_MAX_AGE must be a whole number"),
        ({"DJANGO_LOG_LEVEL": "LOUD"}, "DJANGO_LOG_LEVEL must be"),
        ({"NETBOARD_MFA_REQUIRED_ROLES": "admin,nurse"}, "NETBOARD_MFA_REQUIRED_ROLES: unknown"),
        ({"NETBOARD_DICOM_UID_ROOT": "1.2.03."}, "NETBOARD_DICOM_UID_ROOT must be a DICOM UID"),
        ({"NETBOARD_DICOM_UID_ROOT": "1.2.826"}, "NETBOARD_DICOM_UID_ROOT must be a DICOM UID"),
    ],
)
def test_bad_settings_fail_at_start_naming_the_variable(env: dict[str, str], message: str) -> None:
    result = run_manage(env, "check")
    assert result.returncode != 0
    assert message in result.stderr


def test_unknown_rule_names_the_key() -> None:
    result = run_manage({"NETBOARD_RULES": '{"ki67_hihg": 55}'}, "check")
    assert "ki67_hihg" in result.stderr


def test_valid_rule_overrides_are_accepted() -> None:
    result = run_manage({"NETBOARD_RULES": '{"ki67_high": 40, "pairing_window_days": 90}'}, "check")
    assert result.returncode == 0, result.stderr


def test_check_deploy_passes_with_a_production_environment(tmp_path: Path) -> None:
    # Production has its static files collected (netboard.E001 otherwise: test_static_check.py).
    write_manifest(tmp_path / "static")
    env = {**PRODUCTION, **with_static_root(tmp_path, tmp_path / "static")}
    result = run_manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr + result.stdout


def test_production_switches_on_secure_cookies_hsts_ssl_and_csp() -> None:
    code = (
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT,"
        " s.SECURE_HSTS_SECONDS > 0, 'csp.middleware.CSPMiddleware' in s.MIDDLEWARE)"
    )
    result = run_manage(PRODUCTION, "shell", "--no-imports", "-c", code)
    assert result.stdout.split() == ["True"] * 5, result.stderr
    debug = run_manage({"DJANGO_DEBUG": "1"}, "shell", "--no-imports", "-c", code)
    assert debug.stdout.split()[:4] == ["False"] * 4


def test_two_factor_roles_default_by_mode_and_none_means_none() -> None:
    code = "from django.conf import settings as s; print(','.join(s.NETBOARD_MFA_REQUIRED_ROLES))"
    production = run_manage(PRODUCTION, "shell", "--no-imports", "-c", code)
    assert production.stdout.strip() == "admin,clinician,staff", production.stderr
    debug = run_manage({"DJANGO_DEBUG": "1"}, "shell", "--no-imports", "-c", code)
    assert debug.stdout.strip() == "", debug.stderr
    empty = run_manage(
        {**PRODUCTION, "NETBOARD_MFA_REQUIRED_ROLES": ""}, "shell", "--no-imports", "-c", code
    )
    assert empty.stdout.strip() == "admin,clinician,staff", "empty is the default, not none"
    none = run_manage(
        {**PRODUCTION, "NETBOARD_MFA_REQUIRED_ROLES": "none"}, "shell", "--no-imports", "-c", code
    )
    assert none.stdout.strip() == "", none.stderr
    chosen = run_manage(
        {"NETBOARD_MFA_REQUIRED_ROLES": "reader, auditor"}, "shell", "--no-imports", "-c", code
    )
    assert chosen.stdout.strip() == "reader,auditor", chosen.stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", None),
        ("1.2.826.0.1.3680043.10.1234.", "1.2.826.0.1.3680043.10.1234."),
        ("2.25.", "2.25."),
        ("0.", "0."),
        ("1.2.826", ImproperlyConfigured),  # no trailing dot
        ("1.02.", ImproperlyConfigured),  # a leading zero
        ("1..2.", ImproperlyConfigured),
        ("1.2.a.", ImproperlyConfigured),
        ("1." * 21, ImproperlyConfigured),  # 42 characters: no room left for the derived part
    ],
)
def test_the_dicom_uid_root_is_checked(value: str, expected: object) -> None:
    environ = {"NETBOARD_DICOM_UID_ROOT": value}
    if expected is ImproperlyConfigured:
        with pytest.raises(ImproperlyConfigured, match="NETBOARD_DICOM_UID_ROOT"):
            env_uid_root("NETBOARD_DICOM_UID_ROOT", environ)
    else:
        assert env_uid_root("NETBOARD_DICOM_UID_ROOT", environ) == expected
