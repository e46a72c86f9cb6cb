"""SPEC §16: which requests are restricted, from the 2.6 fields and the 2.5 `ext` locations."""

from datetime import UTC, datetime
from typing import Any

import pytest

from campaigns.privacy import PrivacyState, privacy_of
from campaigns.tcf import encode_tc_string

VENDOR = 1234
T0 = datetime(2026, 12, 1, tzinfo=UTC)
GRANTED = encode_tc_string(vendor_consents={VENDOR, 7}, purpose_consents={1, 2, 3, 4, 7}, created=T0)
NO_PURPOSE_4 = encode_tc_string(vendor_consents={VENDOR}, purpose_consents={1, 2, 3}, created=T0)
OTHER_VENDOR = encode_tc_string(vendor_consents={7}, purpose_consents={1, 3, 4}, created=T0)


def req(**parts: Any) -> dict[str, Any]:
    return {"id": "r1", "imp": [{"id": "1"}], **parts}


CASES = [
    ("nothing", req(), PrivacyState.OPEN),
    ("coppa 2.6", req(regs={"coppa": 1}), PrivacyState.COPPA),
    ("coppa 0", req(regs={"coppa": 0}), PrivacyState.OPEN),
    ("gdpr 2.6 no string", req(regs={"gdpr": 1}), PrivacyState.GDPR_NO_CONSENT),
    ("gdpr 2.6 granted", req(regs={"gdpr": 1}, user={"consent": GRANTED}), PrivacyState.GDPR_CONSENT),
    ("gdpr 2.5 granted", req(regs={"ext": {"gdpr": 1}}, user={"ext": {"consent": GRANTED}}), PrivacyState.GDPR_CONSENT),
    ("gdpr 2.5 no string", req(regs={"ext": {"gdpr": 1}}, user={"ext": {}}), PrivacyState.GDPR_NO_CONSENT),
    ("gdpr purpose 4 missing", req(regs={"gdpr": 1}, user={"consent": NO_PURPOSE_4}), PrivacyState.GDPR_NO_CONSENT),
    ("gdpr other vendor", req(regs={"gdpr": 1}, user={"consent": OTHER_VENDOR}), PrivacyState.GDPR_NO_CONSENT),
    ("gdpr garbage string", req(regs={"gdpr": 1}, user={"consent": "not-a-tc-string"}), PrivacyState.GDPR_NO_CONSENT),
    ("gdpr 0 ignores string", req(regs={"gdpr": 0}, user={"consent": "x"}), PrivacyState.OPEN),
    ("gdpr flag as string", req(regs={"gdpr": "1"}), PrivacyState.GDPR_NO_CONSENT),
    ("us privacy opt-out 2.6", req(regs={"us_privacy": "1YYN"}), PrivacyState.US_PRIVACY_OPT_OUT),
    ("us privacy opt-out 2.5", req(regs={"ext": {"us_privacy": "1NYY"}}), PrivacyState.US_PRIVACY_OPT_OUT),
    ("us privacy lower case", req(regs={"us_privacy": "1yyn"}), PrivacyState.US_PRIVACY_OPT_OUT),
    ("us privacy no opt-out", req(regs={"us_privacy": "1YNN"}), PrivacyState.OPEN),
    ("us privacy n/a", req(regs={"us_privacy": "1---"}), PrivacyState.OPEN),
    ("gpc", req(regs={"ext": {"gpc": 1}}), PrivacyState.GPC),
    ("gpc string", req(regs={"ext": {"gpc": "1"}}), PrivacyState.GPC),
    ("lmt", req(device={"lmt": 1}), PrivacyState.LMT),
    ("lmt 0", req(device={"lmt": 0}), PrivacyState.OPEN),
    ("wrong shapes", req(regs="x", user=[1], device={"lmt": "yes"}), PrivacyState.OPEN),
    ("bool flags", req(regs={"coppa": True}), PrivacyState.COPPA),
]


@pytest.mark.parametrize(("request_", "state"), [(r, s) for _, r, s in CASES], ids=[c[0] for c in CASES])
def test_privacy_state(request_: dict[str, Any], state: PrivacyState) -> None:
    privacy = privacy_of(request_, vendor_id=VENDOR)
    assert privacy.state == state
    assert privacy.restricted == (state not in (PrivacyState.OPEN, PrivacyState.GDPR_CONSENT))


def test_every_reason_is_listed_and_the_label_is_the_first() -> None:
    privacy = privacy_of(req(regs={"coppa": 1, "gdpr": 1, "ext": {"gpc": 1}}, device={"lmt": 1}), vendor_id=VENDOR)
    assert privacy.state == PrivacyState.COPPA
    assert privacy.reasons == (PrivacyState.COPPA, PrivacyState.GDPR_NO_CONSENT, PrivacyState.GPC, PrivacyState.LMT)


def test_without_a_vendor_id_no_gdpr_request_is_consented() -> None:
    assert (
        privacy_of(req(regs={"gdpr": 1}, user={"consent": GRANTED}), vendor_id=0).state == PrivacyState.GDPR_NO_CONSENT
    )


def test_consent_with_other_restrictions_is_still_restricted() -> None:
    privacy = privacy_of(req(regs={"gdpr": 1, "us_privacy": "1YYN"}, user={"consent": GRANTED}), vendor_id=VENDOR)
    assert privacy.state == PrivacyState.US_PRIVACY_OPT_OUT
    assert privacy.reasons == (PrivacyState.US_PRIVACY_OPT_OUT,)
