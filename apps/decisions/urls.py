"""Browser pages of the decisions app (the API's routes are in netboard/api_urls.py)."""

from django.urls import URLPattern, path

from apps.decisions import views

urlpatterns: list[URLPattern] = [
    # Not "meeting-list": the API router's name for GET /api/v1/meetings/.
    path("meetings/", views.meeting_list, name="meetings"),
    path("meetings/<int:pk>/", views.meeting_detail, name="meeting-page"),
    path("meetings/<int:pk>/cases/", views.case_add, name="meeting-case-add"),
    path(
        "meetings/<int:pk>/present/<int:case_id>/",
        views.meeting_present,
        name="meeting-present",
    ),
    path("cases/<int:pk>/edit/", views.case_edit, name="case-edit"),
    path("cases/<int:pk>/move/", views.case_move, name="case-move"),
    path("cases/<int:pk>/remove/", views.case_remove, name="case-remove"),
    path("cases/<int:pk>/decision/", views.case_decision, name="case-decision"),
    path("cases/<int:pk>/summary/", views.case_summary, name="case-summary"),
    path("decisions/<int:pk>/", views.decision_detail, name="decision-page"),
]
