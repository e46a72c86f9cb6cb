"""Reads: the API's filtered lists and the campaign index's load (SPEC §13)."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import django_filters
from django import forms
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from campaigns.index import CampaignIndex, CampaignSpec, CreativeSpec, build_index
from campaigns.models import Advertiser, Campaign, Creative, Status


class FilterError(Exception):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


MAX_FILTER_CHARS = 200
MAX_ID = 2**63 - 1  # bigint


class IdFilter(django_filters.NumberFilter):
    """An id: a whole number 1..2^63-1 (an unknown one matches nothing)."""

    field_class = forms.IntegerField

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)


def _text(**kwargs: Any) -> django_filters.CharFilter:
    return django_filters.CharFilter(max_length=MAX_FILTER_CHARS, **kwargs)


class AdvertiserFilter(django_filters.FilterSet):
    search = _text(method="_search", help_text="Name or adomain contains.")
    adomain = _text(help_text="Exactly this adomain.")

    class Meta:
        model = Advertiser
        fields = ["adomain"]

    def _search(self, queryset: QuerySet[Advertiser], name: str, value: str) -> QuerySet[Advertiser]:
        return queryset.filter(Q(name__icontains=value) | Q(adomain__icontains=value))


class CampaignFilter(django_filters.FilterSet):
    search = _text(field_name="name", lookup_expr="icontains", help_text="Name contains.")
    key = _text(help_text="Exactly this key (e.g. house).")
    advertiser = IdFilter(field_name="advertiser_id", help_text="The advertiser's id.")

    class Meta:
        model = Campaign
        fields = ["advertiser", "status", "pacing", "strategy", "key"]


class CreativeFilter(django_filters.FilterSet):
    search = _text(method="_search", help_text="crid or title contains.")
    crid = _text(help_text="Exactly this crid.")
    campaign = IdFilter(field_name="campaign_id", help_text="The campaign's id.")

    class Meta:
        model = Creative
        fields = ["campaign", "media", "status", "crid"]

    def _search(self, queryset: QuerySet[Creative], name: str, value: str) -> QuerySet[Creative]:
        return queryset.filter(Q(crid__icontains=value) | Q(title__icontains=value))


def _filtered(
    filterset: type[django_filters.FilterSet], params: Mapping[str, Any], queryset: QuerySet[Any]
) -> QuerySet[Any]:
    bound = filterset(data=params, queryset=queryset)
    if not bound.is_valid():
        raise FilterError({field: [str(m) for m in messages] for field, messages in bound.errors.items()})
    return bound.qs


def advertiser_list(*, filters: Mapping[str, Any] | None = None) -> QuerySet[Advertiser]:
    return _filtered(AdvertiserFilter, filters or {}, Advertiser.objects.order_by("id"))


def campaign_list(*, filters: Mapping[str, Any] | None = None) -> QuerySet[Campaign]:
    return _filtered(CampaignFilter, filters or {}, Campaign.objects.select_related("advertiser").order_by("id"))


def creative_list(*, filters: Mapping[str, Any] | None = None) -> QuerySet[Creative]:
    return _filtered(CreativeFilter, filters or {}, Creative.objects.order_by("id"))


def _creative_spec(creative: Creative) -> CreativeSpec:
    return CreativeSpec(
        id=creative.id,
        campaign_id=creative.campaign_id,
        crid=creative.crid,
        media=creative.media,
        w=creative.w,
        h=creative.h,
        title=creative.title,
        markup=creative.markup,
        image_url=creative.image_url,
        landing_url=creative.landing_url,
        interest_category=creative.interest_category or None,
    )


def _campaign_spec(campaign: Campaign) -> CampaignSpec:
    return CampaignSpec(
        id=campaign.id,
        key=campaign.key,
        name=campaign.name,
        advertiser_id=campaign.advertiser_id,
        adomain=campaign.advertiser.adomain,
        start_at=campaign.start_at,
        end_at=campaign.end_at,
        total_budget_micros=campaign.total_budget_micros,
        daily_budget_micros=campaign.daily_budget_micros,
        pacing=campaign.pacing,
        strategy=campaign.strategy,
        fixed_cpm_micros=campaign.fixed_cpm_micros,
        tier_multiplier=float(campaign.tier_multiplier),
        max_cpm_micros=campaign.max_cpm_micros,
        cat=tuple(campaign.cat),
        site_domains_include=frozenset(campaign.site_domains_include),
        site_domains_exclude=frozenset(campaign.site_domains_exclude),
        app_bundles_include=frozenset(campaign.app_bundles_include),
        app_bundles_exclude=frozenset(campaign.app_bundles_exclude),
        interest_categories=frozenset(campaign.interest_categories),
        min_interest_score=campaign.min_interest_score,
        countries=frozenset(campaign.countries),
        device_types=frozenset(campaign.device_types),
        hours_utc=frozenset(campaign.hours_utc),
        frequency_cap=campaign.frequency_cap,
        frequency_window_s=campaign.frequency_window_s,
        creatives=tuple(_creative_spec(c) for c in campaign.creatives.all()),
    )


def campaign_index_load(*, version: int | None, now: datetime | None = None) -> CampaignIndex:
    """The index of campaigns that are active, not ended at `now`, and have an active creative.

    Two queries (campaigns with advertisers, then their active creatives). Campaigns that start
    later are included: `CampaignSpec.runs_at` tells, so a start needs no reload.
    """
    now = now or timezone.now()
    active_creatives = Prefetch("creatives", queryset=Creative.objects.filter(status=Status.ACTIVE).order_by("id"))
    campaigns = (
        Campaign.objects.filter(status=Status.ACTIVE, creatives__status=Status.ACTIVE)
        .filter(Q(end_at__isnull=True) | Q(end_at__gt=now))
        .select_related("advertiser")
        .prefetch_related(active_creatives)
        .distinct()
        .order_by("id")
    )
    return build_index([_campaign_spec(c) for c in campaigns], version=version, loaded_at=now)
