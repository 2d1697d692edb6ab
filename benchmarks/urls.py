from django.urls import path

from api.urls import urlpatterns as api_urlpatterns
from benchmarks.baseline.views import RowCreate

urlpatterns = [path("bench/rows/", RowCreate.as_view()), *api_urlpatterns]
