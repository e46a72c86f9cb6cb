"""The page's script reads exactly the snapshot fields `dashboard.snapshots.Snapshot` defines.

The real page (template, dashboard.js, Chart.js) runs in Debian's Chromium with every request
answered by the test: no server, no services. The websocket delivers an initial and a live
snapshot built from the Structs; every snapshot object the script parses is wrapped in a Proxy
that records each field read. A field the script reads that the Struct lacks (renamed on either
side) fails the test, and so does a Struct field the page stops reading without saying so here.
"""

import json
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.staticfiles import finders
from django.test import RequestFactory

from dashboard.snapshots import (
    PRICE_BUCKET_LABELS,
    SERIES_BIN_S,
    SERIES_BINS,
    Rolling,
    SeriesBin,
    Snapshot,
    Totals,
    WindowFigures,
)
from dashboard.snapshots.shape import CampaignBids, CampaignPacing, NoBidCount, PacingPoint, RecentOutcome, RtbPanel
from dashboard.views import dashboard_page

pytestmark = pytest.mark.browser

ORIGIN = "http://dashboard.test"
TIMEOUT_MS = 10_000

# Sent for other readers (the channel-layer routing, API clients, tests), not read by the page:
# it takes the bucket labels and the rolling horizon from its config and lists outcomes from the
# REST API.
NOT_READ_BY_PAGE = {
    "type",
    "price_buckets",
    "rolling.horizon_s",
    "window.start",
    "window.revenue",
    "recent",
    *(f"recent[].{name}" for name in RecentOutcome.__struct_fields__),
}

# Wraps each parsed snapshot in Proxies that record the path of every field read.
RECORD_READS = """
(() => {
  const reads = new Set();
  window.__snapshotReads = reads;
  const wrap = (value, path) => {
    if (Array.isArray(value)) return value.map((item) => wrap(item, `${path}[]`));
    if (value === null || typeof value !== "object") return value;
    const fields = {};
    for (const [key, item] of Object.entries(value)) fields[key] = wrap(item, path ? `${path}.${key}` : key);
    return new Proxy(fields, {
      get(target, key, receiver) {
        if (typeof key === "string" && !(key in Object.prototype)) reads.add(path ? `${path}.${key}` : key);
        return Reflect.get(target, key, receiver);
      },
    });
  };
  const parse = JSON.parse;
  JSON.parse = function (text, reviver) {
    const value = parse.call(this, text, reviver);
    return value && value.type === "dashboard.snapshot" ? wrap(value, "") : value;
  };
})();
"""


def field_paths(info: msgspec.inspect.Type, prefix: str = "") -> set[str]:
    """Every field path of a Struct type (`totals.win_rate`, `series[].t`), its tag included."""
    if isinstance(info, msgspec.inspect.UnionType):
        return set().union(*(field_paths(member, prefix) for member in info.types))
    if isinstance(info, msgspec.inspect.ListType):
        return field_paths(info.item_type, f"{prefix}[]")
    if not isinstance(info, msgspec.inspect.StructType):
        return set()
    paths = {f"{prefix}.{info.tag_field}".lstrip(".")} if info.tag_field else set()
    for field in info.fields:
        path = f"{prefix}.{field.name}".lstrip(".")
        paths |= {path} | field_paths(field.type, path)
    return paths


def snapshots(now: float) -> list[Snapshot]:
    """An initial snapshot and a live one, every field filled (latencies measured, outcomes in
    the window), so that every branch of the page that reads a field runs."""
    totals = Totals(
        total_outcomes=1234,
        total_wins=800,
        total_losses=434,
        win_rate=64.83,
        total_revenue=680.5,
        average_bid_price=0.71,
        average_win_price=0.85,
        enriched_count=1000,
    )
    buckets = len(PRICE_BUCKET_LABELS)
    first = (int(now) // SERIES_BIN_S - SERIES_BINS + 1) * SERIES_BIN_S
    recent = RecentOutcome(
        bid_id="req-1",
        imp_id="1",
        user_id="user-001",
        site_domain="news.com",
        win_status=True,
        win_price=0.85,
        bid_price=0.85,
        timestamp="2026-11-26T12:00:00.000Z",
    )
    rolling = Rolling(horizon_s=5.0, outcomes=40, per_second=8.0, latency_p50_s=0.012, latency_p99_s=0.08)
    rtb = RtbPanel(
        horizon_s=60.0,
        outcomes=10,
        bids=7,
        latency_p50_ms=4.2,
        latency_p99_ms=31.0,
        late=1,
        no_bids=[NoBidCount(nbr=504, reason="below floor", count=3)],
        campaigns=[CampaignBids(campaign_id=3, name="Spring sale", bids=7)],
    )
    campaigns = [
        CampaignPacing(
            campaign_id=3,
            name="Spring sale",
            daily_budget=10.0,
            spend_today=2.5,
            reserved=0.4,
            pacing_target=3.0,
            late_bills=1,
            day_started_at=now - 600,
            day_s=3600.0,
            bids=7,
            wins=5,
            win_rate=71.43,
            average_clearing_cpm=1.85,
            history=[PacingPoint(t=now - 300, spent=1.0), PacingPoint(t=now, spent=2.5)],
        )
    ]
    initial = Snapshot(
        kind="initial",
        source="database",
        at=now,
        totals=totals,
        rolling=rolling,
        series=[
            SeriesBin(t=first + i * SERIES_BIN_S, count=4, wins=3, histogram=[1] * buckets) for i in range(SERIES_BINS)
        ],
        recent=[recent],
        price_buckets=list(PRICE_BUCKET_LABELS),
        rtb=rtb,
        campaigns=campaigns,
    )
    live = Snapshot(
        kind="live",
        source="outcomes-host:1",
        at=now + 0.5,
        totals=msgspec.structs.replace(totals, total_outcomes=1240),
        rolling=rolling,
        window=WindowFigures(start=now, end=now + 0.5, count=6, wins=4, revenue=3.4, histogram=[1] * buckets),
        recent=[recent],
        price_buckets=list(PRICE_BUCKET_LABELS),
        rtb=rtb,
        campaigns=campaigns,
    )
    return [initial, live]


def page_html(settings: Any) -> str:
    settings.HELIOS_PUBLIC_API = True
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    return dashboard_page(request).content.decode()


def serve(page: Any, html: str) -> None:
    """Answers the page, its static files and the outcomes API; the websocket sends snapshots."""

    def answer(route: Any) -> None:
        path = route.request.url.removeprefix(ORIGIN).split("?")[0]
        if path == "/":
            route.fulfill(status=200, content_type="text/html", body=html)
        elif path.startswith("/static/") and (found := finders.find(path.removeprefix("/static/"))):
            route.fulfill(status=200, path=str(Path(found)))
        elif path.startswith("/api/outcomes/"):
            route.fulfill(status=200, content_type="application/json", body='{"count": 0, "results": []}')
        else:
            route.fulfill(status=404, body="")

    def websocket(ws: Any) -> None:
        for snapshot in snapshots(time.time()):
            ws.send(msgspec.json.encode(snapshot).decode())

    page.route(f"{ORIGIN}/**", answer)
    page.route_web_socket("**/ws/dashboard/", websocket)


def test_the_page_reads_exactly_the_snapshot_fields(page: Any, settings: Any) -> None:
    from playwright.sync_api import expect

    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(RECORD_READS)
    serve(page, page_html(settings))
    page.goto(f"{ORIGIN}/")

    # The page shows the live snapshot: the figures went through the fields recorded below.
    expect(page.locator("#card-total [data-value]")).to_have_text("1,240", timeout=TIMEOUT_MS)
    expect(page.locator("#card-p99 [data-value]")).to_have_text("80 ms", timeout=TIMEOUT_MS)
    expect(page.locator("#rtb-p99 [data-value]")).to_have_text("31 ms", timeout=TIMEOUT_MS)
    expect(page.locator("#rtb-campaigns tbody")).to_contain_text("Spring sale")
    expect(page.locator("#campaigns .campaign")).to_contain_text("$2.50 + $0.40 reserved of $10.00 today")
    expect(page.locator("#campaigns [data-late]")).to_have_text("1")
    reads = set(page.evaluate("[...window.__snapshotReads]"))
    fields = field_paths(msgspec.inspect.type_info(Snapshot))

    assert errors == []
    assert reads - fields == set(), "the page reads fields the Snapshot Struct does not have"
    assert fields - reads == NOT_READ_BY_PAGE, "Snapshot fields the page does not read (or now reads)"
    assert json.loads(msgspec.json.encode(snapshots(0.0)[0]))["type"] == "dashboard.snapshot"
