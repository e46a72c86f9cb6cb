"""Services on PostgreSQL: every write validates the whole row and, once committed, bumps the signal."""

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from campaigns import services
from campaigns.changes import index_version
from campaigns.models import Advertiser, Campaign, Creative, Status
from campaigns.selectors import campaign_index_load
from campaigns.tests.conftest import campaign_values

pytestmark = pytest.mark.django_db


@pytest.fixture
def advertiser() -> Advertiser:
    return services.advertiser_create(data={"name": "Volt Motors", "adomain": "voltmotors.example"})


def banner(campaign: Campaign, crid: str = "cr-1", **overrides: Any) -> Creative:
    data = {"campaign": campaign, "crid": crid, "media": "banner", "w": 300, "h": 250,
            "image_url": "https://cdn.example/a.png", "landing_url": "https://example.com/", **overrides}  # fmt: skip
    return services.creative_create(data=data)


def test_a_write_bumps_the_signal_only_once_committed(
    signal_key: str, advertiser: Advertiser, django_capture_on_commit_callbacks: Any
) -> None:
    before = index_version()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        campaign = services.campaign_create(data=campaign_values(advertiser=advertiser))
        assert index_version() == before  # not before the commit
    assert len(callbacks) == 1
    assert index_version() == (before or 0) + 1
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_set_status(campaigns=[campaign], status=Status.PAUSED)
    assert index_version() == (before or 0) + 2


def test_a_rolled_back_write_signals_nothing(
    signal_key: str, advertiser: Advertiser, django_capture_on_commit_callbacks: Any
) -> None:
    def create_then_fail() -> None:
        with transaction.atomic():
            services.campaign_create(data=campaign_values(advertiser=advertiser))
            raise RuntimeError("abort")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        create_then_fail()
    assert callbacks == []
    assert not Campaign.objects.exists()


def test_invalid_rows_are_refused_with_every_reason(advertiser: Advertiser) -> None:
    with pytest.raises(ValidationError) as caught:
        services.campaign_create(
            data=campaign_values(advertiser=advertiser, daily_budget_micros=-1, cat=["IAB99"], status="running")
        )
    assert set(caught.value.message_dict) == {"daily_budget_micros", "cat", "status"}
    assert not Campaign.objects.exists()


def test_updates_are_validated_as_a_whole(advertiser: Advertiser) -> None:
    campaign = services.campaign_create(data=campaign_values(advertiser=advertiser))
    with pytest.raises(ValidationError) as caught:
        services.campaign_update(campaign=campaign, data={"total_budget_micros": 1_000_000})  # below the daily
    assert "daily_budget_micros" in caught.value.message_dict
    campaign.refresh_from_db()
    assert campaign.total_budget_micros == 1_000_000_000


def test_crid_is_unique(advertiser: Advertiser) -> None:
    campaign = services.campaign_create(data=campaign_values(advertiser=advertiser))
    banner(campaign)
    with pytest.raises(ValidationError) as caught:
        banner(campaign)
    assert "crid" in caught.value.message_dict


def test_an_advertiser_with_campaigns_cannot_be_deleted(advertiser: Advertiser) -> None:
    services.campaign_create(data=campaign_values(advertiser=advertiser))
    with pytest.raises(ProtectedError):
        services.advertiser_delete(advertiser=advertiser)


def test_the_index_holds_active_running_campaigns_with_active_creatives(advertiser: Advertiser) -> None:
    now = timezone.now()
    live = services.campaign_create(data=campaign_values(advertiser=advertiser, name="live", cat=["IAB2"]))
    banner(live, "cr-live")
    banner(live, "cr-live-paused", status="paused")
    later = services.campaign_create(
        data=campaign_values(advertiser=advertiser, name="later", start_at=now + timedelta(days=1))
    )
    banner(later, "cr-later")
    paused = services.campaign_create(data=campaign_values(advertiser=advertiser, name="paused", status="paused"))
    banner(paused, "cr-paused")
    ended = services.campaign_create(
        data=campaign_values(
            advertiser=advertiser, name="ended", start_at=now - timedelta(days=2), end_at=now - timedelta(days=1)
        )
    )
    banner(ended, "cr-ended")
    services.campaign_create(data=campaign_values(advertiser=advertiser, name="no creative"))

    index = campaign_index_load(version=5, now=now)
    assert [c.name for c in index.campaigns] == ["live", "later"]  # a later start is the decision's to check
    spec = index.by_id[live.id]
    assert [c.crid for c in spec.creatives] == ["cr-live"]
    assert spec.adomain == "voltmotors.example"
    assert spec.cat == ("IAB2",)
    assert spec.fixed_cpm_micros == 2_500_000
    assert spec.runs_at(now) and not index.by_id[later.id].runs_at(now)
    assert index.version == 5
