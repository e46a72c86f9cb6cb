"""`manage.py exchange`'s simulator against a real handler process (and its profile service) on the
real Kafka, Redis and PostgreSQL, with the seeded campaigns: Helios bids, every bid passes the
exchange's checks, and every notice the simulator sends gets an answer (the notice endpoints may
answer anything: this test is about the exchange, not about them)."""

import asyncio
import json
import subprocess
import sys

import pytest

from campaigns.seed import seed_campaigns
from conftest import REPO
from exchange.auction import SECOND
from exchange.requests import TCF_VENDOR_ID
from exchange.simulator import Config, Exchange
from tests.e2e.harness import Platform, wait_for
from tests.e2e.rtb_support import rtb_post, rtb_request
from tests.e2e.test_pipeline import redis_url

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# As the README's "simulated exchange" section runs the handler: EUR floors convertible, the consent
# strings of the request builder naming Helios's vendor id. Deadlines a loaded 2-core machine meets.
ENV = {
    "HELIOS_CURRENCY_RATES": json.dumps({"EUR": 1.08}),
    "HELIOS_TCF_VENDOR_ID": str(TCF_VENDOR_ID),
    "HELIOS_RTB_PROFILE_DEADLINE_MS": "500",
    "HELIOS_RTB_DEADLINE_CAP_MS": "2000",
}


@pytest.fixture
def handler(topic_prefix, tmp_path):
    seed_campaigns()
    with Platform(tmp_path, topic_prefix, redis_url(15), **ENV) as platform:
        platform.seed_profiles()
        platform.start("profiles")
        platform.start("handler")
        warm = rtb_request("warm", imp=[{"id": "1", "banner": {"w": 300, "h": 250}}])  # no floor: the house bids
        wait_for(lambda: rtb_post(platform.handler_port, warm)[0] == 200, 30, "the handler to bid")
        yield platform


def check_summary(summary, *, rate, duration_s):
    assert summary["requests"] == round(rate * duration_s) > 0
    assert summary["answered"] + summary["timeouts"] + sum(summary["errors"].values()) == summary["requests"]
    assert summary["errors"] == {} and summary["invalid_answers"] == {}
    assert summary["bids_answers"] > 0 and summary["bids"] > 0
    assert summary["invalid_bids"] == 0 and summary["invalid_bids_by_reason"] == {}
    assert summary["valid_bids"] == summary["bids"] == summary["wins"] + sum(summary["losses"].values())
    assert summary["wins"] > 0 and summary["spend"] > 0
    assert set(summary["losses"]) <= {"100", "102"}
    sent, answers = summary["notices_sent"], summary["notice_answers"]
    assert sent["win"] == summary["wins"] and sent["loss"] == sum(summary["losses"].values())
    assert sent["bill"] == 3 * summary["wins"]  # every billing notice sent three times
    for kind in ("win", "bill", "loss"):  # each notice was answered, with an HTTP status
        assert sum(answers[kind].values()) == sent[kind], (kind, answers[kind])
        assert all(status.isdigit() for status in answers[kind]), answers[kind]
    assert summary["unsubstituted_macros"] == 0
    assert summary["answer_ms_p50"] is not None and summary["answer_ms_p99"] >= summary["answer_ms_p50"]


def test_the_simulator_plays_a_second_price_exchange_against_a_real_handler(handler):
    config = Config(url=f"http://127.0.0.1:{handler.handler_port}", rate=20, duration_s=3, auction=SECOND,
                    competitors=2, seed=16, tmax_ms=1000, bill_delay_ms=100, bill_retry_ms=100, progress=False)  # fmt: skip
    summary = asyncio.run(Exchange(config).run())
    check_summary(summary, rate=20, duration_s=3)


def test_manage_py_exchange_prints_the_summary_and_writes_it_as_json(handler, tmp_path):
    out = tmp_path / "summary.json"
    done = subprocess.run(
        [sys.executable, "manage.py", "exchange", "--rate", "10", "--duration", "2", "--auction", "first",
         "--competitors", "3", "--seed", "7", "--url", f"http://127.0.0.1:{handler.handler_port}", "--tmax", "1000",
         "--bill-delay-ms", "50", "--bill-retry-ms", "50", "--json", str(out), "--no-progress"],
        cwd=REPO, env=handler.env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(out.read_text())
    check_summary(summary, rate=10, duration_s=2)
    assert summary["auction"] == "first"
    for line in ("requests", "bid rate", "timeouts", "invalid by reason", "wins", "spend", "answer ms", "bill notices"):
        assert f"\n{line}" in "\n" + done.stdout, line
