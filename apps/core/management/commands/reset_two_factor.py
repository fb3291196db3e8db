from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.mfa import mfa_reset


class Command(BaseCommand):
    help = (
        "Lost device: remove a user's authenticator app and recovery codes and sign them out "
        "everywhere; they set up two-factor sign-in again at their next sign-in. Recorded in the "
        "security log. Check who is asking before you run it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        user = user_model._default_manager.filter(
            **{user_model.USERNAME_FIELD: options["username"]}
        ).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        removed = mfa_reset(user=user, by="manage.py reset_two_factor")
        self.stdout.write(
            f"Two-factor sign-in of {user.get_username()!r} reset ({removed} device(s) removed)."
        )
