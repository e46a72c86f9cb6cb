"""The admin shows outcomes and lets nobody change them."""

import pytest
from django.test import Client

from outcomes.models import AuctionOutcome
from outcomes.tests.factories import AuctionOutcomeFactory

pytestmark = pytest.mark.django_db


def test_outcomes_are_listed_searchable_and_read_only(admin_client: Client) -> None:
    AuctionOutcomeFactory(bid_id="req-findme", user_id="user-042", site_domain="shop.example")
    AuctionOutcomeFactory(won=False)

    page = admin_client.get("/admin/outcomes/auctionoutcome/?q=req-findme")
    assert page.status_code == 200
    assert b"req-findme" in page.content
    assert (
        admin_client.get("/admin/outcomes/auctionoutcome/?win_status__exact=0&timestamp__year=2026").status_code == 200
    )

    outcome = AuctionOutcome.objects.get(bid_id="req-findme")
    detail = admin_client.get(f"/admin/outcomes/auctionoutcome/{outcome.pk}/change/")
    assert detail.status_code == 200
    assert b"shop.example" in detail.content
    assert b'name="_save"' not in detail.content
    assert admin_client.get("/admin/outcomes/auctionoutcome/add/").status_code == 403
    assert admin_client.post(f"/admin/outcomes/auctionoutcome/{outcome.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuctionOutcome.objects.count() == 2
    assert admin_client.get("/admin/outcomes/outcomedailyrollup/").status_code == 200
