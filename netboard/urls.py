from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from apps.core import audit_views, mfa_views
from apps.core import views as core_views

# The API and FHIR first: Django tries the patterns in order, and every include tried and
# missed adds its whole list of patterns to the request's "tried" list (about a millisecond per
# API request behind the pages' includes at "").
urlpatterns = [
    path("api/v1/", include("netboard.api_urls")),
    path("fhir/R4/", include("apps.fhir.urls")),
    path("health/", core_views.health, name="health"),
    path("favicon.ico", core_views.favicon),
    path("help/grading/", core_views.help_grading, name="help-grading"),
    path("audit/", audit_views.audit_log, name="audit-log"),
    path("", include("apps.patients.urls")),
    path("", include("apps.imaging.urls")),
    path("", include("apps.decisions.urls")),
    path("", include("apps.outcomes.urls")),
    path("accounts/login/", mfa_views.SignInView.as_view(), name="login"),
    path("accounts/login/code/", mfa_views.verify, name="mfa-verify"),
    path("accounts/two-factor/enrol/", mfa_views.enrol, name="mfa-enrol"),
    path("accounts/two-factor/", mfa_views.settings_page, name="mfa-settings"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/login/", mfa_views.admin_login),
    path("admin/", admin.site.urls),
]

handler403 = "apps.core.views.permission_denied"
handler404 = "apps.core.views.page_not_found"
handler500 = "apps.core.views.server_error"
