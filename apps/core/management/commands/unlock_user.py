from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.signin import signin_unlock


class Command(BaseCommand):
    help = (
        "Lift the sign-in lockout of a user name (and, with --address, of a client address): "
        "their failed attempts are forgotten and they can sign in at once. Recorded in the "
        "security log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", nargs="?", help="the user name as it was typed")
        parser.add_argument("--address", help="also unlock this client address")

    def handle(self, *args: Any, **options: Any) -> None:
        username, address = options["username"], options["address"]
        if not username and not address:
            raise CommandError("Give a user name, an --address, or both.")
        if address:
            import ipaddress

            try:
                address = str(ipaddress.ip_address(address))
            except ValueError:
                raise CommandError(f"{address!r} is not an IP address.") from None
        removed = 0
        if username:
            removed += signin_unlock(username=username, by="manage.py unlock_user")
        if address:
            removed += signin_unlock(ip_address=address, by="manage.py unlock_user")
        what = " and ".join(
            part for part in (username and f"user {username!r}", address and address) if part
        )
        self.stdout.write(f"Unlocked {what}: {removed} attempt record(s) removed.")
