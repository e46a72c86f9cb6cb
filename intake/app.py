"""The handler's front door: a plain ASGI 3 application, no framework (SPEC §2, ARCHITECTURE §4).

`POST /bid` answers 202 only once Kafka acknowledged the message; every 4xx/5xx is decided before
anything is produced (400 invalid, 405 method, 413 too large, 415 not JSON) or because Kafka did
not take it (503 with Retry-After). `GET /healthz` is 200 while the broker is reachable.
"""

import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, NamedTuple

import msgspec
from django.conf import settings

from intake import metrics
from intake.producer import Publisher, Unavailable
from intake.validation import InvalidRequest, parse_bid_request
from pipeline.logs import log_requests
from pipeline.messages import encode

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FAILURE_LOG_INTERVAL_S = 10.0  # a broker outage fails every request: log the first, then a count

JSON = b"application/json"
TEXT = b"text/plain; charset=utf-8"
_json = msgspec.json.Encoder()


class Response(NamedTuple):
    status: int
    body: bytes
    content_type: bytes = JSON
    headers: tuple[tuple[bytes, bytes], ...] = ()


def error_response(status: int, error: str, *headers: tuple[bytes, bytes], **fields: Any) -> Response:
    """A JSON error answer, `{"error": <code>, **fields}` (SPEC §2's error shape)."""
    return Response(status, _json.encode({"error": error, **fields}), JSON, headers)


def invalid_response(exc: InvalidRequest, *headers: tuple[bytes, bytes]) -> Response:
    """The 400 for a body that is not an acceptable request, with the reasons and where."""
    return error_response(400, "invalid_request", *headers, detail=exc.detail)


def too_large_response(max_bytes: int, *headers: tuple[bytes, bytes]) -> Response:
    """The 413 for a body past the limit; the connection closes (the rest of the body is not read)."""
    return error_response(413, "payload_too_large", (b"connection", b"close"), *headers, max_bytes=max_bytes)


NOT_FOUND = error_response(404, "not_found")
BID_METHOD_NOT_ALLOWED = error_response(405, "method_not_allowed", (b"allow", b"POST"))
HEALTH_METHOD_NOT_ALLOWED = error_response(405, "method_not_allowed", (b"allow", b"GET, HEAD"))
UNSUPPORTED_MEDIA_TYPE = error_response(415, "unsupported_media_type")
HEALTH_OK = Response(200, b"ok", TEXT)
HEALTH_DOWN = Response(503, b"unavailable", TEXT)
INTERNAL_ERROR = error_response(500, "internal_error")


class Disconnected(Exception):
    pass


class _Throttle:
    """Allows one log line per interval and counts what it held back."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._next = 0.0
        self._held = 0
        self._lock = threading.Lock()

    def allow(self) -> int | None:
        """Returns how many were held back since the last allowed one, or None to stay quiet."""
        now = time.monotonic()
        with self._lock:
            if now < self._next:
                self._held += 1
                return None
            held, self._held, self._next = self._held, 0, now + self.interval_s
            return held


def is_json_media_type(value: bytes) -> bool:
    """`application/json` or `application/*+json`, with no charset or a UTF-8 one."""
    media, _, params = value.partition(b";")
    media = media.strip().lower()
    if media != JSON and not (media.startswith(b"application/") and media.endswith(b"+json")):
        return False
    for param in params.split(b";"):
        name, _, charset = param.partition(b"=")
        if name.strip().lower() == b"charset" and charset.strip().strip(b'"').lower() not in (b"utf-8", b"utf8"):
            return False
    return True


class IntakeApp:
    """The ASGI application. Stateless apart from its publisher: one instance serves every request.
    `routes` adds endpoints served by other apps (the handler role mounts `/openrtb2/bid`)."""

    def __init__(
        self,
        publisher: Publisher,
        *,
        max_body_bytes: int,
        max_imps: int,
        retry_after_s: int,
        routes: Mapping[str, ASGIApp] | None = None,
    ) -> None:
        self.publisher = publisher
        self.routes = dict(routes or {})
        self.max_body_bytes = max_body_bytes
        self.max_imps = max_imps
        self.unavailable = error_response(503, "unavailable", (b"retry-after", str(retry_after_s).encode()))
        self.too_large = too_large_response(max_body_bytes)
        self._failures = _Throttle(FAILURE_LOG_INTERVAL_S)
        self._counted = {code: metrics.BID_REQUESTS.labels(str(code)) for code in (202, 400, 405, 413, 415, 500, 503)}
        self._timed = {path: metrics.REQUEST_DURATION.labels(path) for path in metrics.ENDPOINTS}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            path = scope["path"]
            if path == "/bid":
                await self._bid(scope, receive, send)
            elif path == "/healthz":
                started = time.perf_counter()
                await send_response(send, self._health(scope))
                self._timed["/healthz"].observe(time.perf_counter() - started)
            elif path in self.routes:
                await self.routes[path](scope, receive, send)
            else:
                await send_response(send, NOT_FOUND)
        elif kind == "lifespan":
            await _lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})

    def _health(self, scope: Scope) -> Response:
        if scope["method"] not in ("GET", "HEAD"):
            return HEALTH_METHOD_NOT_ALLOWED
        return HEALTH_OK if self.publisher.reachable() else HEALTH_DOWN

    async def _bid(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        metrics.ACTIVE_REQUESTS.inc()
        try:
            try:
                response = await self._accept(scope, receive)
            except Disconnected:
                metrics.BID_REQUESTS.labels("client_closed").inc()
                return
            except Exception:
                logger.exception("POST /bid failed unexpectedly")
                response = INTERNAL_ERROR
            await send_response(send, response)
            counter = self._counted.get(response.status) or metrics.BID_REQUESTS.labels(str(response.status))
            counter.inc()
        finally:
            metrics.ACTIVE_REQUESTS.dec()
            self._timed["/bid"].observe(time.perf_counter() - started)

    async def _accept(self, scope: Scope, receive: Receive) -> Response:
        if scope["method"] != "POST":
            return BID_METHOD_NOT_ALLOWED
        content_length = None
        for name, value in scope["headers"]:
            if name == b"content-type" and not is_json_media_type(value):
                return UNSUPPORTED_MEDIA_TYPE
            if name == b"content-length":
                content_length = value
        if content_length is not None and too_long(content_length, self.max_body_bytes):
            return self.too_large
        body = await read_body(receive, self.max_body_bytes)
        if body is None:
            return self.too_large
        try:
            request = parse_bid_request(body, max_imps=self.max_imps)
        except InvalidRequest as exc:
            logger.debug("invalid bid request: %s", exc)
            return invalid_response(exc)
        try:
            if not self.publisher.reachable():
                raise Unavailable("unreachable")
            await self.publisher.publish(request.request_id.encode(), encode(request))
        except Unavailable as exc:
            metrics.KAFKA_PUBLISH_ERRORS.inc()
            self._log_failure(exc, request.request_id)
            return self.unavailable
        log_requests(logger, "bid request accepted", (request.request_id,))
        accepted = {"status": "accepted", "request_id": request.request_id, "imps": len(request.imps)}
        return Response(202, _json.encode(accepted))

    def _log_failure(self, exc: Unavailable, request_id: str) -> None:
        held = self._failures.allow()
        if held is not None:
            logger.warning(
                "bid request not published (%s); answered 503; %d similar failures not logged since the last one",
                exc,
                held,
                extra={"request_id": request_id},
            )


async def read_body(receive: Receive, max_bytes: int) -> bytes | None:
    """The whole body, or None as soon as it grows past `max_bytes` (the rest is not read).
    Raises `Disconnected` when the client goes away first."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def too_long(content_length: bytes, limit: int) -> bool:
    try:
        return int(content_length) > limit
    except ValueError:  # the HTTP parser rejects these first; be safe anyway
        return True


async def send_response(send: Send, response: Response) -> None:
    if response.status == 204:  # no content: no content headers either (RFC 9110 §8.6)
        headers = list(response.headers)
    else:
        headers = [(b"content-type", response.content_type), (b"content-length", str(len(response.body)).encode())]
        headers.extend(response.headers)
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


def overloaded_app(retry_after_s: int) -> ASGIApp:
    """What the handler's server answers with instead of the intake app past its connection limit
    (uvicorn's `limit_concurrency`): the intake's 503 with Retry-After, counted, and the connection
    closed (the request is not read)."""
    response = error_response(
        503, "overloaded", (b"retry-after", str(retry_after_s).encode()), (b"connection", b"close")
    )

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("path") == "/bid":
            metrics.BID_REQUESTS.labels("503").inc()
        elif scope.get("path") == "/openrtb2/bid":
            metrics.OVERLOADED.inc()
        await send_response(send, response)

    return app


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_app(
    publisher: Publisher,
    *,
    max_body_bytes: int | None = None,
    max_imps: int | None = None,
    retry_after_s: int | None = None,
    routes: Mapping[str, ASGIApp] | None = None,
) -> IntakeApp:
    """The intake ASGI app over `publisher`; limits default to the HELIOS_* settings."""
    return IntakeApp(
        publisher,
        max_body_bytes=settings.HELIOS_MAX_BODY_BYTES if max_body_bytes is None else max_body_bytes,
        max_imps=settings.HELIOS_MAX_IMPS if max_imps is None else max_imps,
        retry_after_s=settings.HELIOS_RETRY_AFTER_S if retry_after_s is None else retry_after_s,
        routes=routes,
    )
