"""`/openrtb2/bid`'s settings, read once from Django settings into plain data."""

from dataclasses import dataclass

from django.conf import settings

from bidding.config import BidderSettings, bidder_settings
from rtb.answer import Notices


@dataclass(frozen=True)
class RtbSettings:
    bidder: BidderSettings  # pricing (tiers, currency rates) and the built-in house, as the bidder role's
    notices: Notices
    default_tmax_ms: int = 120
    network_allowance_ms: int = 20
    deadline_cap_ms: int = 100
    profile_deadline_ms: int = 10
    ack_reserve_ms: int = 10
    seat: str = "helios"
    max_imps: int = 16
    max_body_bytes: int = 65_536
    vendor_id: int = 0

    def deadline_s(self, tmax_ms: int | None) -> float:
        """Seconds from receipt to the last moment the answer may leave (<= 0: no time at all)."""
        tmax = self.default_tmax_ms if tmax_ms is None else tmax_ms
        return min(tmax - self.network_allowance_ms, self.deadline_cap_ms) / 1000


def rtb_settings() -> RtbSettings:
    secret = settings.HELIOS_NOTICE_SECRET or settings.SECRET_KEY
    return RtbSettings(
        bidder=bidder_settings(),
        default_tmax_ms=settings.HELIOS_RTB_DEFAULT_TMAX_MS,
        network_allowance_ms=settings.HELIOS_RTB_NETWORK_ALLOWANCE_MS,
        deadline_cap_ms=settings.HELIOS_RTB_DEADLINE_CAP_MS,
        profile_deadline_ms=settings.HELIOS_RTB_PROFILE_DEADLINE_MS,
        ack_reserve_ms=settings.HELIOS_RTB_ACK_RESERVE_MS,
        seat=settings.HELIOS_RTB_SEAT,
        notices=Notices(settings.HELIOS_NOTICE_BASE_URL.rstrip("/"), secret.encode()),
        max_imps=settings.HELIOS_MAX_IMPS,
        max_body_bytes=settings.HELIOS_MAX_BODY_BYTES,
        vendor_id=settings.HELIOS_TCF_VENDOR_ID,
    )
