"""`manage.py simulate`: open-loop bid traffic to a running handler, either mode (intake/loadgen.py).

Requests are scheduled at a fixed rate whatever the server's speed, and each latency is measured
from the request's scheduled time, so a slow server shows up as latency, not as a lower rate.
"""

import json
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from intake.loadgen import run


class Command(BaseCommand):
    help = "Send simulated bid traffic to a running Helios handler and summarise the answers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rate", type=float, default=100.0, help="requests per second")
        parser.add_argument("--duration", type=float, default=10.0, help="seconds")
        parser.add_argument(
            "--url", default=f"http://127.0.0.1:{settings.HELIOS_HANDLER_PORT}/bid", help="the handler's /bid"
        )
        parser.add_argument("--users", type=int, default=20, help="seeded users user-001..user-N to draw from")
        parser.add_argument("--seed", type=int, default=None, help="random seed (repeatable traffic)")
        parser.add_argument("--workers", type=int, default=32, help="concurrent connections")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["rate"] <= 0 or opts["duration"] <= 0:
            raise CommandError("--rate and --duration must be positive")
        target = urlsplit(opts["url"])
        if target.scheme != "http" or not target.hostname:
            raise CommandError(f"--url must be an http:// URL, got {opts['url']!r}")
        total = int(opts["rate"] * opts["duration"])
        with tqdm(total=total, unit="req", disable=opts["json"]) as bar:
            try:
                summary = run(
                    opts["url"],
                    rate=opts["rate"],
                    duration_s=opts["duration"],
                    connections=opts["workers"],
                    seed=opts["seed"],
                    users=opts["users"],
                    progress=bar.update,
                )
            except OSError as exc:
                raise CommandError(f"cannot connect to {opts['url']}: {exc}") from exc
        if opts["json"]:
            self.stdout.write(json.dumps(summary))
            return
        self.stdout.write(
            f"sent {summary['sent']}  accepted {summary['accepted']} ({summary['accepted_impressions']} impressions)  "
            f"rejected {summary['rejected']}  answers {summary['answers']}\n"
            f"{summary['rate_per_s']} req/s over {summary['elapsed_s']} s  "
            f"client latency p50 {summary['latency_p50_ms']} ms  p99 {summary['latency_p99_ms']} ms"
        )
