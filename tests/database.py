"""A second connection to the test database, beside Django's: for tests that hold a lock or
a write open while the code under test runs."""

from __future__ import annotations

import psycopg
from django.db import connection


def second_connection() -> psycopg.Connection:
    """A new psycopg connection to the database Django's connection uses (not autocommit)."""
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        dbname=settings["NAME"],
    )
