"""netboard.E001: with DJANGO_DEBUG=0 and the static files not collected, NETboard does not start
(it answered 500 on every page that links a static file: "Missing staticfiles manifest entry").
The check is a deployment check, run by `check --deploy` and at the WSGI and ASGI start-up, and
stops neither collectstatic nor migrate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from apps.core.checks import check_static_manifest, raise_unless_static_collected
from tests.processes import free_port
from tests.static_root import PRODUCTION, with_static_root, write_manifest

ROOT = Path(__file__).resolve().parents[2]
WHITENOISE = "whitenoise.storage.CompressedManifestStaticFilesStorage"
DJANGO_MANIFEST = "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
PLAIN = "django.contrib.staticfiles.storage.StaticFilesStorage"


def storages(backend: str) -> dict[str, Any]:
    return {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": backend},
    }


@pytest.mark.parametrize("backend", [WHITENOISE, DJANGO_MANIFEST])
def test_a_missing_manifest_is_an_error_naming_collectstatic_and_static_root(
    tmp_path: Path, backend: str
) -> None:
    with override_settings(DEBUG=False, STORAGES=storages(backend), STATIC_ROOT=tmp_path):
        errors = check_static_manifest()
    assert [error.id for error in errors] == ["netboard.E001"]
    assert errors[0].level == checks.ERROR
    assert str(tmp_path / "staticfiles.json") in errors[0].msg
    assert "python manage.py collectstatic" in errors[0].hint
    assert f"STATIC_ROOT ({tmp_path})" in errors[0].hint


def test_nothing_once_collected(tmp_path: Path) -> None:
    write_manifest(tmp_path)
    with override_settings(DEBUG=False, STORAGES=storages(WHITENOISE), STATIC_ROOT=tmp_path):
        assert check_static_manifest() == []
        raise_unless_static_collected()


@pytest.mark.parametrize(
    ("debug", "backend"),
    [(False, PLAIN), (True, WHITENOISE)],  # no manifest storage; or DEBUG, where it needs none
)
def test_nothing_without_the_manifest_storage_or_in_debug(
    tmp_path: Path, debug: bool, backend: str
) -> None:
    with override_settings(DEBUG=debug, STORAGES=storages(backend), STATIC_ROOT=tmp_path):
        assert check_static_manifest() == []
        raise_unless_static_collected()


def test_the_start_up_raises_the_checks_message(tmp_path: Path) -> None:
    from django.core.exceptions import ImproperlyConfigured

    with (
        override_settings(DEBUG=False, STORAGES=storages(WHITENOISE), STATIC_ROOT=tmp_path),
        pytest.raises(ImproperlyConfigured) as raised,
    ):
        raise_unless_static_collected()
    message = str(raised.value)
    assert message.startswith("netboard.E001: The static files have not been collected")
    assert "python manage.py collectstatic" in message and str(tmp_path) in message


@pytest.mark.django_db
def test_check_deploy_reports_it_but_migrate_and_collectstatic_do_not_run_it(
    tmp_path: Path,
) -> None:
    """Registered as a deployment check: `check --deploy` runs it; migrate runs every check but
    the deployment ones, collectstatic only those tagged staticfiles (and no deployment one)."""
    with override_settings(DEBUG=False, STORAGES=storages(WHITENOISE), STATIC_ROOT=tmp_path):
        deploy = checks.run_checks(include_deployment_checks=True)
        assert "netboard.E001" in {error.id for error in deploy}
        with pytest.raises(SystemCheckError, match=r"netboard\.E001"):
            call_command("check", "--deploy", verbosity=0)
        assert "netboard.E001" not in {error.id for error in checks.run_checks()}
        staticfiles = checks.run_checks(tags=[checks.Tags.staticfiles])
        assert "netboard.E001" not in {error.id for error in staticfiles}
        call_command("migrate", "--plan", skip_checks=False, verbosity=0)
        call_command("collectstatic", "--noinput", "--dry-run", skip_checks=False, verbosity=0)


def production_env(tmp_path: Path, static_root: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "NETBOARD_"))}
    return {**clean, **PRODUCTION, **with_static_root(tmp_path, static_root)}


def run(
    tmp_path: Path, static_root: Path, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python *args` in a production environment whose STATIC_ROOT is `static_root`."""
    return subprocess.run(  # noqa: S603 - fixed interpreter and arguments
        [sys.executable, *args],
        cwd=ROOT,
        env=production_env(tmp_path, static_root),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize("module", ["netboard.wsgi", "netboard.asgi"])
def test_importing_the_application_without_collected_static_files_raises(
    tmp_path: Path, module: str
) -> None:
    static_root = tmp_path / "static"
    static_root.mkdir()
    result = run(tmp_path, static_root, "-c", f"import {module}")
    assert result.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured: netboard.E001" in result.stderr
    assert "python manage.py collectstatic" in result.stderr
    assert str(static_root / "staticfiles.json") in result.stderr


@pytest.mark.slow
def test_gunicorn_does_not_boot_without_collected_static_files(tmp_path: Path) -> None:
    static_root = tmp_path / "static"
    static_root.mkdir()
    bind = f"127.0.0.1:{free_port()}"
    server = subprocess.Popen(  # noqa: S603 - fixed interpreter and arguments
        [sys.executable, "-m", "gunicorn", "netboard.wsgi:application", "--bind", bind],
        cwd=ROOT,
        env=production_env(tmp_path, static_root),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = server.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)  # the master and its workers
        server.communicate()
        pytest.fail("gunicorn booted and served without the static files")
    assert server.returncode != 0
    assert "ImproperlyConfigured: netboard.E001" in stderr
    assert "python manage.py collectstatic" in stderr


@pytest.mark.slow
def test_collectstatic_runs_with_the_check_and_then_the_application_starts(
    tmp_path: Path,
) -> None:
    """As the Dockerfile does: collectstatic with DJANGO_DEBUG=0 into an empty STATIC_ROOT."""
    static_root = tmp_path / "static"
    result = run(tmp_path, static_root, "manage.py", "collectstatic", "--noinput", timeout=300)
    assert result.returncode == 0, result.stderr
    assert (static_root / "staticfiles.json").is_file()

    result = run(tmp_path, static_root, "manage.py", "check", "--deploy")
    assert result.returncode == 0, result.stderr
    result = run(tmp_path, static_root, "-c", "import netboard.wsgi, netboard.asgi")
    assert result.returncode == 0, result.stderr
