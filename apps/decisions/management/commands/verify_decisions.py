"""Check the chain of signed decisions (``apps.decisions.integrity.verify_chain``).

Exit status 0 with "N signed decisions verified" and the head of the chain, or 1 naming the
first broken link: the decision, its case, when it was signed and what does not match. Keep the
head line somewhere else: ``--anchor POSITION:DIGEST`` later checks that the chain still holds
that link (removing the last links leaves no broken link behind otherwise).
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.decisions.integrity import verify_chain
from apps.decisions.models import Decision


def _anchor(text: str) -> tuple[int, str]:
    position, _, digest = text.partition(":")
    if not position.isdigit() or int(position) < 1 or len(digest) != 64:
        raise CommandError("--anchor takes POSITION:DIGEST, as the head line prints them.")
    return int(position), digest.lower()


class Command(BaseCommand):
    help = "Verify the SHA-256 chain of signed decisions; exit 1 naming the first broken link."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--anchor",
            metavar="POSITION:DIGEST",
            help="A chain head printed earlier: the chain must still hold that link.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        anchor = _anchor(options["anchor"]) if options.get("anchor") else None
        result = verify_chain()
        if not result.ok:
            self._fail(result.first_broken, result.reason, result.checked)
        if anchor is not None:
            position, digest = anchor
            stored = (
                Decision.objects.filter(chain_position=position)
                .values_list("signed_digest", flat=True)
                .first()
            )
            if stored != digest:
                self.stderr.write(
                    f"The chain does not hold the anchor (position {position}, SHA-256 "
                    f"{digest}): "
                    + (
                        "that link is gone (the chain was truncated)."
                        if stored is None
                        else "another decision holds that position (the chain was rewritten)."
                    )
                )
                sys.exit(1)
        noun = "decision" if result.checked == 1 else "decisions"
        self.stdout.write(f"{result.checked} signed {noun} verified.")
        if result.head_position:
            self.stdout.write(
                f"Chain head: {result.head_position}:{result.head_digest} (position:SHA-256; "
                "keep it to check later with --anchor)."
            )

    def _fail(self, decision: Decision | None, reason: str, checked: int) -> None:
        if decision is None:  # removed while the check ran
            self.stderr.write(f"The chain of signed decisions is broken: {reason}.")
        else:
            signed = decision.signed_at.isoformat() if decision.signed_at else "not signed"
            position = decision.chain_position if decision.chain_position else "none"
            self.stderr.write(
                f"Broken link: decision {decision.pk} (case {decision.case_id}, signed at "
                f"{signed}, chain position {position}): {reason}."
            )
        self.stderr.write(f"{checked} signed decision(s) before it verified.")
        sys.exit(1)
