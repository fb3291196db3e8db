from django.contrib import admin

from apps.core.admin import AccessLoggedAdmin
from apps.imaging.models import ImagingStudy, Lesion, Observation


class ObservationInline(admin.TabularInline):
    model = Observation
    extra = 0
    raw_id_fields = ["lesion"]


@admin.register(ImagingStudy)
class ImagingStudyAdmin(AccessLoggedAdmin):
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
class LesionAdmin(AccessLoggedAdmin):
    list_display = ["patient", "label", "site", "nodal", "is_primary"]
    list_filter = ["site", "nodal"]
    raw_id_fields = ["patient"]


@admin.register(Observation)
class ObservationAdmin(AccessLoggedAdmin):
    list_display = ["study", "lesion", "state", "suv_max", "krenning_visual", "fdg_visual"]
    list_filter = ["state"]
    raw_id_fields = ["study", "lesion"]
