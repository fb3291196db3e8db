import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netboard.settings")

application = get_asgi_application()

# ASGI servers run no system checks: with DJANGO_DEBUG=0 and no collectstatic, stop here with
# netboard.E001's message rather than answer 500 on every page (apps/core/checks.py).
from apps.core.checks import raise_unless_static_collected  # noqa: E402 - after django.setup()

raise_unless_static_collected()
