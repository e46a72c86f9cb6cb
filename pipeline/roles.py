"""The role registry: role name -> what it consumes, what builds it, where its output goes.

`pipeline` imports no domain app: factories are named by dotted path and imported on use, so
`manage.py runkafka <role>` loads only the role it runs (the model is Sentry's consumer registry).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from arroyo.backends.abstract import Producer
from arroyo.backends.kafka import KafkaPayload
from arroyo.types import Topic
from django.utils.module_loading import import_string

from pipeline import topics


@dataclass(frozen=True)
class StreamSpec:
    """A second input of a consumer role, run by its own stream processor in the role's process with
    its own consumer group (`<role>-<name>`). `dlq`: whether this stream dead-letters what it cannot
    decode (one consumer of a topic does, so that a poison message is dead-lettered once)."""

    name: str
    topic: str
    factory: str
    dlq: bool = True

    def load(self) -> Callable[..., Any]:
        return import_string(self.factory)


@dataclass(frozen=True)
class RoleSpec:
    """A role. A consumer role has an input `topic` and a `factory(ctx) -> ProcessingStrategyFactory`;
    a server role (no topic) has a `factory(stop, transport) -> None` that serves until the event
    `stop` is set, on the transport it is given (Kafka, or embedded mode's in-process broker), and
    listens on the port named by the setting `port_setting`."""

    factory: str
    topic: str | None = None
    output: str | None = None
    description: str = ""
    port_setting: str | None = None
    streams: tuple[StreamSpec, ...] = ()

    def load(self) -> Callable[..., Any]:
        return import_string(self.factory)


# In start order: embedded mode starts them in this order and stops them in reverse.
ROLES: dict[str, RoleSpec] = {
    "profiles": RoleSpec(
        factory="profiles.role.serve",
        description="gRPC profile service on Redis",
        port_setting="HELIOS_PROFILES_PORT",
    ),
    "bidder": RoleSpec(
        factory="bidding.consumer.bidder_factory",
        topic=topics.BID_REQUESTS,
        output=topics.BID_RESPONSES,
        description="bid_requests -> profile lookup, pricing -> bid_responses",
    ),
    "auction": RoleSpec(
        factory="auction.consumer.auction_factory",
        topic=topics.BID_RESPONSES,
        output=topics.AUCTION_OUTCOMES,
        description="bid_responses -> auction -> auction_outcomes; auction_notices -> ledger",
        # The post-auction loop (SPEC §14): each win/bill/loss notice applied once to the ledger.
        streams=(StreamSpec("notices", topics.AUCTION_NOTICES, "auction.notices.notices_factory"),),
    ),
    "outcomes": RoleSpec(
        factory="outcomes.consumer.outcomes_factory",
        topic=topics.AUCTION_OUTCOMES,
        description="auction_outcomes -> PostgreSQL, dashboard snapshots; auction_notices -> outcome status",
        # The stored outcome's side of the post-auction loop; the auction role dead-letters poison.
        streams=(StreamSpec("notices", topics.AUCTION_NOTICES, "outcomes.notices.notices_factory", dlq=False),),
    ),
    "handler": RoleSpec(
        factory="rtb.role.serve",
        output=topics.BID_REQUESTS,
        description=(
            "POST /bid -> bid_requests; POST /openrtb2/bid -> decision, bid_requests + bid_responses;"
            " /notice/* -> auction_notices"
        ),
        port_setting="HELIOS_HANDLER_PORT",
    ),
}


def consumer_group(role: str) -> str:
    from django.conf import settings

    return f"{settings.HELIOS_CONSUMER_GROUP_PREFIX}-{role}"


@dataclass
class RoleContext:
    """What a consumer role's factory gets: where to produce (None for sinks) and its name."""

    role: str
    producer: Producer[KafkaPayload] | None
    output_topic: Topic | None
    # The factory may add checks for its own dependencies (database, profile service) to /readyz...
    ready_checks: dict[str, Callable[[], object]] = field(default_factory=dict)
    # ...and what must be closed once the role stopped (channels, clients).
    closers: list[Callable[[], object]] = field(default_factory=list)
