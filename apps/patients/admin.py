from django.contrib import admin

from apps.core.admin import AccessLoggedAdmin
from apps.patients.models import Biomarker, Pathology, Patient, Treatment, TreatmentCycle


class PathologyInline(admin.TabularInline):
    model = Pathology
    extra = 0


class BiomarkerInline(admin.TabularInline):
    model = Biomarker
    extra = 0


@admin.register(Patient)
class PatientAdmin(AccessLoggedAdmin):
    list_display = ["mrn", "family_name", "given_name", "primary_site", "histology"]
    list_filter = ["primary_site", "histology", "sex"]
    search_fields = ["=mrn", "family_name", "given_name"]
    inlines = [PathologyInline, BiomarkerInline]

    def patient_ids_of(self, obj):  # type: ignore[no-untyped-def]
        return [obj.pk]


class CycleInline(admin.TabularInline):
    model = TreatmentCycle
    extra = 0


@admin.register(Treatment)
class TreatmentAdmin(AccessLoggedAdmin):
    list_display = ["patient", "kind", "regimen", "started_on", "ended_on"]
    list_filter = ["kind"]
    raw_id_fields = ["patient"]
    inlines = [CycleInline]


@admin.register(Pathology)
class PathologyAdmin(AccessLoggedAdmin):
    list_display = ["patient", "reported_on", "who_grade", "ki67_percent", "differentiation"]
    raw_id_fields = ["patient"]


@admin.register(Biomarker)
class BiomarkerAdmin(AccessLoggedAdmin):
    list_display = ["patient", "analyte", "value", "unit", "measured_on"]
    list_filter = ["analyte"]
    raw_id_fields = ["patient"]
