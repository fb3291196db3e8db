"""Refuse, inside the test processes, every file opened beside the repository.

NETboard must stand on its own: a hospital clones it without the folders that sat next to the
developers' checkout (the product owner's specifications, for one). ``install`` adds an audit hook
(PEP 578) that raises ``ReadOutsideRoot``, naming the path, when a test opens or lists anything
under the repository's parent directory but outside the repository. Paths are resolved first, so a
symlink or a ``..`` cannot go round it. Everything elsewhere stays allowed: the temporary
directory, the interpreter and its packages, system files. ``tests/conftest.py`` installs it, so
it guards collection as well as the tests; ``tests/core/test_stands_alone.py`` tests it.

Only the test processes are guarded: servers and workers that tests start are other processes.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

ROOT = os.path.realpath(Path(__file__).resolve().parents[1])

# Audit events that open or list a path; their first argument is the path (or a descriptor).
EVENTS = frozenset({"open", "os.listdir", "os.scandir"})


class ReadOutsideRoot(RuntimeError):
    """A test opened a path beside the repository.

    Not an ``OSError``, so that code that falls back on a missing file cannot swallow it.
    """


def _under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def beside(path: str, root: str, allowed: Iterable[str] = (), home: str | None = None) -> bool:
    """Whether the resolved absolute ``path`` lies beside the repository at ``root``: under the
    directory that holds ``root`` (that directory itself included: listing it shows the siblings)
    but not under ``root``, nor under one of the ``allowed`` directories that lie there (one
    above the repository's parent, like ``/tmp`` above a clone in ``/tmp/tmp.X/netboard``, does
    not open the parent).

    Nothing is beside a repository at the top of the filesystem (its parent holds the whole
    system). When the repository's parent is the home directory, its hidden entries (``~/.cache``,
    ``~/.config``, an interpreter under ``~/.pyenv``) are the user's environment, not project
    files, and stay allowed.
    """
    parent = os.path.dirname(root)
    if parent == os.path.dirname(parent) or not _under(path, parent) or _under(path, root):
        return False
    if any(_under(path, place) and _under(place, parent) for place in allowed):
        return False
    if home is not None and parent == home and path != parent:
        first = path[len(parent) :].lstrip(os.sep).split(os.sep, 1)[0]
        if first.startswith("."):
            return False
    return True


def _allowed() -> tuple[str, ...]:
    places = {tempfile.gettempdir(), sys.prefix, sys.base_prefix, sys.exec_prefix}
    places.add(sys.base_exec_prefix)
    return tuple(sorted({os.path.realpath(place) for place in places}))


ALLOWED = _allowed()
HOME = os.path.realpath(os.path.expanduser("~"))


@lru_cache(maxsize=8192)
def _refused(absolute: str) -> str | None:
    real = os.path.realpath(absolute)
    return real if beside(real, ROOT, ALLOWED, HOME) else None


def outside_root(path: object) -> str | None:
    """The resolved path when opening ``path`` would reach beside the repository, else None.

    Accepts what ``open`` and ``os.listdir`` accept; a file descriptor (an int) or no path is
    never refused. A relative path is taken from the current directory, as ``open`` takes it.
    """
    if path is None or isinstance(path, int):
        return None
    try:
        name = os.fsdecode(os.fspath(path))  # type: ignore[arg-type]
        return _refused(os.path.abspath(name))
    except (TypeError, ValueError, OSError):  # not a path: open itself will say so
        return None


def _hook(event: str, args: tuple[object, ...]) -> None:
    if event in EVENTS and args:
        refused = outside_root(args[0])
        if refused is not None:
            raise ReadOutsideRoot(
                f"{refused}: a test read a path beside the repository (outside {ROOT}). "
                "NETboard must stand on its own: keep what a test needs inside the repository "
                "(test data in tests/data/)."
            )


_installed = False


def install() -> None:
    """Add the audit hook to this process, once (an audit hook cannot be removed)."""
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True
