from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from apps.core.roles import READER, ROLES
from apps.core.tokens import TokenError, api_token_create


class Command(BaseCommand):
    help = "Issue an API token for an integrating system. The key is printed once, last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="A short slug naming the system, e.g. ris-main")
        parser.add_argument("--role", default=READER, choices=ROLES, help="Role of the system")
        parser.add_argument(
            "--expires-in-days",
            type=int,
            default=None,
            metavar="DAYS",
            help="Refuse the key after this many days (default: until revoked)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["expires_in_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-in-days must be 1 or more.")
        expires_at = timezone.now() + timedelta(days=days) if days is not None else None
        try:
            token, key = api_token_create(
                name=options["name"], role=options["role"], expires_at=expires_at
            )
        except TokenError as exc:
            raise CommandError(str(exc)) from exc
        until = f", expires {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else ""
        self.stderr.write(
            f"Token {token.name!r} (role {options['role']}{until}) created. Store the key now; "
            "only its SHA-256 digest is kept."
        )
        self.stdout.write(key)
