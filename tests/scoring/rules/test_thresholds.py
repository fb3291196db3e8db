"""Settings of the rules: DOMAIN.md §10 defaults and NETBOARD_RULES overrides."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.scoring.rules import Thresholds


def test_defaults_are_those_of_section_10() -> None:
    assert Thresholds().as_dict() == {
        "krenning_tolerance": 0.1,
        "small_lesion_mm": 20.0,
        "pairing_window_days": 60,
        "netpet_equal_tolerance": 0.2,
        "ki67_high": 55.0,
        "fdg_suvmax_prognostic": 3.0,
        "heterogeneous_share": 0.5,
        "majority_low_share": 0.5,
        "recist_pr_percent": 30.0,
        "recist_pd_percent": 20.0,
        "recist_pd_mm": 5.0,
        "recist_measurable_mm": 10.0,
        "recist_nodal_mm": 15.0,
        "percist_percent": 30.0,
        "percist_sul_units": 0.8,
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(3, Decimal("3")), (3.5, Decimal("3.5")), ("3.50", Decimal("3.50")), (0.1, Decimal("0.1"))],
    ids=["int", "float", "str", "float-0.1-is-exact-decimal"],
)
def test_numbers_become_decimals(raw: object, expected: Decimal) -> None:
    value = Thresholds.from_overrides({"fdg_suvmax_prognostic": raw}).fdg_suvmax_prognostic
    assert value == expected
    assert isinstance(value, Decimal)


def test_pairing_window_days_is_an_int() -> None:
    assert Thresholds.from_overrides({"pairing_window_days": 30}).pairing_window_days == 30


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"krenning_tolerence": 0.1}, "krenning_tolerence"),  # unknown (misspelt) key
        ({"ki67_high": -1}, "ki67_high"),
        ({"ki67_high": "high"}, "ki67_high"),
        ({"ki67_high": True}, "ki67_high"),
        ({"ki67_high": None}, "ki67_high"),
        ({"ki67_high": "NaN"}, "ki67_high"),
        ({"ki67_high": float("inf")}, "ki67_high"),
        ({"krenning_tolerance": 1.5}, "krenning_tolerance"),
        ({"netpet_equal_tolerance": -0.1}, "netpet_equal_tolerance"),
        ({"heterogeneous_share": 2}, "heterogeneous_share"),
        ({"majority_low_share": "1.01"}, "majority_low_share"),
        ({"pairing_window_days": 60.0}, "pairing_window_days"),
        ({"pairing_window_days": -1}, "pairing_window_days"),
        ({"pairing_window_days": "sixty"}, "pairing_window_days"),
        ({"pairing_window_days": "45"}, "pairing_window_days"),
        ({"pairing_window_days": True}, "pairing_window_days"),
    ],
    ids=lambda v: str(v),
)
def test_bad_overrides_name_the_key(overrides: dict[str, object], key: str) -> None:
    with pytest.raises(ValueError, match=f"^{key}: "):
        Thresholds.from_overrides(overrides)


def test_direct_construction_is_checked_too() -> None:
    with pytest.raises(ValueError, match="^majority_low_share: "):
        Thresholds(majority_low_share=Decimal("1.5"))


def test_from_overrides_round_trips_as_dict() -> None:
    custom = Thresholds.from_overrides({"ki67_high": "20", "pairing_window_days": 30})
    assert Thresholds.from_overrides(custom.as_dict()) == custom
    assert Thresholds.from_overrides({}) == Thresholds()
