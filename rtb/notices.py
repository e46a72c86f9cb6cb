"""`GET`/`POST` `/notice/win`, `/notice/bill`, `/notice/loss` (SPEC §14): what an exchange calls back
through a bid's nurl, burl and lurl (rtb/answer.py).

Parameters: `t` (the signed token, rtb/tokens.py), `price` (${AUCTION_PRICE}, the clearing CPM in
USD), `cur`, `loss` (${AUCTION_LOSS}, an OpenRTB loss reason code), `min` (${AUCTION_MIN_TO_WIN}),
and the echoed `auction`/`bid`/`imp` ids (informative: the token is what counts). They come in the
query string; a POST may also carry them in its body, as a form (application/x-www-form-urlencoded)
or a JSON object, whose values win over the query string's.

Answers, decided before anything is produced: 403 for a forged, tampered, malformed or expired
token; 400 for a missing, unsubstituted, non-numeric or negative price on a win or bill, a clearing
price above the bid's CPM, a currency other than USD, or a loss without an integer loss code; then
204 once Kafka acknowledged the notice on `auction_notices` (acks=all), else 503 + Retry-After.
A loss's price is the winner's, so it is neither required nor bounded by the bid.
"""

import asyncio
import logging
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl

import msgspec
from prometheus_client import Counter

from intake.app import JSON, Disconnected, Receive, Response, Scope, Send, error_response, read_body, send_response
from intake.producer import Publisher, Unavailable
from pipeline import topics
from pipeline.messages import DEFAULT_CURRENCY, MAX_CPM_MICROS, AuctionNotice, NoticeKind, encode, utc_now
from rtb.tokens import InvalidToken, NoticeClaims, verify

logger = logging.getLogger(__name__)

KINDS: tuple[NoticeKind, ...] = ("win", "bill", "loss")
MAX_BODY_BYTES = 8_192
MICROS = Decimal(1_000_000)
MAX_LOSS_CODE = 2**31 - 1

NOTICES = Counter("helios_notices_total", "Win/bill/loss notices received, by kind and answer", ["kind", "status"])

FORBIDDEN = error_response(403, "forbidden")
NO_CONTENT = Response(204, b"", JSON)
METHOD_NOT_ALLOWED = error_response(405, "method_not_allowed", (b"allow", b"GET, POST"))
TOO_LARGE = error_response(413, "payload_too_large", (b"connection", b"close"))
INTERNAL_ERROR = error_response(500, "internal_error")


class BadNotice(ValueError):
    """A parameter the notice cannot be taken with (400)."""


def _bad(message: str) -> Response:
    return error_response(400, "invalid_notice", detail=message)


def micros_of(text: str | None, name: str) -> int:
    """A CPM in USD as integer micros; BadNotice when missing, a macro left as is, not a finite
    number, or negative."""
    if text is None or not text.strip():
        raise BadNotice(f"{name} is missing")
    if "${" in text:
        raise BadNotice(f"{name} is an unsubstituted macro")
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise BadNotice(f"{name} is not a number") from None
    if not value.is_finite():
        raise BadNotice(f"{name} is not a number")
    if value < 0:
        raise BadNotice(f"{name} is negative")
    micros = int((value * MICROS).to_integral_value())
    if micros > MAX_CPM_MICROS:
        raise BadNotice(f"{name} is out of range")
    return micros


def _optional_micros(text: str | None, name: str) -> int | None:
    if text is None or not text.strip() or "${" in text:
        return None
    return micros_of(text, name)


def notice_from(
    kind: NoticeKind, claims: NoticeClaims, params: Mapping[str, str], *, received_at: str
) -> AuctionNotice:
    """The notice message for verified `claims`; BadNotice for what is answered 400."""
    currency = params.get("cur")
    if currency and "${" not in currency and currency.upper() != DEFAULT_CURRENCY:
        raise BadNotice(f"cur {currency!r} is not {DEFAULT_CURRENCY}")
    clearing: int | None = None
    loss_code: int | None = None
    if kind == "loss":
        code = params.get("loss", "")
        if not code.strip().isascii() or not code.strip().isdigit() or int(code) > MAX_LOSS_CODE:
            raise BadNotice("loss is not an OpenRTB loss reason code")
        loss_code = int(code)
        clearing = _optional_micros(params.get("price"), "price")
    else:
        clearing = micros_of(params.get("price"), "price")
        if clearing > claims.price_micros:
            raise BadNotice("price is above the bid's")
    return AuctionNotice(
        kind=kind,
        request_id=claims.request_id,
        request_digest=claims.request_digest,
        imp_id=claims.imp_id,
        bid_id=claims.bid_id,
        campaign_id=claims.campaign_id,
        crid=claims.crid,
        price_micros=claims.price_micros,
        user_id=claims.user_id,
        issued_at=claims.issued_at,
        clearing_micros=clearing,
        loss_code=loss_code,
        min_to_win_micros=_optional_micros(params.get("min"), "min") if kind == "loss" else None,
        received_at=received_at,
    )


def body_params(content_type: bytes, body: bytes) -> dict[str, str]:
    """A POST body's parameters: a form or a JSON object (scalars as text); BadNotice otherwise."""
    if not body.strip():
        return {}
    media = content_type.split(b";")[0].strip().lower()
    if media == b"application/x-www-form-urlencoded":
        return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    if media in (b"application/json", b""):
        try:
            data = msgspec.json.decode(body)
        except msgspec.DecodeError:
            raise BadNotice("the body is not JSON") from None
        if not isinstance(data, dict):
            raise BadNotice("the body is not a JSON object")
        return {str(k): str(v) for k, v in data.items() if isinstance(v, str | int | float) and not isinstance(v, bool)}
    raise BadNotice("the body is neither a form nor JSON")


class NoticeApp:
    """The ASGI app of one notice kind, on the handler's publisher."""

    def __init__(
        self, publisher: Publisher, kind: NoticeKind, *, secret: bytes, ttl_s: int, ack_timeout_s: float
    ) -> None:
        self.publisher = publisher
        self.kind = kind
        self.secret = secret
        self.ttl_s = ttl_s
        self.ack_timeout_s = ack_timeout_s
        self.topic = topics.resolved(topics.AUCTION_NOTICES)
        self.unavailable = error_response(503, "unavailable", (b"retry-after", b"1"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await self._answer(scope, receive)
        except Disconnected:
            return
        except Exception:
            logger.exception("notice %s failed unexpectedly", self.kind)
            response = INTERNAL_ERROR
        NOTICES.labels(self.kind, str(response.status)).inc()
        await send_response(send, response)

    async def _answer(self, scope: Scope, receive: Receive) -> Response:
        method = scope["method"]
        if method not in ("GET", "POST"):
            return METHOD_NOT_ALLOWED
        params = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        if method == "POST":
            body = await read_body(receive, MAX_BODY_BYTES)
            if body is None:
                return TOO_LARGE
            content_type = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
            try:
                params.update(body_params(content_type, body))
            except BadNotice as exc:
                return _bad(str(exc))
        try:
            claims = verify(params.get("t", ""), self.secret, now=int(time.time()), max_age_s=self.ttl_s)
        except InvalidToken:
            return FORBIDDEN
        try:
            notice = notice_from(self.kind, claims, params, received_at=utc_now())
        except BadNotice as exc:
            return _bad(str(exc))
        return await self._produce(notice)

    async def _produce(self, notice: AuctionNotice) -> Response:
        """204 once Kafka acknowledged the notice (acks=all), else 503: the exchange retries."""
        try:
            future = self.publisher.enqueue(notice.request_id.encode(), encode(notice), self.topic)
        except Unavailable:
            return self.unavailable
        try:
            await asyncio.wait_for(asyncio.shield(future), self.ack_timeout_s)
        except Exception as exc:  # noqa: BLE001 - TimeoutError, or any delivery failure: both are a 503
            future.add_done_callback(_consume)
            logger.warning("notice not acknowledged, answered 503: %s", exc, extra={"request_id": notice.request_id})
            return self.unavailable
        return NO_CONTENT


def _consume(future: "asyncio.Future[None]") -> None:
    if not future.cancelled():
        future.exception()


def notice_routes(publisher: Publisher, *, secret: bytes, ttl_s: int, ack_timeout_s: float) -> dict[str, NoticeApp]:
    """`/notice/<kind>` for each kind, to mount next to `/openrtb2/bid`."""
    return {
        f"/notice/{kind}": NoticeApp(publisher, kind, secret=secret, ttl_s=ttl_s, ack_timeout_s=ack_timeout_s)
        for kind in KINDS
    }
