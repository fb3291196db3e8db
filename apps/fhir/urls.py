from django.urls import path, re_path

from apps.fhir.views import PatientEverything, Transaction, UnknownEndpoint

urlpatterns = [
    path("Patient/<int:pk>/$everything", PatientEverything.as_view(), name="fhir-everything"),
    path("", Transaction.as_view(), name="fhir-transaction"),
    re_path(r"^.+$", UnknownEndpoint.as_view(), name="fhir-unknown"),
]
