"""Browser pages of the decisions app (the API's routes are in netboard/api_urls.py)."""

from django.urls import URLPattern, path

from apps.decisions.views import cases, meetings, records

urlpatterns: list[URLPattern] = [
    # Not "meeting-list": the API router's name for GET /api/v1/meetings/.
    path("meetings/", meetings.meeting_list, name="meetings"),
    path("meetings/<int:pk>/", meetings.meeting_detail, name="meeting-page"),
    path("meetings/<int:pk>/cases/", meetings.case_add, name="meeting-case-add"),
    path(
        "meetings/<int:pk>/patients/",
        meetings.meeting_patient_search,
        name="meeting-patient-search",
    ),
    path(
        "meetings/<int:pk>/present/<int:case_id>/",
        cases.meeting_present,
        name="meeting-present",
    ),
    path("cases/<int:pk>/edit/", meetings.case_edit, name="case-edit"),
    path("cases/<int:pk>/move/", meetings.case_move, name="case-move"),
    path("cases/<int:pk>/remove/", meetings.case_remove, name="case-remove"),
    path("cases/<int:pk>/decision/", cases.case_decision, name="case-decision"),
    path("cases/<int:pk>/summary/", records.case_summary, name="case-summary"),
    path("decisions/<int:pk>/", records.decision_detail, name="decision-page"),
]
