"""Fixtures for running the outcomes role on arroyo's in-process broker."""

from collections.abc import Iterator
from typing import Any

import pytest

from pipeline.runner import BuiltRole, build_role
from pipeline.transports import LocalTransport

JOIN_TIMEOUT_S = 1.0  # bounds a shutdown that gives up on an unwritable batch (arroyo's default: 25 s)


@pytest.fixture
def transport() -> LocalTransport:
    return LocalTransport(partitions=1)


@pytest.fixture
def batch_settings(settings: Any) -> Any:
    settings.HELIOS_OUTCOMES_BATCH_SIZE = 4
    settings.HELIOS_OUTCOMES_BATCH_TIME_S = 0.01
    settings.HELIOS_COMMIT_INTERVAL_S = 0  # commit every batch, so tests can watch the offsets
    return settings


@pytest.fixture
def role(batch_settings: Any, transport: LocalTransport) -> Iterator[BuiltRole]:
    built = build_role("outcomes", transport)
    built.processor._StreamProcessor__join_timeout = JOIN_TIMEOUT_S  # type: ignore[attr-defined]
    yield built
    built.shutdown()
    built.run()
