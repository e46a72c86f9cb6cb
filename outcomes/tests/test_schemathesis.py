"""Schemathesis against /api/schema/: generated requests to every operation, valid ones
(positive) and ones that break the schema (negative), over the Django WSGI app with some outcomes
stored. No response may be a server error or disagree with the schema; valid requests are
accepted, invalid ones rejected (400).

Uses schemathesis' Python API (hypothesis strategies per operation) rather than its pytest plugin,
whose `parametrize` does not run on pytest 9."""

from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from outcomes.services import outcome_record_batch
from outcomes.tests.factories import outcome_message, outcome_rows

# Committed data: the WSGI handler closes the connection after each request (as it does in
# production), which a test wrapped in a transaction would not survive.
pytestmark = pytest.mark.django_db(transaction=True)

MAX_EXAMPLES = 30  # per operation and mode
OPERATIONS = [
    "/api/outcomes/",
    "/api/outcomes/{id}/",
    "/api/outcomes/stats/",
    "/api/outcomes/rtb-stats/",
    "/api/outcomes/notice-stats/",
    "/api/outcomes/winners/",
    "/api/outcomes/daily-stats/",
    "/api/outcomes/daily_stats/",
    "/api/campaigns/{id}/stats/",
]
# Fuzzed by campaigns/tests/test_schemathesis.py.
FUZZED_ELSEWHERE = {
    f"/api/{name}/{suffix}" for name in ("advertisers", "campaigns", "creatives") for suffix in ("", "{id}/")
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
MODE_CHECKS = {
    GenerationMode.POSITIVE: positive_data_acceptance,  # a valid request is not refused
    GenerationMode.NEGATIVE: negative_data_rejection,  # an invalid one is (4xx, not 2xx)
}


@pytest.fixture
def api_schema(settings: Any) -> Any:
    settings.HELIOS_PUBLIC_API = True
    outcome_record_batch(
        rows=outcome_rows(
            outcome_message(won=n % 3 != 0, enriched=n % 2 == 0, user_id=None if n % 7 == 0 else f"user-{n % 4}")
            for n in range(40)
        )
    )
    return schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


def test_every_operation_is_fuzzed(api_schema: Any) -> None:
    documented = {result.ok().path for result in api_schema.get_all_operations()}
    assert documented == set(OPERATIONS) | FUZZED_ELSEWHERE


@pytest.mark.parametrize("mode", list(MODE_CHECKS), ids=str)
@pytest.mark.parametrize("path", OPERATIONS)
def test_api_conforms_to_its_schema(api_schema: Any, path: str, mode: GenerationMode) -> None:
    checks = [*CHECKS, MODE_CHECKS[mode]]

    @given(case=api_schema[path]["GET"].as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: Any) -> None:
        case.call_and_validate(checks=checks)

    run()
