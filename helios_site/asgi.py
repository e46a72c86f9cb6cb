"""ASGI entry point for daphne: HTTP goes to Django, websockets to the dashboard's consumers
(origin-checked against ALLOWED_HOSTS, with the Django session for authentication)."""

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helios_site.settings")
django_asgi_app = get_asgi_application()

# These need Django set up first.
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from prometheus_client import make_asgi_app  # noqa: E402

from dashboard.routing import websocket_urlpatterns  # noqa: E402

# The web role keeps no database connection across requests (settings: HELIOS_WEB_DB_CONN_MAX_AGE).
settings.DATABASES["default"]["CONN_MAX_AGE"] = settings.HELIOS_WEB_DB_CONN_MAX_AGE

# The dashboard's few static files (and the admin's/API docs') are served by the project itself
# from the apps' static folders: no collectstatic step, no CDN (SPEC §8).
django_http = ASGIStaticFilesHandler(django_asgi_app)
metrics_app = make_asgi_app()


async def http_app(scope: dict, receive: Any, send: Any) -> None:
    """Requests that reached daphne on HELIOS_WEB_METRICS_PORT get /metrics (Prometheus, scraping
    the pod IP: no Host check there) and nothing else; every other port is Django's."""
    server = scope.get("server")
    if server and server[1] == settings.HELIOS_WEB_METRICS_PORT:
        if scope["path"] == "/metrics":
            await metrics_app(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"not found"})
        return
    await django_http(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
