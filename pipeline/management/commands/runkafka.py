from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pipeline.logs import set_service
from pipeline.roles import ROLES
from pipeline.runner import install_signal_handlers, run_consumer_role, run_server_role


class Command(BaseCommand):
    help = "Run one Helios role as a long-running process against Kafka."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", help=f"one of: {', '.join(ROLES)}")

    def handle(self, *args: Any, role: str, **options: Any) -> None:
        if role not in ROLES:
            lines = "\n".join(f"  {name:<10} {spec.description}" for name, spec in ROLES.items())
            raise CommandError(f"unknown role {role!r}; the roles are:\n{lines}", returncode=2)
        set_service(role)
        if ROLES[role].topic is None:
            run_server_role(role, install_signal_handlers)
        else:
            run_consumer_role(role, install_signal_handlers)
