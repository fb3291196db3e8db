"""Browser pages of the decisions app (the API's routes are in netboard/api_urls.py)."""

from django.urls import URLPattern, path  # noqa: F401

urlpatterns: list[URLPattern] = []
