"""Sentences a clinician can read aloud: lesion, study and treatment names, and lists
(DOMAIN.md §4, §6, §8).

Text names a lesion by its label, a study by its kind and date ("the SSTR PET of 2024-03-05",
"at baseline (CT of 2023-11-02)") and a treatment by its kind and start date, never by an
internal id: the ids are in the structured fields of the result (API.md) beside the text.

Output text never uses the words "eligible" or "approved" (DOMAIN.md §6): the app supports the
tumour board's decision, it does not make it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from .inputs import StudyIn, TreatmentIn
from .tracers import THERAPEUTIC_TRACERS

# Longer lists are cut to this many names plus "and N more", so a sentence stays readable.
_MAX_NAMED = 5


class LesionNames:
    """Names lesions by their label, else by id ("lesion 7"); an empty label counts as none.

    Every stored lesion has a label (the database refuses a blank one), so the id appears only
    for rules inputs built without labels (tests, the worked cases as the case files give them).
    """

    def __init__(self, labels: Mapping[int, str]) -> None:
        self._labels = {lesion: label for lesion, label in labels.items() if label}

    def one(self, lesion: int) -> str:
        return self._labels.get(lesion) or f"lesion {lesion}"

    def many(self, lesions: Sequence[int]) -> str:
        """``"L1"``, ``"L1 and L2"``, ``"L1, L2 and L3"``; long lists end in ``"and N more"``."""
        names = [self.one(lesion) for lesion in lesions[:_MAX_NAMED]]
        n = len(lesions)
        if n > _MAX_NAMED:
            return f"{', '.join(names)} and {n - _MAX_NAMED} more"
        if n <= 1:
            return "".join(names)
        return f"{', '.join(names[:-1])} and {names[-1]}"


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``"1 lesion"``, ``"3 lesions"``."""
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def every(n: int, singular: str) -> str:
    """``"the only lesion"``, ``"all 3 lesions"``."""
    return f"the only {singular}" if n == 1 else f"all {n} {singular}s"


def is_are(n: int) -> str:
    return "is" if n == 1 else "are"


def sentence(text: str) -> str:
    """Capitalise the first letter ("lesion 2 is ..." → "Lesion 2 is ...")."""
    return text[:1].upper() + text[1:]


# --- Studies and treatments --------------------------------------------------------------------

_MODALITY_NAMES: Final = {
    "pet_ct": "PET",
    "pet_mri": "PET",
    "spect_ct": "SPECT/CT",
    "planar": "planar scintigraphy",
    "ct": "CT",
    "mri": "MRI",
}
_ANATOMIC: Final = frozenset({"ct", "mri"})
# Pre-therapy SSTR and FDG studies are named by their class, as the clinical vocabulary does
# ("SSTR PET", "FDG PET"); other tracers, and therapeutic ones, by the tracer.
_CLASS_NAMES: Final = {"SSTR": "SSTR", "FDG": "FDG"}
_TRACER_NAMES: Final = {
    "ga68_dotatate": "68Ga-DOTATATE",
    "ga68_dotatoc": "68Ga-DOTATOC",
    "ga68_dotanoc": "68Ga-DOTANOC",
    "cu64_dotatate": "64Cu-DOTATATE",
    "cu64_sartate": "64Cu-SARTATE",
    "in111_pentetreotide": "111In-pentetreotide",
    "ga68_nodaga_jr11": "68Ga-NODAGA-JR11",
    "ga68_nodaga_lm3": "68Ga-NODAGA-LM3",
    "lu177_dotatate": "177Lu-DOTATATE",
    "f18_fdg": "18F-FDG",
    "i123_mibg": "123I-MIBG",
    "i124_mibg": "124I-MIBG",
    "f18_mfbg": "18F-MFBG",
    "i131_mibg": "131I-MIBG",
    "f18_dopa": "18F-DOPA",
    "ga68_exendin4": "68Ga-exendin-4",
    "ga68_cp04": "68Ga-DOTA-CP04",
    "ga68_rgd": "68Ga-RGD",
}
_TREATMENT_NAMES: Final = {
    "ssa": "long-acting somatostatin analogue",
    "prrt_lu177_dotatate": "177Lu-DOTATATE PRRT",
    "mibg_i131": "131I-MIBG therapy",
    "targeted": "targeted therapy",
    "liver_directed": "liver-directed therapy",
    "other": "other treatment",
}


def _words(code: str) -> str:
    return code.replace("_", " ")


def study_kind(study: StudyIn) -> str:
    """``"SSTR PET"``, ``"FDG PET"``, ``"CT"``, ``"MRI"``, ``"post-therapy 177Lu-DOTATATE
    SPECT/CT"``, ``"123I-MIBG planar scintigraphy"``."""
    modality = _MODALITY_NAMES.get(study.modality, _words(study.modality))
    if study.modality in _ANATOMIC:
        return modality
    tracer = _TRACER_NAMES.get(study.tracer, _words(study.tracer))
    if study.post_therapy or study.tracer in THERAPEUTIC_TRACERS:
        return f"post-therapy {tracer} {modality}"
    return f"{_CLASS_NAMES.get(study.tracer_class, tracer)} {modality}"


def study_name(study: StudyIn) -> str:
    """A study by kind and date, without an article: ``"SSTR PET of 2024-03-05"`` (write
    ``f"the {study_name(s)}"`` in a sentence, ``f"at baseline ({study_name(s)})"`` beside one)."""
    return f"{study_kind(study)} of {study.performed_on.isoformat()}"


def treatment_kind(kind: str) -> str:
    """``"177Lu-DOTATATE PRRT"``, ``"long-acting somatostatin analogue"``, ``"chemotherapy"``."""
    return _TREATMENT_NAMES.get(kind, _words(kind))


def treatment_name(treatment: TreatmentIn) -> str:
    """A treatment line by kind and start date: ``"177Lu-DOTATATE PRRT started 2024-02-01"``."""
    return f"{treatment_kind(treatment.kind)} started {treatment.started_on.isoformat()}"
