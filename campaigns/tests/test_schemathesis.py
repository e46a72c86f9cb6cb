"""Schemathesis against the campaigns operations of /api/schema/ (as outcomes/tests does for outcomes).

Reads: valid requests (positive) are accepted, schema-breaking ones (negative) are 4xx, and every
answer conforms. Writes, as a superuser: whatever is generated, no server error and every answer
documented (the cross-field rules cannot be said in the schema, so a schema-valid body may be 400).
"""

from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from campaigns.seed import seed_campaigns

pytestmark = pytest.mark.django_db(transaction=True)

MAX_EXAMPLES = 25
OPERATIONS = [
    "/api/advertisers/",
    "/api/advertisers/{id}/",
    "/api/campaigns/",
    "/api/campaigns/{id}/",
    "/api/creatives/",
    "/api/creatives/{id}/",
]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MODE_CHECKS = {GenerationMode.POSITIVE: positive_data_acceptance, GenerationMode.NEGATIVE: negative_data_rejection}


@pytest.fixture
def api_schema(settings: Any) -> Any:
    settings.HELIOS_PUBLIC_API = True
    settings.HELIOS_CAMPAIGN_SIGNAL = "fake"
    seed_campaigns(demo=True)
    return schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture
def superuser_token(db: Any) -> str:
    return Token.objects.create(user=User.objects.create_superuser("fuzzer")).key


def test_every_campaigns_operation_is_documented(api_schema: Any) -> None:
    documented = {result.ok().path for result in api_schema.get_all_operations()}
    assert set(OPERATIONS) <= documented


@pytest.mark.parametrize("mode", list(MODE_CHECKS), ids=str)
@pytest.mark.parametrize("path", OPERATIONS)
def test_reads_conform(api_schema: Any, path: str, mode: GenerationMode) -> None:
    checks = [*CHECKS, MODE_CHECKS[mode]]

    @given(case=api_schema[path]["GET"].as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: Any) -> None:
        case.call_and_validate(checks=checks)

    run()


WRITES = [
    (path, method) for path in OPERATIONS for method in (["POST"] if "{id}" not in path else ["PATCH", "PUT", "DELETE"])
]


@pytest.mark.parametrize(("path", "method"), WRITES)
def test_writes_never_fail_on_the_server(api_schema: Any, superuser_token: str, path: str, method: str) -> None:
    @given(case=api_schema[path][method].as_strategy(generation_mode=GenerationMode.POSITIVE))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: Any) -> None:
        case.call_and_validate(headers={"Authorization": f"Token {superuser_token}"}, checks=CHECKS)

    run()
