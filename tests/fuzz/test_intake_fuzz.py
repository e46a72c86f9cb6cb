"""Fuzzing the intake ASGI app in-process, with a fake publisher (no network): over 10,000
generated requests per run, from garbage bytes to nearly-valid OpenRTB and simple-form bodies, sent
whole or in chunks under various content types.

Whatever arrives: no answer >= 500, no exception out of the app, only 202/400/413/415, nothing
published unless 202, and every 202's message a valid `pipeline.messages.BidRequest` that says
what the answer says (so no invalid message can reach `bid_requests`). Valid-by-construction
requests are always accepted, with their ids, user and floors carried into the message.
"""

import asyncio
import json
import math
from collections.abc import Iterator, MutableMapping
from decimal import ROUND_CEILING, Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from intake.app import create_app
from intake.fields import MAX_DOMAIN_CHARS
from intake.tests.helpers import FakePublisher
from pipeline.messages import MAX_ID_CHARS, BidRequest, decode, parse_time

MAX_BODY_BYTES = 4096
MAX_IMPS = 16
# 10,000 generated requests per run over the five tests below.
FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
JSON_TYPES = (None, "application/json", "application/json; charset=utf-8", "application/vnd.openrtb+json")
OTHER_TYPES = ("text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1", "\x00\xff")


class Answer:
    def __init__(self, status: int, headers: dict[bytes, bytes], body: bytes, published: list[tuple[bytes, bytes]]):
        self.status = status
        self.headers = headers
        self.body = body
        self.published = published


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def send(loop: asyncio.AbstractEventLoop, body: bytes, content_type: str | None, chunks: int = 1) -> Answer:
    """One POST /bid through the app; the body arrives in `chunks` pieces, without Content-Length
    when chunked (as a Transfer-Encoding: chunked request does)."""
    publisher = FakePublisher()
    app = create_app(publisher, max_body_bytes=MAX_BODY_BYTES, max_imps=MAX_IMPS, retry_after_s=1)
    headers = [] if content_type is None else [(b"content-type", content_type.encode("latin-1"))]
    if chunks == 1:
        headers.append((b"content-length", str(len(body)).encode()))
    size = max(1, math.ceil(len(body) / chunks))
    pieces = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/bid",
        "raw_path": b"/bid",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    received = iter(
        [{"type": "http.request", "body": p, "more_body": i < len(pieces) - 1} for i, p in enumerate(pieces)]
    )
    sent: list[dict[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return next(received, {"type": "http.disconnect"})

    async def record(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    loop.run_until_complete(app(scope, receive, record))
    start = next(m for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Answer(start["status"], dict(start["headers"]), payload, publisher.published)


def check(answer: Answer, body: bytes, content_type: str | None) -> None:
    """The invariants every answer keeps."""
    event(f"status {answer.status}")
    assert answer.status < 500, answer.body
    assert answer.status in (202, 400, 413, 415), answer.status
    if answer.status != 202:
        assert answer.published == [], "nothing reaches Kafka unless accepted"
    if content_type not in JSON_TYPES:
        assert answer.status == 415
        return
    if len(body) > MAX_BODY_BYTES:
        assert answer.status == 413
        return
    if answer.status == 400:
        error = json.loads(answer.body)
        assert error["error"] == "invalid_request"
        assert error["detail"] and all(set(d) == {"loc", "msg"} for d in error["detail"])
    if answer.status == 202:
        accepted = json.loads(answer.body)
        [(key, value)] = answer.published
        message = decode(value, BidRequest)  # raises if it is not a valid bid_requests message
        assert accepted == {"status": "accepted", "request_id": message.request_id, "imps": len(message.imps)}
        assert key == message.request_id.encode()
        assert 1 <= len(message.imps) <= MAX_IMPS
        assert len({imp.imp_id for imp in message.imps}) == len(message.imps)
        assert all(math.isfinite(imp.bidfloor) and imp.bidfloor >= 0 for imp in message.imps)
        parse_time(message.received_at)


# --- strategies ---

text = st.text(max_size=40)
ids = st.text(min_size=1, max_size=MAX_ID_CHARS)
wrong = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), text, st.lists(st.integers(), max_size=3))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), text),
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(text, children, max_size=5)),
    max_leaves=30,
)
small_json = st.one_of(st.none(), st.integers(), text, st.lists(st.integers(), max_size=3))
floors = st.one_of(
    st.floats(min_value=0, max_value=1e9),
    st.floats(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([0, 0.35, -0.01, 1e-9, 1e9, 1e10, "0.5", None]),
)
pixels = st.integers(min_value=-1, max_value=120_000)
sizes = st.one_of(st.from_regex(r"\A\d{1,6}[xX]\d{1,6}\Z"), text, st.integers())


def rarely(strategy: st.SearchStrategy[Any], otherwise: st.SearchStrategy[Any], one_in: int) -> st.SearchStrategy[Any]:
    """`strategy` about once in `one_in` draws, else `otherwise`."""
    return st.integers(1, one_in).flatmap(lambda n: strategy if n == 1 else otherwise)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The valid-looking value, now and then (1 in 8) a value of the wrong type instead."""
    return rarely(wrong, strategy, 8)


simple_slot = st.fixed_dictionaries(
    {},
    optional={
        "id": maybe(ids),
        "min_bid": maybe(floors),
        "format": maybe(st.one_of(sizes, st.lists(sizes, max_size=3))),
        "extra": small_json,
    },
)
simple_form = st.fixed_dictionaries(
    {},
    optional={
        "request_id": maybe(ids),
        "user_id": maybe(ids),
        "site": maybe(st.fixed_dictionaries({}, optional={"domain": maybe(text), "page": maybe(text)})),
        "device": maybe(
            st.fixed_dictionaries({}, optional={"ip": maybe(text), "user_agent": maybe(text), "ua": maybe(text)})
        ),
        "ad_slots": maybe(
            rarely(
                st.lists(simple_slot, min_size=MAX_IMPS - 1, max_size=MAX_IMPS + 2),
                st.lists(maybe(simple_slot), max_size=3),
                10,
            )
        ),
        "unknown": json_values,
    },
)
ortb_imp = st.fixed_dictionaries(
    {"id": maybe(ids)},
    optional={
        "bidfloor": maybe(floors),
        "bidfloorcur": maybe(st.sampled_from(["USD", "USD", "EUR", "usd", "", "DOLLARS"])),
        "banner": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "w": maybe(pixels),
                    "h": maybe(pixels),
                    "format": maybe(st.lists(st.fixed_dictionaries({"w": maybe(pixels)}), max_size=3)),
                },
            )
        ),
        "video": maybe(st.dictionaries(text, small_json, max_size=3)),
        "native": maybe(st.dictionaries(text, small_json, max_size=3)),
        "ext": small_json,
    },
)
# Mostly a few impressions; now and then around the limit.
imp_lists = rarely(
    st.lists(ortb_imp, min_size=MAX_IMPS - 1, max_size=MAX_IMPS + 2),
    rarely(st.just([]), st.lists(maybe(ortb_imp), min_size=1, max_size=3), 20),
    10,
)
openrtb = st.fixed_dictionaries(
    {"id": maybe(ids), "imp": maybe(imp_lists)},
    optional={
        "site": maybe(st.fixed_dictionaries({}, optional={"domain": maybe(text), "page": maybe(text)})),
        "app": maybe(st.fixed_dictionaries({}, optional={"bundle": maybe(text)})),
        "device": maybe(st.fixed_dictionaries({}, optional={"ip": maybe(text), "ua": maybe(text)})),
        "user": maybe(st.fixed_dictionaries({}, optional={"id": maybe(ids), "buyeruid": maybe(ids)})),
        "tmax": maybe(st.integers(min_value=-1, max_value=700_000)),
        "test": maybe(st.sampled_from([0, 1, True, False, 0, 1, True, False, 2])),
        "regs": maybe(st.dictionaries(text, small_json, max_size=3)),
        "ext": json_values,
    },
)


@st.composite
def encoded(draw: st.DrawFn, documents: st.SearchStrategy[Any]) -> bytes:
    """A document as JSON text: compact or not, ASCII-escaped or raw UTF-8, sometimes damaged."""
    doc = draw(documents)
    raw = json.dumps(doc, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 1]))).encode()
    damage = draw(st.sampled_from(["none"] * 6 + ["truncate", "append", "flip"]))
    if damage == "truncate" and raw:
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    elif damage == "append":
        raw += draw(st.binary(min_size=1, max_size=8))
    elif damage == "flip" and raw:
        at = draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] + bytes([raw[at] ^ draw(st.integers(1, 255))]) + raw[at + 1 :]
    return raw


content_types = st.one_of(st.sampled_from(JSON_TYPES), st.sampled_from(JSON_TYPES), st.sampled_from(OTHER_TYPES))
chunking = st.integers(min_value=1, max_value=4)


@settings(FUZZ, max_examples=4000)
@given(
    body=st.one_of(st.binary(max_size=MAX_BODY_BYTES + 64), encoded(json_values)),
    content_type=content_types,
    chunks=chunking,
)
def test_garbage_and_arbitrary_json(loop, body, content_type, chunks):
    check(send(loop, body, content_type, chunks), body, content_type)


@settings(FUZZ, max_examples=2200)
@given(body=encoded(simple_form), content_type=content_types, chunks=chunking)
def test_simple_form_lookalikes(loop, body, content_type, chunks):
    check(send(loop, body, content_type, chunks), body, content_type)


@settings(FUZZ, max_examples=1800)
@given(body=encoded(openrtb), content_type=content_types, chunks=chunking)
def test_openrtb_lookalikes(loop, body, content_type, chunks):
    check(send(loop, body, content_type, chunks), body, content_type)


@settings(FUZZ, max_examples=500)
@given(size=st.integers(min_value=MAX_BODY_BYTES + 1, max_value=4 * MAX_BODY_BYTES), chunks=st.integers(1, 64))
def test_oversized_bodies_are_refused_whole_or_chunked(loop, size, chunks):
    body = b'{"request_id": "' + b"x" * size + b'"}'
    answer = send(loop, body, "application/json", chunks)
    assert answer.status == 413
    assert answer.published == []


# --- valid by construction: always accepted, and the message says what the request said ---

# Stored strings hold no NUL and floors fit the money column (issue 14: no 202 the sink refuses).
valid_ids = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1, max_size=MAX_ID_CHARS
)
valid_floors = st.floats(min_value=0, max_value=99_999_999.9999, allow_nan=False)
domains = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=MAX_DOMAIN_CHARS)


def ceil4(floor: float) -> float:
    """A floor as the message carries it: rounded up to 4 decimals (docs/design.md)."""
    return float(Decimal(repr(floor)).quantize(Decimal("0.0001"), rounding=ROUND_CEILING))


@st.composite
def valid_simple(draw: st.DrawFn) -> tuple[dict[str, Any], list[tuple[str, float]]]:
    count = draw(st.integers(0, MAX_IMPS))
    slot_ids = draw(st.lists(valid_ids.filter(lambda s: not s.isdigit()), min_size=count, max_size=count, unique=True))
    floors = [draw(valid_floors) for _ in slot_ids]
    doc: dict[str, Any] = {"request_id": draw(valid_ids), "site": {"domain": draw(domains)}}
    if draw(st.booleans()):
        doc["user_id"] = draw(valid_ids)
    if slot_ids:
        doc["ad_slots"] = [{"id": sid, "min_bid": floor} for sid, floor in zip(slot_ids, floors, strict=True)]
    expected = [(sid, ceil4(floor)) for sid, floor in zip(slot_ids, floors, strict=True)]
    return doc, expected or [("1", 0.0)]


@st.composite
def valid_openrtb(draw: st.DrawFn) -> tuple[dict[str, Any], list[tuple[str, float]]]:
    imp_ids = draw(st.lists(valid_ids, min_size=1, max_size=MAX_IMPS, unique=True))
    floors = [draw(valid_floors) for _ in imp_ids]
    imps = [{"id": i, "bidfloor": f, "banner": {"w": 300, "h": 250}} for i, f in zip(imp_ids, floors, strict=True)]
    doc: dict[str, Any] = {"id": draw(valid_ids), "imp": imps, "site": {"domain": draw(domains)}}
    if draw(st.booleans()):
        doc["user"] = {"id": draw(valid_ids)}
    return doc, [(i, ceil4(f)) for i, f in zip(imp_ids, floors, strict=True)]


@settings(FUZZ, max_examples=1500)
@given(case=st.one_of(valid_simple(), valid_openrtb()), ascii_only=st.booleans(), chunks=chunking)
def test_valid_requests_are_accepted_as_sent(loop, case, ascii_only, chunks):
    doc, expected_imps = case
    body = json.dumps(doc, ensure_ascii=ascii_only).encode()
    answer = send(loop, body, "application/json", chunks)
    if len(body) > MAX_BODY_BYTES:
        assert answer.status == 413
        return
    assert answer.status == 202, answer.body
    check(answer, body, "application/json")
    message = decode(answer.published[0][1], BidRequest)
    assert message.request_id == doc.get("request_id", doc.get("id"))
    assert message.user_id == doc.get("user_id", (doc.get("user") or {}).get("id"))
    assert message.site_domain == doc["site"]["domain"]
    assert [(imp.imp_id, imp.bidfloor) for imp in message.imps] == expected_imps
