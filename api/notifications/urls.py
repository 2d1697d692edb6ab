"""Calendar feeds; the webhooks viewset is on the API's router in api/urls.py."""

from django.urls import path

from api.notifications import views

urlpatterns = [
    path("spaces/<int:pk>/calendar.ics", views.SpaceCalendarView.as_view(), name="space-calendar"),
    path(
        "bookings/<int:pk>/calendar.ics",
        views.BookingCalendarView.as_view(),
        name="booking-calendar",
    ),
    path(
        "booking-series/<uuid:pk>/calendar.ics",
        views.SeriesCalendarView.as_view(),
        name="booking-series-calendar",
    ),
    path(
        "calendar/<str:token>.ics", views.PersonalCalendarView.as_view(), name="personal-calendar"
    ),
]
