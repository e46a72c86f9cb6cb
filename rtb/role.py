"""The handler role: `POST /bid` (intake/) and `POST /openrtb2/bid` (rtb/) on one server and one
Kafka producer. `/openrtb2/bid` decides over this process's campaign index (campaigns/refresher.py,
shared with a bidder in the same process) and looks profiles up through the bidder's lookup and
circuit breaker, coalesced (rtb/lookup.py)."""

import contextlib
import threading
from collections.abc import Iterator, Mapping

from django.conf import settings

from bidding.enrichment import make_breaker, make_lookup
from campaigns.index import CampaignIndex
from campaigns.refresher import SHARED
from intake import server
from intake.app import ASGIApp
from intake.producer import Publisher
from pipeline.transports import Transport
from rtb.app import RtbApp
from rtb.config import RtbSettings, rtb_settings
from rtb.lookup import CoalescingLookup

PATH = "/openrtb2/bid"


@contextlib.contextmanager
def rtb_routes(publisher: Publisher, config: RtbSettings | None = None) -> Iterator[Mapping[str, ASGIApp]]:
    config = config or rtb_settings()
    fallback = config.bidder.house

    def campaigns() -> CampaignIndex:
        index = SHARED.index
        return index if index is not None else fallback  # not loaded yet, or the database is down

    # The gRPC call gets the bidder's deadline: a request waits only its own (shorter) one, and a call
    # that merely outlived one request's wait must not count against the service in the breaker.
    timeout_s = max(settings.HELIOS_PROFILE_DEADLINE_S, config.profile_deadline_ms / 1000)
    lookup = CoalescingLookup(make_lookup(), make_breaker(), call_timeout_s=timeout_s)
    SHARED.acquire()
    try:
        yield {PATH: RtbApp(publisher, lookup, campaigns, config)}
    finally:
        SHARED.release()
        lookup.close()


def serve(stop: threading.Event, transport: Transport, *, started: threading.Event | None = None) -> None:
    server.serve(stop, transport, started=started, routes=rtb_routes)
