"""The stored outcome's side of the post-auction loop (SPEC §14), a second stream of the outcomes role:

    auction_notices -> decode (poison: dropped here, dead-lettered by the auction role) -> batch
    -> keep each (bid id, kind) once, set the status of its outcome row -> commit offsets

Notices are kept durably (`AuctionNotice`, unique on (rtb_bid_id, kind)), and a row's status is
always recomputed from all of its bid's notices (`resolve`), so the result does not depend on the
order they came in, nor on how often: a bill replayed three times is one billed impression. A notice
that arrives before its bid's outcome row is applied when the row is stored (`notices_join`, called
by `outcome_record_batch` in the row's transaction). On PostgreSQL both transactions take one
advisory lock before they join, so that neither misses the other's uncommitted half.
"""

import logging
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from django.db import InterfaceError, OperationalError, close_old_connections, connection, reset_queries, transaction

from outcomes.models import AuctionNotice as NoticeRow
from outcomes.models import AuctionOutcome
from outcomes.rows import OutcomeRow, to_time
from outcomes.rtb import RTB_SOURCE
from outcomes.status import resolve
from pipeline import readiness, topics
from pipeline.messages import AuctionNotice
from pipeline.roles import RoleContext
from pipeline.sinks import SinkFactory

logger = logging.getLogger(__name__)

JOIN_LOCK = 0x48454C4E  # pg_advisory_xact_lock key of the notice join ("HELN")
MICROS = Decimal(1_000_000)


def _join_lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [JOIN_LOCK])


def _apply(bid_ids: Sequence[str]) -> int:
    """Sets the status of the outcome rows of `bid_ids` from their stored notices; rows updated."""
    found: dict[str, list[tuple[str, Decimal | None, int | None]]] = defaultdict(list)
    for bid_id, kind, clearing, code in NoticeRow.objects.filter(rtb_bid_id__in=bid_ids).values_list(
        "rtb_bid_id", "kind", "clearing_cpm", "loss_code"
    ):
        found[bid_id].append((kind, clearing, code))
    updated = 0
    for bid_id in sorted(found):
        status, clearing, code = resolve(found[bid_id])
        updated += AuctionOutcome.objects.filter(rtb_bid_id=bid_id, source=RTB_SOURCE).update(
            status=status, clearing_cpm=clearing, loss_code=code
        )
    return updated


def notices_join(rows: Sequence[OutcomeRow]) -> int:
    """Applies the notices already stored to newly stored bid rows (call in their transaction)."""
    bid_ids = sorted({row.rtb_bid_id for row in rows if row.status == "pending" and row.rtb_bid_id})
    if not bid_ids:
        return 0
    _join_lock()
    return _apply(bid_ids)


def _notice_row(notice: AuctionNotice) -> NoticeRow:
    clearing = None if notice.clearing_micros is None else Decimal(notice.clearing_micros) / MICROS
    return NoticeRow(
        rtb_bid_id=notice.bid_id, kind=notice.kind, request_id=notice.request_id, imp_id=notice.imp_id,
        campaign_id=notice.campaign_id, clearing_cpm=clearing, loss_code=notice.loss_code,
        received_at=to_time(notice.received_at, "received_at"),
    )  # fmt: skip


def notice_record_batch(*, notices: Sequence[AuctionNotice]) -> int:
    """Keeps each (bid id, kind) once and updates the rows of the batch's bids, in one transaction.
    Returns the outcome rows updated (0 while their bids' rows are not stored yet)."""
    with transaction.atomic():
        _join_lock()
        NoticeRow.objects.bulk_create([_notice_row(n) for n in notices], ignore_conflicts=True)
        return _apply(sorted({n.bid_id for n in notices}))


def _write(batch: Sequence[AuctionNotice]) -> None:
    close_old_connections()
    reset_queries()
    notice_record_batch(notices=batch)


def notices_factory(ctx: RoleContext) -> SinkFactory:
    ctx.ready_checks.setdefault("database", readiness.database)
    return SinkFactory(
        kind=AuctionNotice,
        topic=topics.AUCTION_NOTICES,
        write=_write,
        retryable=(OperationalError, InterfaceError),
        dead_letter=False,
    )
