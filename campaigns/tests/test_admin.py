"""The campaigns admin: USD and comma-list fields, inline creatives, status actions, filters, search."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from campaigns import services
from campaigns.models import Advertiser, Campaign, Creative
from campaigns.tests.conftest import campaign_values

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(db: Any) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("boss"))
    return client


@pytest.fixture
def advertiser() -> Advertiser:
    return services.advertiser_create(data={"name": "Volt Motors", "adomain": "voltmotors.example"})


def form_data(advertiser: Advertiser, **overrides: Any) -> dict[str, Any]:
    data = {
        "advertiser": advertiser.id, "name": "EV launch", "key": "", "status": "active",
        "start_at_0": "", "start_at_1": "", "end_at_0": "", "end_at_1": "",
        "total_budget_micros": "20000", "daily_budget_micros": "800.50", "pacing": "even",
        "strategy": "interest_tiers", "fixed_cpm_micros": "", "tier_multiplier": "1.5", "max_cpm_micros": "3",
        "cat": "IAB2, IAB2-10", "site_domains_include": "", "site_domains_exclude": "forum.example",
        "app_bundles_include": "", "app_bundles_exclude": "", "interest_categories": "automotive",
        "min_interest_score": "0.5", "countries": "USA, GBR", "device_types": "2, 4", "hours_utc": "",
        "frequency_cap": "5", "frequency_window_s": "604800",
        "creatives-TOTAL_FORMS": "1", "creatives-INITIAL_FORMS": "0", "creatives-MIN_NUM_FORMS": "0",
        "creatives-MAX_NUM_FORMS": "1000",
        "creatives-0-crid": "volt-halfpage", "creatives-0-status": "active", "creatives-0-media": "banner",
        "creatives-0-w": "300", "creatives-0-h": "600", "creatives-0-interest_category": "", "creatives-0-title": "Volt",
        "creatives-0-image_url": "https://cdn.example/v.png", "creatives-0-landing_url": "https://voltmotors.example/",
        "creatives-0-markup": "",
    }  # fmt: skip
    data.update(overrides)
    return data


def test_add_a_campaign_with_an_inline_creative(admin_client_: Client, advertiser: Advertiser) -> None:
    response = admin_client_.post("/admin/campaigns/campaign/add/", form_data(advertiser))
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    campaign = Campaign.objects.get(name="EV launch")
    assert (campaign.total_budget_micros, campaign.daily_budget_micros, campaign.max_cpm_micros) == (
        20_000_000_000,
        800_500_000,
        3_000_000,
    )
    assert (
        campaign.cat == ["IAB2", "IAB2-10"] and campaign.countries == ["USA", "GBR"] and campaign.device_types == [2, 4]
    )
    assert list(campaign.creatives.values_list("crid", flat=True)) == ["volt-halfpage"]
    page = admin_client_.get(f"/admin/campaigns/campaign/{campaign.id}/change/").content.decode()
    assert 'value="800.50"' in page and 'value="IAB2, IAB2-10"' in page


def test_the_admin_shows_the_rules_errors(admin_client_: Client, advertiser: Advertiser) -> None:
    data = form_data(advertiser, daily_budget_micros="30000", cat="IAB2, IAB77", **{"creatives-0-w": "333"})
    response = admin_client_.post("/admin/campaigns/campaign/add/", data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "must not exceed the total budget" in page
    assert "IAB77" in page
    assert "IAB standard size" in page
    assert not Campaign.objects.exists() and not Creative.objects.exists()


def test_status_actions_filters_and_search(admin_client_: Client, advertiser: Advertiser) -> None:
    ids = [
        services.campaign_create(data=campaign_values(advertiser=advertiser, name=f"Campaign-{i}")).id for i in range(3)
    ]
    response = admin_client_.post(
        "/admin/campaigns/campaign/", {"action": "pause", "_selected_action": ids[:2]}, follow=True
    )
    assert "2 campaign(s) paused." in response.content.decode()
    assert list(Campaign.objects.filter(status="paused").order_by("id").values_list("id", flat=True)) == ids[:2]
    listing = admin_client_.get("/admin/campaigns/campaign/", {"status__exact": "paused"}).content.decode()
    assert "Campaign-0" in listing and "Campaign-2" not in listing  # names no CSRF token holds
    searched = admin_client_.get("/admin/campaigns/campaign/", {"q": "voltmotors"}).content.decode()
    assert "3 campaigns" in searched
    admin_client_.post("/admin/campaigns/campaign/", {"action": "activate", "_selected_action": ids})
    assert not Campaign.objects.filter(status="paused").exists()


def test_creative_and_advertiser_pages(admin_client_: Client, advertiser: Advertiser) -> None:
    assert admin_client_.get("/admin/campaigns/creative/").status_code == 200
    assert admin_client_.get("/admin/campaigns/advertiser/", {"q": "volt"}).status_code == 200
    assert admin_client_.get("/admin/campaigns/campaign/add/").status_code == 200
