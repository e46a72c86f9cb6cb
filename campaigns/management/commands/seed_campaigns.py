"""`manage.py seed_campaigns [--no-demo]`: the built-in house campaign and the demo campaigns."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from campaigns.seed import seed_campaigns


class Command(BaseCommand):
    help = "Creates the house campaign (SPEC §5 behaviour) and a few demo campaigns; idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-demo", action="store_true", help="Only the house campaign.")

    def handle(self, *args: Any, **options: Any) -> None:
        result = seed_campaigns(demo=not options["no_demo"])
        self.stdout.write(f"campaigns and creatives: {result.created} created, {result.existing} already there")
