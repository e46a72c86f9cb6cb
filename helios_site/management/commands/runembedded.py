"""`manage.py runembedded`: all of Helios in this one process with no external services.

Every role runs on the in-process transport (pipeline/embedded.py); daphne serves the web role
(dashboard, REST API, admin) in the main thread and owns the signals: on SIGINT/SIGTERM it stops,
then every role is stopped cleanly.
"""

import logging
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from pipeline.embedded import EmbeddedRoles, configure
from pipeline.logs import set_service

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run all of Helios in this one process, with no external services (embedded mode)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.HELIOS_WEB_HOST)
        parser.add_argument("--port", type=int, default=settings.HELIOS_WEB_PORT)

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server

        set_service("embedded")
        configure()
        roles = EmbeddedRoles().start()
        try:
            from helios_site.asgi import application

            Server(
                application=application,
                endpoints=build_endpoint_description_strings(host=host, port=port),
                signal_handlers=True,
                ready_callable=lambda: self.stdout.write(self._banner(host, port)),
                verbosity=0,
            ).run()
        finally:
            roles.stop()

    @staticmethod
    def _banner(host: str, port: int) -> str:
        base = f"http://{host}:{port}"
        return (
            "Helios is running (embedded mode: one process, no external services).\n"
            f"  dashboard  {base}/\n"
            f"  REST API   {base}/api/outcomes/   (docs {base}/api/docs/)\n"
            f"  admin      {base}/admin/   (a login: `make admin` in another terminal)\n"
            f"  bids       POST http://{settings.HELIOS_HANDLER_HOST}:{settings.HELIOS_HANDLER_PORT}/bid\n"
            f"  profiles   gRPC {settings.HELIOS_PROFILES_TARGET}\n"
            "Press Ctrl-C to stop."
        )
