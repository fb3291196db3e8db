from django.urls import URLPattern, path

from apps.outcomes import views
from apps.patients import record_views

urlpatterns: list[URLPattern] = [
    path("analytics/", views.analytics_page, name="analytics"),
    path("analytics/survival.csv", views.analytics_csv, name="analytics-csv"),
    path(
        "patients/<int:pk>/follow-ups/new/",
        record_views.record_create,
        {"kind": "follow-ups"},
        name="record-follow-up-create",
    ),
    path(
        "follow-ups/<int:record_id>/edit/",
        record_views.record_edit,
        {"kind": "follow-ups"},
        name="record-follow-up-edit",
    ),
    path(
        "follow-ups/<int:record_id>/delete/",
        record_views.record_delete,
        {"kind": "follow-ups"},
        name="record-follow-up-delete",
    ),
]
