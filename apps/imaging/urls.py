"""Browser pages of the imaging app (the API's routes are in netboard/api_urls.py)."""

from django.urls import path

from apps.imaging import import_views, views

urlpatterns = [
    path("patients/<int:pk>/studies/new/", views.study_create, name="study-create"),
    path("studies/<int:pk>/", views.study_grid, name="study-grid"),
    path("studies/<int:pk>/edit/", views.study_edit, name="study-edit"),
    path("studies/<int:pk>/preview/", views.study_preview, name="study-preview"),
    path("studies/<int:pk>/finish/", views.study_finish, name="study-finish"),
    path("studies/<int:pk>/reopen/", views.study_reopen, name="study-reopen"),
    path("studies/<int:pk>/import/", import_views.study_sr_import, name="study-sr-import"),
    path("studies/<int:pk>/export.dcm", import_views.study_sr_export, name="study-export-sr"),
]
