"""For tests that start Django in a subprocess with the static files somewhere of their own:
NETboard's settings with one change, STATIC_ROOT (which no environment variable sets)."""

from __future__ import annotations

from pathlib import Path

PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "x7#pQ2!vL9@mR4$tW8^zK1&cN6*bH3(fJ5)dG0-sA2+eY7=uI9",
    "DJANGO_ALLOWED_HOSTS": "netboard.hospital.example",
}


def with_static_root(directory: Path, static_root: Path) -> dict[str, str]:
    """Environment variables for a subprocess: the settings are netboard.settings, but with
    STATIC_ROOT = static_root (a module written into `directory`, put on PYTHONPATH)."""
    module = directory / "static_root_settings.py"
    module.write_text(
        f"from netboard.settings import *  # noqa: F403\nSTATIC_ROOT = {str(static_root)!r}\n"
    )
    return {"DJANGO_SETTINGS_MODULE": module.stem, "PYTHONPATH": str(directory)}


def write_manifest(static_root: Path) -> None:
    """An empty but valid manifest, as collectstatic would write for no files."""
    static_root.mkdir(parents=True, exist_ok=True)
    (static_root / "staticfiles.json").write_text('{"paths": {}, "version": "1.1", "hash": ""}')
