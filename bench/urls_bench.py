"""The application's URLs plus the baselines of the benchmarks: a hello-world DRF endpoint
(bench_api.py) and a hello-world page extending base.html (bench_page.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import include, path
from django.views.decorators.http import require_GET
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class Hello(APIView):
    """Same middleware, token authentication and renderer as the API; no database work."""

    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response({"hello": "world"})


@require_GET
def hello_page(request: HttpRequest) -> HttpResponse:
    """Same middleware, session login and layout (base.html) as the browser pages; no database
    work beyond the session and the user."""
    return render(request, "bench_hello.html", {"greeting": "Hello, world"})


urlpatterns = [
    path("bench/hello/", Hello.as_view()),
    path("bench/hello-page/", hello_page),
    path("", include("netboard.urls")),
]
