"""Lesions, imaging studies and per-lesion observations (DOMAIN.md §1, API.md resources)."""

from __future__ import annotations

from functools import reduce
from operator import or_

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, Value, When

from apps.core.models import ClinicalRecord, audited
from apps.patients.models import Patient, Treatment
from apps.scoring.rules.tracers import PET_MODALITIES, THERAPEUTIC_TRACERS, TRACER_CLASS


class Tracer(models.TextChoices):
    GA68_DOTATATE = "ga68_dotatate", "68Ga-DOTATATE"
    GA68_DOTATOC = "ga68_dotatoc", "68Ga-DOTATOC"
    GA68_DOTANOC = "ga68_dotanoc", "68Ga-DOTANOC"
    CU64_DOTATATE = "cu64_dotatate", "64Cu-DOTATATE"
    CU64_SARTATE = "cu64_sartate", "64Cu-SARTATE"
    IN111_PENTETREOTIDE = "in111_pentetreotide", "111In-pentetreotide"
    GA68_NODAGA_JR11 = "ga68_nodaga_jr11", "68Ga-NODAGA-JR11"
    GA68_NODAGA_LM3 = "ga68_nodaga_lm3", "68Ga-NODAGA-LM3"
    LU177_DOTATATE = "lu177_dotatate", "177Lu-DOTATATE (post-therapy)"
    F18_FDG = "f18_fdg", "18F-FDG"
    I123_MIBG = "i123_mibg", "123I-MIBG"
    I124_MIBG = "i124_mibg", "124I-MIBG"
    F18_MFBG = "f18_mfbg", "18F-MFBG"
    I131_MIBG = "i131_mibg", "131I-MIBG (post-therapy)"
    F18_DOPA = "f18_dopa", "18F-DOPA"
    GA68_EXENDIN4 = "ga68_exendin4", "68Ga-exendin-4"
    GA68_CP04 = "ga68_cp04", "68Ga-DOTA-CP04"
    GA68_RGD = "ga68_rgd", "68Ga-RGD"
    NONE = "none", "None (CT/MRI)"


class TracerClass(models.TextChoices):
    SSTR = "SSTR", "Somatostatin receptor"
    FDG = "FDG", "Glucose metabolism (FDG)"
    NET = "NET", "Noradrenaline transporter"
    LAT = "LAT", "Amino-acid transporter (DOPA)"
    GLP1R = "GLP1R", "GLP-1 receptor"
    CCK2R = "CCK2R", "CCK-2 receptor"
    GIPR = "GIPR", "GIP receptor"
    INTEGRIN = "INTEGRIN", "Integrin"
    ANATOMIC = "ANATOMIC", "Anatomic (CT/MRI)"


class Modality(models.TextChoices):
    PET_CT = "pet_ct", "PET/CT"
    PET_MRI = "pet_mri", "PET/MRI"
    SPECT_CT = "spect_ct", "SPECT/CT"
    PLANAR = "planar", "Planar scintigraphy"
    CT = "ct", "CT"
    MRI = "mri", "MRI"


ANATOMIC_MODALITIES = (Modality.CT, Modality.MRI)

# DOMAIN.md §8 series, in SQL: the same tests as apps.scoring.rules.series.series_kind.
_PRE_THERAPY_PET = Q(modality__in=sorted(PET_MODALITIES), post_therapy=False) & ~Q(
    tracer__in=sorted(THERAPEUTIC_TRACERS)
)
_IN_A_SERIES = Q(modality__in=ANATOMIC_MODALITIES) | (
    _PRE_THERAPY_PET & Q(tracer_class__in=["FDG", "SSTR"])
)


SERIES_NAMES = {"anatomic": "CT/MRI", "fdg": "FDG PET", "sstr": "pre-therapy SSTR PET"}


def study_series(modality: str, tracer: str, post_therapy: bool) -> str | None:
    """The series of a study (DOMAIN.md §8), by the rules' own test."""
    from datetime import date

    from apps.scoring.rules.inputs import StudyIn
    from apps.scoring.rules.series import series_kind

    tracer_class = TRACER_CLASS.get(tracer, "")
    return series_kind(StudyIn(0, date.min, tracer, tracer_class, modality, post_therapy))


def baseline_problem(
    patient: Patient | None,
    modality: str,
    tracer: str,
    post_therapy: bool,
    instance: ImagingStudy | None,
) -> str | None:
    """Why this study cannot be picked as the baseline of its series, or None."""
    kind = study_series(modality, tracer, post_therapy)
    if kind is None:
        return "Only a CT/MRI, FDG PET or pre-therapy SSTR PET can be a series baseline."
    if patient is None:
        return None
    others = ImagingStudy.objects.filter(patient=patient, is_baseline=True)
    if instance is not None:
        others = others.exclude(pk=instance.pk)
    for other in others:
        if study_series(other.modality, other.tracer, other.post_therapy) == kind:
            return (
                f"The {other.get_tracer_display()} {other.get_modality_display()} of "
                f"{other.performed_on.isoformat()} is already the baseline of this patient's "
                f"{SERIES_NAMES[kind]} series: unset it there first."
            )
    return None


def series_of_study() -> Case:
    """The series (``anatomic``, ``fdg``, ``sstr``, else empty) of a study row, in SQL."""
    return Case(
        When(modality__in=ANATOMIC_MODALITIES, then=Value("anatomic")),
        When(_PRE_THERAPY_PET & Q(tracer_class="FDG"), then=Value("fdg")),
        When(_PRE_THERAPY_PET & Q(tracer_class="SSTR"), then=Value("sstr")),
        default=Value(""),
        output_field=models.CharField(),
    )


class StudyStatus(models.TextChoices):
    DRAFT = "draft"
    FINAL = "final"


class LesionSite(models.TextChoices):
    LIVER = "liver"
    BONE = "bone"
    LYMPH_NODE = "lymph_node", "Lymph node"
    PANCREAS = "pancreas"
    LUNG = "lung"
    PERITONEUM = "peritoneum"
    BOWEL = "bowel"
    ADRENAL = "adrenal"
    THYROID = "thyroid"
    SOFT_TISSUE = "soft_tissue", "Soft tissue"
    BRAIN = "brain"
    OTHER = "other"


def _tracer_class_matches_catalogue() -> Q:
    by_class: dict[str, list[str]] = {}
    for tracer, tracer_class in TRACER_CLASS.items():
        by_class.setdefault(tracer_class, []).append(tracer)
    return reduce(
        or_,
        (Q(tracer_class=cls, tracer__in=sorted(codes)) for cls, codes in sorted(by_class.items())),
    )


def _nonnegative(field: str, model: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": 0}),
        name=f"{model}_{field}_nonnegative",
    )


@audited()
class Lesion(ClinicalRecord):
    """One tumour site of one patient, tracked across all studies."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="lesions")
    label = models.CharField(max_length=100)
    site = models.CharField(max_length=16, choices=LesionSite.choices)
    nodal = models.BooleanField(default=False)
    is_primary = models.BooleanField(default=False)
    # The DICOM SR tracking of this lesion (TID 1500: Tracking Unique Identifier, DCM 112040,
    # and Tracking Identifier, DCM 112039): the same lesion measured at the next study lands on
    # this row. Set by the SR import, read-only in the API.
    tracking_uid = models.CharField(
        "tracking UID", max_length=64, blank=True, editable=False,
        help_text="DICOM SR Tracking Unique Identifier (DCM 112040) of this lesion.",
    )  # fmt: skip
    tracking_identifier = models.CharField(
        max_length=64, blank=True, editable=False,
        help_text="DICOM SR Tracking Identifier (DCM 112039): the workstation's name for it.",
    )  # fmt: skip

    class Meta:
        ordering = ["patient_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "label"], name="lesion_label_unique"),
            models.UniqueConstraint(
                fields=["patient", "tracking_uid"],
                condition=~Q(tracking_uid=""),
                name="lesion_tracking_uid_unique",
            ),
            models.UniqueConstraint(fields=["id", "patient"], name="lesion_id_patient_key"),
            models.CheckConstraint(
                condition=Q(site__in=LesionSite.values), name="lesion_site_valid"
            ),
            models.CheckConstraint(condition=~Q(label=""), name="lesion_label_not_blank"),
        ]

    def __str__(self) -> str:
        return self.label


@audited()
class ImagingStudy(ClinicalRecord):
    """One imaging examination of one patient on one date."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="studies")
    performed_on = models.DateField()
    modality = models.CharField(max_length=8, choices=Modality.choices)
    tracer = models.CharField(max_length=24, choices=Tracer.choices)
    tracer_class = models.CharField(max_length=10, choices=TracerClass.choices, editable=False)
    post_therapy = models.BooleanField(default=False)
    # RESTRICT: a treatment with post-therapy scans cannot be deleted on its own (it would
    # leave a cycle number without its treatment); deleting the whole patient still works.
    treatment = models.ForeignKey(
        Treatment, on_delete=models.RESTRICT, null=True, blank=True, related_name="studies"
    )
    cycle_number = models.PositiveSmallIntegerField(null=True, blank=True)
    blood_pool_suv = models.DecimalField(max_digits=8, decimal_places=3, null=True, blank=True)
    liver_suv = models.DecimalField(max_digits=8, decimal_places=3, null=True, blank=True)
    liver_suv_sd = models.DecimalField(max_digits=8, decimal_places=3, null=True, blank=True)
    spleen_suv = models.DecimalField(max_digits=8, decimal_places=3, null=True, blank=True)
    accession_number = models.CharField(max_length=64, blank=True)
    study_instance_uid = models.CharField("Study Instance UID", max_length=64, blank=True)
    status = models.CharField(max_length=5, choices=StudyStatus.choices, default=StudyStatus.DRAFT)
    # Who finished the read and when (``apps.imaging.services.study_finish``); who reopened it
    # last and when (``study_reopen``). A final read's observations and reference values change
    # only after it is reopened.
    finalized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", editable=False,
    )  # fmt: skip
    finalized_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the read was finished."
    )
    reopened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", editable=False,
    )  # fmt: skip
    reopened_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the read was last reopened."
    )
    is_baseline = models.BooleanField(
        "baseline picked by a user",
        default=False,
        help_text=(
            "Use this study as the baseline of its series (CT/MRI, FDG PET or pre-therapy SSTR "
            "PET) instead of the one the rules pick (docs/clinical-rules.md §8). One per series "
            "and patient."
        ),
    )

    class Meta:
        verbose_name_plural = "imaging studies"
        ordering = ["patient_id", "performed_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["id", "patient"], name="study_id_patient_key"),
            models.CheckConstraint(
                condition=_tracer_class_matches_catalogue(), name="study_tracer_class_catalogue"
            ),
            models.CheckConstraint(
                condition=Q(post_therapy=False) | Q(tracer__in=sorted(THERAPEUTIC_TRACERS)),
                name="study_post_therapy_has_therapeutic_tracer",
            ),
            models.CheckConstraint(
                condition=Q(modality__in=ANATOMIC_MODALITIES, tracer=Tracer.NONE)
                | (~Q(modality__in=ANATOMIC_MODALITIES) & ~Q(tracer=Tracer.NONE)),
                name="study_tracer_matches_modality",
            ),
            models.CheckConstraint(
                condition=Q(modality__in=Modality.values), name="study_modality_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=StudyStatus.values), name="study_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(cycle_number__isnull=True)
                | Q(cycle_number__gte=1, treatment__isnull=False),
                name="study_cycle_needs_treatment",
            ),
            _nonnegative("blood_pool_suv", "study"),
            _nonnegative("liver_suv", "study"),
            _nonnegative("liver_suv_sd", "study"),
            _nonnegative("spleen_suv", "study"),
            models.UniqueConstraint(
                fields=["accession_number"],
                condition=~Q(accession_number=""),
                name="study_accession_unique",
            ),
            models.UniqueConstraint(
                fields=["study_instance_uid"],
                condition=~Q(study_instance_uid=""),
                name="study_instance_uid_unique",
            ),
            models.CheckConstraint(
                condition=Q(is_baseline=False) | _IN_A_SERIES,
                name="study_baseline_in_a_series",
                violation_error_message=(
                    "Only a CT/MRI, FDG PET or pre-therapy SSTR PET can be a series baseline."
                ),
            ),
            models.UniqueConstraint(
                F("patient"),
                series_of_study(),
                condition=Q(is_baseline=True),
                name="study_one_baseline_per_series",
                violation_error_message="Another study of this series is already the baseline.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_tracer_display()} {self.get_modality_display()} {self.performed_on}"

    def save(self, *args: object, **kwargs: object) -> None:
        self.tracer_class = TRACER_CLASS.get(self.tracer, "")
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class ObservationState(models.TextChoices):
    SCORED = "scored"
    NOT_SEEN = "not_seen", "Not seen"
    NOT_EVALUABLE = "not_evaluable", "Not evaluable"


class FdgVisual(models.TextChoices):
    POSITIVE = "positive"
    NEGATIVE = "negative"


class FdgVsSstr(models.TextChoices):
    LOWER = "lower", "FDG lower than SSTR"
    EQUAL = "equal", "FDG equal to SSTR"
    HIGHER = "higher", "FDG higher than SSTR"


def _krenning_range(field: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": 0, f"{field}__lte": 4}),
        name=f"observation_{field}_0_4",
    )


# What a reader enters for one lesion on one study (everything but ids, study and lesion), in
# API order: the complete-read PUT and the serializers share it.
OBSERVATION_READ_FIELDS = (
    "state",
    "suv_max",
    "suv_peak",
    "krenning_visual",
    "krenning_min",
    "krenning_max",
    "fdg_visual",
    "fdg_vs_sstr",
    "long_axis_mm",
    "short_axis_mm",
    "volume_ml",
    "heterogeneous",
    "target",
)


_PATIENT_FROM_STUDY = (
    "NEW.patient_id := (SELECT patient_id FROM imaging_imagingstudy WHERE id = NEW.study_id);"
    " RETURN NEW;"
)


@audited()
class Observation(ClinicalRecord):
    """One lesion on one study.

    `patient` repeats the patient of the study and of the lesion so that the database can hold
    the rule "lesion and study belong to the same patient" with two composite foreign keys
    (added in migration 0002, since Django has no composite foreign keys).
    """

    study = models.ForeignKey(ImagingStudy, on_delete=models.CASCADE, related_name="observations")
    lesion = models.ForeignKey(Lesion, on_delete=models.CASCADE, related_name="observations")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+", editable=False)
    state = models.CharField(
        max_length=14, choices=ObservationState.choices, default=ObservationState.SCORED
    )
    suv_max = models.DecimalField("SUVmax", max_digits=8, decimal_places=3, null=True, blank=True)
    suv_peak = models.DecimalField("SUVpeak", max_digits=8, decimal_places=3, null=True, blank=True)
    krenning_visual = models.PositiveSmallIntegerField(null=True, blank=True)
    krenning_min = models.PositiveSmallIntegerField(null=True, blank=True)
    krenning_max = models.PositiveSmallIntegerField(null=True, blank=True)
    fdg_visual = models.CharField(max_length=8, choices=FdgVisual.choices, blank=True, null=True)  # noqa: DJ001 - API.md: null = not recorded
    fdg_vs_sstr = models.CharField(  # noqa: DJ001 - API.md: null = not recorded
        "FDG vs SSTR", max_length=6, choices=FdgVsSstr.choices, blank=True, null=True
    )
    long_axis_mm = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    short_axis_mm = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    volume_ml = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    heterogeneous = models.BooleanField(default=False)
    target = models.BooleanField(default=False)

    class Meta:
        # By key columns: ordering by `study` would pull in the study's (and its patient's)
        # ordering, and their joins, into every query of observations.
        ordering = ["study_id", "lesion_id"]
        triggers = [
            # The patient column is always the study's: no write path (bulk, raw SQL) can get it
            # wrong, and the composite key on (lesion, patient) then refuses a foreign lesion.
            pgtrigger.Trigger(
                name="observation_patient_from_study",
                when=pgtrigger.Before,
                operation=pgtrigger.Insert,
                func=_PATIENT_FROM_STUDY,
            ),
            # An update that keeps study and patient keeps a pair the composite key already
            # holds to be the study's; only a move (or a cascade from the study) is looked up.
            pgtrigger.Trigger(
                name="observation_patient_on_move",
                when=pgtrigger.Before,
                operation=pgtrigger.Update,
                condition=pgtrigger.AnyChange("study", "patient"),
                func=_PATIENT_FROM_STUDY,
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["study", "lesion"], name="observation_one_per_lesion"),
            models.CheckConstraint(
                condition=Q(state__in=ObservationState.values), name="observation_state_valid"
            ),
            _nonnegative("suv_max", "observation"),
            _nonnegative("suv_peak", "observation"),
            _nonnegative("long_axis_mm", "observation"),
            _nonnegative("short_axis_mm", "observation"),
            _nonnegative("volume_ml", "observation"),
            _krenning_range("krenning_visual"),
            _krenning_range("krenning_min"),
            _krenning_range("krenning_max"),
            models.CheckConstraint(
                condition=Q(krenning_min__isnull=True)
                | Q(krenning_max__isnull=True)
                | Q(krenning_min__lte=models.F("krenning_max")),
                name="observation_krenning_min_le_max",
            ),
            models.CheckConstraint(
                condition=Q(fdg_visual__isnull=True) | Q(fdg_visual__in=FdgVisual.values),
                name="observation_fdg_visual_valid",
            ),
            models.CheckConstraint(
                condition=Q(fdg_vs_sstr__isnull=True) | Q(fdg_vs_sstr__in=FdgVsSstr.values),
                name="observation_fdg_vs_sstr_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lesion_id} on study {self.study_id}: {self.state}"

    def save(self, *args: object, **kwargs: object) -> None:
        # The database trigger sets it anyway; this keeps the instance in step without a query
        # when the study is already loaded.
        if self.study_id is not None and self.patient_id is None:
            self.patient_id = self.study.patient_id
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class StructuredReportImport(models.Model):
    """One DICOM SR (TID 1500) imported into a study: which document (its SOP Instance UID, its
    series and place in it) and who imported it when. Importing the same document again changes
    nothing; an older document of a series already imported is refused (``sr_import``)."""

    study = models.ForeignKey(ImagingStudy, on_delete=models.CASCADE, related_name="sr_imports")
    sop_instance_uid = models.CharField("SOP Instance UID", max_length=64, unique=True)
    series_instance_uid = models.CharField("Series Instance UID", max_length=64, blank=True)
    instance_number = models.IntegerField(null=True, blank=True)
    content_datetime = models.DateTimeField(null=True, blank=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    imported_at = models.DateTimeField(auto_now_add=True)
    lesions = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["study_id", "imported_at", "id"]

    def __str__(self) -> str:
        return f"SR {self.sop_instance_uid} into study {self.study_id}"


class SrUpload(models.Model):
    """An SR file chosen on the study grid's import page, kept between its review and the
    reader's "Import" (a browser cannot send a file again without the reader choosing it again,
    and the review must not be lost). Only the reader who chose it can import it; it is deleted
    once imported, and uploads older than a day are deleted with the next upload."""

    study = models.ForeignKey(ImagingStudy, on_delete=models.CASCADE, related_name="+")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
    name = models.CharField(max_length=255)
    data = models.BinaryField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"SR upload {self.pk} for study {self.study_id}"
