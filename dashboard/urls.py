"""The live dashboard page at / (SPEC §8)."""

from django.urls import URLPattern, URLResolver, path

from dashboard.views import dashboard_page

app_name = "dashboard"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", dashboard_page, name="page"),
]
