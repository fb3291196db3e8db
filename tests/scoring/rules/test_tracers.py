"""Tracer catalogue: every API.md tracer code has its DOMAIN.md §1 class."""

from __future__ import annotations

import pytest

from apps.scoring.rules import THERAPEUTIC_TRACERS, TRACER_CLASS

API_TRACER_CODES = [
    "ga68_dotatate",
    "ga68_dotatoc",
    "ga68_dotanoc",
    "cu64_dotatate",
    "cu64_sartate",
    "in111_pentetreotide",
    "ga68_nodaga_jr11",
    "ga68_nodaga_lm3",
    "lu177_dotatate",
    "f18_fdg",
    "i123_mibg",
    "i124_mibg",
    "f18_mfbg",
    "i131_mibg",
    "f18_dopa",
    "ga68_exendin4",
    "ga68_cp04",
    "ga68_rgd",
    "none",
]


def test_every_api_tracer_code_is_catalogued() -> None:
    assert sorted(TRACER_CLASS) == sorted(API_TRACER_CODES)


@pytest.mark.parametrize(
    ("tracer", "tracer_class"),
    [
        ("ga68_dotatate", "SSTR"),
        ("in111_pentetreotide", "SSTR"),
        ("ga68_nodaga_jr11", "SSTR"),
        ("lu177_dotatate", "SSTR"),
        ("f18_fdg", "FDG"),
        ("f18_mfbg", "NET"),
        ("i131_mibg", "NET"),
        ("f18_dopa", "LAT"),
        ("ga68_exendin4", "GLP1R"),
        ("ga68_cp04", "CCK2R"),
        ("ga68_rgd", "INTEGRIN"),
        ("none", "ANATOMIC"),
    ],
)
def test_tracer_classes(tracer: str, tracer_class: str) -> None:
    assert TRACER_CLASS[tracer] == tracer_class


def test_therapeutic_tracers() -> None:
    assert frozenset({"lu177_dotatate", "i131_mibg"}) == THERAPEUTIC_TRACERS
    assert TRACER_CLASS.keys() >= THERAPEUTIC_TRACERS
