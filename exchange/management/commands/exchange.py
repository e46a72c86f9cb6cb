"""`manage.py exchange`: a simulated OpenRTB 2.6 exchange against a running handler (SPEC §15)."""

import asyncio
import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exchange.auction import FIRST, KINDS
from exchange.simulator import DEFAULT_TMAX_MS, Config, Exchange
from exchange.stats import render


class Command(BaseCommand):
    help = (
        "Play an OpenRTB 2.6 exchange against /openrtb2/bid: seeded requests at a fixed rate, tmax enforced, "
        "bids validated, first- or second-price auctions against seeded competitors, win/billing/loss notices; "
        "prints a summary."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rate", type=float, default=50.0, help="requests per second (open loop; default 50)")
        parser.add_argument("--duration", type=float, default=10.0, help="seconds of requests (default 10)")
        parser.add_argument("--auction", choices=KINDS, default=FIRST, help="first or second price (default first)")
        parser.add_argument("--competitors", type=int, default=3, help="synthetic bidders per impression (default 3)")
        parser.add_argument("--seed", type=int, default=1, help="seeds the requests and the competitors (default 1)")
        parser.add_argument("--url", action="append", default=None,
                            help="the handler (default http://127.0.0.1:8080); repeat it for several handlers, "
                                 "which then get the requests in turn")  # fmt: skip
        parser.add_argument("--bill-delay-ms", type=int, default=1000, help="win notice to billing notice (1000)")
        parser.add_argument("--bill-repeats", type=int, default=3, help="sends of each billing notice (default 3)")
        parser.add_argument("--bill-retry-ms", type=int, default=1000, help="between two sends of a bill (1000)")
        parser.add_argument("--notice-retry-ms", type=int, default=1000,
                            help="between two tries of a notice not delivered: no answer or a 5xx (1000)")  # fmt: skip
        parser.add_argument("--notice-retry-for", type=float, default=60.0,
                            help="seconds a notice not delivered is tried again, then given up (60)")  # fmt: skip
        parser.add_argument("--tmax", type=int, default=DEFAULT_TMAX_MS,
                            help="every request's tmax in ms (default 120; 0: the request builder's mix)")  # fmt: skip
        parser.add_argument("--eur-usd", default="1.08", help="USD per EUR, to compare EUR floors (default 1.08)")
        parser.add_argument("--synthetic-users", type=int, default=0,
                            help="known users include synth-000001..N (as seed_profiles --synthetic N made)")  # fmt: skip
        parser.add_argument("--connections", type=int, default=256, help="HTTP connection pool size (default 256)")
        parser.add_argument("--json", type=Path, default=None, help="also write the summary as JSON to this file")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        config = _config(options)
        summary = asyncio.run(Exchange(config).run())
        self.stdout.write(render(summary))
        if options["json"] is not None:
            options["json"].write_text(json.dumps(summary, indent=2) + "\n")
            self.stdout.write(f"summary written to {options['json']}")


def _config(options: dict[str, Any]) -> Config:
    if options["rate"] <= 0 or options["duration"] < 0:
        raise CommandError("--rate must be > 0 and --duration >= 0")
    if options["competitors"] < 0 or options["bill_repeats"] < 0:
        raise CommandError("--competitors and --bill-repeats must be >= 0")
    if options["notice_retry_ms"] <= 0 or options["notice_retry_for"] < 0:
        raise CommandError("--notice-retry-ms must be > 0 and --notice-retry-for >= 0")
    try:
        eur = Decimal(options["eur_usd"])
    except InvalidOperation as e:
        raise CommandError(f"--eur-usd {options['eur_usd']!r} is not a number") from e
    return Config(
        url=(options["url"] or ["http://127.0.0.1:8080"])[0],
        urls=tuple(options["url"] or ()),
        rate=options["rate"],
        duration_s=options["duration"],
        auction=options["auction"],
        competitors=options["competitors"],
        seed=options["seed"],
        bill_delay_ms=options["bill_delay_ms"],
        bill_repeats=options["bill_repeats"],
        bill_retry_ms=options["bill_retry_ms"],
        notice_retry_ms=options["notice_retry_ms"],
        notice_retry_for_s=options["notice_retry_for"],
        tmax_ms=options["tmax"] or None,
        rates={"USD": Decimal(1), "EUR": eur},
        synthetic_users=options["synthetic_users"],
        connections=options["connections"],
        progress=not options["no_progress"],
    )
