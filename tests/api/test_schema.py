"""The live OpenAPI schema agrees with docs/api.md ("API.md", the contract hospital systems
integrate against): every resource, field, read-only marking and enum code of it is in the schema
under the same name; every property is described. API.md may be extended, never contradicted."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

ROOT = Path(__file__).resolve().parents[2]
API_MD = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)  # type: ignore[no-any-return]


def split_top(text: str) -> list[str]:
    """Split at commas outside (), [] and {}."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def parse_fields(cell: str) -> dict[str, dict[str, Any]]:
    """`*id*, mrn (unique), sex (`female`, `male`), cycles: [{number, ...}]` -> field specs."""
    fields: dict[str, dict[str, Any]] = {}
    for item in split_top(cell):
        nested = None
        if ":" in item and "[{" in item:
            item, _, rest = item.partition(":")
            nested = parse_fields(rest.strip().removeprefix("[{").removesuffix("}]"))
        read_only = item.startswith("*")
        name = re.match(r"\*?([a-z_0-9]+)", item)
        assert name, item
        codes = re.findall(r"`([^`]+)`", item[item.find("(") :]) if "(" in item else []
        fields[name.group(1)] = {"read_only": read_only, "codes": set(codes), "nested": nested}
    return fields


def resources() -> dict[str, dict[str, dict[str, Any]]]:
    table = API_MD.split("## Resources", 1)[1].split("\n## ", 1)[0]
    found = {}
    for line in table.splitlines():
        match = re.match(r"\| `([a-z_-]+/)` \| (.+) \|$", line)
        if match:
            found[match.group(1)] = parse_fields(match.group(2))
    return found


RESOURCES = resources()


def test_api_md_was_read() -> None:
    assert {"patients/", "studies/", "observations/", "decisions/", "meetings/"} <= set(RESOURCES)
    assert RESOURCES["patients/"]["sex"]["codes"] == {"female", "male", "other", "unknown"}
    assert RESOURCES["treatments/"]["cycles"]["nested"] is not None


def component(schema: dict[str, Any], ref_or_schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in ref_or_schema or "allOf" in ref_or_schema or "items" in ref_or_schema:
        if "allOf" in ref_or_schema:
            ref_or_schema = ref_or_schema["allOf"][0]
        elif "items" in ref_or_schema:
            ref_or_schema = ref_or_schema["items"]
        else:
            name = ref_or_schema["$ref"].rsplit("/", 1)[1]
            ref_or_schema = schema["components"]["schemas"][name]
    return ref_or_schema


def enum_codes(schema: dict[str, Any], prop: dict[str, Any]) -> set[str]:
    codes: set[str] = set()
    for option in prop.get("oneOf", [prop]):
        resolved = component(schema, option)
        codes |= {str(code) for code in resolved.get("enum", []) if code not in (None, "")}
    return codes


def check_fields(
    schema: dict[str, Any], read: dict[str, Any], write: dict[str, Any] | None, spec: dict[str, Any]
) -> None:
    props, writable = read["properties"], (write or {}).get("properties", {})
    for name, field in spec.items():
        assert name in props, f"{name} missing from the schema"
        prop = props[name]
        if field["read_only"]:
            assert name not in writable, f"{name} is read-only in API.md but writable"
        elif write is not None:
            assert name in writable, f"{name} is writable in API.md but not in the schema"
        if field["codes"]:
            assert enum_codes(schema, prop) == field["codes"], name
        if field["nested"]:
            nested_write = component(schema, writable[name]) if name in writable else None
            check_fields(schema, component(schema, prop), nested_write, field["nested"])


@pytest.mark.parametrize("path", [p for p in RESOURCES if "{" not in p])
def test_every_resource_and_field_of_api_md_is_in_the_schema(
    schema: dict[str, Any], path: str
) -> None:
    detail = schema["paths"].get(f"/api/v1/{path}{{id}}/")
    assert detail is not None, f"/api/v1/{path}{{id}}/ is not in the schema"
    read = component(
        schema, detail["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    )
    write_op = detail.get("put") or detail.get("patch")
    write = (
        component(schema, write_op["requestBody"]["content"]["application/json"]["schema"])
        if write_op
        else None
    )
    check_fields(schema, read, write, RESOURCES[path])


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/studies/{id}/observations/",
        "/api/v1/patients/{id}/phenotype/",
        "/api/v1/patients/{id}/recompute/",
        "/api/v1/audit/",
        "/api/v1/studies/{id}/dicom-sr/",
        "/api/v1/dicom-sr/",
        "/api/v1/analytics/survival/",
        "/api/v1/follow-ups/suggestions/",
    ],
)
def test_the_other_endpoints_of_api_md_are_in_the_schema(schema: dict[str, Any], path: str) -> None:
    assert path in schema["paths"]


def test_the_sr_endpoints_take_files_and_give_dicom(schema: dict[str, Any]) -> None:
    study_sr = schema["paths"]["/api/v1/studies/{id}/dicom-sr/"]
    assert "application/dicom" in study_sr["get"]["responses"]["200"]["content"]
    for operation in (study_sr["post"], schema["paths"]["/api/v1/dicom-sr/"]["post"]):
        body = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert "file" in component(schema, body)["properties"]


def keys_in(schema: dict[str, Any], example: Any, node: dict[str, Any], where: str) -> None:
    if isinstance(example, dict):
        props = node.get("properties", {})
        for key, value in example.items():
            assert key in props, f"{where}.{key} is in API.md but not in the schema"
            keys_in(schema, value, component(schema, props[key]), f"{where}.{key}")
    elif isinstance(example, list) and example:
        keys_in(schema, example[0], node, where)


def test_the_phenotype_body_of_api_md_is_in_the_schema(schema: dict[str, Any]) -> None:
    block = API_MD.split("`GET patients/{id}/phenotype/`", 1)[1].split("```json", 1)[1]
    example = json.loads(block.split("```", 1)[0].replace("…", "text"))
    body = schema["paths"]["/api/v1/patients/{id}/phenotype/"]["get"]["responses"]["200"]
    keys_in(schema, example, component(schema, body["content"]["application/json"]["schema"]), "")
    findings = component(
        schema,
        component(schema, component(schema, body["content"]["application/json"]["schema"])
                  ["properties"]["timepoints"])["properties"]["prrt_support"],
    )["properties"]["findings"]  # fmt: skip
    codes = re.findall(r"`([a-z_]+)`", API_MD.split("- Finding codes:", 1)[1].split("\n", 1)[0])
    assert enum_codes(schema, component(schema, findings)["properties"]["code"]) == set(codes)


def test_every_property_is_described(schema: dict[str, Any]) -> None:
    undescribed = [
        f"{name}.{prop}"
        for name, comp in schema["components"]["schemas"].items()
        for prop, spec in (comp.get("properties") or {}).items()
        if not spec.get("description")
    ]
    assert undescribed == []


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("*id*, mrn, nickname", "nickname missing"),
        ("id, mrn", "id is writable in API.md"),
        ("*id*, *mrn*", "mrn is read-only in API.md"),
        ("*id*, sex (`female`, `male`)", "sex"),
    ],
)
def test_the_check_itself_catches_a_disagreement(
    schema: dict[str, Any], cell: str, message: str
) -> None:
    detail = schema["paths"]["/api/v1/patients/{id}/"]
    read = component(
        schema, detail["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    )
    write = component(schema, detail["put"]["requestBody"]["content"]["application/json"]["schema"])
    with pytest.raises(AssertionError, match=message):
        check_fields(schema, read, write, parse_fields(cell))


@pytest.mark.parametrize("path", ["/api/v1/docs/", "/api/v1/redoc/"])
@pytest.mark.django_db
def test_the_docs_pages_load_only_our_own_assets(
    token_client: Any, path: str, settings: Any
) -> None:
    from django.contrib.staticfiles import finders

    response = token_client("reader").get(path)
    assert response.status_code == 200
    page = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets, page[:500]
    for asset in assets:
        assert not asset.startswith(("http://", "https://", "//")), asset
        if asset.startswith(settings.STATIC_URL):
            relative = asset.removeprefix(settings.STATIC_URL).split("?")[0]
            assert finders.find(relative), f"{asset} is not among our static files"


@pytest.mark.django_db
def test_the_schema_is_served_to_signed_in_clients(token_client: Any) -> None:
    response = token_client("reader").get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    assert "/api/v1/patients/{id}/phenotype/" in response.json()["paths"]


@pytest.mark.parametrize(
    ("path", "filters"),
    [
        ("/api/v1/observations/", {"patient", "mrn", "tracer_class", "study", "lesion"}),
        ("/api/v1/observations/", {"performed_after", "performed_before"}),
        ("/api/v1/studies/", {"patient", "mrn", "tracer_class", "performed_after"}),
        ("/api/v1/lesions/", {"patient", "mrn"}),
        ("/api/v1/patients/", {"mrn"}),
    ],
)
def test_the_list_filters_are_parameters_in_the_schema(
    schema: dict[str, Any], path: str, filters: set[str]
) -> None:
    # The filter backend (apps.core.filters) is django-filter's: its schema extension still
    # describes every filter, with limit and offset.
    names = {parameter["name"] for parameter in schema["paths"][path]["get"]["parameters"]}
    assert filters | {"limit", "offset"} <= names
