"""A decoder for the core segment of IAB TCF v2 consent strings (TC strings), pure.

Written here because no maintained PyPI package does it (iab-tcf, the usual pick, last released
in 2022; see docs/design.md). It reads what Helios needs, the core segment of the IAB Tech Lab
"Consent string and vendor list formats v2" (the same layout for TCF 2.0 to 2.3): header,
purpose consents, vendor consents and legitimate interests (bit field or range encoding), and
publisher restrictions. Other segments (disclosed vendors, publisher TC) are skipped.
"""

import base64
import binascii
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

_ONE = re.compile("1")


class TCStringError(ValueError):
    """Not a decodable TCF v2 string."""


class IdSet:
    """Vendor ids (1..65535) as a bit mask: at most 8 KiB whatever the string encodes, so a flood
    of hostile strings cannot fill the decode cache with huge sets. Compares equal to a set."""

    __slots__ = ("mask",)

    def __init__(self, mask: int = 0) -> None:
        self.mask = mask

    @classmethod
    def of(cls, ids: Iterable[int]) -> "IdSet":
        return cls(sum(1 << i for i in set(ids)))

    def __contains__(self, vendor_id: object) -> bool:
        return isinstance(vendor_id, int) and vendor_id > 0 and (self.mask >> vendor_id) & 1 == 1

    def __iter__(self) -> Iterator[int]:
        return (m.start() for m in _ONE.finditer(bin(self.mask)[:1:-1]))  # bit i -> id i

    def __len__(self) -> int:
        return self.mask.bit_count()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, IdSet):
            return self.mask == other.mask
        if isinstance(other, set | frozenset):
            return set(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.mask)

    def __repr__(self) -> str:
        return f"IdSet({sorted(self)})"


@dataclass(frozen=True)
class PublisherRestriction:
    purpose_id: int
    restriction_type: int  # 0 not allowed, 1 require consent, 2 require legitimate interest
    vendor_ids: IdSet


@dataclass(frozen=True)
class TCString:
    version: int
    created: datetime
    last_updated: datetime
    cmp_id: int
    cmp_version: int
    consent_screen: int
    consent_language: str
    vendor_list_version: int
    policy_version: int
    is_service_specific: bool
    use_non_standard_texts: bool
    special_feature_optins: frozenset[int]
    purpose_consents: frozenset[int]
    purpose_legitimate_interests: frozenset[int]
    purpose_one_treatment: bool
    publisher_cc: str
    vendor_consents: IdSet
    vendor_legitimate_interests: IdSet
    publisher_restrictions: tuple[PublisherRestriction, ...]

    def consents_to(self, vendor_id: int, purposes: tuple[int, ...]) -> bool:
        """The vendor has consent for every one of `purposes`, and no publisher restriction takes it away."""
        if vendor_id not in self.vendor_consents or not set(purposes) <= self.purpose_consents:
            return False
        # Type 0 forbids the purpose for the vendor; type 2 demands legitimate interest instead of consent.
        return not any(
            r.purpose_id in purposes and r.restriction_type in (0, 2) and vendor_id in r.vendor_ids
            for r in self.publisher_restrictions
        )


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.length = len(data) * 8
        # A string of "0"/"1": reading a field is a slice, O(width), not a shift of the whole string.
        self.bits = format(int.from_bytes(data, "big"), f"0{self.length}b") if data else ""
        self.pos = 0

    def read(self, width: int) -> int:
        if self.pos + width > self.length:
            raise TCStringError(f"string ends at bit {self.length}, needed {self.pos + width}")
        self.pos += width
        return int(self.bits[self.pos - width : self.pos], 2)

    def flag(self) -> bool:
        return self.read(1) == 1

    def ids(self, count: int) -> frozenset[int]:
        """A bit field of `count` bits: ids from 1 whose bit is set."""
        if not count:
            return frozenset()
        bits = format(self.read(count), f"0{count}b")
        return frozenset(m.start() + 1 for m in _ONE.finditer(bits))  # loops over set bits only

    def letters(self) -> str:
        return chr(ord("A") + self.read(6)) + chr(ord("A") + self.read(6))

    def time(self) -> datetime:
        return datetime.fromtimestamp(self.read(36) / 10, tz=UTC)  # deciseconds since the epoch

    def ranges(self) -> IdSet:
        spans: list[tuple[int, int]] = []
        for _ in range(self.read(12)):
            is_range = self.flag()
            start = self.read(16)
            end = self.read(16) if is_range else start
            if end < start:
                raise TCStringError(f"vendor range {start}-{end} is backwards")
            spans.append((start, end))
        # Merged first: 4095 overlapping full ranges cost one big-int operation, not 4095.
        merged: list[list[int]] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        return IdSet(sum(((1 << (end - start + 1)) - 1) << start for start, end in merged))

    def vendors(self) -> IdSet:
        max_vendor_id = self.read(16)
        if self.flag():
            return self.ranges()
        if not max_vendor_id:
            return IdSet()
        # The field's first bit is vendor 1: reverse it so that bit i of the mask is vendor i.
        field = format(self.read(max_vendor_id), f"0{max_vendor_id}b")
        return IdSet(int(field[::-1], 2) << 1)


def _segment_bytes(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TCStringError("not base64url") from exc


@lru_cache(maxsize=1024)  # a user's string repeats on every request of theirs
def decode_tc_string(value: str) -> TCString:
    """Decodes the core segment (the part before the first "."). Raises TCStringError."""
    if not isinstance(value, str) or not value.strip():
        raise TCStringError("empty")
    bits = _Bits(_segment_bytes(value.strip().split(".", 1)[0]))
    version = bits.read(6)
    if version != 2:
        raise TCStringError(f"version {version}, not 2")
    header = {
        "created": bits.time(),
        "last_updated": bits.time(),
        "cmp_id": bits.read(12),
        "cmp_version": bits.read(12),
        "consent_screen": bits.read(6),
        "consent_language": bits.letters(),
        "vendor_list_version": bits.read(12),
        "policy_version": bits.read(6),
        "is_service_specific": bits.flag(),
        "use_non_standard_texts": bits.flag(),
        "special_feature_optins": bits.ids(12),
        "purpose_consents": bits.ids(24),
        "purpose_legitimate_interests": bits.ids(24),
        "purpose_one_treatment": bits.flag(),
        "publisher_cc": bits.letters(),
    }
    vendor_consents = bits.vendors()
    vendor_legitimate_interests = bits.vendors()
    # Some encoders end the core segment before the (empty) restrictions count: read as none.
    count = bits.read(12) if bits.length - bits.pos >= 12 else 0
    restrictions = tuple(
        PublisherRestriction(purpose_id=bits.read(6), restriction_type=bits.read(2), vendor_ids=bits.ranges())
        for _ in range(count)
    )
    return TCString(
        version=version,
        vendor_consents=vendor_consents,
        vendor_legitimate_interests=vendor_legitimate_interests,
        publisher_restrictions=restrictions,
        **header,  # type: ignore[arg-type]
    )


def encode_tc_string(
    *,
    vendor_consents: frozenset[int] | set[int],
    purpose_consents: frozenset[int] | set[int],
    created: datetime,
    cmp_id: int = 1,
    vendor_list_version: int = 1,
    policy_version: int = 4,
    consent_language: str = "EN",
    publisher_cc: str = "AA",
) -> str:
    """A minimal core-segment TC string (bit-field vendors, no restrictions), e.g. for the exchange
    simulator and tests. Its inverse is `decode_tc_string`."""
    fields: list[tuple[int, int]] = []

    def put(value: int, width: int) -> None:
        fields.append((value, width))

    def put_ids(ids: frozenset[int] | set[int], width: int) -> None:
        put(sum(1 << (width - i) for i in ids), width)

    deciseconds = round(created.timestamp() * 10)
    put(2, 6)
    put(deciseconds, 36)
    put(deciseconds, 36)
    put(cmp_id, 12)
    put(1, 12)  # cmp version
    put(0, 6)  # consent screen
    put(ord(consent_language[0]) - 65, 6)
    put(ord(consent_language[1]) - 65, 6)
    put(vendor_list_version, 12)
    put(policy_version, 6)
    put(0, 2)  # is service specific, use non-standard texts
    put(0, 12)  # special feature opt-ins
    put_ids(purpose_consents, 24)
    put(0, 24)  # purpose legitimate interests
    put(0, 1)  # purpose one treatment
    put(ord(publisher_cc[0]) - 65, 6)
    put(ord(publisher_cc[1]) - 65, 6)
    max_vendor = max(vendor_consents, default=0)
    put(max_vendor, 16)
    put(0, 1)  # bit field
    put_ids(vendor_consents, max_vendor)
    put(0, 16)  # no legitimate-interest vendors
    put(0, 1)
    put(0, 12)  # no publisher restrictions
    value, length = 0, 0
    for field, width in fields:
        value, length = (value << width) | field, length + width
    value <<= -length % 8
    data = value.to_bytes((length + 7) // 8, "big")
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")
