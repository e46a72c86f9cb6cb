"""Advertisers, their campaigns and creatives (SPEC §13). Money in integer micros of USD.

Write through `campaigns.services` (it validates, saves and signals the running bid paths);
`clean()` holds the cross-field rules so that the admin's forms check the same ones.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from campaigns.money import MicrosField
from campaigns.validation import campaign_errors, creative_errors


class Advertiser(models.Model):
    name = models.CharField(max_length=200, unique=True)
    adomain = models.CharField(
        max_length=253, help_text="The advertiser's domain, sent as the bid's adomain (e.g. ford.com)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Status(models.TextChoices):
    ACTIVE = "active"
    PAUSED = "paused"


class Campaign(models.Model):
    class Pacing(models.TextChoices):
        ASAP = "asap"
        EVEN = "even"

    class Strategy(models.TextChoices):
        FIXED = "fixed", "fixed CPM"
        INTEREST_TIERS = "interest_tiers", "interest tiers x multiplier"

    key = models.SlugField(
        max_length=64, unique=True, null=True, blank=True, help_text="Stable handle of a built-in campaign (house)."
    )
    advertiser = models.ForeignKey(Advertiser, on_delete=models.PROTECT, related_name="campaigns")
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PAUSED)
    start_at = models.DateTimeField(null=True, blank=True, help_text="UTC; empty: already started.")
    end_at = models.DateTimeField(null=True, blank=True, help_text="UTC; empty: no end.")
    total_budget_micros = MicrosField(null=True, blank=True, help_text="USD; empty: no limit.")
    daily_budget_micros = MicrosField(null=True, blank=True, help_text="USD per UTC day; empty: no limit.")
    pacing = models.CharField(max_length=8, choices=Pacing.choices, default=Pacing.ASAP)
    strategy = models.CharField(max_length=16, choices=Strategy.choices, default=Strategy.FIXED)
    fixed_cpm_micros = MicrosField(null=True, blank=True, help_text="USD CPM of the fixed strategy.")
    tier_multiplier = models.DecimalField(
        max_digits=6, decimal_places=3, default=1, help_text="Times the interest tiers' CPM (interest_tiers strategy)."
    )
    max_cpm_micros = MicrosField(null=True, blank=True, help_text="USD; no bid above it. Empty: no cap.")
    cat = models.JSONField(default=list, blank=True, help_text="IAB content categories of the ads, e.g. IAB2-10.")
    site_domains_include = models.JSONField(default=list, blank=True)
    site_domains_exclude = models.JSONField(default=list, blank=True)
    app_bundles_include = models.JSONField(default=list, blank=True)
    app_bundles_exclude = models.JSONField(default=list, blank=True)
    interest_categories = models.JSONField(default=list, blank=True, help_text="User interests; empty: anyone.")
    min_interest_score = models.FloatField(default=0.0, help_text="The user's score in one of them, at least.")
    countries = models.JSONField(default=list, blank=True, help_text="ISO 3166-1 alpha-3 (device.geo.country).")
    device_types = models.JSONField(default=list, blank=True, help_text="OpenRTB device types 1-8.")
    hours_utc = models.JSONField(default=list, blank=True, help_text="Hours of the UTC day 0-23; empty: all.")
    frequency_cap = models.PositiveIntegerField(null=True, blank=True, help_text="Billed impressions per user...")
    frequency_window_s = models.PositiveIntegerField(null=True, blank=True, help_text="...per this many seconds.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        values: dict[str, Any] = {f.attname: getattr(self, f.attname) for f in self._meta.concrete_fields}
        errors = campaign_errors(values)
        if errors:
            raise ValidationError(errors)


class Creative(models.Model):
    class Media(models.TextChoices):
        BANNER = "banner"
        VIDEO = "video"
        AUDIO = "audio"
        NATIVE = "native"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="creatives")
    crid = models.CharField(max_length=64, unique=True, help_text="Creative id sent to exchanges (crid).")
    title = models.CharField(max_length=200, blank=True)
    media = models.CharField(max_length=8, choices=Media.choices, default=Media.BANNER)
    w = models.PositiveIntegerField(null=True, blank=True)
    h = models.PositiveIntegerField(null=True, blank=True)
    markup = models.TextField(blank=True, help_text="adm template (HTML, VAST or native JSON); or image + landing.")
    image_url = models.URLField(max_length=500, blank=True)
    landing_url = models.URLField(max_length=500, blank=True)
    interest_category = models.CharField(
        max_length=64, blank=True, help_text="Served when the user's winning interest is this; empty: any user."
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.crid

    def clean(self) -> None:
        values: dict[str, Any] = {f.attname: getattr(self, f.attname) for f in self._meta.concrete_fields}
        errors = creative_errors(values)
        if errors:
            raise ValidationError(errors)
