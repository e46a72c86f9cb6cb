"""Outcomes in the Django admin: read-only (the outcomes role is the only writer)."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from campaigns.selectors import campaign_list
from outcomes.filters import SOURCES
from outcomes.models import AuctionOutcome, OutcomeDailyRollup, OutcomeRtbRollup


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SourceFilter(admin.SimpleListFilter):
    """The fixed list of sources (no DISTINCT over millions of rows to list them)."""

    title = "source"
    parameter_name = "source"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(source, source) for source in SOURCES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuctionOutcome]) -> QuerySet[AuctionOutcome]:
        return queryset.filter(source=self.value()) if self.value() else queryset


class CampaignFilter(admin.SimpleListFilter):
    """The campaigns by name (campaigns' selector), plus the built-in house fallback (id 0)."""

    title = "campaign"
    parameter_name = "campaign"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        campaigns = campaign_list().order_by("name").values_list("id", "name")
        return [("0", "house (built-in)"), *((str(pk), name) for pk, name in campaigns)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuctionOutcome]) -> QuerySet[AuctionOutcome]:
        value = self.value()
        return queryset.filter(campaign_id=int(value)) if value and value.isdigit() else queryset


@admin.register(AuctionOutcome)
class AuctionOutcomeAdmin(ReadOnlyAdmin):
    list_display = [
        "timestamp",
        "bid_id",
        "imp_id",
        "user_id",
        "site_domain",
        "win_status",
        "win_price",
        "bid_price",
        "currency",
        "enriched",
        "loss_reason",
        "source",
        "campaign_id",
        "nbr",
    ]
    list_filter = [
        "win_status",
        "enriched",
        "currency",
        "loss_reason",
        SourceFilter,
        CampaignFilter,
        "timestamp",
    ]
    search_fields = ["bid_id", "user_id", "site_domain"]
    date_hierarchy = "timestamp"
    ordering = ["-timestamp"]
    # COUNT(*) over millions of rows on every page load is the slow part of a big changelist.
    show_full_result_count = False


@admin.register(OutcomeDailyRollup)
class OutcomeDailyRollupAdmin(ReadOnlyAdmin):
    list_display = ["day", "total", "wins", "revenue", "bid_sum", "enriched_count"]
    date_hierarchy = "day"
    ordering = ["-day"]


@admin.register(OutcomeRtbRollup)
class OutcomeRtbRollupAdmin(ReadOnlyAdmin):
    list_display = ["day", "privacy", "nbr", "total", "bids"]
    list_filter = ["privacy"]
    date_hierarchy = "day"
    ordering = ["-day", "privacy", "nbr"]
