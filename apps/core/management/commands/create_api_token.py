from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.roles import READER, ROLES
from apps.core.tokens import TokenError, api_token_create


class Command(BaseCommand):
    help = "Issue an API token for an integrating system. The key is printed once, last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="A short slug naming the system, e.g. ris-main")
        parser.add_argument("--role", default=READER, choices=ROLES, help="Role of the system")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            token, key = api_token_create(name=options["name"], role=options["role"])
        except TokenError as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(
            f"Token {token.name!r} (role {options['role']}) created. Store the key now; "
            "only its SHA-256 digest is kept."
        )
        self.stdout.write(key)
