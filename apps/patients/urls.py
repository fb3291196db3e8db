"""Browser pages of the patients app (the API's routes are in netboard/api_urls.py)."""

from django.urls import include, path

from apps.patients import views

urlpatterns = [
    path("", views.patient_list, name="home"),
    path("patients/<int:pk>/", views.patient_detail, name="patient-page"),
    path("patients/<int:pk>/status/", views.patient_status, name="patient-page-status"),
    path("patients/<int:pk>/changes/", views.patient_changes, name="patient-changes"),
    path("", include("apps.patients.record_urls")),
]
