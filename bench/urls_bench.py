"""The application's URLs plus a hello-world DRF endpoint: the baseline of bench_api.py."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class Hello(APIView):
    """Same middleware, token authentication and renderer as the API; no database work."""

    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response({"hello": "world"})


urlpatterns = [
    path("bench/hello/", Hello.as_view()),
    path("", include("netboard.urls")),
]
