"""Pages to enter and correct a patient's record, and the patient's audit page."""

from django.urls import URLPattern, path

from apps.patients import record_views as views

urlpatterns: list[URLPattern] = [
    path("patients/new/", views.patient_create, name="patient-create"),
    path("patients/<int:pk>/record/", views.patient_record, name="patient-record"),
    path("patients/<int:pk>/edit/", views.patient_edit, name="patient-edit"),
    path("patients/<int:pk>/audit/", views.patient_audit, name="patient-audit"),
    path(
        "patients/<int:pk>/pathology/new/",
        views.record_create,
        {"kind": "pathology"},
        name="record-pathology-create",
    ),
    path(
        "pathology/<int:record_id>/edit/",
        views.record_edit,
        {"kind": "pathology"},
        name="record-pathology-edit",
    ),
    path(
        "pathology/<int:record_id>/delete/",
        views.record_delete,
        {"kind": "pathology"},
        name="record-pathology-delete",
    ),
    path(
        "patients/<int:pk>/biomarkers/new/",
        views.record_create,
        {"kind": "biomarkers"},
        name="record-biomarker-create",
    ),
    path(
        "biomarkers/<int:record_id>/edit/",
        views.record_edit,
        {"kind": "biomarkers"},
        name="record-biomarker-edit",
    ),
    path(
        "biomarkers/<int:record_id>/delete/",
        views.record_delete,
        {"kind": "biomarkers"},
        name="record-biomarker-delete",
    ),
    path(
        "patients/<int:pk>/treatments/new/",
        views.record_create,
        {"kind": "treatments"},
        name="record-treatment-create",
    ),
    path(
        "treatments/<int:record_id>/edit/",
        views.record_edit,
        {"kind": "treatments"},
        name="record-treatment-edit",
    ),
    path(
        "treatments/<int:record_id>/delete/",
        views.record_delete,
        {"kind": "treatments"},
        name="record-treatment-delete",
    ),
]
