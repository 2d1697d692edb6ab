from django.urls import include, path

from api.pages import views

urlpatterns = [
    path("", views.citizen, name="citizen-page"),
    path("operator/", views.operator, name="operator-page"),
    # Django's set_language: the language switcher's form posts here.
    path("i18n/", include("django.conf.urls.i18n")),
]
