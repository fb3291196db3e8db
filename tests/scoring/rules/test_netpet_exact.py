"""The NETPET comparison decides exactly as the Decimal rule (docs/clinical-rules.md §4.1).

``netpet_lesions`` compares FDG and SSTR avidity with the exact Decimal test
``|F·Ls − S·Lf| ≤ tolerance·S·Lf``. These properties hold its result to that rule, written out
independently here, with values generated both at random and exactly on the boundary (and one
unit in the last place either side of it), where float TLRs would round either way.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from apps.scoring.rules.netpet import PairedLesion, netpet_lesions
from apps.scoring.rules.uptake import DECIMAL_CONTEXT

# SUVs and livers as entered (up to 3 decimals, as the database holds them), tolerances 0-1.
suvs = st.decimals(min_value="0.001", max_value="99999.999", places=3)
livers = st.decimals(min_value="0.001", max_value="999.999", places=3)
tolerances = st.decimals(min_value="0", max_value="1", places=2)


def exact_pattern(s: Decimal, f: Decimal, ls: Decimal, lf: Decimal, tolerance: Decimal) -> str:
    """DOMAIN.md §4.1 by hand: FDG avidity equal / higher / lower than SSTR avidity."""
    with localcontext(DECIMAL_CONTEXT):
        f_ls, s_lf = f * ls, s * lf
        if abs(f_ls - s_lf) <= tolerance * s_lf:
            return "P3"
        return "P4" if f_ls > s_lf else "P2"


def netpet_pattern(s: Decimal, f: Decimal, ls: Decimal, lf: Decimal, tolerance: Decimal) -> str:
    # Krenning 3 on both studies: positive on both, so the comparison decides P2/P3/P4.
    paired = PairedLesion(1, 3, 3, s, f, None)
    with localcontext(DECIMAL_CONTEXT):
        return netpet_lesions([paired], ls, lf, tolerance).rows[0]["pattern"]


@settings(max_examples=400)
@given(s=suvs, f=suvs, ls=livers, lf=livers, tolerance=tolerances)
def test_random_values_decide_as_the_exact_rule(
    s: Decimal, f: Decimal, ls: Decimal, lf: Decimal, tolerance: Decimal
) -> None:
    assert netpet_pattern(s, f, ls, lf, tolerance) == exact_pattern(s, f, ls, lf, tolerance)


@settings(max_examples=400)
@given(
    s=suvs,
    lf=livers,
    tolerance=tolerances,
    side=st.sampled_from([-1, 1]),
    nudge=st.sampled_from([-1, 0, 1]),
)
@example(s=Decimal("1.5"), lf=Decimal("1"), tolerance=Decimal("0.1"), side=1, nudge=0)  # 1.65
@example(s=Decimal("12"), lf=Decimal("2.5"), tolerance=Decimal("0.2"), side=-1, nudge=0)
def test_values_on_and_next_to_the_boundary_decide_as_the_exact_rule(
    s: Decimal, lf: Decimal, tolerance: Decimal, side: int, nudge: int
) -> None:
    """F exactly on a boundary of the equal band (Ls = 1: F = S·Lf·(1 ± tolerance)), or one unit
    in its last decimal place inside or outside: where float TLRs would round either way."""
    ls = Decimal(1)
    with localcontext(DECIMAL_CONTEXT):
        f = s * lf * (1 + side * tolerance)
        f += nudge * Decimal(1).scaleb(f.as_tuple().exponent)  # type: ignore[arg-type]
    assume(f >= 0)  # an SUVmax is never negative (tolerance 1 below the band reaches 0)
    expected = exact_pattern(s, f, ls, lf, tolerance)
    if nudge == 0:
        assert expected == "P3"  # on the boundary is equal (DOMAIN.md: within the tolerance)
    assert netpet_pattern(s, f, ls, lf, tolerance) == expected
