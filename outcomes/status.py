"""An RTB outcome's status (SPEC §14): from its bid's notices, and as the API shows it.

Stored: `no_bid`, `pending`, `won`, `billed`, `lost` (outcomes/notices.py sets them). Shown: a
pending row older than the notice window (HELIOS_LEDGER_NOTICE_WINDOW_S) is `expired`, decided
when read, so that no sweeper has to run and a late bill still turns it into `billed`.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from outcomes.models import AuctionOutcome

Resolved = tuple[str, Decimal | None, int | None]  # status, clearing CPM, loss code


def resolve(notices: Iterable[tuple[str, Decimal | None, int | None]]) -> Resolved:
    """A bid's status from its notices (kind, clearing CPM, loss code), in any order: billed if
    billed (money was spent, whatever else came), else lost, else won, else pending."""
    by_kind = {kind: (clearing, code) for kind, clearing, code in notices}
    if "bill" in by_kind:
        return "billed", by_kind["bill"][0], None
    if "loss" in by_kind:
        return "lost", None, by_kind["loss"][1]
    if "win" in by_kind:
        return "won", by_kind["win"][0], None
    return "pending", None, None


def expiry_cutoff(now: datetime | None = None) -> datetime:
    """Pending rows received before this are `expired`: no notice within the notice window."""
    return (now or timezone.now()) - timedelta(seconds=settings.HELIOS_LEDGER_NOTICE_WINDOW_S)


def status_q(status: str, *, now: datetime | None = None) -> Q:
    """The rows of a status as the API shows it (pending splits into pending and expired)."""
    cutoff = expiry_cutoff(now)
    if status == "expired":
        return Q(status="pending", timestamp__lt=cutoff)
    if status == "pending":
        return Q(status="pending", timestamp__gte=cutoff)
    return Q(status=status)


def shown_status(outcome: AuctionOutcome, *, cutoff: datetime) -> str | None:
    if outcome.status == "pending" and outcome.timestamp < cutoff:
        return "expired"
    return outcome.status
