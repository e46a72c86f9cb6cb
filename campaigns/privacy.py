"""Whether a bid request may be personalised (SPEC §16), pure: an OpenRTB request dict in, a label out.

A request is *restricted* — no profile lookup, no frequency counting by user, no user id, IP or
user agent stored or logged; any bid is contextual — when any of these holds:

| label                | signal (OpenRTB 2.6 field; 2.5 `ext` location)                                 |
|----------------------|--------------------------------------------------------------------------------|
| `coppa`              | `regs.coppa` = 1                                                               |
| `gdpr_no_consent`    | `regs.gdpr` = 1 (`regs.ext.gdpr`) and no TCF v2 string (`user.consent`,        |
|                      | `user.ext.consent`) granting Helios's vendor id purposes 1, 3 and 4            |
| `us_privacy_opt_out` | `regs.us_privacy` (`regs.ext.us_privacy`) with `Y` as its third character      |
| `gpc`                | `regs.ext.gpc` = 1 (also `regs.gpc`)                                           |
| `lmt`                | `device.lmt` = 1                                                               |

Otherwise it is `gdpr_consent` (GDPR applies, consent given) or `open`. When several apply the
label is the first in the table; `reasons` lists them all. Flags are read leniently ("1" or 1 or
true), as exchanges send both; a field of the wrong shape counts as absent, except a GDPR consent
string that cannot be decoded, which counts as no consent.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from campaigns.tcf import TCStringError, decode_tc_string

REQUIRED_PURPOSES = (1, 3, 4)  # store/access on a device; create and use a personalised ads profile


class PrivacyState(StrEnum):
    OPEN = "open"
    GDPR_CONSENT = "gdpr_consent"
    COPPA = "coppa"
    GDPR_NO_CONSENT = "gdpr_no_consent"
    US_PRIVACY_OPT_OUT = "us_privacy_opt_out"
    GPC = "gpc"
    LMT = "lmt"


@dataclass(frozen=True)
class Privacy:
    state: PrivacyState
    reasons: tuple[PrivacyState, ...] = ()  # every restriction that applies, in the table's order

    @property
    def restricted(self) -> bool:
        return bool(self.reasons)


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _flag(value: Any) -> bool:
    return value is True or (not isinstance(value, bool) and value in (1, "1"))


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def gdpr_consented(consent: Any, *, vendor_id: int) -> bool:
    """The TCF v2 string grants `vendor_id` purposes 1, 3 and 4 (and no publisher restriction removes them)."""
    if vendor_id <= 0 or not isinstance(consent, str):
        return False
    try:
        return decode_tc_string(consent).consents_to(vendor_id, REQUIRED_PURPOSES)
    except TCStringError:
        return False


def privacy_of(request: Mapping[str, Any], *, vendor_id: int) -> Privacy:
    """The privacy state of an OpenRTB 2.5/2.6 BidRequest (a decoded JSON object)."""
    regs = _object(request.get("regs"))
    regs_ext = _object(regs.get("ext"))
    user = _object(request.get("user"))
    device = _object(request.get("device"))
    gdpr = _flag(_first(regs.get("gdpr"), regs_ext.get("gdpr")))
    consented = gdpr and gdpr_consented(_first(user.get("consent"), _object(user.get("ext")).get("consent")),
                                        vendor_id=vendor_id)  # fmt: skip
    us_privacy = _first(regs.get("us_privacy"), regs_ext.get("us_privacy"))
    signals = [
        (PrivacyState.COPPA, _flag(regs.get("coppa"))),
        (PrivacyState.GDPR_NO_CONSENT, gdpr and not consented),
        (PrivacyState.US_PRIVACY_OPT_OUT, isinstance(us_privacy, str) and us_privacy[2:3].upper() == "Y"),
        (PrivacyState.GPC, _flag(_first(regs_ext.get("gpc"), regs.get("gpc")))),
        (PrivacyState.LMT, _flag(device.get("lmt"))),
    ]
    reasons = tuple(state for state, applies in signals if applies)
    if reasons:
        return Privacy(state=reasons[0], reasons=reasons)
    return Privacy(state=PrivacyState.GDPR_CONSENT if consented else PrivacyState.OPEN)
