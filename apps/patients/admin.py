from django.contrib import admin

from apps.core.admin import AccessLoggedAdmin
from apps.patients import services
from apps.patients.models import Biomarker, Pathology, Patient, Treatment, TreatmentCycle
from apps.scoring.queue import request_recompute


class ClinicalRecordAdmin(AccessLoggedAdmin):
    """The admin of a patient's clinical records saves and deletes through
    ``apps.patients.services``, so an edit here is recomputed as one in a page or the API."""

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        services.record_save(record=obj)

    def save_related(self, request, form, formsets, change):  # type: ignore[no-untyped-def]
        super().save_related(request, form, formsets, change)  # the inlines
        request_recompute(*self.patient_ids_of(form.instance))

    def delete_model(self, request, obj):  # type: ignore[no-untyped-def]
        services.record_delete(record=obj)

    def delete_queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        for obj in queryset:
            services.record_delete(record=obj)


class PathologyInline(admin.TabularInline):
    model = Pathology
    extra = 0


class BiomarkerInline(admin.TabularInline):
    model = Biomarker
    extra = 0


@admin.register(Patient)
class PatientAdmin(ClinicalRecordAdmin):
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
class TreatmentAdmin(ClinicalRecordAdmin):
    list_display = ["patient", "kind", "regimen", "started_on", "ended_on"]
    list_filter = ["kind"]
    raw_id_fields = ["patient"]
    inlines = [CycleInline]


@admin.register(Pathology)
class PathologyAdmin(ClinicalRecordAdmin):
    list_display = ["patient", "reported_on", "who_grade", "ki67_percent", "differentiation"]
    raw_id_fields = ["patient"]


@admin.register(Biomarker)
class BiomarkerAdmin(ClinicalRecordAdmin):
    list_display = ["patient", "analyte", "value", "unit", "measured_on"]
    list_filter = ["analyte"]
    raw_id_fields = ["patient"]
