"""`/openrtb2/bid` over the IAB's example requests and a seeded stream of realistic ones, deciding
over the seeded campaigns (house + demos, loaded from PostgreSQL as a running handler loads them),
every answer checked by the exchange-side validator (exchange/validation.py, written apart from
the code under test)."""

import gzip
import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bidding.breaker import CircuitBreaker
from bidding.config import BidderSettings
from bidding.tests.fakes import FakeLookup
from campaigns.seed import seed_campaigns
from campaigns.selectors import campaign_index_load
from exchange.requests import TCF_VENDOR_ID, build
from exchange.validation import validate
from intake.app import create_app
from intake.tests.helpers import FakePublisher, call
from profiles.demo import DEMO_USERS
from rtb.answer import Notices
from rtb.app import RtbApp
from rtb.config import RtbSettings
from rtb.lookup import CoalescingLookup

pytestmark = pytest.mark.django_db

EXAMPLES = sorted((Path(__file__).parent / "examples").glob("*/*.json"))


@pytest.fixture
def app() -> Any:
    seed_campaigns()
    index = campaign_index_load(version=1)
    assert len(index.campaigns) >= 5  # the house and the demos
    config = RtbSettings(bidder=BidderSettings(rates={"EUR": 1.08}), notices=Notices("https://bid.example", b"k"),
                         vendor_id=TCF_VENDOR_ID, deadline_cap_ms=5000, default_tmax_ms=6000)  # fmt: skip
    lookup = CoalescingLookup(FakeLookup(u.profile for u in DEMO_USERS), CircuitBreaker(), call_timeout_s=1)
    noon = datetime.now(UTC).replace(hour=12)  # a demo campaign runs 06-24 UTC: the answers must not hang on the hour
    rtb = RtbApp(FakePublisher(), lookup, lambda: index, config, clock=lambda: noon)
    return create_app(
        FakePublisher(), max_body_bytes=65536, max_imps=16, retry_after_s=1, routes={"/openrtb2/bid": rtb}
    )


def answer(app: Any, request: dict[str, Any], *, zipped: bool = False) -> tuple[int, list[Any]]:
    body = json.dumps({**request, "tmax": 5000}).encode()  # the deadline is not under test here
    headers = [("accept-encoding", "gzip"), ("content-encoding", "gzip")] if zipped else []
    result = call(app, "POST", "/openrtb2/bid", gzip.compress(body) if zipped else body, headers)
    assert result.status is not None
    return result.status, validate(request, result.status, result.headers, result.body)


@pytest.mark.parametrize("path", EXAMPLES, ids=[f"{p.parent.name}/{p.stem}" for p in EXAMPLES])
def test_every_iab_example_gets_a_valid_bid_response_or_a_204(app: Any, path: Path) -> None:
    status, violations = answer(app, json.loads(path.read_text()))
    assert status in (200, 204)
    assert violations == []


def test_the_iab_examples_are_bid_on_where_a_campaign_fits_and_never_on_a_private_auction(app: Any) -> None:
    answered = {f"{p.parent.name}/{p.stem}": answer(app, json.loads(p.read_text()))[0] for p in EXAMPLES}
    private = {name for name in answered if "pmp" in name}
    assert len(private) == 3 and {answered[name] for name in private} == {204}  # deals only; Helios has none
    bid_on = sorted(name for name, status in answered.items() if status == 200)
    assert len(bid_on) >= 5, answered  # where a seeded campaign targets the placement and a creative fits


def test_a_seeded_stream_of_realistic_requests_passes_every_exchange_check(app: Any) -> None:
    rng = random.Random(20261204)
    statuses: dict[int, int] = {}
    for n in range(400):
        status, violations = answer(app, build(rng).body, zipped=n % 4 == 0)
        assert violations == [], n
        statuses[status] = statuses.get(status, 0) + 1
    assert set(statuses) == {200, 204} and statuses[200] > 100, statuses  # both kinds, many bids
