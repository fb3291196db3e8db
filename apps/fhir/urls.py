from django.urls import path

from apps.fhir.views import PatientEverything, Transaction

urlpatterns = [
    path("Patient/<int:pk>/$everything", PatientEverything.as_view(), name="fhir-everything"),
    path("", Transaction.as_view(), name="fhir-transaction"),
]
