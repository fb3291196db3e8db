"""Sentences a clinician can read aloud: lesion names and lists (DOMAIN.md §4, §6).

Output text never uses the words "eligible" or "approved" (DOMAIN.md §6): the app supports the
tumour board's decision, it does not make it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# Longer lists are cut to this many names plus "and N more", so a sentence stays readable.
_MAX_NAMED = 5


class LesionNames:
    """Names lesions by their label, else by id ("lesion 7"); an empty label counts as none."""

    def __init__(self, labels: Mapping[int, str]) -> None:
        self._labels = {lesion: label for lesion, label in labels.items() if label}

    def one(self, lesion: int) -> str:
        return self._labels.get(lesion) or f"lesion {lesion}"

    def many(self, lesions: Sequence[int]) -> str:
        """``"L1"``, ``"L1 and L2"``, ``"L1, L2 and L3"``; long lists end in ``"and N more"``."""
        names = [self.one(lesion) for lesion in lesions[:_MAX_NAMED]]
        n = len(lesions)
        if n > _MAX_NAMED:
            return f"{', '.join(names)} and {n - _MAX_NAMED} more"
        if n <= 1:
            return "".join(names)
        return f"{', '.join(names[:-1])} and {names[-1]}"


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``"1 lesion"``, ``"3 lesions"``."""
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def every(n: int, singular: str) -> str:
    """``"the only lesion"``, ``"all 3 lesions"``."""
    return f"the only {singular}" if n == 1 else f"all {n} {singular}s"


def is_are(n: int) -> str:
    return "is" if n == 1 else "are"


def sentence(text: str) -> str:
    """Capitalise the first letter ("lesion 2 is ..." → "Lesion 2 is ...")."""
    return text[:1].upper() + text[1:]
