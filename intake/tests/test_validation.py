"""Layer 1: the bid request rules (SPEC §2), both shapes, every rule; property tests with hypothesis."""

import json
from typing import Any
from unittest.mock import ANY

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.validation import InvalidRequest, parse_bid_request
from pipeline.messages import BidRequest, Imp, decode, encode

NOW = "2026-11-26T12:00:00.123Z"


def parse(doc: Any, **kwargs: Any) -> BidRequest:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return parse_bid_request(body, received_at=NOW, **kwargs)


def errors(doc: Any, **kwargs: Any) -> list[dict[str, str]]:
    with pytest.raises(InvalidRequest) as info:
        parse(doc, **kwargs)
    return info.value.detail


def error_locs(doc: Any, **kwargs: Any) -> list[str]:
    return [e["loc"] for e in errors(doc, **kwargs)]


# --- Helios simple form ---

SIMPLE_EXAMPLE = {
    "request_id": "req-12345",
    "user_id": "user-001",
    "site": {"domain": "news.com", "page": "https://news.com/a"},
    "device": {"ip": "192.0.2.1", "user_agent": "Mozilla/5.0"},
    "ad_slots": [{"id": "slot-1", "min_bid": 0.5, "format": ["300x250"]}],
}


def test_simple_form_example_from_the_spec():
    assert parse(SIMPLE_EXAMPLE) == BidRequest(
        request_id="req-12345",
        request_digest=ANY,  # its own tests: test_validation.py
        user_id="user-001",
        received_at=NOW,
        source="helios",
        site_domain="news.com",
        site_page="https://news.com/a",
        device_ip="192.0.2.1",
        device_ua="Mozilla/5.0",
        imps=[Imp(imp_id="slot-1", bidfloor=0.5, media="banner", w=300, h=250)],
    )


def test_simple_form_empty_object_is_one_impression_with_a_generated_id():
    request = parse({})
    assert request.source == "helios"
    assert len(request.request_id) == 32
    int(request.request_id, 16)  # UUID4 hex
    assert request.user_id is None
    assert request.imps == [Imp(imp_id="1", bidfloor=0.0, bidfloorcur="USD")]
    assert parse({}).request_id != request.request_id


def test_simple_form_null_request_id_is_generated_too():
    assert parse({"request_id": None}, new_request_id=lambda: "generated").request_id == "generated"


def test_simple_form_empty_slot_list_is_one_impression():
    assert parse({"ad_slots": []}).imps == [Imp(imp_id="1")]


def test_simple_form_slots_become_impressions_in_order():
    request = parse(
        {
            "ad_slots": [
                {"id": "a", "min_bid": 1, "format": ["728x90", "300x250"]},
                {"id": "b", "format": "160X600"},
                {"id": "c", "format": []},
                {},
            ]
        }
    )
    assert request.imps == [
        Imp(imp_id="a", bidfloor=1.0, media="banner", w=728, h=90),
        Imp(imp_id="b", bidfloor=0.0, media="banner", w=160, h=600),
        Imp(imp_id="c", bidfloor=0.0),
        Imp(imp_id="4", bidfloor=0.0),  # no id: numbered by position
    ]


def test_simple_form_device_ua_is_a_synonym_of_user_agent():
    assert parse({"device": {"ua": "UA/1"}}).device_ua == "UA/1"
    assert parse({"device": {"user_agent": "UA/2", "ua": "UA/1"}}).device_ua == "UA/2"


def test_simple_form_floor_is_rounded_up_to_4_decimals():
    assert parse({"ad_slots": [{"min_bid": 0.123456}]}).imps[0].bidfloor == 0.1235
    # Up, so that a 4-decimal bid clears it exactly when it clears the floor sent (issue 14).
    assert parse({"ad_slots": [{"min_bid": 1.20005}]}).imps[0].bidfloor == 1.2001
    assert parse({"ad_slots": [{"min_bid": 1.20001}]}).imps[0].bidfloor == 1.2001
    assert parse({"ad_slots": [{"min_bid": 1.2}]}).imps[0].bidfloor == 1.2


def test_floors_up_to_what_the_money_column_holds_are_accepted():
    assert parse({"ad_slots": [{"min_bid": 99_999_999.9999}]}).imps[0].bidfloor == 99_999_999.9999
    assert error_locs({"ad_slots": [{"min_bid": 99_999_999.99991}]}) == ["ad_slots[0].min_bid"]
    assert error_locs({"id": "r", "imp": [{"id": "1", "bidfloor": 1e8}]}) == ["imp[0].bidfloor"]


@pytest.mark.parametrize(
    ("doc", "loc"),
    [
        ({"request_id": "a\x00b"}, "request_id"),
        ({"user_id": "\x00"}, "user_id"),
        ({"site": {"domain": "news\x00.com"}}, "site.domain"),
        ({"ad_slots": [{"id": "s\x00"}]}, "ad_slots[0].id"),
        ({"id": "r\x00", "imp": [{"id": "1"}]}, "id"),
        ({"id": "r", "imp": [{"id": "1"}], "user": {"buyeruid": "\x00"}}, "user.buyeruid"),
        ({"id": "r", "imp": [{"id": "1"}], "app": {"bundle": "com.\x00"}}, "app.bundle"),
    ],
)
def test_a_nul_in_a_stored_string_is_400(doc, loc):
    """PostgreSQL text cannot hold NUL: the outcome would be refused after a 202 (issue 14)."""
    assert error_locs(doc) == [loc]


# --- The request digest: which accepted requests are the same (docs/design.md) ---


def test_the_digest_is_the_same_for_the_same_request_whatever_its_arrival_time():
    first = parse_bid_request(json.dumps(ORTB_EXAMPLE).encode(), received_at="2026-11-26T12:00:00.000Z")
    again = parse_bid_request(json.dumps(ORTB_EXAMPLE).encode(), received_at="2026-11-26T12:00:09.000Z")
    assert len(first.request_digest) == 16 and int(first.request_digest, 16) >= 0
    assert first.request_digest == again.request_digest


@pytest.mark.parametrize(
    "change",
    [
        {"site": {"domain": "other.example"}},
        {"user": {"id": "someone-else"}},
        {"imp": [{"id": "1", "bidfloor": 0.5}]},
        {"tmax": 99},
    ],
)
def test_distinct_requests_sharing_an_id_have_distinct_digests(change):
    assert parse({**ORTB_EXAMPLE, **change}).request_digest != parse(ORTB_EXAMPLE).request_digest


def test_a_simple_and_an_openrtb_request_sharing_an_id_have_distinct_digests():
    simple = parse({"request_id": "1"})
    ortb = parse({"id": "1", "imp": [{"id": "1"}]})
    assert simple.request_id == ortb.request_id
    assert simple.request_digest != ortb.request_digest


def test_simple_form_unknown_fields_are_ignored():
    request = parse({"request_id": "r", "imp_count": 3, "extra": {"deep": [1, 2, {"x": None}]}, "user": 5})
    assert request.request_id == "r"


@pytest.mark.parametrize(
    ("doc", "loc"),
    [
        ({"request_id": 5}, "request_id"),
        ({"request_id": ""}, "request_id"),
        ({"request_id": "x" * 129}, "request_id"),
        ({"user_id": 1}, "user_id"),
        ({"user_id": "u" * 129}, "user_id"),
        ({"site": "news.com"}, "site"),
        ({"site": {"domain": 1}}, "site.domain"),
        ({"site": {"page": "p" * 2049}}, "site.page"),
        ({"device": []}, "device"),
        ({"device": {"ip": 1}}, "device.ip"),
        ({"device": {"user_agent": "u" * 2049}}, "device.user_agent"),
        ({"device": {"ua": False}}, "device.ua"),
        ({"ad_slots": {}}, "ad_slots"),
        ({"ad_slots": [1]}, "ad_slots[0]"),
        ({"ad_slots": [{"id": 1}]}, "ad_slots[0].id"),
        ({"ad_slots": [{"min_bid": -0.01}]}, "ad_slots[0].min_bid"),
        ({"ad_slots": [{"min_bid": "1"}]}, "ad_slots[0].min_bid"),
        ({"ad_slots": [{}, {"format": ["300-250"]}]}, "ad_slots[1].format[0]"),
        ({"ad_slots": [{"format": 300}]}, "ad_slots[0].format"),
    ],
)
def test_simple_form_rejects_wrong_types_and_bounds(doc, loc):
    assert error_locs(doc) == [loc]


def test_simple_form_limits_slots_to_max_imps():
    assert len(parse({"ad_slots": [{"id": str(i)} for i in range(16)]}).imps) == 16
    detail = errors({"ad_slots": [{"id": str(i)} for i in range(17)]})
    assert detail == [{"loc": "ad_slots", "msg": "Expected `array` of length <= 16"}]
    assert error_locs({"ad_slots": [{}, {}, {}]}, max_imps=2) == ["ad_slots"]


def test_simple_form_rejects_duplicate_slot_ids():
    assert error_locs({"ad_slots": [{"id": "a"}, {"id": "a"}]}) == ["ad_slots[1].id"]


# --- OpenRTB 2.6 ---

ORTB_EXAMPLE = {
    "id": "80ce30c53c16e6ede735f123ef6e32361bfc7b22",
    "at": 1,
    "cur": ["USD"],
    "imp": [
        {
            "id": "1",
            "bidfloor": 0.03,
            "bidfloorcur": "USD",
            "banner": {"h": 250, "w": 300, "pos": 0},
            "ext": {"anything": [1, {"goes": True}]},
        },
        {"id": "2", "video": {"mimes": ["video/mp4"], "w": 640, "h": 480}},
        {"id": "3", "audio": {"mimes": ["audio/mp4"]}, "bidfloor": 2},
        {"id": "4", "native": {"request": "{}"}, "bidfloorcur": "EUR"},
        {"id": "5", "banner": {"format": [{"w": 320, "h": 50}, {"w": 300, "h": 250}]}},
        {"id": "6"},
    ],
    "site": {"id": "102855", "domain": "espn.com", "page": "http://espn.com/nba", "publisher": {"id": "8953"}},
    "device": {"ua": "Mozilla/5.0 (Macintosh)", "ip": "123.145.167.10", "geo": {"country": "USA"}},
    "user": {"id": "55816b39711f9b5acf3b90e313ed29e51665623f", "buyeruid": "b-1"},
    "tmax": 120,
    "test": 0,
    "regs": {"coppa": 0, "ext": {"gdpr": 0}},
}


def test_openrtb_example_maps_every_member():
    assert parse(ORTB_EXAMPLE) == BidRequest(
        request_id="80ce30c53c16e6ede735f123ef6e32361bfc7b22",
        request_digest=ANY,  # its own tests: test_validation.py
        user_id="55816b39711f9b5acf3b90e313ed29e51665623f",
        received_at=NOW,
        source="openrtb",
        site_domain="espn.com",
        site_page="http://espn.com/nba",
        device_ip="123.145.167.10",
        device_ua="Mozilla/5.0 (Macintosh)",
        tmax_ms=120,
        test=False,
        imps=[
            Imp(imp_id="1", bidfloor=0.03, media="banner", w=300, h=250),
            Imp(imp_id="2", media="video"),
            Imp(imp_id="3", bidfloor=2.0, media="audio"),
            Imp(imp_id="4", bidfloorcur="EUR", media="native"),
            Imp(imp_id="5", media="banner", w=320, h=50),
            Imp(imp_id="6"),
        ],
    )


def test_openrtb_without_imp_is_not_taken_for_the_simple_form():
    assert errors({"id": "r", "site": {"domain": "a.com"}}) == [{"loc": "imp", "msg": "Field required"}]
    # With a request_id it is the simple form, and `id` is just an unknown member.
    assert parse({"request_id": "q", "id": "r"}).request_id == "q"


def test_openrtb_minimal_request():
    request = parse({"id": "r1", "imp": [{"id": "1"}]})
    assert request.source == "openrtb"
    assert request.user_id is None
    assert request.imps == [Imp(imp_id="1", bidfloor=0.0, bidfloorcur="USD", media=None)]
    assert request.tmax_ms is None
    assert request.test is False


def test_openrtb_user_id_falls_back_to_buyeruid():
    assert parse({"id": "r", "imp": [{"id": "1"}], "user": {"buyeruid": "b"}}).user_id == "b"
    assert parse({"id": "r", "imp": [{"id": "1"}], "user": {}}).user_id is None


def test_openrtb_app_gives_domain_or_bundle():
    base = {"id": "r", "imp": [{"id": "1"}]}
    assert parse({**base, "app": {"bundle": "com.example.game"}}).site_domain == "com.example.game"
    request = parse({**base, "app": {"bundle": "com.example.game", "domain": "example.com"}})
    assert (request.site_domain, request.site_page) == ("example.com", None)
    assert parse({**base, "site": {"domain": "s.com"}, "app": {"bundle": "b"}}).site_domain == "s.com"


def test_openrtb_ipv6_is_used_when_there_is_no_ipv4():
    assert parse({"id": "r", "imp": [{"id": "1"}], "device": {"ipv6": "2001:db8::1"}}).device_ip == "2001:db8::1"


@pytest.mark.parametrize(("value", "expected"), [(0, False), (1, True), (False, False), (True, True)])
def test_openrtb_test_flag_is_0_1_or_bool(value, expected):
    assert parse({"id": "r", "imp": [{"id": "1"}], "test": value}).test is expected


def test_openrtb_banner_size_prefers_w_h_over_format():
    imp = {"id": "1", "banner": {"w": 728, "h": 90, "format": [{"w": 300, "h": 250}]}}
    assert parse({"id": "r", "imp": [imp]}).imps[0] == Imp(imp_id="1", media="banner", w=728, h=90)


def test_openrtb_banner_first_when_an_imp_offers_several_media():
    imp = {"id": "1", "video": {}, "banner": {"w": 1, "h": 2}}
    assert parse({"id": "r", "imp": [imp]}).imps[0].media == "banner"


def test_openrtb_is_chosen_by_the_presence_of_imp_even_when_invalid():
    # A simple-form body that happens to carry `imp` is held to the OpenRTB rules.
    assert error_locs({"request_id": "r", "imp": None}) == ["imp"]


@pytest.mark.parametrize(
    ("doc", "loc"),
    [
        ({"imp": [{"id": "1"}]}, "id"),
        ({"id": 7, "imp": [{"id": "1"}]}, "id"),
        ({"id": "", "imp": [{"id": "1"}]}, "id"),
        ({"id": "x" * 129, "imp": [{"id": "1"}]}, "id"),
        ({"id": "r", "imp": []}, "imp"),
        ({"id": "r", "imp": {"id": "1"}}, "imp"),
        ({"id": "r", "imp": [{}]}, "imp[0].id"),
        ({"id": "r", "imp": [{"id": "1"}, {"id": 2}]}, "imp[1].id"),
        ({"id": "r", "imp": [{"id": "x" * 129}]}, "imp[0].id"),
        ({"id": "r", "imp": ["1"]}, "imp[0]"),
        ({"id": "r", "imp": [{"id": "1", "bidfloor": -1}]}, "imp[0].bidfloor"),
        ({"id": "r", "imp": [{"id": "1", "bidfloor": "0.5"}]}, "imp[0].bidfloor"),
        ({"id": "r", "imp": [{"id": "1", "bidfloor": 1e10}]}, "imp[0].bidfloor"),
        ({"id": "r", "imp": [{"id": "1", "bidfloorcur": "usd"}]}, "imp[0].bidfloorcur"),
        ({"id": "r", "imp": [{"id": "1", "bidfloorcur": 840}]}, "imp[0].bidfloorcur"),
        ({"id": "r", "imp": [{"id": "1", "banner": []}]}, "imp[0].banner"),
        ({"id": "r", "imp": [{"id": "1", "banner": {"w": "300"}}]}, "imp[0].banner.w"),
        ({"id": "r", "imp": [{"id": "1", "banner": {"h": -1}}]}, "imp[0].banner.h"),
        ({"id": "r", "imp": [{"id": "1", "banner": {"format": [{"w": 1.5}]}}]}, "imp[0].banner.format[0].w"),
        ({"id": "r", "imp": [{"id": "1", "video": "yes"}]}, "imp[0].video"),
        ({"id": "r", "imp": [{"id": "1", "audio": 1}]}, "imp[0].audio"),
        ({"id": "r", "imp": [{"id": "1", "native": []}]}, "imp[0].native"),
        ({"id": "r", "imp": [{"id": "1"}], "site": "espn.com"}, "site"),
        ({"id": "r", "imp": [{"id": "1"}], "site": {"page": "p" * 2049}}, "site.page"),
        ({"id": "r", "imp": [{"id": "1"}], "app": {"bundle": 3}}, "app.bundle"),
        ({"id": "r", "imp": [{"id": "1"}], "device": {"ua": 1}}, "device.ua"),
        ({"id": "r", "imp": [{"id": "1"}], "device": {"ip": "1" * 65}}, "device.ip"),
        ({"id": "r", "imp": [{"id": "1"}], "user": "u"}, "user"),
        ({"id": "r", "imp": [{"id": "1"}], "user": {"id": 5}}, "user.id"),
        ({"id": "r", "imp": [{"id": "1"}], "user": {"buyeruid": "b" * 129}}, "user.buyeruid"),
        ({"id": "r", "imp": [{"id": "1"}], "tmax": "120"}, "tmax"),
        ({"id": "r", "imp": [{"id": "1"}], "tmax": -1}, "tmax"),
        ({"id": "r", "imp": [{"id": "1"}], "tmax": 1.5}, "tmax"),
        ({"id": "r", "imp": [{"id": "1"}], "test": 2}, "test"),
        ({"id": "r", "imp": [{"id": "1"}], "test": "1"}, "test"),
        ({"id": "r", "imp": [{"id": "1"}], "regs": [1]}, "regs"),
        ({"id": "r", "imp": [{"id": "1"}, {"id": "1"}]}, "imp[1].id"),
    ],
)
def test_openrtb_rejects_wrong_types_and_bounds(doc, loc):
    assert error_locs(doc) == [loc]


def test_openrtb_error_message_names_the_expected_type():
    assert errors({"id": "r", "imp": [{"id": 1}]}) == [{"loc": "imp[0].id", "msg": "Expected `str`, got `int`"}]
    assert errors({"id": "r", "imp": [{}]}) == [{"loc": "imp[0].id", "msg": "Field required"}]
    assert errors({"imp": [{"id": "1"}]}) == [{"loc": "id", "msg": "Field required"}]


def test_openrtb_limits_impressions_to_max_imps():
    imps = [{"id": str(i)} for i in range(17)]
    assert errors({"id": "r", "imp": imps}) == [{"loc": "imp", "msg": "Expected `array` of length <= 16"}]
    assert len(parse({"id": "r", "imp": imps[:16]}).imps) == 16
    assert error_locs({"id": "r", "imp": imps[:4]}, max_imps=3) == ["imp"]


def test_ids_at_the_limit_are_accepted():
    request = parse({"id": "x" * 128, "imp": [{"id": "i" * 128}], "user": {"id": "u" * 128}})
    assert len(request.request_id) == len(request.imps[0].imp_id) == len(request.user_id or "") == 128


def test_strings_are_counted_in_characters_not_bytes():
    assert parse({"request_id": "é" * 128}).request_id == "é" * 128


# --- the body itself ---


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"{",
        b'{"id": "r",}',
        b"{} {}",
        b"[]",
        b'[{"id": "r", "imp": [{"id": "1"}]}]',
        b'"string"',
        b"42",
        b"null",
        b"true",
        b"\xff\xfe{\x00}\x00",
        b'{"request_id": "\xff"}',
        b'{"ignored": "\xc3\x28"}',
        b'{"request_id": "\xed\xa0\x80"}',
        b"\xef\xbb\xbf{}",  # a UTF-8 BOM is not JSON
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
        b'{"id": "r", "imp": [{"id": "1"}], "ext": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    ],
)
def test_bodies_that_are_not_a_json_object_are_rejected_at_body(body):
    detail = errors(body)
    assert [e["loc"] for e in detail] == ["body"]
    assert all(e["msg"] for e in detail)


def test_invalid_utf8_message_says_so():
    assert errors(b'{"a": "\xff"}') == [{"loc": "body", "msg": "invalid UTF-8 at byte 7"}]


def test_deep_nesting_message_says_so():
    deep = b'{"a":' * 5000 + b"1" + b"}" * 5000
    assert errors(deep) == [{"loc": "body", "msg": "JSON is nested too deeply"}]
    assert errors(b"[" * 5000 + b"]" * 5000) == [{"loc": "body", "msg": "Expected `object`, got `array`"}]


def test_received_at_defaults_to_now():
    request = parse_bid_request(b"{}")
    assert request.received_at.endswith("Z")
    assert len(request.received_at) == len(NOW)


# --- properties ---

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
member_names = st.sampled_from(
    ["id", "imp", "request_id", "user_id", "site", "device", "ad_slots", "user", "app", "tmax", "test", "regs"]
)
request_like = st.dictionaries(member_names | st.text(max_size=5), json_values, max_size=6)


def attempt(body: bytes) -> BidRequest | InvalidRequest:
    """The request, or the InvalidRequest raised; any other exception fails the test."""
    try:
        return parse_bid_request(body)
    except InvalidRequest as exc:
        return exc


def roundtrips(request: BidRequest) -> None:
    """Every accepted request is a valid `bid_requests` message."""
    assert decode(encode(request), BidRequest) == request


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_any_bytes_give_a_request_or_invalid_request(body):
    outcome = attempt(body)
    if isinstance(outcome, InvalidRequest):
        assert outcome.detail
        assert all(set(item) == {"loc", "msg"} for item in outcome.detail)
    else:
        roundtrips(outcome)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, request_like))
def test_any_json_gives_a_request_or_invalid_request(doc):
    request = attempt(json.dumps(doc).encode())
    if isinstance(request, InvalidRequest):
        assert request.detail
        return
    roundtrips(request)
    assert isinstance(doc, dict)
    openrtb = "imp" in doc or ("id" in doc and "request_id" not in doc)
    assert request.source == ("openrtb" if openrtb else "helios")
    assert 1 <= len(request.imps) <= 16


# Stored strings (ids, domains) hold no NUL: PostgreSQL text cannot (test_a_nul_in_a_stored_string_is_400).
stored_chars = st.characters(codec="utf-8", exclude_characters="\x00")
ids = st.text(stored_chars, min_size=1, max_size=128)
domains = st.text(stored_chars, max_size=255)
floors = st.floats(min_value=0, max_value=1e6, allow_nan=False)
sizes = st.integers(min_value=0, max_value=99_999)
optional_text = st.none() | st.text(max_size=64)


@st.composite
def openrtb_requests(draw):
    imp_ids = draw(st.lists(ids, min_size=1, max_size=16, unique=True))
    imps = []
    for imp_id in imp_ids:
        imp: dict[str, Any] = {"id": imp_id}
        if draw(st.booleans()):
            imp["bidfloor"] = draw(floors)
        if draw(st.booleans()):
            imp["bidfloorcur"] = draw(st.sampled_from(["USD", "EUR", "JPY"]))
        kind = draw(st.sampled_from([None, "banner", "video", "audio", "native"]))
        if kind == "banner":
            imp["banner"] = {"w": draw(sizes), "h": draw(sizes)}
        elif kind is not None:
            imp[kind] = {"ext": draw(json_values)}
        imps.append(imp)
    doc: dict[str, Any] = {"id": draw(ids), "imp": imps, "ext": draw(json_values)}
    if draw(st.booleans()):
        doc["site"] = {"domain": draw(domains), "page": draw(st.text(max_size=300))}
    if draw(st.booleans()):
        doc["device"] = {"ip": draw(st.text(max_size=45)), "ua": draw(st.text(max_size=300))}
    if draw(st.booleans()):
        doc["user"] = {"id": draw(ids)}
    if draw(st.booleans()):
        doc["tmax"] = draw(st.integers(min_value=0, max_value=600_000))
    if draw(st.booleans()):
        doc["test"] = draw(st.sampled_from([0, 1, True, False]))
    return doc


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(openrtb_requests())
def test_valid_openrtb_requests_are_accepted_and_mapped(doc):
    request = parse(doc)
    roundtrips(request)
    assert request.request_id == doc["id"]
    assert [imp.imp_id for imp in request.imps] == [imp["id"] for imp in doc["imp"]]
    for imp, sent in zip(request.imps, doc["imp"], strict=True):
        assert imp.bidfloor == pytest.approx(sent.get("bidfloor", 0.0), abs=1e-4)
        assert imp.bidfloorcur == sent.get("bidfloorcur", "USD")
        assert imp.media == next((m for m in ("banner", "video", "audio", "native") if m in sent), None)
    assert request.user_id == doc.get("user", {}).get("id")
    assert request.site_domain == doc.get("site", {}).get("domain")
    assert request.device_ua == doc.get("device", {}).get("ua")
    assert request.tmax_ms == doc.get("tmax")
    assert request.test is bool(doc.get("test", False))


@st.composite
def simple_requests(draw):
    doc: dict[str, Any] = {}
    if draw(st.booleans()):
        doc["request_id"] = draw(ids)
    if draw(st.booleans()):
        doc["user_id"] = draw(ids)
    if draw(st.booleans()):
        doc["site"] = {"domain": draw(domains)}
    if draw(st.booleans()):
        doc["device"] = {draw(st.sampled_from(["ua", "user_agent"])): draw(st.text(max_size=300))}
    if draw(st.booleans()):
        slot_ids = draw(st.lists(ids, max_size=16, unique=True))
        doc["ad_slots"] = [
            {"id": slot_id, "min_bid": draw(floors), "format": [f"{draw(sizes)}x{draw(sizes)}"]} for slot_id in slot_ids
        ]
    return doc


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(simple_requests())
def test_valid_simple_requests_are_accepted_and_mapped(doc):
    request = parse(doc)
    roundtrips(request)
    assert request.source == "helios"
    if "request_id" in doc:
        assert request.request_id == doc["request_id"]
    assert request.user_id == doc.get("user_id")
    slots = doc.get("ad_slots") or [{"id": "1", "min_bid": 0.0}]
    assert [imp.imp_id for imp in request.imps] == [slot["id"] for slot in slots]
    for imp, slot in zip(request.imps, slots, strict=True):
        assert imp.bidfloor == pytest.approx(slot["min_bid"], abs=1e-4)
        if "format" in slot:
            assert f"{imp.w}x{imp.h}" == slot["format"][0]


class _Inner(msgspec.Struct):
    b: str


class _Outer(msgspec.Struct):
    a: list[_Inner]


def test_error_item_paths_come_from_msgspec():
    # The loc format is msgspec's Struct path without the leading `$.`; keep this in step with msgspec.
    with pytest.raises(msgspec.ValidationError, match=r" - at `\$\.a\[0\]\.b`$"):
        msgspec.json.decode(b'{"a": [{"b": 1}]}', type=_Outer)
