from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from api.access.views import AlertsView, LockViewSet
from api.accounts.views import admin_login
from api.audit.views import AuditViewSet
from api.bookings.views import (
    BookingRequestViewSet,
    BookingSeriesViewSet,
    BookingViewSet,
    ReleaseWindowViewSet,
    SlotSearchView,
    WaitlistViewSet,
)
from api.catalogue.views import (
    ActivityViewSet,
    ExtraOpeningViewSet,
    SpaceClosureViewSet,
    SpaceViewSet,
    VenueClosureViewSet,
    VenueViewSet,
)
from api.notifications.views import WebhookViewSet
from api.ops.views import healthz, metrics, readyz
from api.organisations.views import MembershipViewSet, OrganisationViewSet

router = DefaultRouter()
router.register("activities", ActivityViewSet)
router.register("venues", VenueViewSet)
router.register("spaces", SpaceViewSet)
router.register(r"spaces/(?P<space_pk>\d+)/closures", SpaceClosureViewSet, basename="space-closure")
router.register(r"venues/(?P<venue_pk>\d+)/closures", VenueClosureViewSet, basename="venue-closure")
router.register(r"spaces/(?P<space_pk>\d+)/openings", ExtraOpeningViewSet, basename="opening")
router.register("booking-requests", BookingRequestViewSet, basename="booking-request")
router.register("bookings", BookingViewSet, basename="booking")
router.register("booking-series", BookingSeriesViewSet, basename="booking-series")
router.register("waitlist", WaitlistViewSet, basename="waitlist")
router.register("release-windows", ReleaseWindowViewSet, basename="release-window")
router.register("locks", LockViewSet)
router.register("webhooks", WebhookViewSet)
router.register("organisations", OrganisationViewSet)
router.register(r"organisations/(?P<organisation_pk>\d+)/members", MembershipViewSet, "member")
router.register("audit", AuditViewSet, basename="audit")

urlpatterns = [
    path("api/v1/", include("api.notifications.urls")),
    path("api/v1/", include(router.urls)),
    path("api/v1/", include("api.accounts.urls")),
    path("api/v1/", include("api.privacy.urls")),
    path("api/v1/alerts/", AlertsView.as_view(), name="alerts"),
    path("api/v1/slots/", SlotSearchView.as_view(), name="slots"),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # Before the admin's own URLs, so that its login page is this one, behind the log-in limits.
    path("admin/login/", admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("", include("api.pages.urls")),
]

# Django's own error answers as JSON, like the API's; never a debug page.
handler400 = "api.errors.bad_request"
handler403 = "api.errors.permission_denied"
handler404 = "api.errors.not_found"
handler500 = "api.errors.server_error"
