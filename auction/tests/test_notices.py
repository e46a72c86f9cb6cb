"""The auction role's post-auction loop (its `auction_notices` stream) on the in-process broker,
with a fake ledger: bills settle, losses release, wins move no money, each once per bid; poison is
dead-lettered once; a ledger that is down holds the batch until it is back."""

from datetime import UTC, datetime

import pytest
from msgspec.structs import replace as msgspec_replace

from auction.notices import notices_factory
from auction.tests.fakes import SHARED, FakeLedger
from campaigns.ledger.store import ledger_ready
from pipeline import topics
from pipeline.messages import AuctionNotice, encode, format_time
from pipeline.readiness import run_checks
from pipeline.roles import RoleContext
from pipeline.runner import BuiltRole, build_role
from pipeline.testing import committed, produce, read_dlq, step_until
from pipeline.transports import LocalTransport


def notice(kind: str, bid_id: str, *, clearing: int | None = 1_500_000, loss: int | None = None) -> AuctionNotice:
    return AuctionNotice(
        kind=kind, request_id=f"r-{bid_id}", imp_id="1", bid_id=bid_id, campaign_id=3, crid="cr-3",  # type: ignore[arg-type]
        price_micros=2_000_000, user_id="fan", issued_at=1, clearing_micros=clearing, loss_code=loss,
        received_at=format_time(datetime.now(UTC)),
    )  # fmt: skip


@pytest.fixture
def ledger(settings) -> FakeLedger:
    settings.HELIOS_NOTICE_LEDGER = "auction.tests.fakes.shared_ledger"
    SHARED.__init__()  # type: ignore[misc]
    return SHARED


@pytest.fixture
def transport() -> LocalTransport:
    return LocalTransport(partitions=1)


def notices_stream(role: BuiltRole) -> BuiltRole:
    [stream] = role.streams
    assert stream.name == "auction-notices"
    return stream


def test_bills_settle_losses_release_and_wins_move_no_money_once_per_bid(ledger, transport):
    sent = [notice("win", "b1"), *[notice("bill", "b1", clearing=1_750_000)] * 3, notice("loss", "b2", loss=102)]
    for message in sent:
        produce(transport, topics.AUCTION_NOTICES, encode(message))
    produce(transport, topics.AUCTION_NOTICES, b"not a notice")
    role = build_role("auction", transport)
    stream = notices_stream(role)
    step_until(stream, lambda: len(ledger.calls) >= 4)
    assert ledger.applied("settle") == {"b1": 1_750_000}
    assert ledger.applied("release") == {"b2": None}
    assert [result for op, _, _, result in ledger.calls if op == "settle"] == ["applied", "duplicate", "duplicate"]
    step_until(stream, lambda: committed(transport, "auction-notices") == len(sent) + 1)
    assert len(read_dlq(transport, topics.AUCTION_NOTICES)) == 1
    role.shutdown()
    role.run()


def test_a_ledger_that_is_down_holds_the_notices_until_it_is_back(ledger, transport, settings):
    ledger.fail = 2
    produce(transport, topics.AUCTION_NOTICES, encode(notice("bill", "b9")))
    role = build_role("auction", transport)
    stream = notices_stream(role)
    step_until(stream, lambda: ledger.applied("settle") == {"b9": 1_500_000}, timeout_s=20)
    step_until(stream, lambda: committed(transport, "auction-notices") == 1)
    role.shutdown()
    role.run()


def test_the_outcomes_role_does_not_dead_letter_what_the_auction_role_does(ledger, transport):
    produce(transport, topics.AUCTION_NOTICES, b"{}")
    role = build_role("outcomes", transport)
    [stream] = role.streams
    step_until(stream, lambda: committed(transport, "outcomes-notices") == 1)
    assert read_dlq(transport, topics.AUCTION_NOTICES) == []
    role.shutdown()
    role.run()


@pytest.fixture
def real_ledger_prefix(settings):
    from campaigns.tests.ledger_support import prefixed

    settings.HELIOS_NOTICE_LEDGER = "campaigns.ledger.store.Ledger.from_settings"
    settings.HELIOS_LEDGER_STORE = "redis"
    for prefix in prefixed():
        settings.HELIOS_LEDGER_PREFIX = prefix
        yield prefix


def test_on_the_real_ledger_a_bill_sent_three_times_is_spent_once_and_a_loss_releases(real_ledger_prefix, transport):
    """The loop with the Redis ledger of campaigns/ledger/ (HELIOS_NOTICE_LEDGER's default)."""
    import time

    from campaigns.tests.ledger_support import run, spec

    campaign = spec(7, total_budget_micros=1_000_000)
    now = time.time()

    async def reserve(ledger):
        for bid_id in ("b1", "b2"):
            assert await ledger.reserve(campaign, bid_id=bid_id, price_micros=2_000_000, user_id=None, now=now)
        return await ledger.state(7, now=now)

    held = run(real_ledger_prefix, reserve)
    assert (held.reserved_micros, held.open_reservations) == (4_000, 2)
    bill = msgspec_replace(notice("bill", "b1", clearing=1_500_000), campaign_id=7, issued_at=int(now))
    loss = msgspec_replace(notice("loss", "b2", clearing=None, loss=102), campaign_id=7, issued_at=int(now))
    for message in (bill, bill, bill, loss):
        produce(transport, topics.AUCTION_NOTICES, encode(message))
    role = build_role("auction", transport)
    step_until(notices_stream(role), lambda: committed(transport, "auction-notices") == 4, timeout_s=20)
    role.shutdown()
    role.run()

    async def state(ledger):
        return await ledger.state(7, now=time.time())

    after = run(real_ledger_prefix, state)
    assert (after.spent_micros, after.reserved_micros, after.open_reservations) == (1_500, 0, 0)


def test_the_roles_readiness_follows_the_ledgers_own_redis(settings):
    """/readyz asks the Redis the ledger uses (HELIOS_LEDGER_REDIS_URL), not the profiles' REDIS_URL."""
    settings.HELIOS_NOTICE_LEDGER = "campaigns.ledger.store.Ledger.from_settings"
    settings.HELIOS_LEDGER_STORE = "redis"
    ctx = RoleContext(role="auction", producer=None, output_topic=None)
    notices_factory(ctx)
    try:
        assert ctx.ready_checks["ledger"] is ledger_ready and "redis" not in ctx.ready_checks
        assert run_checks(ctx.ready_checks) == {}  # the ledger on REDIS_URL, which answers
        settings.HELIOS_LEDGER_REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there
        assert list(run_checks(ctx.ready_checks)) == ["ledger"]
    finally:
        for close in ctx.closers:
            close()


def test_a_ledger_without_a_readiness_check_adds_none(ledger):
    ctx = RoleContext(role="auction", producer=None, output_topic=None)
    notices_factory(ctx)
    for close in ctx.closers:
        close()
    assert ctx.ready_checks == {}
