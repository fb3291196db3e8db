"""The repository stands on its own: nothing in it reads or links a path outside its root.

Two layers. Every text file of the repository is scanned for references that leave the root (a
relative path climbing into the folder that holds the checkout, the parent of ``ROOT``, parents
of ``Path(__file__)`` past the root, absolute paths of a build machine), and the test names every
offending file:line. And ``tests/read_guard.py``, installed by ``tests/conftest.py``, refuses at
run time any file a test opens beside the repository; the tests below prove it refuses.

A line that must name such a path on purpose (an example for these tests) carries the marker
``stands-alone: allowed``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest

from tests import read_guard
from tests.read_guard import ReadOutsideRoot, beside, outside_root

ROOT = Path(__file__).resolve().parents[2]
ALLOWED_MARK = "stands-alone: allowed"
# The sibling folder the examples below name, assembled so that this file does not spell a
# path outside the root itself.
SIBLING = "/".join(["..", "shared"])

# Formats whose relative paths are relative to the file itself (links, imports, url()); in every
# other file (Python, shell, Makefile, YAML, TOML, JSON…) a relative path is taken from the root,
# where the code runs.
FILE_RELATIVE = frozenset({".md", ".html", ".htm", ".js", ".mjs", ".css", ".svg"})

# A relative path that climbs: two dots and a slash (or backslash), once or more, not inside a
# longer token (``/api/v1/../`` is a URL path, ``from ..inputs`` a relative import, ``...`` an
# ellipsis).
CLIMB = re.compile(r"(?<![\w./\\-])((?:\.\.[/\\])+)")
# A chain of parents from this file: ``Path(__file__).resolve().parent.parent``.
FILE_CHAIN = re.compile(
    r"Path\(\s*__file__\s*\)(?:\s*\.\s*(?:resolve|absolute)\(\s*\))?"
    r"((?:\s*\.\s*(?:parent\b|parents\s*\[\s*\d+\s*\]))+)"
)
STEP = re.compile(r"parent\b|parents\s*\[\s*(\d+)\s*\]")
DIRNAME_CHAIN = re.compile(
    r"((?:os\.path\.dirname\(\s*)+)(?:os\.path\.(?:abspath|realpath)\(\s*)?__file__"
)
# Fixed patterns: each always leaves the root.
PATTERNS = {
    # The parent of a name for the root (ROOT, BASE_DIR…): the folder around the checkout.
    "parent of the root": re.compile(
        r"\b(?:ROOT|BASE_DIR|REPO_ROOT|PROJECT_ROOT|REPO_DIR)\b\s*\.\s*parents?\b"
    ),
    # A path joined with a segment of two dots (pathlib's ``/`` or ``os.path.join``).
    "a '..' path segment": re.compile(r"""(?:/\s*|os\.path\.join\([^)\n]*)["']\.\.["'/\\]"""),
    # The product owner's folder next to the checkout, however it is reached.
    "the sibling shared folder": re.compile(
        r"""\bparents?\b(?:\s*\[\s*\d+\s*\])?\s*/\s*["']shared["']|\.\.[/\\]shared\b"""
    ),
    # An environment variable naming that folder.
    "a variable for the shared folder": re.compile(r"\b\w*SHARED_(?:DIR|PATH|ROOT)\b"),
    # Absolute paths of a machine: the build workspace, home directories.
    "an absolute path of a machine": re.compile(r"(?<![\w.:/~%-])/(?:work|home|Users)/"),
}


def _line_of(text: str, offset: int) -> tuple[int, str]:
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return text.count("\n", 0, offset) + 1, text[start : end if end != -1 else len(text)]


def _levels(chain: str) -> int:
    """How many directories ``.parent`` / ``.parents[n]`` steps climb from the file itself."""
    return sum(1 if n is None else int(n) + 1 for n in (m.group(1) for m in STEP.finditer(chain)))


def findings(relative: str, text: str) -> list[str]:
    """Every reference of ``text`` (the content of the repository file ``relative``, a POSIX
    path from the root) that leaves the root, as ``file:line: what: the line``."""
    parts = PurePosixPath(relative).parts
    depth = len(parts) - 1  # directories between the root and the file
    file_relative = PurePosixPath(relative).suffix.lower() in FILE_RELATIVE
    hits: list[tuple[int, str]] = []
    for match in CLIMB.finditer(text):
        climbs = match.group(1).count("..")
        if climbs > (depth if file_relative else 0):
            where = "this file" if file_relative else "the root"
            hits.append((match.start(), f"a relative path climbing {climbs} up from {where}"))
    for match in FILE_CHAIN.finditer(text):
        if _levels(match.group(1)) > depth + 1:
            hits.append((match.start(), "Path(__file__) parents climbing past the root"))
    for match in DIRNAME_CHAIN.finditer(text):
        if match.group(1).count("dirname") > depth + 1:
            hits.append((match.start(), "os.path.dirname(__file__) climbing past the root"))
    for what, pattern in PATTERNS.items():
        hits.extend((match.start(), what) for match in pattern.finditer(text))
    found = []
    for offset, what in sorted(hits):
        number, line = _line_of(text, offset)
        if ALLOWED_MARK not in line:
            found.append(f"{relative}:{number}: {what}: {line.strip()}")
    return found


def repository_files() -> list[str]:
    """The repository's files, as git sees them: tracked ones (as committed or staged) and new
    ones not ignored (they will be committed), without deleted ones."""
    if not (ROOT / ".git").exists():
        return _walked_files()
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted({name for name in listed.split("\0") if name and (ROOT / name).is_file()})


# Not the repository's own files: the virtual environment, caches and what the tests write.
NOT_OURS = frozenset(
    {".git", ".venv", "var", "test-artifacts", "node_modules", "__pycache__", ".hypothesis"}
    | {".pytest_cache", ".mypy_cache", ".ruff_cache"}
)


def _walked_files() -> list[str]:
    """Without git (an exported tarball, say): every file under the root but the above."""
    found = []
    for directory, subdirectories, files in os.walk(ROOT):
        subdirectories[:] = [d for d in subdirectories if d not in NOT_OURS]
        found += [os.path.relpath(os.path.join(directory, name), ROOT) for name in files]
    return sorted(found)


def test_without_git_the_files_are_walked_and_agree_with_git() -> None:
    walked = set(_walked_files())
    listed = set(repository_files())
    assert listed <= walked  # git's list, less what it ignores, is in the walk
    assert "README.md" in walked and "tests/core/test_stands_alone.py" in walked


def text_files() -> Iterator[tuple[str, str]]:
    for relative in repository_files():
        data = (ROOT / relative).read_bytes()
        if b"\0" in data:
            continue  # binary
        try:
            yield relative, data.decode("utf-8")
        except UnicodeDecodeError:
            continue  # not text


def test_no_file_of_the_repository_refers_outside_its_root() -> None:
    scanned, found = 0, []
    for relative, text in text_files():
        scanned += 1
        found.extend(findings(relative, text))
    assert scanned > 100, "the list of the repository's files looks wrong"
    assert not found, "References outside the repository:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("relative", "line"),
    [
        ("README.md", f"contract in `{SIBLING}/API.md`"),
        ("apps/x/__init__.py", f'"""Rules ({SIBLING}/DOMAIN.md)."""'),
        ("tests/x.py", 'md = ROOT.parent / "shared" / "API.md"'),  # stands-alone: allowed
        ("tests/x/y.py", "p = Path(__file__).resolve().parents[2].parent"),  # stands-alone: allowed
        ("tests/x/y.py", "p = Path(__file__).parent.parent.parent.parent"),  # stands-alone: allowed
        ("x.py", "p = os.path.dirname(os.path.dirname(__file__))"),  # stands-alone: allowed
        ("tests/x.py", 'p = settings.BASE_DIR / ".." / "s"'),  # stands-alone: allowed
        ("tests/x.py", 'p = os.path.join(ROOT, "..", "s")'),  # stands-alone: allowed
        ("tests/x.py", 'os.environ.get("NETBOARD_SHARED_DIR")'),  # stands-alone: allowed
        ("tests/x/y/z.py", 'open("../cases/phenotype.json")'),  # stands-alone: allowed
        ("Makefile", "\tcp /work/shared/API.md docs/"),  # stands-alone: allowed
        ("docs/api.md", "see [the rules](../../DOMAIN.md)"),  # stands-alone: allowed
        ("static/js/a.js", 'import x from "../../../b.js";'),  # stands-alone: allowed
        ("bench/b.py", 'Path("/home/ana/netboard/var")'),  # stands-alone: allowed
    ],
)
def test_the_scan_catches_a_reference_outside_the_root(relative: str, line: str) -> None:
    # (Each example line carries the marker in a comment, so that the scan of this file passes it.)
    assert findings(relative, line + "\n") != []


@pytest.mark.parametrize(
    ("relative", "line"),
    [
        ("apps/scoring/rules/phenotype.py", "from ..inputs import PatientIn"),
        ("tests/api/test_schema.py", 'API_MD = (ROOT / "docs" / "api.md").read_text()'),
        ("tests/api/test_schema.py", "ROOT = Path(__file__).resolve().parents[2]"),
        ("netboard/settings.py", "BASE_DIR = Path(__file__).resolve().parent.parent"),
        ("tests/x.py", "ROOT = os.path.dirname(os.path.dirname(__file__))"),
        ("docs/api.md", "[the README](../README.md)"),  # stands-alone: allowed
        ("static/js/grid.js", 'import x from "../vendor/lib.js";'),  # stands-alone: allowed
        ("tests/api/test_x.py", 'client.get("/api/v1/../patients/")'),
        ("README.md", "DOMAIN.md §4.1 is §4.1 of docs/clinical-rules.md; see https://x.org/work/"),
        (".ci/run", 'cd "$(dirname "$0")/.."'),
        ("docker-compose.yml", "--schedule=/tmp/celerybeat-schedule"),
        ("apps/x.py", "return values[0], ...  # and so on"),
        ("tests/x.py", 'open("../y")  # stands-alone: allowed (an example)'),
    ],
)
def test_the_scan_lets_references_inside_the_root_pass(relative: str, line: str) -> None:
    assert findings(relative, line + "\n") == []


def test_the_scan_names_the_file_and_line() -> None:
    text = f"first line\nsee {SIBLING}/a\n"
    found = findings("README.md", text)
    assert [line.split(": ")[:2] for line in found] == [
        ["README.md:2", "a relative path climbing 1 up from this file"],
        ["README.md:2", "the sibling shared folder"],
    ]
    assert all(line.endswith(": " + text.splitlines()[1]) for line in found)


# --- the run-time guard ---------------------------------------------------------------------

BESIDE = ROOT.parent  # stands-alone: allowed (the folder the guard protects)
# Nothing is guarded beside a repository at the top of the filesystem or straight in an allowed
# place such as the temporary directory (see read_guard.beside).
guarded = pytest.mark.skipif(
    BESIDE.parent == BESIDE or os.path.realpath(BESIDE) in read_guard.ALLOWED,
    reason="the repository's parent is the top of the filesystem or an allowed place",
)


@guarded
def test_the_guard_refuses_a_file_of_the_shared_folder_beside_the_repository() -> None:
    path = BESIDE / "shared" / "API.md"
    assert outside_root(path) == os.path.realpath(path)
    assert outside_root(str(path).encode()) == os.path.realpath(path)
    assert outside_root(BESIDE) == os.path.realpath(BESIDE)  # listing it shows the siblings


@guarded
def test_the_guard_resolves_relative_paths_and_symlinks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    assert outside_root(os.path.join("..", "shared", "API.md")) is not None  # stands-alone: allowed
    assert outside_root(os.path.join("docs", "..", "README.md")) is None  # stands-alone: allowed
    link = tmp_path / "link"
    link.symlink_to(BESIDE / "shared", target_is_directory=True)
    assert outside_root(link / "API.md") == os.path.realpath(BESIDE / "shared" / "API.md")


def test_the_guard_lets_the_repository_and_the_rest_of_the_system_pass(tmp_path: Path) -> None:
    for path in [
        ROOT,
        ROOT / "README.md",
        ROOT / "tests" / "data" / "cases" / "phenotype.json",
        tmp_path / "scratch.txt",
        Path(sys.base_prefix) / "lib",
        Path(os.__file__),
    ]:
        assert outside_root(path) is None, path
    assert outside_root(3) is None  # a file descriptor
    assert outside_root(None) is None


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ("/srv/checkouts/shared/API.md", True),
        ("/srv/checkouts/other-project/README", True),
        ("/srv/checkouts", True),
        ("/srv/checkouts/netboard/tests/data/cases/phenotype.json", False),
        ("/srv/checkouts/netboard", False),
        ("/srv/checkouts/netboard-old/x", True),  # a prefix of the name is not inside
        ("/srv/checkouts/tmp/pytest-1/x", False),  # an allowed directory beside the repository
        ("/srv/other/x", False),
        ("/usr/lib/python3.11/os.py", False),
    ],
)
def test_the_guard_decides_what_is_beside_the_repository(path: str, refused: bool) -> None:
    root, allowed = "/srv/checkouts/netboard", ("/srv/checkouts/tmp", "/srv", "/usr")
    assert beside(path, root, allowed) is refused


def test_the_guard_allows_hidden_entries_of_a_home_directory_holding_the_repository() -> None:
    root, home = "/home/ana/netboard", "/home/ana"  # stands-alone: allowed
    assert beside("/home/ana/.cache/pip/x", root, (), home) is False  # stands-alone: allowed
    assert beside("/home/ana/shared/API.md", root, (), home) is True  # stands-alone: allowed
    assert beside("/home/ana", root, (), home) is True  # stands-alone: allowed


def test_nothing_is_beside_a_repository_at_the_top_of_the_filesystem() -> None:
    assert beside("/usr/lib/x", "/netboard", ()) is False


@guarded
def test_the_installed_guard_refuses_a_real_open_before_the_file_is_looked_for() -> None:
    missing = BESIDE / f"netboard-no-such-file-{uuid.uuid4().hex}"
    assert read_guard._installed
    with pytest.raises(ReadOutsideRoot, match=re.escape(os.path.realpath(missing))):
        open(missing)  # noqa: SIM115 - never opened: the guard refuses first
    with pytest.raises(ReadOutsideRoot):
        missing.read_text()
    with pytest.raises(ReadOutsideRoot):
        os.listdir(BESIDE)
    with pytest.raises(ReadOutsideRoot):
        list(os.scandir(BESIDE))


def test_the_installed_guard_lets_the_repository_be_read() -> None:
    with open(ROOT / "README.md", encoding="utf-8") as readme:
        assert readme.readline().startswith("# NETboard")
    assert "tests" in os.listdir(ROOT)
