"""The fault matrix (ARCHITECTURE §6 layer 4): 5,000 bids streamed through every role as a real OS
process while one fault hits mid-stream, one case each: kill -9 of a role (then restarted), or a
service stopped and started again (the roles are not restarted: they must ride it out).

For each case: every impression answered 202 is stored exactly once (lost = 0, stored = accepted),
no role other than the killed one was restarted, and the counts go to test-artifacts/
fault_matrix.json (rendered into docs/reliability.md by `python -m tests.faults.report`).

The services stopped here are the ones this run uses (DATABASE_URL, REDIS_URL,
KAFKA_BOOTSTRAP_SERVERS, state dir HELIOS_STATE_DIR): run this module last, and never against
services other people use at the same time.
"""

import functools
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.test import override_settings

from intake.tests.helpers import high_watermarks
from outcomes.models import AuctionOutcome
from pipeline import topics
from profiles.demo import DEMO_BY_ID
from tests.e2e.harness import Platform, http_get, make_bids, wait_for
from tests.e2e.test_pipeline import redis_url
from tests.faults.report import write_markdown
from tests.faults.support import (
    CaseResult,
    Sender,
    ServiceControl,
    accepted_keys,
    group_backlog,
    metric_value,
    record_result,
    sent_keys,
)

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BIDS_PER_CASE = 5000
FAULT_AFTER = 1200  # bids answered before the fault is injected
KILLED_FOR_S = 1.0  # a killed role stays down this long (bids keep arriving) before its restart
OUTAGE_S = 3.0  # PostgreSQL / Redis stay down at least this long
FAULT_REDIS_DB = 7
ROLES = ("profiles", "outcomes", "auction", "bidder", "handler")
SERVICES = ("postgres", "redis", "kafka")


@pytest.fixture(scope="module")
def services(django_db_setup) -> ServiceControl:
    control = ServiceControl()
    for service in SERVICES:
        control.require_managed(service)
    return control


@pytest.fixture(scope="module")
def fault_prefix(services) -> Iterator[str]:
    """Fresh topics for the whole module (its cases share one running platform)."""
    from pipeline.admin_kafka import admin_client, ensure_topics

    prefix = f"f{uuid.uuid4().hex[:10]}_"
    with override_settings(HELIOS_TOPIC_PREFIX=prefix, HELIOS_CONSUMER_GROUP_PREFIX=f"{prefix}helios"):
        ensure_topics(partitions=settings.HELIOS_TOPIC_PARTITIONS)
        yield prefix
        services.up("kafka")
        admin_client().delete_topics(topics.all_topics(), operation_timeout=10)


@pytest.fixture(scope="module")
def platform(fault_prefix, services, tmp_path_factory) -> Iterator[Platform]:
    workdir = tmp_path_factory.mktemp("faults")
    # A short breaker: enrichment resumes soon after the profile service or Redis is back.
    with Platform(workdir, fault_prefix, redis_url(FAULT_REDIS_DB), HELIOS_BREAKER_OPEN_S="2") as pf:
        pf.seed_profiles()
        pf.start_all()
        yield pf
        for service in SERVICES:
            services.up(service)


@pytest.fixture
def healthy(platform, services) -> Platform:
    """Every service up and every role running before a case (a failed case may have left one down)."""
    for service in SERVICES:
        services.up(service)
    connection.close()
    for role in ROLES:
        proc = platform.procs.get(role)
        if proc is None or proc.poll() is not None:
            platform.procs.pop(role, None)
            platform.start(role)
    return platform


class DuplicateMeter:
    """`helios_outcomes_duplicates_total` of the outcomes role over a case, across its restarts."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.carried = 0.0
        self.baseline = self.read()

    def read(self) -> float:
        return metric_value(self.platform.metrics("outcomes"), "helios_outcomes_duplicates_total")

    def before_kill(self) -> None:
        self.carried += self.read() - self.baseline
        self.baseline = 0.0  # the restarted process counts from zero

    def total(self) -> int:
        return int(self.carried + self.read() - self.baseline)


def dlq_total() -> int:
    return sum(high_watermarks(topics.dlq(topics.resolved(t))) for t in topics.PIPELINE_TOPICS)


def stored_keys(prefix: str) -> set[tuple[str, str]]:
    return set(AuctionOutcome.objects.filter(bid_id__startswith=prefix).values_list("bid_id", "imp_id"))


def duplicate_rows(prefix: str) -> int:
    groups = (
        AuctionOutcome.objects.filter(bid_id__startswith=prefix)
        .values("bid_id", "imp_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    return sum(g["n"] - 1 for g in groups)


class Case:
    """What a fault function gets: the platform, the services, the running sender, the meter."""

    def __init__(self, platform: Platform, services: ServiceControl, sender: Sender, meter: DuplicateMeter) -> None:
        self.platform = platform
        self.services = services
        self.sender = sender
        self.meter = meter
        self.notes: dict[str, Any] = {}
        self.restarted: list[str] = []

    def kill_and_restart(self, role: str) -> None:
        if role == "outcomes":
            self.meter.before_kill()
        self.platform.kill(role)
        time.sleep(KILLED_FOR_S)
        self.platform.start(role)
        self.restarted.append(role)

    def handler_health(self) -> int:
        return http_get(self.platform.handler_port, "/healthz")[0]

    def ready(self, role: str) -> int:
        # As long as the Kubernetes probes allow (4 s): a check of a dead broker takes its timeout.
        return self.platform.ready(role, timeout_s=4)

    def wait_ready(self, roles: tuple[str, ...], status: int, why: str) -> None:
        for role in roles:
            wait_for(functools.partial(self.answers, role, status), 60, f"{role} /readyz to answer {status} {why}")

    def answers(self, role: str, status: int) -> bool:
        return self.ready(role) == status


def kill(role: str) -> Callable[[Case], None]:
    def fault(case: Case) -> None:
        case.kill_and_restart(role)

    return fault


KAFKA_ROLES = ("handler", "bidder", "auction", "outcomes")


def restart_kafka(case: Case) -> None:
    case.services.down("kafka")
    wait_for(lambda: case.handler_health() == 503, 30, "handler /healthz to answer 503 without the broker")
    case.notes["healthz_during_outage"] = 503
    case.wait_ready(KAFKA_ROLES, 503, "without the broker")
    case.notes["readyz_during_outage"] = dict.fromkeys(KAFKA_ROLES, 503)
    wait_for(lambda: case.sender.statuses()[503] > 0, 30, "a 503 answer while the broker is down")
    case.services.up("kafka")
    wait_for(lambda: case.handler_health() == 200, 60, "handler /healthz to answer 200 again")
    case.wait_ready(KAFKA_ROLES, 200, "with the broker back")
    case.notes["healthz_after"] = 200
    case.notes["readyz_after"] = dict.fromkeys(KAFKA_ROLES, 200)


def restart_postgres(case: Case) -> None:
    connection.close()
    case.services.down("postgres")
    case.wait_ready(("outcomes",), 503, "without the database")
    time.sleep(OUTAGE_S)  # bids keep flowing; the outcomes role holds its batch and retries
    case.services.up("postgres")
    connection.close()
    case.wait_ready(("outcomes",), 200, "with the database back")
    text = case.platform.metrics("outcomes")
    case.notes["write_retries"] = int(metric_value(text, "helios_outcomes_write_retries_total"))


def restart_redis(case: Case) -> None:
    case.services.down("redis")
    case.wait_ready(("profiles",), 503, "without Redis")
    time.sleep(OUTAGE_S)  # bids keep flowing, priced unenriched
    case.services.up("redis")
    case.platform.seed_profiles()  # this Redis keeps nothing across a restart
    case.wait_ready(("profiles",), 200, "with Redis back")


# (case id, what happens, fault, answers the client may see besides 202, roles that may restart)
CASES: list[tuple[str, str, Callable[[Case], None], set[int]]] = [
    ("kill-handler", "kill -9 handler, restart", kill("handler"), {0, 503}),
    ("kill-bidder", "kill -9 bidder, restart", kill("bidder"), set()),
    ("kill-auction", "kill -9 auction, restart", kill("auction"), set()),
    ("kill-outcomes", "kill -9 outcomes, restart", kill("outcomes"), set()),
    ("kill-profiles", "kill -9 profile server, restart", kill("profiles"), set()),
    ("restart-redis", "Redis down 3 s, up (reseeded)", restart_redis, set()),
    ("restart-postgres", "PostgreSQL down 3 s, up", restart_postgres, set()),
    ("restart-kafka", "Kafka broker down, up", restart_kafka, {0, 503}),
]


@pytest.mark.parametrize(("name", "fault", "run", "other_answers"), CASES, ids=[c[0] for c in CASES])
def test_fault_loses_and_doubles_nothing(healthy, services, name, fault, run, other_answers):
    platform = healthy
    started = time.monotonic()
    seed = 1000 + [c[0] for c in CASES].index(name)
    prefix = f"e2e-{seed}-"
    bids = make_bids(BIDS_PER_CASE, seed=seed)
    pids = {role: proc.pid for role, proc in platform.procs.items()}
    dlq_before = dlq_total()
    meter = DuplicateMeter(platform)

    sender = Sender(platform.handler_port, bids).start()
    case = Case(platform, services, sender, meter)
    wait_for(lambda: sender.answered >= FAULT_AFTER, 120, f"{FAULT_AFTER} bids answered")
    case.notes["answered_at_fault"] = sender.answered
    run(case)
    case.notes["answered_after_fault"] = sender.answered
    sender.join(300)

    accepted = accepted_keys(sender.sent)
    connection.close()
    try:
        wait_for(lambda: accepted <= stored_keys(prefix), 180, "every accepted impression stored", interval_s=0.5)
    except TimeoutError:
        missing = sorted(accepted - stored_keys(prefix))
        pytest.fail(
            f"{len(missing)} accepted impressions not stored, e.g. {missing[:5]}; per role (committed, end) of its input: {group_backlog()}"
        )
    stored = stored_keys(prefix)
    statuses = sender.statuses()
    known_users = [u for u in DEMO_BY_ID if u]
    case.notes["unenriched_known_users"] = AuctionOutcome.objects.filter(
        bid_id__startswith=prefix, enriched=False, user_id__in=known_users
    ).count()
    if sender.retry_after:
        case.notes["retry_after"] = sorted(sender.retry_after)
    result = CaseResult(
        case=name,
        fault=fault,
        sent_requests=len(bids),
        answers={str(code): n for code, n in sorted(statuses.items())},
        accepted_imps=len(accepted),
        stored=len(stored & accepted),
        lost=len(accepted - stored),
        duplicate_rows=duplicate_rows(prefix),
        duplicate_deliveries=meter.total(),
        stored_without_202=len(stored - accepted),
        dlq=dlq_total() - dlq_before,
        restarted=case.restarted,
        notes=case.notes,
        duration_s=round(time.monotonic() - started, 1),
    )
    write_markdown(record_result(result))

    assert result.lost == 0
    assert result.stored == result.accepted_imps > 0
    assert result.duplicate_rows == 0
    assert result.dlq == 0
    assert stored - accepted <= sent_keys(sender.sent)  # nothing stored that was never sent
    assert set(statuses) <= {202} | other_answers, statuses
    if 503 in statuses:
        assert sender.retry_after and "" not in sender.retry_after, "every 503 carries Retry-After"
    # No crash, no crash loop: every role not killed on purpose is the very same process.
    for role, proc in platform.procs.items():
        assert proc.poll() is None, f"{role} exited with {proc.returncode}"
        if role not in case.restarted:
            assert proc.pid == pids[role], f"{role} was restarted"
