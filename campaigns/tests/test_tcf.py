"""The TCF v2 decoder against published example strings, and its encoder by round trip.

Expected values come from the sources that publish the strings, not from this decoder:
- the IAB Tech Lab's "Consent string and vendor list formats v2" (its URL-macro example), with
  the fields an independent decoder (mobilefuse/php-tcf2-decoder's README) prints for it;
- the assertions of the IAB Consent-String-SDK-Java's v2 parser test (`ConsentStringParserV2Test`);
- the documented example of the CPAN GDPR::IAB::TCFv2 parser (also Adobe's Web SDK docs' string).
"""

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from campaigns.tcf import TCStringError, decode_tc_string, encode_tc_string

IAB_SPEC_EXAMPLE = (
    "COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAEEUACCKAAA.IFoEUQQgAIQwgIwQABAEAAAAOIAACAIAAAAQAIAgEAACEAAAAAgAQBAAAAAAAGBAA"
    "gAAAAAAAFAAECAAAgAAQARAEQAAAAAJAAIAAgAAAYQEAAAQmAgBC3ZAYzUw"
)
IAB_JAVA_SDK_EXAMPLE = "COvf4CzOvf4CzEqAiYENAPC4AAgAABIAAIAAASgAAQAAAFkQAQFkAAA"
CPAN_EXAMPLE = "CLcVDxRMWfGmWAVAHCENAXCkAKDAADnAABRgA5mdfCKZuYJez-NQm0TBMYA4oCAAGQYIAAAAAAEAIAEgAA.argAC0gAAAAAAAAAAAA"


def test_iab_spec_example() -> None:
    tc = decode_tc_string(IAB_SPEC_EXAMPLE)
    assert tc.version == 2
    assert tc.created == tc.last_updated == datetime.fromtimestamp(1582243059.3, tz=UTC)
    assert (tc.cmp_id, tc.cmp_version, tc.consent_screen) == (27, 0, 0)
    assert tc.consent_language == "EN"
    assert (tc.vendor_list_version, tc.policy_version) == (15, 2)
    assert not tc.is_service_specific and not tc.use_non_standard_texts
    assert tc.special_feature_optins == frozenset()
    assert tc.purpose_consents == {1, 2, 3}


def test_iab_java_sdk_example() -> None:
    tc = decode_tc_string(IAB_JAVA_SDK_EXAMPLE)
    assert (tc.cmp_id, tc.cmp_version, tc.consent_screen, tc.vendor_list_version) == (298, 34, 24, 15)
    assert (tc.consent_language, tc.publisher_cc) == ("EN", "AA")
    assert 18 in tc.vendor_consents and 12 not in tc.vendor_consents
    assert 5 in tc.purpose_consents and 4 not in tc.purpose_consents and 1 not in tc.purpose_consents
    assert 712 in tc.vendor_legitimate_interests and 714 not in tc.vendor_legitimate_interests
    assert {4, 7} <= tc.purpose_legitimate_interests


def test_cpan_example() -> None:
    tc = decode_tc_string(CPAN_EXAMPLE)
    assert int(tc.created.timestamp()) == 1228644257
    assert int(tc.last_updated.timestamp()) == 1326215413
    assert (tc.cmp_id, tc.cmp_version, tc.consent_screen, tc.consent_language) == (21, 7, 2, "EN")
    assert tc.vendor_list_version == 23
    assert {1, 3, 9, 10} <= tc.purpose_consents


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA", "!!!!", "CO", "COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAEEU"],
    ids=["empty", "blank", "tcf-v1", "not-base64", "too-short", "cut-in-vendors"],
)
def test_undecodable_strings_raise(bad: str) -> None:
    with pytest.raises(TCStringError):
        decode_tc_string(bad)


@given(
    vendors=st.sets(st.integers(min_value=1, max_value=1500), max_size=40),
    purposes=st.sets(st.integers(min_value=1, max_value=24)),
)
def test_encode_decode_round_trip(vendors: set[int], purposes: set[int]) -> None:
    created = datetime(2026, 12, 4, 12, 30, tzinfo=UTC)
    tc = decode_tc_string(encode_tc_string(vendor_consents=vendors, purpose_consents=purposes, created=created))
    assert tc.vendor_consents == vendors
    assert tc.purpose_consents == purposes
    assert tc.created == created


def test_consents_to_needs_the_vendor_and_every_purpose() -> None:
    created = datetime(2026, 12, 4, tzinfo=UTC)
    tc = decode_tc_string(encode_tc_string(vendor_consents={42}, purpose_consents={1, 3, 4}, created=created))
    assert tc.consents_to(42, (1, 3, 4))
    assert not tc.consents_to(43, (1, 3, 4))
    partial = decode_tc_string(encode_tc_string(vendor_consents={42}, purpose_consents={1, 3}, created=created))
    assert not partial.consents_to(42, (1, 3, 4))


def test_publisher_restrictions_can_take_consent_away() -> None:
    from dataclasses import replace

    from campaigns.tcf import IdSet, PublisherRestriction

    created = datetime(2026, 12, 4, tzinfo=UTC)
    tc = decode_tc_string(encode_tc_string(vendor_consents={42}, purpose_consents={1, 3, 4}, created=created))
    for restriction_type, still_consented in [(0, False), (1, True), (2, False)]:
        restricted = replace(tc, publisher_restrictions=(PublisherRestriction(3, restriction_type, IdSet.of({42})),))
        assert restricted.consents_to(42, (1, 3, 4)) is still_consented
    elsewhere = replace(tc, publisher_restrictions=(PublisherRestriction(3, 0, IdSet.of({41})),))
    assert elsewhere.consents_to(42, (1, 3, 4))


def _range_string(entries: list[tuple[int, int]]) -> str:
    """A core segment whose vendor consents are range-encoded `entries` (for the range decoder)."""
    created = datetime(2026, 12, 4, tzinfo=UTC)
    bits = "".join(format(v, f"0{w}b") for v, w in _header_fields(created))
    bits += format(max(end for _, end in entries), "016b") + "1" + format(len(entries), "012b")
    for start, end in entries:
        bits += "1" + format(start, "016b") + format(end, "016b")
    bits += format(0, "016b") + "0" + format(0, "012b")
    bits += "0" * (-len(bits) % 8)
    return base64.urlsafe_b64encode(int(bits, 2).to_bytes(len(bits) // 8, "big")).decode().rstrip("=")


def _header_fields(created: datetime) -> list[tuple[int, int]]:
    ds = round(created.timestamp() * 10)
    return [(2, 6), (ds, 36), (ds, 36), (1, 12), (1, 12), (0, 6), (4, 6), (13, 6), (1, 12), (4, 6), (0, 2),
            (0, 12), (1 << 23, 24), (0, 24), (0, 1), (0, 6), (0, 6)]  # fmt: skip


def test_range_encoded_vendors() -> None:
    tc = decode_tc_string(_range_string([(3, 5), (10, 10), (4, 8)]))
    assert tc.vendor_consents == {3, 4, 5, 6, 7, 8, 10}
    assert tc.purpose_consents == {1}


def test_overlapping_full_ranges_cost_one_expansion() -> None:
    # 4095 copies of 1..65535: expanding each into a set would take minutes; as masks it is instant.
    tc = decode_tc_string(_range_string([(1, 65535)] * 4095))
    assert len(tc.vendor_consents) == 65535


def test_id_sets_behave_as_sets() -> None:
    from campaigns.tcf import IdSet

    ids = IdSet.of({1, 5, 65535})
    assert 5 in ids and 2 not in ids and 0 not in ids and -1 not in ids and "5" not in ids
    assert sorted(ids) == [1, 5, 65535] and len(ids) == 3
    assert ids == {1, 5, 65535} and ids == frozenset({1, 5, 65535}) and ids != {1}
    assert IdSet() == set() and len(IdSet()) == 0
