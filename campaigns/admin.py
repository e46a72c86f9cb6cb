"""Campaigns in the Django admin (SPEC §13): list filters, search, creatives inline, status actions.

Every save goes through `campaigns.services`, so the admin's changes reach the running bid paths
like the API's. Money shows and is typed as USD; list fields (targeting) as comma-separated text.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from campaigns import services
from campaigns.models import Advertiser, Campaign, Creative, Status
from campaigns.money import micros_to_usd


class CommaListField(forms.CharField):
    """A JSON list edited as comma- (or newline-) separated text; `integers` for number lists."""

    def __init__(self, *, integers: bool = False, **kwargs: Any) -> None:
        self.integers = integers
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"size": 80}))
        kwargs.pop("encoder", None)
        kwargs.pop("decoder", None)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(map(str, value)) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[Any]:  # type: ignore[override]
        if isinstance(value, list):
            return value
        items = [part.strip() for part in str(value or "").replace("\n", ",").split(",") if part.strip()]
        if not self.integers:
            return items
        try:
            return [int(item) for item in items]
        except ValueError as exc:
            raise forms.ValidationError("whole numbers separated by commas") from exc

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.to_python(data) != (initial or [])
        except forms.ValidationError:
            return True


LIST_FIELDS = ["cat", "site_domains_include", "site_domains_exclude", "app_bundles_include", "app_bundles_exclude",
               "interest_categories", "countries"]  # fmt: skip
INT_LIST_FIELDS = ["device_types", "hours_utc"]


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        exclude: list[str] = []
        field_classes = {**dict.fromkeys(LIST_FIELDS, CommaListField), **dict.fromkeys(INT_LIST_FIELDS, CommaListField)}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in INT_LIST_FIELDS:
            self.fields[name].integers = True  # type: ignore[attr-defined]


class CreativeInline(admin.StackedInline):
    model = Creative
    extra = 0
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fields = [
        ("crid", "status", "media"),
        ("w", "h", "interest_category"),
        "title",
        "image_url",
        "landing_url",
        "markup",
    ]


@admin.register(Advertiser)
class AdvertiserAdmin(admin.ModelAdmin):
    list_display = ["name", "adomain", "created_at"]
    search_fields = ["name", "adomain"]

    def save_model(self, request: HttpRequest, obj: Advertiser, form: Any, change: bool) -> None:
        services.advertiser_save(advertiser=obj)

    def delete_model(self, request: HttpRequest, obj: Advertiser) -> None:
        services.advertiser_delete(advertiser=obj)


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    inlines = [CreativeInline]
    list_display = [
        "name",
        "advertiser",
        "status",
        "strategy",
        "pacing",
        "daily_budget",
        "total_budget",
        "start_at",
        "end_at",
    ]
    list_filter = ["status", "strategy", "pacing", "advertiser", "start_at", "end_at"]
    search_fields = ["name", "key", "advertiser__name", "advertiser__adomain", "creatives__crid"]
    list_select_related = ["advertiser"]
    actions = ["activate", "pause"]
    fieldsets = [
        (None, {"fields": ["advertiser", "name", "key", "status", ("start_at", "end_at")]}),
        ("Money (USD)", {"fields": [("total_budget_micros", "daily_budget_micros"), "pacing",
                                    "strategy", ("fixed_cpm_micros", "tier_multiplier", "max_cpm_micros"), "cat"]}),
        ("Targeting", {"fields": ["site_domains_include", "site_domains_exclude", "app_bundles_include",
                                  "app_bundles_exclude", ("interest_categories", "min_interest_score"),
                                  "countries", "device_types", "hours_utc", ("frequency_cap", "frequency_window_s")]}),
    ]  # fmt: skip

    @admin.display(description="daily budget (USD)", ordering="daily_budget_micros")
    def daily_budget(self, obj: Campaign) -> Any:
        return "-" if obj.daily_budget_micros is None else micros_to_usd(obj.daily_budget_micros)

    @admin.display(description="total budget (USD)", ordering="total_budget_micros")
    def total_budget(self, obj: Campaign) -> Any:
        return "-" if obj.total_budget_micros is None else micros_to_usd(obj.total_budget_micros)

    @admin.action(description="Activate the selected campaigns", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        changed = services.campaign_set_status(campaigns=queryset, status=Status.ACTIVE)
        self.message_user(request, f"{changed} campaign(s) activated.", messages.SUCCESS)

    @admin.action(description="Pause the selected campaigns", permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        changed = services.campaign_set_status(campaigns=queryset, status=Status.PAUSED)
        self.message_user(request, f"{changed} campaign(s) paused.", messages.SUCCESS)

    def save_model(self, request: HttpRequest, obj: Campaign, form: Any, change: bool) -> None:
        services.campaign_save(campaign=obj)

    def delete_model(self, request: HttpRequest, obj: Campaign) -> None:
        services.campaign_delete(campaign=obj)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        instances = formset.save(commit=False)
        for creative in formset.deleted_objects:
            services.creative_delete(creative=creative)
        for creative in instances:
            services.creative_save(creative=creative)


@admin.register(Creative)
class CreativeAdmin(admin.ModelAdmin):
    list_display = ["crid", "campaign", "media", "w", "h", "interest_category", "status"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_filter = ["status", "media", "campaign__advertiser"]
    search_fields = ["crid", "title", "campaign__name"]
    list_select_related = ["campaign"]
    actions = ["activate", "pause"]

    @admin.action(description="Activate the selected creatives", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[Creative]) -> None:
        changed = services.creative_set_status(creatives=queryset, status=Status.ACTIVE)
        self.message_user(request, f"{changed} creative(s) activated.", messages.SUCCESS)

    @admin.action(description="Pause the selected creatives", permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Creative]) -> None:
        changed = services.creative_set_status(creatives=queryset, status=Status.PAUSED)
        self.message_user(request, f"{changed} creative(s) paused.", messages.SUCCESS)

    def save_model(self, request: HttpRequest, obj: Creative, form: Any, change: bool) -> None:
        services.creative_save(creative=obj)

    def delete_model(self, request: HttpRequest, obj: Creative) -> None:
        services.creative_delete(creative=obj)
