"""Uptake grade of one observation: DOMAIN.md §2, §2.1 and the positivity thresholds of §3.

Reference SUVs: SSTR B 1.5, L 6.0, S 18.0, so B·(1−t) = 1.35 and B·(1+t) = 1.65 at t = 0.10;
FDG B 1.8, L 2.5, so B·(1−t) = 1.62 and B·(1+t) = 1.98.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from apps.scoring.rules import Thresholds, score_observation, score_study

from .builders import fdg, obs, sstr, study

T = Thresholds()
SSTR = sstr(1, "2024-01-01")
FDG = fdg(2, "2024-01-03")


@pytest.mark.parametrize(
    ("suv", "expected"),
    [
        ("0", 0),
        ("1.34", 0),
        ("1.35", 1),  # exactly B·(1−t): not below it, so "equal to blood pool"
        ("1.36", 1),
        ("1.65", 1),  # exactly B·(1+t) = 1.5 × 1.1, exact in decimal
        ("1.66", 2),
        ("5.99", 2),
        ("6.0", 2),  # exactly L: "at most liver"
        ("6.01", 3),
        ("17.99", 3),
        ("18.0", 4),  # exactly S: "equal to or above spleen"
        ("18.01", 4),
        ("40", 4),
    ],
    ids=lambda v: str(v),
)
def test_sstr_computed_bands_and_their_boundaries(suv: str, expected: int) -> None:
    uptake = score_observation(obs(1, suv_max=suv), SSTR, T)
    assert (uptake.score, uptake.computed, uptake.source) == (expected, expected, "computed")
    assert uptake.flags == ()


@pytest.mark.parametrize(
    ("suv", "expected"),
    [
        ("1.61", 0),
        ("1.62", 1),  # exactly B·(1−t)
        ("1.98", 1),  # exactly B·(1+t)
        ("1.99", 2),
        ("2.5", 2),  # exactly L
        ("2.51", 3),
        ("100", 3),  # no grade 4 on FDG
    ],
    ids=lambda v: str(v),
)
def test_fdg_computed_grades_without_the_spleen(suv: str, expected: int) -> None:
    # A spleen value at or below liver is ignored on FDG: no order flag, no grade 4.
    on = fdg(2, "2024-01-03", spleen_suv="2.0")
    uptake = score_observation(obs(1, suv_max=suv), on, T)
    assert (uptake.score, uptake.flags) == (expected, ())


def test_tolerance_comes_from_the_thresholds() -> None:
    wide = Thresholds(krenning_tolerance=Decimal("0.20"))  # B·(1+t) = 1.80
    assert score_observation(obs(1, suv_max="1.80"), SSTR, wide).score == 1
    assert score_observation(obs(1, suv_max="1.80"), SSTR, T).score == 2


@pytest.mark.parametrize(
    ("suv", "expected", "flags"),
    [
        ("5.0", 2, ()),
        ("6.01", 3, ("spleen_reference_missing",)),
        ("40", 3, ("spleen_reference_missing",)),  # 4 cannot be computed
    ],
    ids=["at-most-liver", "above-liver", "far-above-liver"],
)
def test_missing_spleen_caps_the_computed_score_at_3(
    suv: str, expected: int, flags: tuple[str, ...]
) -> None:
    on = sstr(1, "2024-01-01", spleen_suv=None)
    uptake = score_observation(obs(1, suv_max=suv), on, T)
    assert (uptake.score, uptake.flags) == (expected, flags)


@pytest.mark.parametrize(
    ("tracer_class", "refs", "invalid"),
    [
        ("SSTR", {"blood_pool_suv": "6.0", "liver_suv": "6.0"}, True),  # L = B
        ("SSTR", {"blood_pool_suv": "7.0", "liver_suv": "6.0"}, True),  # L < B
        ("SSTR", {"spleen_suv": "6.0"}, True),  # S = L on SSTR
        ("SSTR", {"spleen_suv": "5.0"}, True),  # S < L on SSTR
        ("SSTR", {"spleen_suv": "6.01"}, False),
        ("FDG", {"blood_pool_suv": "2.5"}, True),  # L = B on any study
        ("FDG", {"spleen_suv": "1.0"}, False),  # FDG ignores the spleen
        ("NET", {"blood_pool_suv": "1.5", "liver_suv": "6.0", "spleen_suv": "6.0"}, False),
    ],
    ids=[
        "sstr-liver-equals-blood",
        "sstr-liver-below-blood",
        "sstr-spleen-equals-liver",
        "sstr-spleen-below-liver",
        "sstr-spleen-just-above-liver",
        "fdg-liver-equals-blood",
        "fdg-spleen-below-liver-ignored",
        "mibg-spleen-equals-liver-allowed",
    ],
)
def test_references_out_of_order_give_no_computed_score(
    tracer_class: str, refs: dict[str, str], invalid: bool
) -> None:
    on = study(1, "2024-01-01", tracer_class, (), **refs)
    uptake = score_observation(obs(1, suv_max="10"), on, T)
    assert (uptake.computed is None) == invalid
    assert ("reference_order_invalid" in uptake.flags) == invalid
    assert uptake.ungradable == invalid


def test_visual_score_wins_and_disagreement_is_flagged() -> None:
    uptake = score_observation(obs(1, suv_max="20", krenning_visual=3), SSTR, T)
    assert (uptake.score, uptake.source, uptake.computed) == (3, "visual", 4)
    assert uptake.flags == ("score_disagreement",)


@pytest.mark.parametrize(
    ("visual", "suv", "flagged"),
    [(4, "20", False), (3, "20", True), (0, "20", True), (2, None, False)],
    ids=["same", "differ-by-1", "differ-by-4", "no-computed"],
)
def test_disagreement_is_a_difference_of_one_or_more(
    visual: int, suv: str | None, flagged: bool
) -> None:
    uptake = score_observation(obs(1, suv_max=suv, krenning_visual=visual), SSTR, T)
    assert uptake.score == visual
    assert ("score_disagreement" in uptake.flags) is flagged


def test_invalid_references_with_a_visual_score_keep_the_visual_score() -> None:
    on = sstr(1, "2024-01-01", blood_pool_suv="6.0")
    uptake = score_observation(obs(1, suv_max="10", krenning_visual=3), on, T)
    assert (uptake.score, uptake.source, uptake.ungradable) == (3, "visual", False)
    assert uptake.flags == ("reference_order_invalid",)


@pytest.mark.parametrize(
    ("long_axis", "on", "state", "flagged"),
    [
        ("19.9", SSTR, "scored", True),
        ("20", SSTR, "scored", False),  # exactly small_lesion_mm is not "under" it
        ("20.0", SSTR, "scored", False),
        (None, SSTR, "scored", False),
        ("10", SSTR, "not_seen", False),  # no uptake to overestimate
        ("10", FDG, "scored", False),  # the Krenning caveat is about SSTR PET
        ("10", study(3, "2024-01-01", "SSTR", (), modality="spect_ct"), "scored", False),
    ],
    ids=["19.9mm", "20mm", "20.0mm", "no-diameter", "not-seen", "fdg", "spect"],
)
def test_small_lesion_flag(long_axis: str | None, on: object, state: str, flagged: bool) -> None:
    observation = obs(1, state, suv_max="10", long_axis_mm=long_axis)
    uptake = score_observation(observation, on, T)  # type: ignore[arg-type]
    assert ("pet_may_overestimate" in uptake.flags) is flagged


def test_small_lesion_boundary_follows_the_setting() -> None:
    observation = obs(1, suv_max="10", long_axis_mm="24")
    assert score_observation(observation, SSTR, T).flags == ()
    bigger = Thresholds(small_lesion_mm=Decimal("25"))
    assert score_observation(observation, SSTR, bigger).flags == ("pet_may_overestimate",)


def test_flags_come_in_a_stable_order() -> None:
    on = sstr(1, "2024-01-01", spleen_suv=None)
    observation = obs(1, suv_max="30", krenning_visual=4, long_axis_mm="12")
    assert score_observation(observation, on, T).flags == (
        "spleen_reference_missing",
        "score_disagreement",
        "pet_may_overestimate",
    )


def test_not_seen_scores_0_whatever_is_typed_beside_it() -> None:
    uptake = score_observation(obs(1, "not_seen", suv_max="30", krenning_visual=4), SSTR, T)
    assert (uptake.score, uptake.source, uptake.ungradable, uptake.flags) == (0, "state", False, ())


def test_not_evaluable_has_no_score_and_is_not_ungradable() -> None:
    observation = obs(1, "not_evaluable", suv_max="30", krenning_visual=4)
    uptake = score_observation(observation, SSTR, T)
    assert (uptake.score, uptake.source, uptake.ungradable) == (None, "state", False)


@pytest.mark.parametrize(
    ("observation", "on"),
    [
        (obs(1), SSTR),  # no SUV, no visual score
        (obs(1, suv_max="5"), sstr(1, "2024-01-01", blood_pool_suv=None)),
        (obs(1, suv_max="5"), sstr(1, "2024-01-01", liver_suv=None)),
        (
            obs(1, suv_max="5", krenning_min=2, krenning_max=3),
            sstr(1, "2024-01-01", liver_suv=None),
        ),
        (obs(1, suv_max="5", fdg_visual="positive"), sstr(1, "2024-01-01", liver_suv=None)),
    ],
    ids=["nothing", "no-blood-pool", "no-liver", "min-max-is-not-a-score", "fdg-call-on-sstr"],
)
def test_scored_without_a_determinable_score_is_ungradable(observation: object, on: object) -> None:
    uptake = score_observation(observation, on, T)  # type: ignore[arg-type]
    assert (uptake.score, uptake.source, uptake.ungradable) == (None, "none", True)
    assert uptake.positive_background is None


@pytest.mark.parametrize(
    ("fields", "score", "source"),
    [
        ({"fdg_visual": "positive"}, 3, "fdg_visual"),
        ({"fdg_visual": "negative", "suv_max": "9"}, 0, "fdg_visual"),  # the call beats SUVs
        ({"fdg_visual": "positive", "krenning_visual": 2}, 2, "visual"),  # the grade beats it
        ({"suv_max": "9"}, 3, "computed"),
    ],
    ids=["positive-call", "negative-call-over-suv", "grade-over-call", "computed"],
)
def test_fdg_precedence_visual_grade_then_plain_call_then_computed(
    fields: dict[str, Any], score: int, source: str
) -> None:
    uptake = score_observation(obs(1, **fields), FDG, T)
    assert (uptake.score, uptake.source) == (score, source)


@pytest.mark.parametrize(
    ("call", "positive"),
    [("positive", True), ("negative", False)],
)
def test_a_plain_fdg_call_stands_for_both_positivity_thresholds(call: str, positive: bool) -> None:
    uptake = score_observation(obs(1, fdg_visual=call), FDG, T)
    assert uptake.positive_background is positive  # NETPET, Karfis (§3)
    assert uptake.positive_liver is positive  # Zidan (§3)


@pytest.mark.parametrize(
    ("visual", "background", "liver"),
    [(0, False, False), (1, False, False), (2, True, False), (3, True, True), (4, True, True)],
)
def test_positivity_thresholds_of_section_3(visual: int, background: bool, liver: bool) -> None:
    uptake = score_observation(obs(1, krenning_visual=visual), SSTR, T)
    assert (uptake.positive_background, uptake.positive_liver) == (background, liver)


def test_anatomic_studies_have_no_uptake_scale() -> None:
    ct = study(5, "2024-01-01", "ANATOMIC", (), modality="ct")
    uptake = score_observation(obs(1, long_axis_mm="12"), ct, T)
    assert (uptake.score, uptake.ungradable, uptake.flags) == (None, False, ())


def test_score_study_matches_score_observation() -> None:
    on = sstr(
        1,
        "2024-01-01",
        obs(1, suv_max="1.65"),
        obs(2, "not_seen"),
        obs(3, suv_max="30", krenning_visual=3, long_axis_mm="9"),
        obs(4),
    )
    scores = score_study(on, T)
    assert scores == {o.lesion: score_observation(o, on, T) for o in on.observations}
    assert [scores[i].score for i in (1, 2, 3, 4)] == [1, 0, 3, None]


# A score is computed from SUVs on a PET (§2: the scale "as used on PET"; §11.1: "a computed
# score exists only on PET") and on the post-therapy SPECT that §7 compares ("visual, else
# computed"); on planar scintigraphy and a pre-therapy SPECT only the visual score grades.
MIBG_REFS = {"blood_pool_suv": "1.0", "liver_suv": "3.5", "spleen_suv": "2.5"}


def on(tracer: str, modality: str, post_therapy: bool = False) -> Any:
    """A study of the tracer (MIBG references on a NET study, else the SSTR ones)."""
    tracer_class = "NET" if "mibg" in tracer or "mfbg" in tracer else "SSTR"
    refs = MIBG_REFS if tracer_class == "NET" else {}
    return study(
        1, "2024-01-01", tracer_class, (), tracer=tracer, modality=modality,
        post_therapy=post_therapy, **refs,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("study_on", "computed"),
    [
        (on("ga68_dotatate", "pet_ct"), 4),
        (on("ga68_dotatate", "pet_mri"), 4),
        (on("i124_mibg", "pet_ct"), 4),  # S <= L does not invalidate on MIBG (§11.1)
        (on("f18_mfbg", "pet_ct"), 4),
        (on("i123_mibg", "spect_ct"), None),
        (on("i123_mibg", "planar"), None),
        (on("in111_pentetreotide", "spect_ct"), None),
        (on("in111_pentetreotide", "planar"), None),
        (on("lu177_dotatate", "spect_ct", post_therapy=True), 4),  # §7
        (on("i131_mibg", "spect_ct", post_therapy=True), 4),
        (on("lu177_dotatate", "planar", post_therapy=True), None),
    ],
    ids=[
        "sstr-pet-ct", "sstr-pet-mri", "124i-mibg-pet", "18f-mfbg-pet", "123i-mibg-spect",
        "123i-mibg-planar", "111in-spect", "111in-planar", "post-177lu-spect",
        "post-131i-mibg-spect", "post-177lu-planar",
    ],
)  # fmt: skip
def test_a_score_is_computed_from_suvs_on_pet_and_post_therapy_spect_only(
    study_on: Any, computed: int | None
) -> None:
    from apps.scoring.rules.uptake import computes_score

    uptake = score_observation(obs(1, suv_max="30"), study_on, T)
    assert computes_score(study_on) is (computed is not None)
    assert uptake.computed == computed
    if computed is None:
        # Only the reader's visual score grades the lesion here: without it, ungradable, and no
        # flag about a computed score that does not exist.
        assert (uptake.score, uptake.source, uptake.ungradable, uptake.flags) == (
            None, "none", True, ()
        )  # fmt: skip
        visual = score_observation(obs(1, suv_max="30", krenning_visual=2), study_on, T)
        assert (visual.score, visual.source, visual.computed, visual.flags) == (
            2, "visual", None, ()
        )  # fmt: skip
    else:
        assert (uptake.score, uptake.source) == (computed, "computed")


def test_references_out_of_order_are_not_flagged_where_no_score_is_computed() -> None:
    spect = study(
        1, "2024-01-01", "SSTR", (), tracer="in111_pentetreotide", modality="spect_ct",
        blood_pool_suv="6.0", liver_suv="1.5",
    )  # fmt: skip
    assert score_observation(obs(1, suv_max="9", krenning_visual=3), spect, T).flags == ()
    pet = study(1, "2024-01-01", "SSTR", (), blood_pool_suv="6.0", liver_suv="1.5")
    assert score_observation(obs(1, suv_max="9", krenning_visual=3), pet, T).flags == (
        "reference_order_invalid",
    )
