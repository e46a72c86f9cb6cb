"""Stored auction outcomes (SPEC §7) and the daily rollup rows that keep the stats fast.

Rows are written only by `outcomes.services.outcome_record_batch`, which maintains the rollups in
the same transaction; anything that inserts rows another way (fixtures, factories) bypasses them.
"""

from django.db import models
from django.utils import timezone

from outcomes.rows import MONEY_DIGITS, PRIVACY_CHARS, SOURCE_CHARS, STATUS_CHARS
from pipeline.messages import DIGEST_CHARS, MAX_CATEGORY_CHARS, MAX_ID_CHARS, MONEY_PLACES

SUM_DIGITS = 20  # rollup sums of millions of MONEY values


class AuctionOutcome(models.Model):
    """One auction outcome, unique on (bid_id, request_digest, imp_id): two distinct requests that
    share an id (two exchanges both numbering from 1) are both stored, a re-delivery of the same
    accepted request is not (docs/design.md, "Which requests are the same"). `timestamp` is event time: the request's
    `received_at`; `created_at` is when this row was inserted. Absent strings are NULL, not "",
    as in the message (the API returns null)."""

    bid_id = models.CharField(max_length=MAX_ID_CHARS, help_text="The bid request id")
    request_digest = models.CharField(
        max_length=DIGEST_CHARS,
        default="",
        blank=True,
        help_text="Digest of the accepted request: tells apart distinct requests sharing an id",
    )
    imp_id = models.CharField(max_length=MAX_ID_CHARS)
    user_id = models.CharField(max_length=MAX_ID_CHARS, null=True, blank=True)  # noqa: DJ001
    site_domain = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    win_status = models.BooleanField()
    win_price = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    bid_price = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    bid_floor = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    currency = models.CharField(max_length=8)
    enriched = models.BooleanField()
    winning_interest = models.CharField(max_length=MAX_CATEGORY_CHARS, null=True, blank=True)  # noqa: DJ001
    user_interests = models.JSONField(default=list, blank=True)
    creative_id = models.CharField(max_length=MAX_ID_CHARS, null=True, blank=True)  # noqa: DJ001
    loss_reason = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001
    timestamp = models.DateTimeField(help_text="Event time: when the bid request was received")
    auction_timestamp = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now, help_text="When the row was inserted")
    raw_data = models.JSONField(help_text="The whole auction_outcomes message")
    # SPEC §12: where the request came in and what the campaign decision chose. RTB rows (source
    # "rtb", decided by `POST /openrtb2/bid`) also carry the OpenRTB bid id, the privacy state and
    # the time from receipt to the decision against the request's deadline.
    source = models.CharField(max_length=SOURCE_CHARS, default="helios", help_text="helios, openrtb or rtb")
    campaign_id = models.BigIntegerField(null=True, blank=True, help_text="The campaign that bid (0: built-in house)")
    rtb_bid_id = models.CharField(  # noqa: DJ001
        max_length=MAX_ID_CHARS, null=True, blank=True, help_text="The OpenRTB bid id (seatbid[].bid[].id)"
    )
    nbr = models.IntegerField(null=True, blank=True, help_text="OpenRTB no-bid reason code, when no bid")
    privacy = models.CharField(  # noqa: DJ001
        max_length=PRIVACY_CHARS, null=True, blank=True, help_text="The RTB request's privacy state (SPEC §16)"
    )
    latency_ms = models.FloatField(null=True, blank=True, help_text="RTB: request received -> decided, ms")
    deadline_ms = models.FloatField(null=True, blank=True, help_text="RTB: the request's deadline, ms")
    # SPEC §14: an RTB row's state after the exchange's notices (outcomes/notices.py): no_bid,
    # pending, won, billed or lost; `expired` is a pending row older than the notice window (read
    # time). NULL on the rows of `POST /bid`, whose auction is simulated.
    status = models.CharField(max_length=STATUS_CHARS, null=True, blank=True)  # noqa: DJ001
    clearing_cpm = models.DecimalField(
        max_digits=MONEY_DIGITS + 2, decimal_places=MONEY_PLACES + 2, null=True, blank=True,
        help_text="RTB: the clearing CPM of the win or bill notice",
    )  # fmt: skip
    loss_code = models.IntegerField(null=True, blank=True, help_text="RTB: the OpenRTB loss reason code")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bid_id", "request_digest", "imp_id"], name="outcome_unique_request_imp"),
        ]
        # The unique constraint's index also serves `bid_id` lookups. The others serve the API's
        # filters and orderings (default `-timestamp`); filters on user/site come with that order.
        indexes = [
            models.Index(fields=["timestamp"], name="outcome_timestamp_idx"),
            models.Index(fields=["win_status", "timestamp"], name="outcome_win_timestamp_idx"),
            models.Index(fields=["user_id", "timestamp"], name="outcome_user_timestamp_idx"),
            # Covering (PostgreSQL): a site's count and stats are read from the index alone.
            models.Index(
                fields=["site_domain", "timestamp"],
                include=["win_status", "win_price", "bid_price", "enriched"],
                name="outcome_site_ts_covering_idx",
            ),
            # With the id the API breaks ordering ties by, so `ordering=win_price` walks the index.
            models.Index(fields=["win_price", "id"], name="outcome_win_price_id_idx"),
            models.Index(fields=["bid_price", "id"], name="outcome_bid_price_id_idx"),
            models.Index(fields=["created_at", "id"], name="outcome_created_at_id_idx"),
            # The campaign filter; RTB rows by insert time (the dashboard's RTB panel); no-bid codes.
            models.Index(fields=["campaign_id", "timestamp"], name="outcome_campaign_ts_idx"),
            models.Index(fields=["source", "created_at"], name="outcome_source_created_idx"),
            models.Index(fields=["nbr", "timestamp"], name="outcome_nbr_ts_idx", condition=models.Q(nbr__isnull=False)),
            # Joins notices to bids, whatever came first.
            models.Index(
                fields=["rtb_bid_id"], name="outcome_rtb_bid_idx", condition=models.Q(rtb_bid_id__isnull=False)
            ),
            models.Index(fields=["status", "timestamp"], name="outcome_status_ts_idx"),
            # `search` (a substring of bid_id, user_id or site_domain) is served on PostgreSQL by
            # pg_trgm GIN indexes on UPPER(column), made by migration 0004 outside this list: SQLite
            # has no GIN indexes.
        ]

    def __str__(self) -> str:
        return f"{self.bid_id}/{self.imp_id}"

    @property
    def is_winner(self) -> bool:
        return self.win_status


class OutcomeDailyRollup(models.Model):
    """Per UTC day of `timestamp`: the sums the stats are made of, over stored rows only.

    Written only by `outcome_record_batch` (upsert adding the batch's newly inserted rows), so
    totals over all days equal the same aggregates over the `AuctionOutcome` table."""

    day = models.DateField(unique=True)
    total = models.BigIntegerField(default=0)
    wins = models.BigIntegerField(default=0)
    revenue = models.DecimalField(max_digits=SUM_DIGITS, decimal_places=MONEY_PLACES, default=0)
    bid_sum = models.DecimalField(max_digits=SUM_DIGITS, decimal_places=MONEY_PLACES, default=0)
    enriched_count = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day}: {self.total} outcomes"


RTB_NO_NBR = -1  # OutcomeRtbRollup.nbr of bids (OpenRTB codes are >= 0)


class OutcomeRtbRollup(models.Model):
    """Per UTC day of `timestamp`, privacy state ("" when none) and nbr (RTB_NO_NBR for bids): the
    RTB outcomes and bids stored. Written like OutcomeDailyRollup (only by
    `outcome_record_batch`, with the newly inserted rows), so unfiltered RTB stats read a few rows."""

    day = models.DateField()
    privacy = models.CharField(max_length=PRIVACY_CHARS, default="", blank=True)
    nbr = models.IntegerField(default=RTB_NO_NBR)
    total = models.BigIntegerField(default=0)
    bids = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["day", "privacy", "nbr"]
        constraints = [models.UniqueConstraint(fields=["day", "privacy", "nbr"], name="rtb_rollup_day_privacy_nbr")]

    def __str__(self) -> str:
        return f"{self.day} {self.privacy or '-'} {self.nbr}: {self.total} RTB outcomes"


class AuctionNotice(models.Model):
    """A win, billing or loss notice (SPEC §14), kept once per (OpenRTB bid id, kind) however often
    the exchange sent it, so that it is applied to its outcome row whenever that row is stored."""

    rtb_bid_id = models.CharField(max_length=MAX_ID_CHARS)
    kind = models.CharField(max_length=8)  # win, bill, loss
    request_id = models.CharField(max_length=MAX_ID_CHARS)
    imp_id = models.CharField(max_length=MAX_ID_CHARS)
    campaign_id = models.BigIntegerField()
    clearing_cpm = models.DecimalField(max_digits=MONEY_DIGITS + 2, decimal_places=MONEY_PLACES + 2, null=True)
    loss_code = models.IntegerField(null=True)
    received_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rtb_bid_id", "kind"], name="notice_unique_bid_kind")]

    def __str__(self) -> str:
        return f"{self.kind} {self.rtb_bid_id}"
