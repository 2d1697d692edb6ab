from django.urls import path

from api.accounts import views

urlpatterns = [
    path("auth/register/", views.RegisterView.as_view(), name="register"),
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("auth/me/calendar-token/", views.CalendarTokenView.as_view(), name="calendar-token"),
]
