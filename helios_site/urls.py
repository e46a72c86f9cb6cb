from functools import partial

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django_prometheus.exports import ExportToDjangoView

from pipeline import readiness
from pipeline.readiness import ReadyCheck


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def readyz(request: HttpRequest) -> HttpResponse:
    """200 while the database (and, distributed, the Redis channel layer) answers; else 503."""
    # The request's own connection stays open for the rest of the request (Django closes it).
    checks: dict[str, ReadyCheck] = {"database": partial(readiness.database, close=False)}
    if settings.HELIOS_CHANNEL_LAYER == "redis":
        checks["redis"] = readiness.redis
    status, body = readiness.readyz(checks)
    return HttpResponse(body, status=status, content_type="application/json")


def api_health(request: HttpRequest) -> JsonResponse:
    """The original Helios dashboard's health URL (its Postman collection calls it): liveness."""
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz),
    path("readyz", readyz),
    path("api/health", api_health),
    path("api/health/", api_health),
    # Production: /metrics only on the metrics port (helios_site/asgi.py), never the public one.
    *([path("metrics", ExportToDjangoView, name="metrics")] if settings.DEBUG else []),
    path("api/", include("outcomes.urls")),
    path("api/", include("campaigns.urls")),
    path("", include("dashboard.urls")),
]
