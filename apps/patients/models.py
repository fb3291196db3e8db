"""Patient, pathology, biomarkers and treatments (API.md resources)."""

from __future__ import annotations

import re

from django.db import models
from django.db.models import F, Q

from apps.core.models import ClinicalRecord, audited


class Sex(models.TextChoices):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class PrimarySite(models.TextChoices):
    PANCREAS = "pancreas"
    SMALL_INTESTINE = "small_intestine", "Small intestine"
    DUODENUM = "duodenum"
    STOMACH = "stomach"
    APPENDIX = "appendix"
    COLON = "colon"
    RECTUM = "rectum"
    LUNG = "lung"
    THYMUS = "thymus"
    ADRENAL = "adrenal"
    PARAGANGLIA = "paraganglia"
    THYROID = "thyroid"
    SKIN = "skin"
    PROSTATE = "prostate"
    UNKNOWN = "unknown"
    OTHER = "other"


class Histology(models.TextChoices):
    NET = "net", "NET"
    NEC = "nec", "NEC"
    MINEN = "minen", "MiNEN"
    TYPICAL_CARCINOID = "typical_carcinoid", "Typical carcinoid"
    ATYPICAL_CARCINOID = "atypical_carcinoid", "Atypical carcinoid"
    LCNEC = "lcnec", "Large-cell NEC"
    SCLC = "sclc", "Small-cell lung cancer"
    PHEOCHROMOCYTOMA = "pheochromocytoma"
    PARAGANGLIOMA = "paraganglioma"
    MTC = "mtc", "Medullary thyroid carcinoma"
    DTC = "dtc", "Differentiated thyroid carcinoma"
    MERKEL = "merkel", "Merkel cell carcinoma"
    NEPC = "nepc", "Neuroendocrine prostate cancer"
    INSULINOMA = "insulinoma"
    OTHER = "other"


class PpglCluster(models.TextChoices):
    C1A = "1A", "Cluster 1A (SDHx)"
    C1B = "1B", "Cluster 1B"
    C2 = "2", "Cluster 2 (kinase signalling)"
    C3 = "3", "Cluster 3 (Wnt signalling)"


_WORDS = re.compile(r"[\s,]+")


class PatientQuerySet(models.QuerySet["Patient"]):
    def search(self, text: str) -> PatientQuerySet:
        """The patients matching what was typed in a search box: the one definition of patient
        search (the patient list and the agenda's patient picker).

        ``text`` is split into words at spaces and commas; a patient matches when every word is
        part of (case-insensitive) the given name, the family name or the MRN, each word on any
        of them and in any order: "Ivy Ivo", "ivo ivy", "0013" and "Ivo, Ivy" all find Ivy Ivo
        (MRN DEMO-0013). Empty text matches everyone.
        """
        matches = self
        for word in _WORDS.split(text.strip()):
            if word:
                matches = matches.filter(
                    Q(mrn__icontains=word)
                    | Q(family_name__icontains=word)
                    | Q(given_name__icontains=word)
                )
        return matches


@audited()
class Patient(ClinicalRecord):
    mrn = models.CharField("MRN", max_length=64, unique=True)
    family_name = models.CharField(max_length=100)
    given_name = models.CharField(max_length=100, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    sex = models.CharField(max_length=8, choices=Sex.choices, default=Sex.UNKNOWN)
    height_cm = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    primary_site = models.CharField(
        max_length=20, choices=PrimarySite.choices, default=PrimarySite.UNKNOWN
    )
    histology = models.CharField(max_length=20, choices=Histology.choices, blank=True, null=True)  # noqa: DJ001 - API.md: null = not recorded
    ppgl_cluster = models.CharField(  # noqa: DJ001 - API.md: null = not recorded
        "PPGL cluster", max_length=2, choices=PpglCluster.choices, blank=True, null=True
    )

    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["family_name", "given_name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(height_cm__isnull=True) | Q(height_cm__gt=0),
                name="patient_height_positive",
            ),
            models.CheckConstraint(
                condition=Q(weight_kg__isnull=True) | Q(weight_kg__gt=0),
                name="patient_weight_positive",
            ),
            models.CheckConstraint(condition=Q(sex__in=Sex.values), name="patient_sex_valid"),
            models.CheckConstraint(
                condition=Q(primary_site__in=PrimarySite.values), name="patient_primary_site_valid"
            ),
            models.CheckConstraint(
                condition=Q(histology__isnull=True) | Q(histology__in=Histology.values),
                name="patient_histology_valid",
            ),
            models.CheckConstraint(
                condition=Q(ppgl_cluster__isnull=True) | Q(ppgl_cluster__in=PpglCluster.values),
                name="patient_ppgl_cluster_valid",
            ),
            models.CheckConstraint(condition=~Q(mrn=""), name="patient_mrn_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.family_name}, {self.given_name} ({self.mrn})"


class WhoGrade(models.TextChoices):
    G1 = "G1"
    G2 = "G2"
    G3 = "G3"
    NEC = "NEC"


class Differentiation(models.TextChoices):
    WELL = "well"
    POOR = "poor"


@audited()
class Pathology(ClinicalRecord):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="pathology")
    reported_on = models.DateField()
    specimen_site = models.CharField(max_length=100, blank=True)
    who_grade = models.CharField(  # noqa: DJ001 - API.md: null = not recorded
        "WHO grade", max_length=3, choices=WhoGrade.choices, blank=True, null=True
    )
    ki67_percent = models.DecimalField(
        "Ki-67 (%)", max_digits=5, decimal_places=2, null=True, blank=True
    )
    mitotic_count = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    differentiation = models.CharField(  # noqa: DJ001 - API.md: null = not recorded
        max_length=4, choices=Differentiation.choices, blank=True, null=True
    )

    class Meta:
        verbose_name_plural = "pathology reports"
        ordering = ["patient_id", "-reported_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ki67_percent__isnull=True)
                | Q(ki67_percent__gte=0, ki67_percent__lte=100),
                name="pathology_ki67_0_100",
            ),
            models.CheckConstraint(
                condition=Q(mitotic_count__isnull=True) | Q(mitotic_count__gte=0),
                name="pathology_mitotic_count_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(who_grade__isnull=True) | Q(who_grade__in=WhoGrade.values),
                name="pathology_who_grade_valid",
            ),
            models.CheckConstraint(
                condition=Q(differentiation__isnull=True)
                | Q(differentiation__in=Differentiation.values),
                name="pathology_differentiation_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Pathology {self.reported_on} ({self.who_grade or 'grade n/a'})"


class Analyte(models.TextChoices):
    CHROMOGRANIN_A = "chromogranin_a", "Chromogranin A"
    CALCITONIN = "calcitonin"
    CEA = "cea", "CEA"
    METANEPHRINES = "metanephrines"
    NORMETANEPHRINE = "normetanephrine"
    HIAA_5 = "hiaa_5", "5-HIAA"
    NSE = "nse", "NSE"


@audited()
class Biomarker(ClinicalRecord):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="biomarkers")
    analyte = models.CharField(max_length=20, choices=Analyte.choices)
    value = models.DecimalField(max_digits=14, decimal_places=4)
    unit = models.CharField(max_length=20, blank=True)
    measured_on = models.DateField()

    class Meta:
        ordering = ["patient_id", "analyte", "measured_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(value__gte=0), name="biomarker_value_nonnegative"),
            models.CheckConstraint(
                condition=Q(analyte__in=Analyte.values), name="biomarker_analyte_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_analyte_display()} {self.value} {self.unit} on {self.measured_on}"


class TreatmentKind(models.TextChoices):
    SSA = "ssa", "Somatostatin analogue"
    PRRT_LU177_DOTATATE = "prrt_lu177_dotatate", "PRRT 177Lu-DOTATATE"
    MIBG_I131 = "mibg_i131", "131I-MIBG"
    CHEMOTHERAPY = "chemotherapy"
    TARGETED = "targeted", "Targeted therapy"
    IMMUNOTHERAPY = "immunotherapy"
    SURGERY = "surgery"
    LIVER_DIRECTED = "liver_directed", "Liver-directed therapy"
    RADIOTHERAPY = "radiotherapy"
    OTHER = "other"


@audited()
class Treatment(ClinicalRecord):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="treatments")
    kind = models.CharField(max_length=24, choices=TreatmentKind.choices)
    regimen = models.CharField(max_length=200, blank=True)
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["patient_id", "started_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                name="treatment_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=TreatmentKind.values), name="treatment_kind_valid"
            ),
            # Target of the composite key that keeps a study's treatment on the same patient.
            models.UniqueConstraint(fields=["id", "patient"], name="treatment_id_patient_key"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} from {self.started_on}"


@audited()
class TreatmentCycle(ClinicalRecord):
    """One cycle of a treatment course (PRRT cycles with their activity)."""

    treatment = models.ForeignKey(Treatment, on_delete=models.CASCADE, related_name="cycles")
    number = models.PositiveSmallIntegerField()
    given_on = models.DateField()
    activity_gbq = models.DecimalField(
        "activity (GBq)", max_digits=6, decimal_places=2, null=True, blank=True
    )

    class Meta:
        ordering = ["treatment_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["treatment", "number"], name="cycle_number_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="cycle_number_positive"),
            models.CheckConstraint(
                condition=Q(activity_gbq__isnull=True) | Q(activity_gbq__gte=0),
                name="cycle_activity_nonnegative",
            ),
        ]

    def __str__(self) -> str:
        return f"Cycle {self.number} on {self.given_on}"
