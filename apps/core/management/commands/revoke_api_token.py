from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.tokens import TokenError, api_token_revoke


class Command(BaseCommand):
    help = "Revoke an integrating system's API token; it stops working at once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            token = api_token_revoke(name=options["name"])
        except TokenError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Token {token.name!r} revoked.")
