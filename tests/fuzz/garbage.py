"""Payloads for the topic fuzz: garbage a role cannot decode, and decodable messages with hostile
values. Seeded `random.Random` generators (the test prints its seed), no I/O."""

import json
import random
import string
from typing import Any

import msgspec

from outcomes.rows import InvalidOutcome, outcome_row
from pipeline.messages import (
    AdCreative,
    AuctionNotice,
    AuctionOutcomeMessage,
    BidRequest,
    BidResponse,
    Imp,
    decode,
    encode,
    utc_now,
)

NOW = utc_now()
VALID: dict[type[msgspec.Struct], msgspec.Struct] = {}
VALID[BidRequest] = BidRequest(
    request_id="garbage-base",
    user_id="user-001",
    received_at=NOW,
    source="openrtb",
    site_domain="news.com",
    imps=[Imp(imp_id="1", bidfloor=0.5, media="banner", w=300, h=250)],
)
VALID[BidResponse] = BidResponse(
    bid_request_id="garbage-base",
    imp_id="1",
    user_id="user-001",
    received_at=NOW,
    site_domain="news.com",
    bid_price=0.85,
    bid_floor=0.5,
    timestamp=NOW,
    enriched=True,
    winning_interest="sports",
    interest_score=0.8,
    user_interests=["sports"],
    ad_creative=AdCreative(creative_id="c", title="t", image_url="i", landing_url="l", bid_tier="standard"),
)
VALID[AuctionOutcomeMessage] = AuctionOutcomeMessage(
    **msgspec.structs.asdict(VALID[BidResponse]), win_status=True, win_price=0.85, auction_timestamp=NOW
)
VALID[AuctionNotice] = AuctionNotice(
    kind="bill", request_id="garbage-base", imp_id="1", bid_id="b-garbage", campaign_id=1, crid="cr-1",
    price_micros=850_000, issued_at=1_700_000_000, clearing_micros=800_000, received_at=NOW,
)  # fmt: skip

# Times that parse but that no UTC timestamp column can hold once normalised (year 0 or 10000).
OVERFLOWING_TIMES = ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00")
WRONG_VALUES: tuple[Any, ...] = (None, True, -1, 1.5, -0.01, "", "x" * 200, [], {}, [1, "a"], {"a": None})


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice([rng.randint(-(2**70), 2**70), rng.randint(-5, 5)])
    if kind == 3:
        return rng.uniform(-1e12, 1e12)
    if kind == 4:
        return "".join(rng.choice(string.printable + "é€\u0000😀") for _ in range(rng.randrange(30)))
    if kind in (5, 6):
        return {_random_json(rng, 9) or "k": _random_json(rng, depth + 1) for _ in range(rng.randrange(6))}
    return [_random_json(rng, depth + 1) for _ in range(rng.randrange(6))]


def _mutate_field(rng: random.Random, doc: dict[str, Any]) -> dict[str, Any]:
    doc = dict(doc)
    key = rng.choice(sorted(doc))
    if rng.random() < 0.3:
        del doc[key]
    else:
        doc[key] = rng.choice(WRONG_VALUES)
    return doc


def _candidate(rng: random.Random, valid: bytes) -> bytes:
    kind = rng.randrange(13)
    if kind == 0:
        return rng.randbytes(rng.randrange(2000))
    if kind == 1:
        return b""
    if kind == 2:  # any JSON document
        return json.dumps(_random_json(rng)).encode()
    if kind == 3:  # the valid message, truncated
        return valid[: rng.randrange(len(valid))]
    if kind == 4:  # one byte changed
        at = rng.randrange(len(valid))
        return valid[:at] + bytes([valid[at] ^ rng.randrange(1, 256)]) + valid[at + 1 :]
    if kind == 5:  # a field removed or of the wrong type
        return json.dumps(_mutate_field(rng, json.loads(valid))).encode()
    if kind == 6:  # nested deeper than any decoder recurses
        depth = rng.choice([1_000, 10_000, 100_000])
        return b'{"deep": ' + b"[" * depth + b"]" * depth + b"}"
    if kind == 7:  # invalid UTF-8 inside a string
        return valid.replace(b'"', b'"\xff\xfe', 1)
    if kind == 8:  # tokens JSON does not have
        return rng.choice([b"NaN", b'{"bid_price": Infinity}', b"{'single': 'quotes'}", b"{,}", b"\xef\xbb\xbf{}"])
    if kind == 9:  # the valid message twice, or inside an array
        return rng.choice([valid + valid, b"[" + valid + b"]"])
    if kind == 10:  # large garbage
        return rng.randbytes(rng.choice([100_000, 500_000]))
    if kind == 11:  # a valid message of another topic
        return encode(rng.choice(list(VALID.values())))
    return json.dumps(rng.choice(WRONG_VALUES)).encode()


def unstorable_outcome(rng: random.Random) -> bytes:
    """An auction_outcomes message that decodes but cannot be stored as it is."""
    doc = json.loads(encode(VALID[AuctionOutcomeMessage]))
    field, value = rng.choice(
        [
            ("received_at", "not a time"),
            ("received_at", OVERFLOWING_TIMES[0]),
            ("auction_timestamp", OVERFLOWING_TIMES[1]),
            ("bid_floor", 1e20),
            ("win_price", 1e9),
            ("currency", "DOLLARS!!"),
            ("bid_request_id", "nul\u0000id"),
            ("user_id", "u" * 500),
            ("site_domain", "d" * 300),
        ]
    )
    doc[field] = value
    return json.dumps(doc).encode()


def rejected(payload: bytes, kind: type[msgspec.Struct]) -> bool:
    """Whether the role consuming `kind` must dead-letter `payload`."""
    try:
        message = decode(payload, kind)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
        return True
    if isinstance(message, AuctionOutcomeMessage):
        try:
            outcome_row(message)  # refuses, among others, a time that does not exist in UTC
        except InvalidOutcome:
            return True
    return False


def garbage(rng: random.Random, kind: type[msgspec.Struct]) -> bytes:
    """A payload the role consuming `kind` cannot process."""
    valid = encode(VALID[kind])
    while True:
        unstorable = kind is AuctionOutcomeMessage and rng.random() < 0.15
        payload = unstorable_outcome(rng) if unstorable else _candidate(rng, valid)
        if rejected(payload, kind):
            return payload


def _hostile_text(rng: random.Random, limit: int) -> str:
    return rng.choice(
        [
            "x" * limit,
            "".join(rng.choice('\u0000\u0001\n\t"\\é€😀\u202e') for _ in range(rng.randrange(1, 20))),
            "",
        ]
    )


def hostile_request(rng: random.Random, index: int) -> BidRequest:
    """A bid_requests message that decodes, with extreme values wherever the schema allows them."""
    imps = [
        Imp(
            imp_id=f"{j}-{_hostile_text(rng, 100)}" if rng.random() < 0.3 else str(j),
            bidfloor=rng.choice([0.0, 1e-9, 0.35, 99_999_999.9999, 1e12, 1e308]),
            bidfloorcur=rng.choice(["USD", "", "usd", "€€€", "X" * 2000]),
            media=rng.choice([None, "banner", "video", "audio", "native"]),
            w=rng.choice([None, 0, -(2**63), 2**63 - 1]),
            h=rng.choice([None, 0, 2**31]),
        )
        for j in range(rng.choice([1, 2, 16, 40]))
    ]
    suffix = rng.choice(["", "é€😀", "a" * 100, "nul\u0000"])
    return BidRequest(
        request_id=f"hostile-{index}-{suffix}"[:128],
        user_id=rng.choice([None, "user-001", "u" * 10_000, "nul\u0000user", _hostile_text(rng, 300)]),
        received_at=rng.choice([NOW, NOW, "not a time", "", *OVERFLOWING_TIMES, "2026-01-01T00:00:00+14:00"]),
        source="openrtb",
        site_domain=rng.choice([None, "news.com", "d" * 5000, _hostile_text(rng, 300)]),
        site_page=rng.choice([None, "p" * 20_000]),
        device_ip=rng.choice([None, "::1", "x" * 300]),
        device_ua=rng.choice([None, "\u0000" * 10]),
        tmax_ms=rng.choice([None, -1, 2**63 - 1]),
        test=rng.random() < 0.5,
        imps=imps,
    )
