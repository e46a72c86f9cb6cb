import json

from django.conf import settings
from django.contrib import admin
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django_prometheus.exports import ExportToDjangoView

from pipeline.sideserver import run_checks


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def _database() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


def _redis() -> bool:
    import redis

    return bool(redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping())


def readyz(request: HttpRequest) -> HttpResponse:
    """200 while the database (and, distributed, the Redis channel layer) answers; else 503."""
    checks = {"database": _database}
    if settings.HELIOS_CHANNEL_LAYER == "redis":
        checks["redis"] = _redis
    failed = run_checks(checks)
    body = {"status": "unready", "failed": failed} if failed else {"status": "ready"}
    return HttpResponse(json.dumps(body), status=503 if failed else 200, content_type="application/json")


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
