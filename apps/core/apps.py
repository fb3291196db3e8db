from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core: audit, roles, sign-in and API tokens"

    def ready(self) -> None:
        from django.core import checks
        from django.db.models.signals import post_migrate

        import apps.core.schema  # noqa: F401 - registers the OpenAPI token scheme
        from apps.core.checks import check_static_manifest
        from apps.core.roles import sync_roles
        from apps.core.signin import connect as connect_signin

        # After every app's migrate: permissions of apps listed after core exist only then.
        post_migrate.connect(sync_roles, dispatch_uid="netboard_sync_roles")
        # The security log and signing out everywhere (sign-ins, lockouts, account changes).
        connect_signin()
        # A deployment check (`check --deploy`), not tagged staticfiles: neither migrate nor
        # collectstatic runs it. The WSGI and ASGI start-up do (apps/core/checks.py).
        checks.register(check_static_manifest, "netboard", deploy=True)
