"""The dual-tracer read side by side (issue 15 §2, apps/imaging/paired.py): which study is the
partner, what the grid shows of its read, the pattern, the comparison (the reader's entry wins,
else the lesion-to-liver ratios, marked computed) and the phenotype; values at clinical
precision; the page and the preview carry it."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from apps.core.numbers import clinical, mm, suv
from apps.imaging.models import ImagingStudy, StudyStatus
from apps.imaging.paired import paired_read
from apps.scoring.rules import ObservationIn, Thresholds
from tests.factories import (
    LesionFactory,
    ObservationFactory,
    PatientFactory,
    StudyFactory,
    UserFactory,
)

THRESHOLDS = Thresholds()


def fdg(patient: Any, on: date, **kwargs: Any) -> ImagingStudy:
    values = {"liver_suv": Decimal("2.5"), "blood_pool_suv": Decimal("1.8"), "spleen_suv": None}
    values.update(kwargs)
    return StudyFactory(patient=patient, tracer="f18_fdg", performed_on=on, **values)


@pytest.mark.django_db
def test_an_sstr_pet_pairs_with_its_fdg_pet_and_back() -> None:
    patient = PatientFactory()
    sstr = StudyFactory(patient=patient, performed_on=date(2024, 3, 1))
    pet = fdg(patient, date(2024, 3, 10))
    assert paired_read(sstr, THRESHOLDS).partner == pet  # type: ignore[union-attr]
    assert paired_read(pet, THRESHOLDS).partner == sstr  # type: ignore[union-attr]


@pytest.mark.django_db
def test_no_partner_outside_the_window_for_ct_or_after_therapy() -> None:
    patient = PatientFactory()
    sstr = StudyFactory(patient=patient, performed_on=date(2024, 3, 1))
    window = THRESHOLDS.pairing_window_days
    far = fdg(patient, date(2024, 3, 1) + timedelta(days=window + 1))
    assert paired_read(sstr, THRESHOLDS) is None
    assert paired_read(far, THRESHOLDS) is None
    ct = StudyFactory(patient=patient, tracer="none", modality="ct", performed_on=date(2024, 3, 2))
    assert paired_read(ct, THRESHOLDS) is None
    post = StudyFactory(
        patient=patient,
        post_therapy=True,
        tracer="lu177_dotatate",
        modality="spect_ct",
        performed_on=date(2024, 3, 3),
    )
    assert paired_read(post, THRESHOLDS) is None
    near = fdg(patient, date(2024, 3, 1) + timedelta(days=window))  # exactly the window: pairs
    assert paired_read(sstr, THRESHOLDS).partner == near  # type: ignore[union-attr]


@pytest.mark.django_db
def test_an_fdg_pet_shared_by_two_sstr_pets_shows_the_closer_then_the_later() -> None:
    patient = PatientFactory()
    early = StudyFactory(patient=patient, performed_on=date(2024, 3, 1))
    late = StudyFactory(patient=patient, performed_on=date(2024, 3, 19))
    pet = fdg(patient, date(2024, 3, 15))
    assert paired_read(pet, THRESHOLDS).partner == late  # type: ignore[union-attr]
    other = PatientFactory()
    first = StudyFactory(patient=other, performed_on=date(2024, 3, 1))
    second = StudyFactory(patient=other, performed_on=date(2024, 3, 19))
    tie = fdg(other, date(2024, 3, 10))  # 9 days from each: both pair with it; the later shows
    assert paired_read(first, THRESHOLDS).partner == tie  # type: ignore[union-attr]
    assert paired_read(second, THRESHOLDS).partner == tie  # type: ignore[union-attr]
    assert paired_read(tie, THRESHOLDS).partner == second  # type: ignore[union-attr]
    assert early != first


def own(**values: Any) -> ObservationIn:
    return ObservationIn(
        lesion=values.pop("lesion", 0), state=values.pop("state", "scored"), **values
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sstr_values", "fdg_values", "pattern", "comparison", "source", "phenotype"),
    [
        # TLR SSTR 24/6 = 4; FDG 10/2.5 = 4: equal within 20 % → P3, computed.
        ({"suv_max": "24", "krenning_visual": 4}, {"suv_max": "10", "krenning_visual": 3},
         "P3", "equal", "computed", "both"),
        # FDG 12.5/2.5 = 5 > 4 × 1.2: higher → P4.
        ({"suv_max": "24", "krenning_visual": 4}, {"suv_max": "12.5", "krenning_visual": 3},
         "P4", "higher", "computed", "both"),
        # Exactly 4 × 1.2 = 4.8 (FDG 12): still equal, the boundary is inclusive.
        ({"suv_max": "24", "krenning_visual": 4}, {"suv_max": "12", "krenning_visual": 3},
         "P3", "equal", "computed", "both"),
        # The reader's entry wins over the ratios.
        ({"suv_max": "24", "krenning_visual": 4},
         {"suv_max": "10", "krenning_visual": 3, "fdg_vs_sstr": "lower"},
         "P2", "lower", "reader", "both"),
        ({"suv_max": "24", "krenning_visual": 4}, {"suv_max": "1", "krenning_visual": 0},
         "P1", None, None, "sstr-only"),
        ({"state": "not_seen"}, {"suv_max": "7", "krenning_visual": 3},
         "P5", None, None, "discordant"),
        ({"suv_max": "1", "krenning_visual": 1}, {"suv_max": "1", "krenning_visual": 1},
         "P0", None, None, "negative"),
    ],
)  # fmt: skip
def test_pattern_comparison_and_phenotype_of_a_lesion(
    sstr_values: dict[str, Any],
    fdg_values: dict[str, Any],
    pattern: str,
    comparison: str | None,
    source: str | None,
    phenotype: str,
) -> None:
    patient = PatientFactory()
    sstr = StudyFactory(patient=patient, performed_on=date(2024, 3, 1))
    pet = fdg(patient, date(2024, 3, 4))
    lesion = LesionFactory(patient=patient)
    ObservationFactory(study=sstr, lesion=lesion, **{"suv_max": None, **sstr_values})
    typed = {k: Decimal(v) if k == "suv_max" else v for k, v in fdg_values.items()}
    shown = paired_read(pet, THRESHOLDS).lesion(lesion.pk, own(lesion=lesion.pk, **typed))  # type: ignore[union-attr]
    assert (shown["pattern"], shown["comparison"], shown["comparison_source"]) == (
        pattern,
        comparison,
        source,
    )
    assert shown["phenotype"]["code"] == phenotype
    # Seen from the SSTR study, the same lesion has the same pattern.
    ObservationFactory(study=pet, lesion=lesion, **{"suv_max": None, **typed})
    sstr_obs = sstr.observations.get(lesion=lesion)
    from apps.scoring.selectors import observation_in

    back = paired_read(sstr, THRESHOLDS).lesion(lesion.pk, observation_in(sstr_obs))  # type: ignore[union-attr]
    assert back["pattern"] == pattern


@pytest.mark.django_db
def test_a_lesion_without_a_score_on_both_has_no_phenotype() -> None:
    patient = PatientFactory()
    sstr = StudyFactory(patient=patient, performed_on=date(2024, 3, 1))
    pet = fdg(patient, date(2024, 3, 4))
    lesion = LesionFactory(patient=patient)
    read = paired_read(pet, THRESHOLDS)
    assert read is not None
    nothing = read.lesion(lesion.pk, own(lesion=lesion.pk, suv_max=Decimal(3)))
    assert nothing["partner"] is None and nothing["phenotype"] is None
    ObservationFactory(study=sstr, lesion=lesion, state="not_evaluable", suv_max=None)
    read = paired_read(pet, THRESHOLDS)
    shown = read.lesion(lesion.pk, own(lesion=lesion.pk, suv_max=Decimal(3)))  # type: ignore[union-attr]
    assert shown["partner"]["score"] is None and shown["phenotype"] is None


@pytest.mark.parametrize(
    ("value", "places", "shown"),
    [("24.000", 1, "24.0"), ("24.125", 1, "24.125"), ("24.100", 1, "24.1"), ("3", 1, "3.0"),
     ("25.0", 0, "25"), ("25.5", 0, "25.5"), ("0.000", 1, "0.0"), (None, 1, "")],
)  # fmt: skip
def test_clinical_precision(value: str | None, places: int, shown: str) -> None:
    assert clinical(None if value is None else Decimal(value), places) == shown


@given(st.decimals(min_value=0, max_value=10**5, places=3, allow_nan=False), st.integers(0, 2))
def test_clinical_precision_never_loses_a_digit(value: Decimal, places: int) -> None:
    text = clinical(value, places)
    assert Decimal(text) == value
    decimals = text.split(".")[1] if "." in text else ""
    assert len(decimals) >= places
    assert not decimals.endswith("0") or len(decimals) == places
    assert suv(value) == clinical(value, 1) and mm(value) == clinical(value, 0)


@pytest.mark.django_db
def test_the_grid_and_the_preview_carry_the_partner_read(client: Client) -> None:
    patient = PatientFactory()
    sstr = StudyFactory(patient=patient, performed_on=date(2024, 3, 1))
    pet = fdg(patient, date(2024, 3, 4))
    lesion = LesionFactory(patient=patient, label="Liver seg 7")
    ObservationFactory(study=sstr, lesion=lesion, suv_max=Decimal("24"), krenning_visual=4)
    client.force_login(UserFactory(role="reader"))
    page = client.get(f"/studies/{pet.pk}/").content.decode()
    assert "SSTR PET of 2024-03-01" in page
    assert 'class="paired-score' in page and ">24.0</span>" in page
    answer = client.post(
        f"/studies/{pet.pk}/preview/",
        {"lesion": lesion.pk, "state": "scored", "suv_max": "12.5", "krenning_visual": 3},
        content_type="application/json",
    ).json()
    assert answer["pairing"]["pattern"] == "P4"
    assert answer["pairing"]["comparison_source"] == "computed"
    assert answer["pairing"]["partner"] == {
        "state": "scored",
        "score": 4,
        "source": "visual",
        "suv_max": "24.0",
        "fdg_visual": None,
    }
    # The SSTR grid's references and values at clinical precision.
    sstr_page = client.get(f"/studies/{sstr.pk}/").content.decode()
    assert "liver <strong>6.0</strong>" in sstr_page and 'value="24.0"' in sstr_page


@pytest.mark.django_db
def test_a_final_read_sent_without_a_reader_renders(client: Client) -> None:
    """Reproduces a 500: a study finished by the sending system (no user) broke the grid."""
    study = StudyFactory(status=StudyStatus.FINAL, finalized_at=timezone.now())
    client.force_login(UserFactory(role="reader"))
    response = client.get(f"/studies/{study.pk}/")
    assert response.status_code == 200
    assert "finished by the sending system" in response.content.decode()
