"""`POST /openrtb2/bid` (SPEC §12): an OpenRTB 2.6 BidRequest in, a BidResponse out before the deadline.

received -> parse (400) -> privacy (SPEC §16) -> profile lookup, waited for at most its own short
deadline -> the campaign decision per impression (bidding/decision.py, the bidder role's) -> room
reserved in the ledger down each impression's ranked candidates (rtb/budget.py; a slow or
unreachable ledger is no bid) -> events to Kafka -> 200 with the bids once Kafka acknowledged their
events, else 204 and the reservations released.

The deadline is tmax minus the network allowance, capped (rtb/config.py). Nothing is waited for
past it: a late profile is an unknown user, a late acknowledgement a 204. No-bid events are sent
without waiting. The request's body may be gzip; the answer is gzip when the exchange accepts it.
"""

import asyncio
import logging
import secrets
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime

from bidding.decision import Decision, decide_request
from campaigns.index import CampaignIndex
from intake.app import (
    JSON,
    Disconnected,
    Receive,
    Response,
    Scope,
    Send,
    error_response,
    invalid_response,
    is_json_media_type,
    read_body,
    send_response,
    too_large_response,
    too_long,
)
from intake.producer import Publisher, Unavailable
from intake.validation import InvalidRequest
from pipeline import topics
from pipeline.messages import format_time
from profiles.types import Profile
from rtb import metrics
from rtb.answer import OrtbBid, ortb_bid, response_body
from rtb.budget import BidBudget
from rtb.config import RtbSettings
from rtb.events import bid_events
from rtb.lookup import CoalescingLookup
from rtb.openrtb import RtbRequest, parse_rtb_request
from rtb.tokens import NoticeClaims

logger = logging.getLogger(__name__)

VERSION = (b"x-openrtb-version", b"2.6")
NO_BID = Response(204, b"", JSON, (VERSION,))
METHOD_NOT_ALLOWED = error_response(405, "method_not_allowed", (b"allow", b"POST"), VERSION)
UNSUPPORTED = error_response(415, "unsupported_media_type", VERSION)
BAD_ENCODING = invalid_response(InvalidRequest([{"loc": "body", "msg": "not gzip"}]), VERSION)
INTERNAL_ERROR = error_response(500, "internal_error", VERSION)


class RtbApp:
    """The ASGI app of `/openrtb2/bid`. `campaigns()` gives the current campaign index."""

    def __init__(
        self,
        publisher: Publisher,
        lookup: CoalescingLookup,
        campaigns: Callable[[], CampaignIndex],
        config: RtbSettings,
        *,
        retry_after_s: int = 1,
        budget: BidBudget | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.publisher = publisher
        self.clock = clock  # the wall clock campaigns' hours and dates are read on
        self.budget = budget  # None: every campaign has room (the decision's own seam)
        self.lookup = lookup
        self.campaigns = campaigns
        self.config = config
        self.requests_topic = topics.resolved(topics.BID_REQUESTS)
        self.responses_topic = topics.resolved(topics.BID_RESPONSES)
        retry = (b"retry-after", str(retry_after_s).encode())
        self.unavailable = error_response(503, "unavailable", retry, VERSION)
        self.too_large = too_large_response(config.max_body_bytes, VERSION)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        try:
            response = await self._answer(scope, receive, started)
        except Disconnected:
            metrics.child(metrics.RTB_REQUESTS, "client_closed").inc()
            return
        except Exception:
            logger.exception("POST /openrtb2/bid failed unexpectedly")
            response = INTERNAL_ERROR
        if response.status == 200 and _accepts_gzip(scope):
            response = response._replace(
                body=_gzip(response.body), headers=(*response.headers, (b"content-encoding", b"gzip"))
            )
        await send_response(send, response)
        elapsed = time.perf_counter() - started
        metrics.RTB_DURATION.observe(elapsed)
        metrics.child(metrics.RTB_REQUESTS, str(response.status)).inc()
        if response.status in (200, 204) and elapsed > scope.get("helios.deadline_s", float("inf")):
            metrics.RTB_LATE.inc()

    async def _answer(self, scope: Scope, receive: Receive, started: float) -> Response:
        if scope["method"] != "POST":
            return METHOD_NOT_ALLOWED
        body = await self._body(scope, receive)
        if isinstance(body, Response):
            return body
        try:
            request = parse_rtb_request(
                body, max_imps=self.config.max_imps, received_at=format_time(self.clock()),
                vendor_id=self.config.vendor_id,
            )  # fmt: skip
        except InvalidRequest as exc:
            return invalid_response(exc, VERSION)
        deadline_s = self.config.deadline_s(request.ortb.tmax)
        scope["helios.deadline_s"] = deadline_s
        deadline = started + deadline_s
        metrics.child(metrics.RTB_PRIVACY, request.privacy.state.value).inc()
        if not self.publisher.reachable():
            return self.unavailable
        if time.perf_counter() >= deadline:  # tmax shorter than the network allowance, or a stalled loop
            metrics.RTB_NO_BIDS.labels("deadline").inc()
            return NO_BID
        profile = await self._profile(request, deadline)
        decisions = decide_request(
            self.campaigns(), request.placement, request.slots, profile=profile, now=self.clock(),
            pricing=self.config.bidder.pricing,
        )  # fmt: skip
        bid_ids: list[str | None] = [secrets.token_hex(8) if d.bid is not None else None for d in decisions]
        if self.budget is not None:
            user_id = None if request.privacy.restricted else request.placement.user_id
            decisions, bid_ids = await self.budget.reserve(decisions, user_id=user_id, deadline=deadline)
        return await self._respond(request, decisions, bid_ids, profile, started, deadline)

    async def _body(self, scope: Scope, receive: Receive) -> bytes | Response:
        gzipped = False
        for name, value in scope["headers"]:
            if name == b"content-type" and not is_json_media_type(value):
                return UNSUPPORTED
            if name == b"content-length" and too_long(value, self.config.max_body_bytes):
                return self.too_large
            if name == b"content-encoding" and value.strip().lower() == b"gzip":
                gzipped = True
        body = await read_body(receive, self.config.max_body_bytes)
        if body is None:
            return self.too_large
        if not gzipped:
            return body
        inflater = zlib.decompressobj(wbits=31)
        try:
            body = inflater.decompress(body, self.config.max_body_bytes + 1)
        except zlib.error:
            return BAD_ENCODING
        return self.too_large if len(body) > self.config.max_body_bytes else body

    async def _profile(self, request: RtbRequest, deadline: float) -> Profile | None:
        user_id = request.placement.user_id
        if request.privacy.restricted:
            metrics.child(metrics.RTB_PROFILES, "restricted").inc()
            return None
        if not user_id:
            metrics.child(metrics.RTB_PROFILES, "no_user").inc()
            return None
        left = deadline - time.perf_counter() - self.config.ack_reserve_ms / 1000
        return await self.lookup.get(user_id, min(self.config.profile_deadline_ms / 1000, left))

    async def _respond(
        self,
        request: RtbRequest,
        decisions: list[Decision],
        bid_ids: list[str | None],
        profile: Profile | None,
        started: float,
        deadline: float,
    ) -> Response:
        latency_ms = (time.perf_counter() - started) * 1000
        message = request.message
        bids: list[OrtbBid] = []
        reserved: list[NoticeClaims] = []
        issued = int(time.time())
        for slot, decision, bid_id in zip(request.slots, decisions, bid_ids, strict=True):
            bid = decision.bid
            if bid is None or bid_id is None:
                metrics.RTB_NO_BIDS.labels(str(decision.no_bid.nbr if decision.no_bid else 0)).inc()
                continue
            claims = NoticeClaims(
                request_id=message.request_id, request_digest=message.request_digest, imp_id=slot.imp_id,
                bid_id=bid_id, campaign_id=bid.campaign.id, crid=bid.creative.crid, price_micros=bid.price_micros,
                user_id=message.user_id, issued_at=issued,
            )  # fmt: skip
            bids.append(ortb_bid(bid, slot, bid_id, claims, self.config.notices))
            reserved.append(claims)
            metrics.child(metrics.RTB_BIDS, str(bid.campaign.id)).inc()
        events = bid_events(
            message, decisions, bid_ids, profile=profile, latency_ms=latency_ms,
            deadline_ms=(deadline - started) * 1000, currency=self.config.bidder.currency,
        )  # fmt: skip
        key = message.request_id.encode()
        if not bids:
            self._send_quietly(key, events)
            return NO_BID
        if not await self._acknowledged(key, events, deadline):
            if self.budget is not None:
                self.budget.release_later(reserved)
            return NO_BID
        body = response_body(message.request_id, secrets.token_hex(8), self.config.seat, bids)
        return Response(200, body, JSON, (VERSION,))

    def _send_quietly(self, key: bytes, events: list[tuple[str, bytes]]) -> None:
        """No-bid events: sent, not waited for (SPEC §12); a full queue drops them, counted."""
        try:
            for topic, value in events:
                self.publisher.send(key, value, self._topic(topic))
        except Unavailable:
            metrics.child(metrics.RTB_UNACKED, "no_bid_dropped").inc()

    async def _acknowledged(self, key: bytes, events: list[tuple[str, bytes]], deadline: float) -> bool:
        """True once Kafka acknowledged every event before the deadline."""
        try:
            futures = [self.publisher.enqueue(key, value, self._topic(topic)) for topic, value in events]
        except Unavailable:
            metrics.child(metrics.RTB_UNACKED, "queue_full").inc()
            return False
        left = deadline - time.perf_counter()
        if left > 0:
            done, pending = await asyncio.wait(futures, timeout=left)
        else:  # the decision itself ran out the clock
            done, pending = set(), set(futures)
        for future in pending:  # delivered later or never: nobody waits; its outcome is not an error
            future.add_done_callback(_consume)
        if pending:
            metrics.child(metrics.RTB_UNACKED, "timeout").inc()
            return False
        if any(f.exception() is not None for f in done):
            metrics.child(metrics.RTB_UNACKED, "delivery_failed").inc()
            return False
        return True

    def _topic(self, name: str) -> str:
        return self.requests_topic if name == topics.BID_REQUESTS else self.responses_topic


def _consume(future: "asyncio.Future[None]") -> None:
    if not future.cancelled():
        future.exception()


def _accepts_gzip(scope: Scope) -> bool:
    return any(name == b"accept-encoding" and b"gzip" in value.lower() for name, value in scope["headers"])


def _gzip(body: bytes) -> bytes:
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    return compressor.compress(body) + compressor.flush()
