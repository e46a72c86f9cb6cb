"""`GET /api/campaigns/{id}/stats/` (SPEC §13, §14): one campaign's money and delivery today.

From the ledger (`state`: campaigns/ledger/store.py, built by HELIOS_NOTICE_LEDGER): today's spend,
open reservations, the `even` pacing line, late bills; null without a ledger or when it is down. From the
stored RTB outcomes of the campaign since the start of the ledger's day (HELIOS_LEDGER_DAY_S and
HELIOS_LEDGER_DAY_START_S; the UTC day by default): bids, wins (won or billed), win rate, billed
impressions, their spend and average clearing CPM. Budgets come from the campaign itself.
"""

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Avg, Count, Q, Sum
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.ledger.rules import day_of, day_started_at
from campaigns.ledger.store import ledger_settings
from campaigns.models import Campaign
from outcomes.apis import ApiView
from outcomes.models import AuctionOutcome
from outcomes.openapi import ERRORS, NOT_FOUND
from outcomes.rtb import RTB_SOURCE
from pipeline.loading import import_path

logger = logging.getLogger(__name__)

MICROS = Decimal(1_000_000)
SIX = Decimal("0.000001")


def _usd(micros: int | None) -> Decimal | None:
    return None if micros is None else (Decimal(micros) / MICROS).quantize(SIX)


def ledger_states(campaign_ids: Sequence[int], *, now: float) -> dict[int, Any]:
    """The ledger's `state` of each campaign, read over one ledger connection; {} without a ledger
    or when it cannot be reached."""
    if not settings.HELIOS_NOTICE_LEDGER or not campaign_ids:
        return {}
    factory = import_path(settings.HELIOS_NOTICE_LEDGER)

    async def read() -> dict[int, Any]:
        ledger = factory()
        try:
            if not hasattr(ledger, "state"):
                return {}
            return {campaign_id: await ledger.state(campaign_id, now=now) for campaign_id in campaign_ids}
        finally:
            close = getattr(ledger, "close", None)
            if close is not None:
                await close()

    try:
        return asyncio.run(read())
    except Exception as exc:  # noqa: BLE001 - a ledger that is down leaves its figures null, not a 500
        logger.warning("ledger unreachable for the stats of campaigns %s: %s", list(campaign_ids), exc)
        return {}


def campaigns_stats(campaigns: Sequence[Campaign], *, now: float) -> list[dict[str, Any]]:
    """Each campaign's stats (one ledger connection for all of them: the dashboard's panel)."""
    states = ledger_states([campaign.pk for campaign in campaigns], now=now)
    return [_stats(campaign, states.get(campaign.pk), now=now) for campaign in campaigns]


def campaign_stats(campaign: Campaign, *, now: float) -> dict[str, Any]:
    return campaigns_stats([campaign], now=now)[0]


def _stats(campaign: Campaign, state: Any | None, *, now: float) -> dict[str, Any]:
    day = ledger_settings()
    started = state.day_started_at if state is not None else day_started_at(day_of(now, day), day)
    day_start = datetime.fromtimestamp(started, UTC)
    rows = AuctionOutcome.objects.filter(source=RTB_SOURCE, campaign_id=campaign.pk, timestamp__gte=day_start)
    sums = rows.aggregate(
        bids=Count("id", filter=Q(bid_price__gt=0)),
        wins=Count("id", filter=Q(status__in=("won", "billed"))),
        billed=Count("id", filter=Q(status="billed")),
        clearing=Sum("clearing_cpm", filter=Q(status="billed")),
        average=Avg("clearing_cpm", filter=Q(status="billed")),
    )
    bids, wins = sums["bids"], sums["wins"]
    return {
        "campaign_id": campaign.pk,
        "name": campaign.name,
        "pacing": campaign.pacing,
        "total_budget": _usd(campaign.total_budget_micros),
        "daily_budget": _usd(campaign.daily_budget_micros),
        "day_started_at": day_start,
        "day_s": state.day_s if state is not None else day.day_s,  # not in the API's output; the dashboard's
        "spend_today": _usd(state.spent_today_micros) if state is not None else None,
        "spend_total": _usd(state.spent_micros) if state is not None else None,
        "reserved": _usd(state.reserved_micros) if state is not None else None,
        "open_reservations": state.open_reservations if state is not None else None,
        "late_bills": state.late_bills if state is not None else None,
        "pacing_target": _usd(state.pacing_target_micros) if state is not None else None,
        "pacing_actual": _usd(state.spent_today_micros) if state is not None else None,
        "bids": bids,
        "wins": wins,
        "win_rate": (Decimal(100 * wins) / bids).quantize(Decimal("0.01")) if bids else Decimal(0),
        "billed": sums["billed"],
        "billed_spend": ((sums["clearing"] or Decimal(0)) / 1000).quantize(SIX),
        "average_clearing_cpm": (sums["average"] or Decimal(0)).quantize(SIX),
    }


def _amount(help_text: str) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=24, decimal_places=6, coerce_to_string=False, allow_null=True, help_text=help_text
    )


class CampaignStatsApi(ApiView):
    """GET /api/campaigns/{id}/stats/: today's spend, reserved, budgets, pacing, bids, wins, billing."""

    class OutputSerializer(serializers.Serializer[Any]):
        campaign_id = serializers.IntegerField()
        name = serializers.CharField()
        pacing = serializers.CharField()
        total_budget = _amount("USD; null: no limit.")
        daily_budget = _amount("USD per day; null: no limit.")
        day_started_at = serializers.DateTimeField(help_text="Start of the ledger's current day.")
        spend_today = _amount("Ledger: spent today, USD (null without a ledger).")
        spend_total = _amount("Ledger: spent in all, USD.")
        reserved = _amount("Ledger: held by bids awaiting their notice, USD.")
        open_reservations = serializers.IntegerField(allow_null=True)
        late_bills = serializers.IntegerField(allow_null=True, help_text="Bills after their notice window.")
        pacing_target = _amount("Ledger: the even-pacing line now (daily budget x elapsed/day), USD.")
        pacing_actual = _amount("Ledger: spent today, USD (to compare with the target).")
        bids = serializers.IntegerField(help_text="RTB bids made today.")
        wins = serializers.IntegerField(help_text="Of which won (win or billing notice).")
        win_rate = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=False)
        billed = serializers.IntegerField(help_text="Billed impressions today.")
        billed_spend = _amount("Sum of their clearing CPM / 1000, USD (from the stored outcomes).")
        average_clearing_cpm = _amount("Over today's billed impressions.")

    @extend_schema(
        operation_id="campaigns_stats",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="The campaign's id.")],
        responses={200: OutputSerializer, 401: ERRORS[401], 403: ERRORS[403], **NOT_FOUND},
    )
    def get(self, request: Request, id: str) -> Response:  # noqa: A002 - the URL's name
        valid = id.isascii() and id.isdigit() and 0 < int(id) < 2**63
        campaign = Campaign.objects.filter(pk=int(id)).first() if valid else None
        if campaign is None:
            raise NotFound("No campaign with this id.")
        return Response(self.OutputSerializer(campaign_stats(campaign, now=time.time())).data)
