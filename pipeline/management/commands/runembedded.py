from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils.module_loading import import_string

from pipeline.logs import set_service


class Command(BaseCommand):
    help = "Run all of Helios in this one process, with no external services (embedded mode)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.HELIOS_WEB_HOST)
        parser.add_argument("--port", type=int, default=settings.HELIOS_WEB_PORT)

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        set_service("embedded")
        # Wiring lives in helios_site; imported by path so that pipeline imports no domain app.
        run = import_string("helios_site.embedded.run")
        run(web_host=host, web_port=port, announce=lambda text: self.stdout.write(text))
