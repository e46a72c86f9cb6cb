"""Outcomes in the Django admin: read-only (the outcomes role is the only writer)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from outcomes.models import AuctionOutcome, OutcomeDailyRollup


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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
    ]
    list_filter = ["win_status", "enriched", "currency", "loss_reason", "timestamp"]
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
