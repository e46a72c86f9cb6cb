"""Benchmark of the analytics REST API on a large outcomes table.

    DATABASE_URL=postgresql://helios:helios@127.0.0.1:5432/helios .venv/bin/python bench/api.py --rows 5000000

Creates a separate database (`helios_bench` on the same server; the DATABASE_URL database is only
used to create it), migrates it, loads N synthetic outcomes with COPY (secondary indexes dropped
during the load and rebuilt after, as a bulk load does), builds the daily rollups with one
INSERT ... SELECT ... GROUP BY (exactly what outcome_record_batch would have accumulated), then
times the endpoints in-process with Django's test Client (full Django + DRF request handling, no
network): p50/p99 over --requests requests each, after a warm-up. Prints a table and writes
bench/results/api.json. The database is dropped at the end unless --keep; --reuse skips the load
when a kept database already holds --rows outcomes.
"""

import argparse
import io
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "api.json"
TABLE = "outcomes_auctionoutcome"
ROLLUPS = "outcomes_outcomedailyrollup"
DAYS = 60  # the outcomes span this many days, ending now
USERS = 100_000
SITES = 50
CHUNK_ROWS = 20_000
WARMUP = 5
TIERS = [("premium", "1.2000"), ("standard", "0.8500"), ("mid", "0.6000"), ("base", "0.3500")]
NULL, TRUE, FALSE = "\\N", "t", "f"  # COPY text format
NULL_JSON, LOST_JSON = "null", '"lost"'
INTERESTS = ["sports", "technology", "travel", "food", "finance", "gaming", "music", "automotive", "fitness", "fashion"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="outcomes to load (default 1,000,000)")
    parser.add_argument("--database", default="helios_bench", help="the benchmark database (created, then dropped)")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per endpoint")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept database that holds --rows outcomes")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


def server_urls(database: str) -> tuple[str, str]:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("DATABASE_URL must point at PostgreSQL, e.g. postgresql://helios:helios@127.0.0.1:5432/helios")
    parts = urlsplit(url)
    return url, urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


def admin_execute(admin_url: str, sql: str) -> list[tuple]:
    import psycopg2

    conn = psycopg2.connect(admin_url)
    try:
        conn.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
        with conn.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall() if cursor.description else []
    finally:
        conn.close()


def setup_django(bench_url: str) -> None:
    os.environ["DATABASE_URL"] = bench_url
    os.environ["HELIOS_PUBLIC_API"] = "true"
    os.environ["DJANGO_DEBUG"] = "false"  # no query logging: time what production runs
    os.environ["HELIOS_SSL_REDIRECT"] = "false"  # the test client speaks plain HTTP (TLS ends at a proxy)
    os.environ.setdefault("DJANGO_SECRET_KEY", "helios-bench-" + os.urandom(16).hex())
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver,localhost"
    os.environ["HELIOS_LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helios_site.settings")
    sys.path.insert(0, str(REPO))
    import django

    django.setup()


# --- synthetic rows, in COPY text format ---


# The columns of the COPY lines `rows` writes, in their order.
COPY_COLUMNS = (
    "bid_id",
    "request_digest",
    "imp_id",
    "user_id",
    "site_domain",
    "win_status",
    "win_price",
    "bid_price",
    "bid_floor",
    "currency",
    "enriched",
    "winning_interest",
    "user_interests",
    "creative_id",
    "loss_reason",
    "timestamp",
    "auction_timestamp",
    "created_at",
    "raw_data",
)


def rows(count: int, seed: int, end: datetime) -> Iterator[str]:
    """COPY lines in COPY_COLUMNS order, event times ascending over DAYS days.

    Written for speed (the load is bound by this generator): one isoformat per row (auction and
    insert times equal the event time), random.random() rather than randrange."""
    rng = random.Random(seed).random
    start = end - timedelta(days=DAYS)
    step_us = DAYS * 86400 * 1_000_000 // max(count, 1)
    sites = [f"site-{n:02d}.example" for n in range(SITES)]
    n_interests = len(INTERESTS)
    for n in range(count):
        stamp = (start + timedelta(microseconds=n * step_us)).isoformat()
        user = f"user-{int(rng() * USERS):06d}" if rng() < 0.9 else None
        site = sites[int(rng() * SITES)]
        enriched = user is not None and rng() < 0.85
        if enriched:
            interest = INTERESTS[int(rng() * n_interests)]
            tier, price = TIERS[int(rng() * 4)]
            interests, interest_json, creative = f'["{interest}"]', f'"{interest}"', f"cr-{interest}"
        else:
            interest, (tier, price) = NULL, TIERS[3]
            interests, interest_json, creative = "[]", "null", "cr-default"
        won = rng() < 0.7  # every tier bids above the 0.30 threshold
        win_price = price if won else "0.0000"
        bid_id = f"req-{n:09d}"
        digest = f"{n * 2654435761 % 2**64:016x}"  # any 16 hex digits
        user_json = f'"{user}"' if user is not None else "null"
        raw = (
            f'{{"bid_request_id":"{bid_id}","request_digest":"{digest}","imp_id":"1","user_id":{user_json},"received_at":"{stamp}",'
            f'"site_domain":"{site}","bid_price":{price},"bid_floor":0.3,"currency":"USD","timestamp":"{stamp}",'
            f'"enriched":{"true" if enriched else "false"},"winning_interest":{interest_json},'
            f'"user_interests":{interests},"ad_creative":{{"creative_id":"{creative}","title":"An ad",'
            f'"image_url":"https://cdn.example/ad.png","landing_url":"https://example.com/","bid_tier":"{tier}"}},'
            f'"win_status":{"true" if won else "false"},"win_price":{win_price},"auction_timestamp":"{stamp}",'
            f'"loss_reason":{NULL_JSON if won else LOST_JSON}}}'
        )
        yield (
            f"{bid_id}\t{digest}\t1\t{user or NULL}\t{site}\t{TRUE if won else FALSE}\t{win_price}\t{price}\t0.3000\tUSD\t"
            f"{TRUE if enriched else FALSE}\t{interest}\t{interests}\t{creative}\t{NULL if won else 'lost'}\t"
            f"{stamp}\t{stamp}\t{stamp}\t{raw}\n"
        )


class LineReader(io.TextIOBase):
    """A file-like view of an iterator of lines, read in chunks by copy_expert."""

    def __init__(self, lines: Iterator[str], progress: "Progress") -> None:
        self.lines = lines
        self.buffer = ""
        self.progress = progress

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        want = size if size and size > 0 else 1 << 20
        parts = [self.buffer]
        have = len(self.buffer)
        while have < want:
            chunk = []
            for line in self.lines:
                chunk.append(line)
                if len(chunk) >= CHUNK_ROWS:
                    break
            if not chunk:
                break
            self.progress.add(len(chunk))
            text = "".join(chunk)
            parts.append(text)
            have += len(text)
        data = "".join(parts)
        self.buffer = data[want:]
        return data[:want]


class Progress:
    def __init__(self, total: int) -> None:
        self.total, self.done, self.started, self.shown = total, 0, time.perf_counter(), 0.0

    def add(self, count: int) -> None:
        self.done += count
        now = time.perf_counter()
        if now - self.shown > 5 or self.done == self.total:
            self.shown = now
            rate = self.done / max(now - self.started, 1e-9)
            print(f"  copied {self.done:,}/{self.total:,} rows ({rate:,.0f} rows/s)", flush=True)


def load(count: int, seed: int) -> dict[str, float]:
    from django.db import connection

    timings: dict[str, float] = {}
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'u'",
            [TABLE],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
            [TABLE, TABLE],
        )
        indexes = cursor.fetchall()
        for name, _ in constraints:
            cursor.execute(f'ALTER TABLE {TABLE} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')

        started = time.perf_counter()
        print(f"loading {count:,} outcomes with COPY ...", flush=True)
        reader = LineReader(rows(count, seed, datetime.now(UTC)), Progress(count))
        cursor.copy_expert(f"COPY {TABLE} ({', '.join(COPY_COLUMNS)}) FROM STDIN", reader, size=1 << 20)
        timings["copy_s"] = time.perf_counter() - started

        started = time.perf_counter()
        print(f"rebuilding {len(indexes) + len(constraints)} indexes ...", flush=True)
        for name, definition in constraints:
            cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" {definition}')
        for _, definition in indexes:
            cursor.execute(definition)
        timings["indexes_s"] = time.perf_counter() - started

        started = time.perf_counter()
        print("building the daily rollups ...", flush=True)
        cursor.execute(f"DELETE FROM {ROLLUPS}")
        cursor.execute(
            f"INSERT INTO {ROLLUPS} (day, total, wins, revenue, bid_sum, enriched_count) "
            "SELECT (timestamp AT TIME ZONE 'UTC')::date, COUNT(*), COUNT(*) FILTER (WHERE win_status), "
            "SUM(win_price), SUM(bid_price), COUNT(*) FILTER (WHERE enriched) "
            f"FROM {TABLE} GROUP BY 1 ORDER BY 1"
        )
        timings["rollups_s"] = time.perf_counter() - started

        started = time.perf_counter()
        print("VACUUM ANALYZE ...", flush=True)
        cursor.execute(f"VACUUM ANALYZE {TABLE}")
        cursor.execute(f"VACUUM ANALYZE {ROLLUPS}")
        timings["vacuum_s"] = time.perf_counter() - started
    return timings


def check_consistency() -> dict[str, int]:
    """The rollups hold what the rows hold (the invariant outcome_record_batch keeps)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*), COUNT(*) FILTER (WHERE win_status) FROM {TABLE}")
        rows_total, rows_wins = cursor.fetchone()
        cursor.execute(f"SELECT COALESCE(SUM(total), 0), COALESCE(SUM(wins), 0) FROM {ROLLUPS}")
        rollup_total, rollup_wins = cursor.fetchone()
    if (rows_total, rows_wins) != (rollup_total, rollup_wins):
        sys.exit(f"rollups out of step: rows {rows_total}/{rows_wins}, rollups {rollup_total}/{rollup_wins}")
    return {"rows": int(rows_total), "wins": int(rows_wins)}


# --- timing ---


def endpoints() -> list[tuple[str, str, float | None]]:
    """(name, URL, target p50 in ms or None)."""
    from outcomes.models import AuctionOutcome

    some = AuctionOutcome.objects.order_by("-id").values_list("id", "timestamp").first()
    assert some is not None
    since = (some[1] - timedelta(days=1)).date().isoformat()
    return [
        ("stats (unfiltered)", "/api/outcomes/stats/", 20.0),
        ("daily-stats (unfiltered)", "/api/outcomes/daily-stats/", 20.0),
        ("list, first page (100)", "/api/outcomes/", 50.0),
        ("list, first page (1000)", "/api/outcomes/?page_size=1000", None),
        ("list, page 50", "/api/outcomes/?page=50", None),
        ("list ordered by -win_price", "/api/outcomes/?ordering=-win_price", None),
        ("winners, first page", "/api/outcomes/winners/", None),
        ("list ?user_id=", "/api/outcomes/?user_id=user-000042", None),
        ("list ?site_domain=&win_status=true", "/api/outcomes/?site_domain=site-07.example&win_status=true", 100.0),
        (f"list ?since={since}", f"/api/outcomes/?since={since}", None),
        ("list ?min_price=1", "/api/outcomes/?min_price=1", None),
        ("stats ?user_id=", "/api/outcomes/stats/?user_id=user-000042", None),
        ("stats ?site_domain=", "/api/outcomes/stats/?site_domain=site-07.example", 100.0),
        (f"stats ?since={since}", f"/api/outcomes/stats/?since={since}", None),
        ("list ?site_domain=", "/api/outcomes/?site_domain=site-07.example", 100.0),
        ("list ?search= (a user id)", "/api/outcomes/?search=user-000042", 100.0),
        ("list ?search= (a bid id)", "/api/outcomes/?search=req-000123456", 100.0),
        ("list ?search= (a site, 2% of rows)", "/api/outcomes/?search=site-07", 100.0),
        ("stats ?search= (a user id)", "/api/outcomes/stats/?search=user-000042", 100.0),
        ("stats ?search= (a site, 2% of rows)", "/api/outcomes/stats/?search=site-07", 100.0),
        ("daily-stats ?user_id=", "/api/outcomes/daily-stats/?user_id=user-000042", None),
        ("detail", f"/api/outcomes/{some[0]}/", None),
    ]


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def time_endpoints(requests: int) -> list[dict[str, object]]:
    from django.test import Client

    client = Client()
    results = []
    for name, url, target in endpoints():
        for _ in range(WARMUP):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code, response.content[:300])
        samples = []
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        body = response.json()
        count = body.get("count", body.get("total_outcomes")) if isinstance(body, dict) else len(body)
        p50, p99 = statistics.median(samples), percentile(samples, 0.99)
        results.append(
            {
                "name": name,
                "url": url,
                "p50_ms": round(p50, 2),
                "p99_ms": round(p99, 2),
                "target_p50_ms": target,
                "met": None if target is None else p50 <= target,
                "count": count,
            }
        )
        print(f"  {name:<40} p50 {p50:8.2f} ms  p99 {p99:8.2f} ms", flush=True)
    return results


def main() -> None:
    args = parse_args()
    admin_url, bench_url = server_urls(args.database)
    exists = bool(admin_execute(admin_url, f"SELECT 1 FROM pg_database WHERE datname = '{args.database}'"))
    if exists and not args.reuse:
        admin_execute(admin_url, f'DROP DATABASE "{args.database}"')
        exists = False
    if not exists:
        admin_execute(admin_url, f'CREATE DATABASE "{args.database}"')
    setup_django(bench_url)

    from django.core.management import call_command
    from django.db import connection

    from outcomes.models import AuctionOutcome

    timings: dict[str, float] = {}
    try:
        call_command("migrate", verbosity=0)
        if not (args.reuse and AuctionOutcome.objects.exists() and check_consistency()["rows"] == args.rows):
            with connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {TABLE}, {ROLLUPS}")
            started = time.perf_counter()
            timings = load(args.rows, args.seed)
            timings["total_load_s"] = time.perf_counter() - started
            print(
                f"loaded {args.rows:,} rows in {timings['total_load_s']:.1f} s "
                f"(COPY {timings['copy_s']:.1f} s, indexes {timings['indexes_s']:.1f} s, "
                f"rollups {timings['rollups_s']:.1f} s, vacuum {timings['vacuum_s']:.1f} s)",
                flush=True,
            )
        consistency = check_consistency()
        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            server = cursor.fetchone()[0]
            cursor.execute(f"SELECT pg_size_pretty(pg_total_relation_size('{TABLE}'))")
            size = cursor.fetchone()[0]
        print(f"timing {args.requests} requests per endpoint (after {WARMUP} warm-up) ...", flush=True)
        results = time_endpoints(args.requests)
    finally:
        connection.close()
        if not args.keep:
            admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{args.database}"')

    print()
    print(f"{'endpoint':<40} {'p50 ms':>9} {'p99 ms':>9} {'target':>8}  count")
    for row in results:
        target = f"{row['target_p50_ms']:.0f}" if row["target_p50_ms"] else "-"
        mark = "" if row["met"] is None else (" ok" if row["met"] else " MISSED")
        print(f"{row['name']:<40} {row['p50_ms']:>9.2f} {row['p99_ms']:>9.2f} {target:>8}  {row['count']}{mark}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "command": f"DATABASE_URL=... .venv/bin/python bench/api.py --rows {args.rows} --requests {args.requests}",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": consistency["rows"],
        "wins": consistency["wins"],
        "table_size": size,
        "load": {key: round(value, 2) for key, value in timings.items()},
        "client": "django.test.Client, in-process (full Django + DRF request path, no network)",
        "requests_per_endpoint": args.requests,
        "server": server,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "results": results,
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {RESULTS.relative_to(REPO)}")
    if any(row["met"] is False for row in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
