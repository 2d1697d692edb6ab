from django.urls import path

from api.privacy import views

urlpatterns = [
    path("auth/me/", views.MeView.as_view(), name="me"),
    path("auth/me/export/", views.ExportView.as_view(), name="export"),
]
