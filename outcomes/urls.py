"""REST API routes under /api/ (SPEC §7)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
