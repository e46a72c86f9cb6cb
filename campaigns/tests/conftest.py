"""Fixtures for the campaigns tests: a private change-signal key, API clients, a valid campaign."""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from campaigns.changes import reset_signal_client


@pytest.fixture
def signal_key(settings: Any) -> Iterator[str]:
    """The change counter under a key of this test's own, on the real Redis (REDIS_URL)."""
    settings.HELIOS_CAMPAIGN_SIGNAL = "redis"
    settings.HELIOS_CAMPAIGN_VERSION_KEY = f"test:campaigns:{uuid.uuid4().hex}"
    reset_signal_client()
    yield settings.HELIOS_CAMPAIGN_VERSION_KEY
    from campaigns.changes import signal_client

    signal_client().delete(settings.HELIOS_CAMPAIGN_VERSION_KEY)
    reset_signal_client()


@pytest.fixture(autouse=True)
def _fresh_signal_client() -> Iterator[None]:
    reset_signal_client()
    yield
    reset_signal_client()


def token_client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def reader(db: Any) -> APIClient:
    """Authenticated, no model permission: may read, may not write."""
    return token_client(User.objects.create_user("reader"))


@pytest.fixture
def editor(db: Any) -> APIClient:
    """A token user holding add/change/delete on the three models (not staff)."""
    user = User.objects.create_user("editor")
    codenames = [
        f"{op}_{model}" for op in ("add", "change", "delete") for model in ("advertiser", "campaign", "creative")
    ]
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="campaigns", codename__in=codenames))
    return token_client(user)


def campaign_values(**overrides: Any) -> dict[str, Any]:
    """A valid campaign (model field names, micros)."""
    values: dict[str, Any] = {
        "name": "Spring sale",
        "status": "active",
        "strategy": "fixed",
        "fixed_cpm_micros": 2_500_000,
        "total_budget_micros": 1_000_000_000,
        "daily_budget_micros": 50_000_000,
        "pacing": "even",
    }
    values.update(overrides)
    return values
