from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from pipeline.logs import set_service
from pipeline.runner import install_signal_handlers, run_server_role
from profiles.grpc_server import DEFAULT_WORKERS, STOP_GRACE_S


class Command(BaseCommand):
    help = "Run the profiles role: the gRPC profile service on Redis, with /metrics /healthz /readyz."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="gRPC worker threads")
        parser.add_argument("--grace", type=float, default=STOP_GRACE_S, help="seconds in-flight calls get on stop")

    def handle(self, *args: Any, workers: int, grace: float, **options: Any) -> None:
        set_service("profiles")
        run_server_role("profiles", install_signal_handlers, workers=workers, grace_s=grace)
