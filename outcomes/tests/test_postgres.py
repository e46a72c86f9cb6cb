"""Concurrent writers on the real PostgreSQL (two outcomes processes share one table and its
rollups). Fails, never skips, when DATABASE_URL is not PostgreSQL."""

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from prometheus_client import REGISTRY

from outcomes import storage
from outcomes.models import AuctionOutcome, OutcomeDailyRollup
from outcomes.services import outcome_record_batch
from outcomes.tests.factories import outcome_messages, outcome_rows
from outcomes.tests.test_services import assert_stats_match_rows
from pipeline.messages import AuctionOutcomeMessage as Message
from pipeline.messages import encode
from pipeline.runner import BuiltRole
from pipeline.testing import committed, produce, run_for, step_until
from pipeline.topics import AUCTION_OUTCOMES
from pipeline.transports import LocalTransport

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

WRITERS = 4
ROUNDS = 10


@pytest.fixture(autouse=True)
def _postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.fail("needs PostgreSQL: DATABASE_URL=postgresql://helios:helios@127.0.0.1:5432/helios")
    assert storage.supports_insert_returning()


def test_concurrent_overlapping_writers_count_each_outcome_once() -> None:
    """Writers re-deliver overlapping, shuffled batches at the same moment: every outcome is
    inserted by exactly one of them, and the rollups count it exactly once."""
    messages = outcome_messages(400)
    rng = random.Random(7)
    barrier = threading.Barrier(WRITERS)

    def writer(seed: int) -> int:
        local = random.Random(seed)
        inserted = 0
        try:
            for _ in range(ROUNDS):
                batch: list[Message] = local.sample(messages, 150)
                barrier.wait(timeout=30)
                inserted += outcome_record_batch(rows=outcome_rows(batch))
        finally:
            connections.close_all()
        return inserted

    with ThreadPoolExecutor(WRITERS) as pool:
        totals = list(pool.map(writer, [rng.randrange(10**6) for _ in range(WRITERS)]))

    stored = AuctionOutcome.objects.count()
    assert sum(totals) == stored
    assert sum(OutcomeDailyRollup.objects.values_list("total", flat=True)) == stored
    assert_stats_match_rows()


def test_role_rides_out_a_database_outage(role: BuiltRole, transport: LocalTransport) -> None:
    """The role's connection is killed and the database is unreachable for a while: nothing is
    committed meanwhile, nothing is lost, and the role carries on by itself when it is back."""
    first, second = outcome_messages(4), outcome_messages(4)
    for m in first:
        produce(transport, AUCTION_OUTCOMES, encode(m))
    step_until(role, lambda: committed(transport, "outcomes") == 4)
    retries_before = REGISTRY.get_sample_value("helios_outcomes_write_retries_total") or 0.0

    # The role writes from its writer threads: every connection to the test database but the
    # killer's is terminated (this thread's too, reopened below).
    killer = connections.create_connection("default")
    killer.ensure_connection()
    port = connection.settings_dict["PORT"]  # (a dict every thread's connection shares)
    connection.settings_dict["PORT"] = "1"  # reconnects are refused: the database is "down"
    try:
        with killer.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert cursor.fetchone()[0] >= 1
        killer.close()
        for m in second:
            produce(transport, AUCTION_OUTCOMES, encode(m))
        run_for(role, 1.0)
        assert committed(transport, "outcomes") == 4
    finally:
        connection.settings_dict["PORT"] = port
    connection.close()

    step_until(role, lambda: committed(transport, "outcomes") == 8)
    assert AuctionOutcome.objects.count() == 8
    assert OutcomeDailyRollup.objects.get().total == 8
    assert (REGISTRY.get_sample_value("helios_outcomes_write_retries_total") or 0.0) > retries_before
