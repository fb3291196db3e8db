"""``ResultJSONField``: the worker's large results in a PostgreSQL ``json`` column.

A ``jsonb`` column parses every value it is given into PostgreSQL's binary form and turns it
back into text on every read. The results (``PhenotypeAssessment.phenotype``, ``response``,
``uptake``: about 40 kB per patient) are written whole by the worker and read whole by the
pages and the API, never searched inside, so the text as written is all they need: a ``json``
column keeps it as it is (its syntax checked). Storing a regrade's chunk of 100 patients takes
about 76 ms rather than 128 ms in ``json`` (bench/bench_recompute.py, the regrade's target).
What the list, its filters and the outcomes query look inside (``summary``,
``latest_timepoint``) stays ``jsonb``.

Otherwise a ``JSONField``: the same encoder and decoder, the column read as text and parsed by
``from_db_value`` (psycopg would parse a ``json`` column itself), written as a ``json``
parameter. Django's JSON lookups (``has_key``, containment) are ``jsonb`` operators: none is
used on these fields.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from django.db import models
from psycopg.types.json import Json


class ResultJSONField(models.JSONField):
    """A ``JSONField`` stored in a ``json`` column (see the module)."""

    def db_type(self, connection: Any) -> str:
        return "json"

    def select_format(self, compiler: Any, sql: str, params: Any) -> tuple[str, Any]:
        return f"({sql})::text", params

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if not prepared:
            value = self.get_prep_value(value)
        return Json(value, dumps=partial(json.dumps, cls=self.encoder))
