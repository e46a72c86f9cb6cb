"""The OpenRTB request builder (exchange/requests.py): seeded, valid, and every variety shows up."""

import json
import random
from collections import Counter
from typing import Any

import pytest

from campaigns.privacy import PrivacyState, privacy_of
from campaigns.tcf import decode_tc_string
from exchange.requests import (
    DEMO_USER_IDS,
    PRIVACY_STATES,
    REFUSED_CONSENT,
    RESTRICTED,
    TCF_VENDOR_ID,
    Built,
    bid_requests,
    build,
    consent_string,
    synthetic_user_id,
)
from intake.validation import parse_bid_request
from profiles import demo
from profiles.demo import DEMO_BY_ID

RNGS = [random.Random(seed) for seed in range(7, 13)]
STREAM = [build(rng) for rng in RNGS for _ in range(100)]  # 600 requests of six seeded streams


def varieties(built: Built) -> set[str]:
    """The labels a request shows, read from its body."""
    body = built.body
    found = {"app" if "app" in body else "site", f"imps-{len(body['imp'])}", f"user-{built.user}"}
    for imp in body["imp"]:
        if "video" in imp:
            found.add("video")
        elif "format" in imp["banner"]:
            found.add("banner-format")
        else:
            found.add("banner-wh")
        found.add(f"floor-{imp.get('bidfloorcur', 'USD')}" if imp.get("bidfloor") else "no-floor")
    found.update(k for k in ("bcat", "badv", "tmax", "cur") if k in body)
    regs = body.get("regs", {})
    if "gdpr" in regs.get("ext", {}) or "consent" in body.get("user", {}).get("ext", {}):
        found.add("legacy-ext")
    return found


def test_the_stream_is_seeded() -> None:
    assert bid_requests(30, seed=1) == bid_requests(30, seed=1)
    assert bid_requests(30, seed=1) != bid_requests(30, seed=2)
    assert len({r["id"] for r in bid_requests(500)}) == 500


def test_every_variety_comes_up() -> None:
    seen = Counter(v for built in STREAM for v in varieties(built))
    expected = {"site", "app", "imps-1", "imps-2", "imps-3", "user-known", "user-unknown", "user-none", "video",
                "banner-format", "banner-wh", "floor-USD", "floor-EUR", "no-floor", "bcat", "badv", "tmax", "cur",
                "legacy-ext"}  # fmt: skip
    assert expected <= set(seen), expected - set(seen)
    assert {b.privacy for b in STREAM} == set(PRIVACY_STATES)
    assert any("tmax" not in b.body for b in STREAM) and any("cur" not in b.body for b in STREAM)


def test_known_users_are_seeded_profiles_and_unknown_ones_are_not() -> None:
    for built in STREAM:
        user_id = built.body.get("user", {}).get("id")
        assert (user_id in DEMO_BY_ID) == (built.user == "known")
        assert (user_id is None) == (built.user == "none")
    synthetic = [build(random.Random(n), user="known", synthetic_users=1000).body["user"]["id"] for n in range(50)]
    assert any(u.startswith("synth-") for u in synthetic) and any(u in DEMO_BY_ID for u in synthetic)


def test_every_request_is_accepted_by_the_intake_validation() -> None:
    for built in STREAM:
        parsed = parse_bid_request(json.dumps(built.body).encode())
        assert parsed.request_id == built.body["id"] and len(parsed.imps) == len(built.body["imp"])
        assert all(sum(m in imp for m in ("banner", "video")) == 1 for imp in built.body["imp"])


EXPECTED_STATE = {
    "open": PrivacyState.OPEN,
    "gdpr_consent": PrivacyState.GDPR_CONSENT,
    "gdpr_no_consent": PrivacyState.GDPR_NO_CONSENT,
    "gdpr_refused": PrivacyState.GDPR_NO_CONSENT,
    "coppa": PrivacyState.COPPA,
    "us_privacy_opt_out": PrivacyState.US_PRIVACY_OPT_OUT,
    "gpc": PrivacyState.GPC,
    "lmt": PrivacyState.LMT,
}


@pytest.mark.parametrize("privacy", PRIVACY_STATES)
def test_each_privacy_state_reads_as_helios_reads_it(privacy: str) -> None:
    """In both the 2.6 fields and the 2.5 `ext` locations (SPEC §16)."""
    built = [build(random.Random(n), privacy=privacy) for n in range(40)]
    for b in built:
        assert privacy_of(b.body, vendor_id=TCF_VENDOR_ID).state == EXPECTED_STATE[privacy], b.body
        assert b.restricted == (privacy in RESTRICTED)
    if privacy.startswith("gdpr") or privacy == "us_privacy_opt_out":
        assert {"regs" in b.body and "ext" in b.body["regs"] for b in built} == {True, False}


def test_a_consent_for_another_vendor_is_no_consent() -> None:
    body = build(random.Random(1), privacy="gdpr_consent", vendor_id=4321).body
    assert privacy_of(body, vendor_id=TCF_VENDOR_ID).state == PrivacyState.GDPR_NO_CONSENT
    assert privacy_of(body, vendor_id=4321).state == PrivacyState.GDPR_CONSENT


def test_the_consent_string_decodes_to_what_it_grants() -> None:
    tc = decode_tc_string(consent_string([TCF_VENDOR_ID, 7], [1, 3, 4]))
    assert tc.vendor_consents == {7, TCF_VENDOR_ID} and tc.purpose_consents == {1, 3, 4}
    assert tc.consents_to(TCF_VENDOR_ID, (1, 3, 4)) and not tc.consents_to(8, (1, 3, 4))
    refused = decode_tc_string(REFUSED_CONSENT)
    assert 4 not in refused.purpose_consents


@pytest.mark.parametrize(
    ("forced", "check"),
    [
        ({"imps": 3}, lambda b: len(b["imp"]) == 3),
        ({"app": True}, lambda b: "app" in b and "site" not in b and "ifa" in b["device"]),
        ({"app": False}, lambda b: "site" in b and "app" not in b),
        ({"user": "none", "privacy": "open"}, lambda b: "user" not in b),
        ({"privacy": "coppa"}, lambda b: b["regs"]["coppa"] == 1),
        ({"privacy": "lmt"}, lambda b: b["device"]["lmt"] == 1),
        ({"privacy": "gpc"}, lambda b: b["regs"]["ext"]["gpc"] == 1),
    ],
)
def test_a_variety_can_be_forced(forced: dict[str, Any], check: Any) -> None:
    assert all(check(build(random.Random(n), **forced).body) for n in range(20))


def test_an_unknown_privacy_state_is_refused() -> None:
    with pytest.raises(ValueError, match="privacy"):
        build(random.Random(1), privacy="gdpr")


def test_the_builders_known_users_are_the_ones_seed_profiles_makes():
    assert tuple(user.profile.user_id for user in demo.DEMO_USERS) == DEMO_USER_IDS
    assert [synthetic_user_id(n) for n in (1, 42, 999_999)] == [demo.synthetic_user_id(n) for n in (1, 42, 999_999)]
