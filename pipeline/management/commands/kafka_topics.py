from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from pipeline.admin_kafka import ensure_topics


class Command(BaseCommand):
    help = "Create the pipeline topics and their dead-letter topics (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--partitions", type=int, default=settings.HELIOS_TOPIC_PARTITIONS)

    def handle(self, *args: Any, partitions: int, **options: Any) -> None:
        replicas = f"replication factor {settings.HELIOS_TOPIC_REPLICATION_FACTOR}, min.insync.replicas {settings.HELIOS_TOPIC_MIN_INSYNC_REPLICAS}"
        for name, (count, created) in ensure_topics(partitions=partitions).items():
            self.stdout.write(f"{name}: {count} partitions{f' (created) {replicas}' if created else ''}")
