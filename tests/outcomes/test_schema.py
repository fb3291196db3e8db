"""The OpenAPI schema describes ``analytics/survival/`` as docs/api.md does: its query
parameters with their codes, and every key of its body."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.api.test_schema import component

API_MD = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
SECTION = API_MD.split("## Survival analytics", 1)[1].split("\n## ", 1)[0]


@pytest.fixture(scope="module")
def operation() -> dict[str, Any]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {"schema": schema, "get": schema["paths"]["/api/v1/analytics/survival/"]["get"]}


def test_every_query_parameter_and_code_of_api_md_is_in_the_schema(
    operation: dict[str, Any],
) -> None:
    query = SECTION.split("`GET analytics/survival/?", 1)[1].split("`", 1)[0]
    documented = dict(part.split("=") for part in query.split("&"))
    parameters = {p["name"]: p for p in operation["get"]["parameters"]}
    for name, codes in documented.items():
        enum = set(component(operation["schema"], parameters[name]["schema"])["enum"])
        assert set(codes.split("|")) == enum, name
    filters = re.findall(r"`([a-z_]+)`", SECTION.split("(filters", 1)[1].split(")", 1)[0])
    assert set(filters) == {"primary_site", "who_grade", "received_prrt"}
    assert set(filters) <= set(parameters)


def test_every_key_of_the_body_of_api_md_is_in_the_schema(operation: dict[str, Any]) -> None:
    schema = operation["schema"]
    ok = component(
        schema, operation["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    )
    assert {"groups", "logrank"} <= set(ok["properties"])
    body = SECTION.split("→ `", 1)[1].split("`. NETPET", 1)[0]
    group_keys = re.findall(r'"([a-z_]+)"', body.split('"groups": [{', 1)[1].split("}]", 1)[0])
    group = component(schema, ok["properties"]["groups"])
    assert set(group_keys) <= set(group["properties"])
    logrank = component(schema, ok["properties"]["logrank"])
    assert set(logrank["properties"]) == {"chi2", "df", "p"}
    assert "202" in operation["get"]["responses"]
