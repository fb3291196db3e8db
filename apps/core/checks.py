"""System checks of NETboard's own.

netboard.E001: with DJANGO_DEBUG=0 the static files storage is WhiteNoise's manifest storage, which
looks every `{% static %}` up in the manifest that `collectstatic` writes (staticfiles.json in
STATIC_ROOT). Without it every page that links a static file answers 500 ("Missing staticfiles
manifest entry"), so the server should not start at all.

It is a deployment check (`manage.py check --deploy`), so that the commands that run every other
check and come before collectstatic in a deployment (`migrate`, `createsuperuser`, `load_demo`)
are not stopped by it, nor is collectstatic (which runs only checks tagged `staticfiles`, and no
deployment check). The servers run it at start-up: netboard/wsgi.py (gunicorn, and `runserver`,
which loads the WSGI application) and netboard/asgi.py call ``raise_unless_static_collected``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error
from django.core.exceptions import ImproperlyConfigured

STATIC_NOT_COLLECTED = "netboard.E001"


def check_static_manifest(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """netboard.E001 when the manifest storage is configured, DEBUG is off, and its manifest
    is missing (in DEBUG the manifest storage serves unhashed names and needs none)."""
    from django.contrib.staticfiles.storage import ManifestFilesMixin
    from django.core.files.storage import storages

    if settings.DEBUG:
        return []
    storage = storages.create_storage(settings.STORAGES["staticfiles"])
    if not isinstance(storage, ManifestFilesMixin):
        return []
    manifest = storage.manifest_name
    try:
        if storage.manifest_storage.exists(manifest):
            return []
        where = storage.manifest_storage.path(manifest)
    except ImproperlyConfigured as exc:  # STATIC_ROOT unset: Django's own message says so
        return [Error(str(exc), id=STATIC_NOT_COLLECTED)]
    return [
        Error(
            f"The static files have not been collected: {where} is missing, and with "
            "DJANGO_DEBUG=0 every page that links a static file would answer 500.",
            hint=(
                "Run `python manage.py collectstatic --noinput` first; it writes the files and "
                f"the manifest to STATIC_ROOT ({settings.STATIC_ROOT})."
            ),
            id=STATIC_NOT_COLLECTED,
        )
    ]


def raise_unless_static_collected() -> None:
    """For the WSGI and ASGI start-up (servers such as gunicorn run no system checks): raise
    ImproperlyConfigured with netboard.E001's message and hint, so the server does not boot."""
    errors = check_static_manifest()
    if errors:
        error = errors[0]
        hint = f" {error.hint}" if error.hint else ""
        raise ImproperlyConfigured(f"{error.id}: {error.msg}{hint}")
