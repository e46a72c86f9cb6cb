"""`/openrtb2/bid` test support: posting, request bodies, a campaign made through the REST API, and
the fixtures of a platform whose handlers see the test's campaign writes."""

import http.client
import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from campaigns.changes import reset_signal_client
from tests.e2e.harness import Platform
from tests.e2e.test_pipeline import redis_url

SITE = "rtb-e2e.example"


def rtb_post(port: int, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/openrtb2/bid", json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else {}
    finally:
        conn.close()


def rtb_request(request_id: str, user: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    return {"id": request_id, "imp": [{"id": "1", "banner": {"w": 300, "h": 250}, "bidfloor": 0.5}],
            "site": {"domain": SITE}, "device": {"ip": "198.51.100.7", "ua": "Mozilla/5.0 (e2e)"},
            "user": user or {}, "tmax": 2500, **fields}  # fmt: skip


def bidding_campaigns(status: int, answer: dict[str, Any]) -> set[str]:
    return {bid["cid"] for seat in answer.get("seatbid", []) for bid in seat["bid"]} if status == 200 else set()


@pytest.fixture
def staff() -> APIClient:
    client = APIClient()
    client.force_authenticate(User.objects.create_user("ops", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def rtb_platform(topic_prefix, tmp_path, settings):
    settings.REDIS_URL = redis_url()  # the test's API writes signal the handlers' Redis
    settings.HELIOS_CAMPAIGN_SIGNAL = "redis"
    reset_signal_client()
    # Deadlines a loaded 2-core test machine meets: these tests are about what is bid and recorded,
    # not how fast (the benchmark measures that).
    env = {"HELIOS_RTB_PROFILE_DEADLINE_MS": "500", "HELIOS_RTB_DEADLINE_CAP_MS": "2000"}
    with Platform(tmp_path, topic_prefix, redis_url(), **env) as pf:
        pf.seed_profiles()
        yield pf
    reset_signal_client()


def create_campaign(staff: APIClient, **fields: Any) -> int:
    advertiser = staff.post("/api/advertisers/", {"name": "Pause Co", "adomain": "pause.example"}, format="json")
    assert advertiser.status_code == 201, advertiser.json()
    campaign = staff.post("/api/campaigns/", {"advertiser": advertiser.json()["id"], "name": "Pausable",
                                              "status": "active", "strategy": "fixed", "fixed_cpm": 4.0,
                                              "site_domains_include": [SITE], **fields}, format="json")  # fmt: skip
    assert campaign.status_code == 201, campaign.json()
    campaign_id = int(campaign.json()["id"])
    creative = staff.post("/api/creatives/", {"campaign": campaign_id, "crid": f"pause-{campaign_id}", "media": "banner",
                                              "w": 300, "h": 250, "image_url": "https://cdn.pause.example/a.png",
                                              "landing_url": "https://pause.example/"}, format="json")  # fmt: skip
    assert creative.status_code == 201, creative.json()
    return campaign_id
