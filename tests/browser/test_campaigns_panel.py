"""The dashboard's Campaigns panel follows a campaign's money live, in a real headless Chromium
(issue 16): the real platform (handler, profiles, bidder, auction and outcomes as OS processes on
Kafka, Redis and PostgreSQL, the real Redis ledger under a key prefix of the test's own, its day
compressed to DAY_S seconds) plus the web role, and `manage.py exchange` playing an exchange
against the handler (bids, then win, billing and loss notices). The campaign's spend bar fills and
its pacing chart's actual-spend line grows while the simulator runs; the target line spans the
day. Screenshot: test-artifacts/dashboard-campaigns.png."""

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from campaigns.tests.ledger_support import drop_keys
from conftest import REPO
from exchange.requests import TCF_VENDOR_ID
from tests.browser.test_dashboard import CONNECT_TIMEOUT_MS, Web, in_thread
from tests.e2e.harness import Platform, wait_for
from tests.e2e.rtb_support import create_campaign, rtb_post, rtb_request
from tests.e2e.test_pipeline import redis_url

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

REDIS_DB = 8  # this branch's Redis database: the platform's, the ledger's and the channel layer's
DAY_S = 120  # the ledger's day: the even line climbs the whole daily budget in two minutes
DAILY_BUDGET = 0.5  # USD: at a $4 CPM, 125 impressions a day, about one a second on the even line
MOVE_TIMEOUT_MS = 20_000


@pytest.fixture
def platform(topic_prefix, tmp_path) -> Iterator[Platform]:
    prefix = f"HELIOS_i16d:browser:{uuid.uuid4().hex[:8]}"
    env = {
        "HELIOS_CURRENCY_RATES": json.dumps({"EUR": 1.08}),
        "HELIOS_TCF_VENDOR_ID": str(TCF_VENDOR_ID),
        "HELIOS_RTB_PROFILE_DEADLINE_MS": "500",
        "HELIOS_RTB_DEADLINE_CAP_MS": "2000",
        "HELIOS_LEDGER_PREFIX": prefix,
        "HELIOS_LEDGER_DAY_S": str(DAY_S),
        "HELIOS_CHANNEL_LAYER": "redis",
        "HELIOS_CHANNEL_PREFIX": f"browser-{uuid.uuid4().hex[:8]}",
        "HELIOS_PUBLIC_API": "true",
    }
    with Platform(tmp_path, topic_prefix, redis_url(REDIS_DB), **env) as pf:
        pf.seed_profiles()
        yield pf
    drop_keys(prefix)


def paced_campaign() -> int:
    staff = APIClient()
    staff.force_authenticate(User.objects.create_user("ops", is_staff=True, is_superuser=True))
    return create_campaign(staff, site_domains_include=[], daily_budget=str(DAILY_BUDGET), pacing="even")


def test_the_campaign_spend_bar_and_pacing_line_move_while_the_exchange_runs(platform, page, artifacts_dir):
    from playwright.sync_api import expect

    campaign_id = in_thread(paced_campaign)
    platform.start_all()
    warm = rtb_request("warm", site={"domain": "news.example"})
    wait_for(lambda: rtb_post(platform.handler_port, warm)[0] == 200, 30, "the handler to bid for the campaign")
    web = Web(platform.workdir, platform.env)
    web.start()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    exchange: subprocess.Popen[bytes] | None = None
    try:
        page.goto(web.url + "/")
        expect(page.locator("#status")).to_have_attribute("data-state", "live", timeout=CONNECT_TIMEOUT_MS)
        row = page.locator(f'#campaigns .campaign[data-campaign-id="{campaign_id}"]')
        expect(row.locator(".campaign-name")).to_have_text("Pausable", timeout=CONNECT_TIMEOUT_MS)
        bar, actual = row.locator(".spend-bar"), row.locator(".pacing-chart .actual")
        expect(bar).to_have_attribute("aria-valuemax", str(DAILY_BUDGET))
        # The target line runs from 0 at the start of the ledger's day to the budget at its end.
        expect(row.locator(".pacing-chart .target")).to_have_attribute("points", "0.0,64.0 240.0,0.0")

        with open(platform.workdir / "exchange.log", "wb") as log:
            exchange = subprocess.Popen(
                [sys.executable, "manage.py", "exchange", "--rate", "30", "--duration", "60", "--seed", "16",
                 "--url", f"http://127.0.0.1:{platform.handler_port}", "--tmax", "1000", "--bill-delay-ms", "100",
                 "--bill-retry-ms", "100", "--no-progress"],
                cwd=REPO, env=platform.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        # Billed impressions fill the bar, and the actual-spend line gains samples above 0...
        expect(bar).not_to_have_attribute("data-spent", "0", timeout=MOVE_TIMEOUT_MS)
        first_spent, first_line = bar.get_attribute("data-spent"), actual.get_attribute("points")
        # ...and both go on moving while the exchange plays.
        expect(bar).not_to_have_attribute("data-spent", first_spent or "", timeout=MOVE_TIMEOUT_MS)
        expect(actual).not_to_have_attribute("points", first_line or "", timeout=MOVE_TIMEOUT_MS)
        spent = float(bar.get_attribute("data-spent") or 0)
        assert 0 < spent <= DAILY_BUDGET
        assert len((actual.get_attribute("points") or "").split()) >= 3  # the day's start and two samples
        expect(row.locator("[data-wins]")).not_to_have_text("0 of 0", timeout=MOVE_TIMEOUT_MS)
        expect(row.locator("[data-cpm]")).not_to_have_text("$0.00", timeout=MOVE_TIMEOUT_MS)
        expect(row.locator(".campaign-spend")).to_contain_text(f"of ${DAILY_BUDGET:.2f} today")
        page.screenshot(path=str(artifacts_dir / "dashboard-campaigns.png"), full_page=True)
        assert errors == [], f"console errors: {errors}"
    finally:
        if exchange is not None and exchange.poll() is None:
            exchange.terminate()
            exchange.wait(30)
        web.stop()
