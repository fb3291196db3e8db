from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.routers import DefaultRouter

from apps.core.api import AccessEventViewSet
from apps.core.audit_api import AuditViewSet
from apps.decisions.api import DecisionViewSet, MeetingViewSet
from apps.imaging.api import DicomSrViewSet, LesionViewSet, ObservationViewSet, StudyViewSet
from apps.outcomes.api import FollowUpViewSet, SurvivalView
from apps.patients.api import (
    BiomarkerViewSet,
    PathologyViewSet,
    PatientViewSet,
    TreatmentViewSet,
)

router = DefaultRouter()
router.register("patients", PatientViewSet, basename="patient")
router.register("pathology", PathologyViewSet, basename="pathology")
router.register("biomarkers", BiomarkerViewSet, basename="biomarker")
router.register("treatments", TreatmentViewSet, basename="treatment")
router.register("lesions", LesionViewSet, basename="lesion")
router.register("studies", StudyViewSet, basename="study")
router.register("observations", ObservationViewSet, basename="observation")
router.register("dicom-sr", DicomSrViewSet, basename="dicom-sr")
router.register("meetings", MeetingViewSet, basename="meeting")
router.register("decisions", DecisionViewSet, basename="decision")
router.register("follow-ups", FollowUpViewSet, basename="follow-up")
router.register("access-events", AccessEventViewSet, basename="access-event")
router.register("audit", AuditViewSet, basename="audit")

urlpatterns = [
    path("analytics/survival/", SurvivalView.as_view(), name="analytics-survival"),
    path("", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script (CSP).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # ReDoc styles itself with inline <style> and renders in a blob: worker; only this page
    # allows that (its scripts still come from our static files only).
    path(
        "redoc/",
        csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["blob:"]})(
            SpectacularRedocView.as_view(url_name="api-schema")
        ),
        name="api-redoc",
    ),
]
