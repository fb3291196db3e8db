"""Sentences a clinician can read aloud: lesion names and lists (DOMAIN.md §4, §6).

Output text never uses the words "eligible" or "approved" (DOMAIN.md §6): the app supports the
tumour board's decision, it does not make it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

# Longer lists are cut to this many names plus "and N more", so a sentence stays readable.
_MAX_NAMED = 5


class _Labels(dict[int, str]):
    """Lesion labels by id; a lesion with no label is named by its id."""

    def __missing__(self, lesion: int) -> str:
        return f"lesion {lesion}"


class LesionNames:
    """Names lesions by their label, else by id ("lesion 7")."""

    __slots__ = ("_name",)
    _name: Callable[[int], str]

    def __init__(self, labels: Mapping[int, str]) -> None:
        # ``_name`` looks a name up in C, also for a whole list through ``map``. An empty label
        # names the lesion by its id too.
        named = _Labels(labels)
        if not all(named.values()):
            named = _Labels({lesion: label for lesion, label in labels.items() if label})
        self._name = named.__getitem__

    def one(self, lesion: int) -> str:
        return self._name(lesion)

    def many(self, lesions: Sequence[int]) -> str:
        """``"L1"``, ``"L1 and L2"``, ``"L1, L2 and L3"``; long lists end in ``"and N more"``."""
        name = self._name
        n = len(lesions)
        if n > _MAX_NAMED:
            return f"{', '.join(map(name, lesions[:_MAX_NAMED]))} and {n - _MAX_NAMED} more"
        if n <= 1:
            return name(lesions[0]) if n else ""
        return f"{', '.join(map(name, lesions[:-1]))} and {name(lesions[-1])}"


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
