import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from pipeline.logs import set_service
from pipeline.sideserver import SideServer
from profiles.grpc_server import DEFAULT_WORKERS, STOP_GRACE_S, serve
from profiles.store import profile_store


class Command(BaseCommand):
    help = "Run the profiles role: the gRPC profile service on Redis, with /metrics /healthz /readyz."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="gRPC worker threads")
        parser.add_argument("--grace", type=float, default=STOP_GRACE_S, help="seconds in-flight calls get on stop")

    def handle(self, *args: Any, workers: int, grace: float, **options: Any) -> None:
        set_service("profiles")
        stop = threading.Event()

        def on_signal(signum: int, frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        store = profile_store()
        side = SideServer(settings.HELIOS_METRICS_HOST, settings.HELIOS_ROLE_PORTS["profiles"], {"redis": store.ping})
        side.start()
        try:
            serve(
                stop,
                host=settings.HELIOS_PROFILES_HOST,
                port=settings.HELIOS_PROFILES_PORT,
                store=store,
                grace_s=grace,
                max_workers=workers,
            )
        finally:
            side.stop()
