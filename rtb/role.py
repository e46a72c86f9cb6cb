"""The handler role: `POST /bid` (intake/) and `POST /openrtb2/bid` (rtb/) on one server and one
Kafka producer. `/openrtb2/bid` decides over this process's campaign index (campaigns/refresher.py,
shared with a bidder in the same process) and looks profiles up through the bidder's lookup and
circuit breaker, coalesced (rtb/lookup.py), and reserves budget, pacing and frequency room in the
shared ledger (campaigns/ledger/, through rtb/budget.py)."""

import contextlib
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

from django.conf import settings

from bidding.enrichment import make_breaker, make_lookup
from campaigns.index import CampaignIndex, build_index
from campaigns.ledger import Ledger
from campaigns.refresher import SHARED
from intake import server
from intake.app import ASGIApp
from intake.producer import Publisher
from pipeline.transports import Transport
from rtb.app import RtbApp
from rtb.budget import BidBudget
from rtb.config import RtbSettings, rtb_settings
from rtb.lookup import CoalescingLookup
from rtb.notices import notice_routes

PATH = "/openrtb2/bid"


@contextlib.contextmanager
def rtb_routes(publisher: Publisher, config: RtbSettings | None = None) -> Iterator[Mapping[str, ASGIApp]]:
    config = config or rtb_settings()
    # Until the first load (or while the database was never reachable) there is nothing to bid for:
    # an exchange's money is spent only on campaigns read from the database, never on a built-in one.
    nothing = build_index((), version=None, loaded_at=datetime.fromtimestamp(0, UTC))

    def campaigns() -> CampaignIndex:
        index = SHARED.index
        return index if index is not None else nothing

    # The gRPC call gets the bidder's deadline: a request waits only its own (shorter) one, and a call
    # that merely outlived one request's wait must not count against the service in the breaker.
    timeout_s = max(settings.HELIOS_PROFILE_DEADLINE_S, config.profile_deadline_ms / 1000)
    lookup = CoalescingLookup(make_lookup(), make_breaker(), call_timeout_s=timeout_s)
    # The ledger's client connects on first use, in the server's event loop, and ends with the process.
    budget = BidBudget(Ledger.from_settings(), ack_reserve_s=config.ack_reserve_ms / 1000)
    SHARED.acquire()
    try:
        notices = notice_routes(
            publisher,
            secret=config.notices.secret,
            ttl_s=settings.HELIOS_NOTICE_TTL_S,
            ack_timeout_s=settings.HELIOS_INTAKE_DEADLINE_S,
        )
        yield {PATH: RtbApp(publisher, lookup, campaigns, config, budget=budget), **notices}
    finally:
        SHARED.release()
        lookup.close()


def serve(stop: threading.Event, transport: Transport, *, started: threading.Event | None = None) -> None:
    server.serve(stop, transport, started=started, routes=rtb_routes)
