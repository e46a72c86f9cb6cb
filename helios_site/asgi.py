"""ASGI entry point for daphne: HTTP goes to Django, websockets to the dashboard's consumers."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helios_site.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402 - needs Django set up first

application = ProtocolTypeRouter({"http": django_asgi_app})
