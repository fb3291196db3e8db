"""Numbers as a clinician reads them: clinical precision without losing a digit.

The database keeps SUVs with 3 decimals and diameters with 1, so a typed 24 comes back as
``24.000``. Shown, trailing zeros go down to the field's clinical precision (SUV 1 decimal:
``24.0``; millimetres none: ``25``), never further, and no digit that was typed is dropped
(``24.125`` stays ``24.125``).
"""

from __future__ import annotations

from decimal import Decimal

SUV_PLACES = 1  # SUVs are read to one decimal
MM_PLACES = 0  # diameters in whole millimetres, unless measured finer


def clinical(value: Decimal | int | float | str | None, places: int) -> str:
    """``value`` with trailing zeros removed down to ``places`` decimals; "" for nothing."""
    if value is None or value == "":
        return ""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    text = f"{number:f}"
    if "." not in text:
        return f"{text}.{'0' * places}" if places else text
    whole, fraction = text.split(".")
    fraction = fraction.rstrip("0")
    if len(fraction) < places:
        fraction = fraction.ljust(places, "0")
    return f"{whole}.{fraction}" if fraction else whole


def suv(value: Decimal | int | float | str | None) -> str:
    return clinical(value, SUV_PLACES)


def mm(value: Decimal | int | float | str | None) -> str:
    return clinical(value, MM_PLACES)
