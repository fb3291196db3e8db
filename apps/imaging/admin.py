from django.contrib import admin

from apps.imaging.models import ImagingStudy, Lesion, Observation
from apps.patients.admin import ClinicalRecordAdmin


class ObservationInline(admin.TabularInline):
    model = Observation
    extra = 0
    raw_id_fields = ["lesion"]


@admin.register(ImagingStudy)
class ImagingStudyAdmin(ClinicalRecordAdmin):
    list_display = [
        "patient",
        "performed_on",
        "tracer",
        "tracer_class",
        "modality",
        "post_therapy",
        "status",
    ]
    list_filter = ["tracer_class", "modality", "post_therapy", "status"]
    raw_id_fields = ["patient", "treatment"]
    readonly_fields = ["tracer_class"]
    inlines = [ObservationInline]


@admin.register(Lesion)
class LesionAdmin(ClinicalRecordAdmin):
    list_display = ["patient", "label", "site", "nodal", "is_primary"]
    list_filter = ["site", "nodal"]
    raw_id_fields = ["patient"]


@admin.register(Observation)
class ObservationAdmin(ClinicalRecordAdmin):
    list_display = ["study", "lesion", "state", "suv_max", "krenning_visual", "fdg_visual"]
    list_filter = ["state"]
    raw_id_fields = ["study", "lesion"]
