"""Types shared by the apps (the clinical rules keep their own, standard library only)."""

from typing import Any

# A JSON object as Python holds it: a FHIR resource, a stored result, an API body.
JSON = dict[str, Any]
