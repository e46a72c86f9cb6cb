"""The statements behind `outcome_record_batch`: insert-if-new reporting what was new, and the
rollup upsert. Call inside a transaction.

- PostgreSQL: one `INSERT ... SELECT ... FROM json_to_recordset(<the batch as one JSON array>)
  ON CONFLICT DO NOTHING RETURNING <key>`: one round trip per batch, the batch encoded by msgspec
  (it replaced a COPY into a temp table, 4 round trips and a Python conversion per value).
- SQLite >= 3.35 (embedded mode): the same insert from a multi-row VALUES list.
- Other databases: select-then-insert, exact only with a single writer.

Rows are inserted in key (bid_id, request_digest, imp_id) order and rollup days in date order, so
concurrent writers with overlapping batches take their locks in one order: they wait for each other, never deadlock.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any, cast

import msgspec
from django.db import connection
from django.db.models import F, Field, JSONField, Model

from outcomes.models import RTB_NO_NBR, AuctionOutcome, OutcomeDailyRollup, OutcomeRtbRollup
from outcomes.rows import ROW_FIELDS, OutcomeRow
from outcomes.rtb import RTB_SOURCE

Key = tuple[str, str, str]  # OutcomeRow.key: (bid_id, request_digest, imp_id)
KEY_COLUMNS = ("bid_id", "request_digest", "imp_id")

# The inserted columns: the row's fields in their order, then the insert's time.
COLUMNS = (*ROW_FIELDS, "created_at")
_JSON_COLUMNS = [f.name for f in AuctionOutcome._meta.concrete_fields if isinstance(f, JSONField)]
ROLLUP_SUMS = ("total", "wins", "revenue", "bid_sum", "enriched_count")


def _values(row: OutcomeRow, created_at: datetime) -> tuple[Any, ...]:
    """The row's values in COLUMNS order (JSON columns as JSON text)."""
    return (*msgspec.structs.astuple(row), created_at)


def supports_insert_returning() -> bool:
    """INSERT ... ON CONFLICT (cols) DO NOTHING RETURNING: PostgreSQL and SQLite >= 3.35."""
    features = connection.features
    return bool(features.can_return_rows_from_bulk_insert and features.supports_update_conflicts_with_target)


def insert_new(rows: list[OutcomeRow], *, created_at: datetime) -> set[Key]:
    """Inserts the rows (sorted by key, keys unique) whose key is not stored yet; returns the keys
    this call inserted."""
    if not supports_insert_returning():
        return _insert_new_single_writer(rows, created_at=created_at)
    if connection.vendor == "postgresql":
        return _insert_new_json(rows, created_at=created_at)
    return _insert_new_values(rows, created_at=created_at)


def _returning_tail() -> str:
    key = ", ".join(connection.ops.quote_name(c) for c in KEY_COLUMNS)
    return f" ON CONFLICT ({key}) DO NOTHING RETURNING {key}"


@cache
def _recordset_sql() -> str:
    """The one statement of `_insert_new_json`: the batch as a JSON array of row objects, typed by
    `json_to_recordset` (JSON columns arrive as their JSON text and are cast), `created_at` one
    parameter for all (PostgreSQL only: cached once per process)."""
    qn = connection.ops.quote_name
    table = qn(AuctionOutcome._meta.db_table)
    fields = {f.column: f for f in AuctionOutcome._meta.concrete_fields}
    definitions, selected = [], []
    for name in ROW_FIELDS:
        if name in _JSON_COLUMNS:
            definitions.append(f"{qn(name)} text")
            selected.append(f"r.{qn(name)}::jsonb")
        else:
            definitions.append(f"{qn(name)} {fields[name].db_type(connection)}")
            selected.append(f"r.{qn(name)}")
    return (
        f"INSERT INTO {table} ({', '.join(qn(c) for c in COLUMNS)}) "  # noqa: S608 - quoted names only
        f"SELECT {', '.join(selected)}, %s FROM json_to_recordset(%s::json) AS r({', '.join(definitions)}) "
        f"ORDER BY {', '.join('r.' + qn(c) for c in KEY_COLUMNS)}" + _returning_tail()
    )


_ENCODER = msgspec.json.Encoder(decimal_format="string")


def _insert_new_json(rows: list[OutcomeRow], *, created_at: datetime) -> set[Key]:
    """PostgreSQL: the whole batch in one round trip, encoded by msgspec (no per-value Python)."""
    with connection.cursor() as cursor:
        cursor.execute(_recordset_sql(), [created_at, _ENCODER.encode(rows).decode()])
        return {(bid_id, digest, imp_id) for bid_id, digest, imp_id in cursor.fetchall()}


def _insert_new_values(rows: list[OutcomeRow], *, created_at: datetime) -> set[Key]:
    qn = connection.ops.quote_name
    one_row = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
    head = f"INSERT INTO {qn(AuctionOutcome._meta.db_table)} ({', '.join(qn(c) for c in COLUMNS)}) VALUES "  # noqa: S608
    max_params = connection.features.max_query_params
    chunk_size = max(1, max_params // len(COLUMNS)) if max_params else len(rows)
    adapt_time = connection.ops.adapt_datetimefield_value
    times = {COLUMNS.index(name) for name in ("timestamp", "auction_timestamp", "created_at")}
    inserted: set[Key] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(rows), chunk_size):
            chunk = rows[start : start + chunk_size]
            params: list[Any] = []
            for row in chunk:
                values = _values(row, created_at)
                params += [adapt_time(v) if i in times else v for i, v in enumerate(values)]
            cursor.execute(head + ", ".join([one_row] * len(chunk)) + _returning_tail(), params)
            inserted.update((bid_id, digest, imp_id) for bid_id, digest, imp_id in cursor.fetchall())
    return inserted


def _insert_new_single_writer(rows: list[OutcomeRow], *, created_at: datetime) -> set[Key]:
    """For databases without INSERT ... ON CONFLICT ... RETURNING: exact only while a single
    writer runs (a concurrent writer's row could be counted by both)."""
    existing = set(AuctionOutcome.objects.filter(bid_id__in={row.bid_id for row in rows}).values_list(*KEY_COLUMNS))
    new = [row for row in rows if row.key not in existing]
    AuctionOutcome.objects.bulk_create([_model(row, created_at) for row in new], ignore_conflicts=True)
    return {row.key for row in new}


def _model(row: OutcomeRow, created_at: datetime) -> AuctionOutcome:
    values = msgspec.structs.asdict(row)
    for name in _JSON_COLUMNS:
        values[name] = msgspec.json.decode(values[name])
    return AuctionOutcome(**values, created_at=created_at)


@dataclass
class DaySums:
    total: int = 0
    wins: int = 0
    revenue: Decimal = field(default_factory=Decimal)
    bid_sum: Decimal = field(default_factory=Decimal)
    enriched_count: int = 0


def day_sums(rows: Iterable[OutcomeRow]) -> dict[date, DaySums]:
    """What the rows add to each UTC day's rollup, days ascending."""
    days: dict[date, DaySums] = {}
    for row in rows:
        sums = days.setdefault(row.day, DaySums())
        sums.total += 1
        sums.wins += row.win_status
        sums.revenue += row.win_price
        sums.bid_sum += row.bid_price
        sums.enriched_count += row.enriched
    return dict(sorted(days.items()))


def rollups_add(rows: list[OutcomeRow]) -> None:
    """Adds the rows to their day's rollup: one atomic upsert, safe with concurrent writers."""
    days = day_sums(rows)
    _upsert_add(
        OutcomeDailyRollup,
        ("day",),
        ROLLUP_SUMS,
        {(day,): tuple(getattr(sums, name) for name in ROLLUP_SUMS) for day, sums in days.items()},
    )


RtbKey = tuple[date, str, int]  # OutcomeRtbRollup's (day, privacy, nbr)


def rtb_sums(rows: Iterable[OutcomeRow]) -> dict[RtbKey, tuple[int, int]]:
    """What the RTB rows add to each (day, privacy, nbr) rollup row, keys ascending: (outcomes,
    bids). No privacy state is "", no nbr (a bid) is RTB_NO_NBR."""
    sums: dict[RtbKey, tuple[int, int]] = {}
    for row in rows:
        if row.source != RTB_SOURCE:
            continue
        key = (row.day, row.privacy or "", RTB_NO_NBR if row.nbr is None else row.nbr)
        total, bids = sums.get(key, (0, 0))
        sums[key] = (total + 1, bids + (row.bid_price > 0))
    return dict(sorted(sums.items()))


def rtb_rollups_add(rows: list[OutcomeRow]) -> None:
    """Adds the RTB rows to their (day, privacy, nbr) rollup rows, as `rollups_add` does."""
    _upsert_add(OutcomeRtbRollup, ("day", "privacy", "nbr"), ("total", "bids"), rtb_sums(rows))


def _upsert_add(
    model: type[Model], keys: Sequence[str], sums: Sequence[str], rows: dict[tuple[Any, ...], tuple[Any, ...]]
) -> None:
    """Adds `rows` (key values -> sums, keys ascending) to `model`'s rows: one atomic upsert."""
    if not rows:
        return
    if not connection.features.supports_update_conflicts_with_target:
        _upsert_add_orm(model, keys, sums, rows)
        return
    fields = _fields(model, (*keys, *sums))
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    updates = ", ".join(f"{qn(name)} = {table}.{qn(name)} + excluded.{qn(name)}" for name in sums)
    sql = (
        f"INSERT INTO {table} ({', '.join(qn(f.column) for f in fields)}) VALUES "  # noqa: S608 - quoted names only
        + ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * len(rows))
        + f" ON CONFLICT ({', '.join(qn(k) for k in keys)}) DO UPDATE SET {updates}"
    )
    params: list[Any] = []
    for key, values in rows.items():
        params.extend(f.get_db_prep_save(v, connection) for f, v in zip(fields, (*key, *values), strict=True))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _upsert_add_orm(
    model: type[Model], keys: Sequence[str], sums: Sequence[str], rows: dict[tuple[Any, ...], tuple[Any, ...]]
) -> None:
    manager = model._default_manager
    for key, values in rows.items():
        lookup = dict(zip(keys, key, strict=True))
        if not manager.filter(**lookup).update(**{n: F(n) + v for n, v in zip(sums, values, strict=True)}):
            manager.create(**lookup, **dict(zip(sums, values, strict=True)))


def _fields(model: type[Model], names: Sequence[str]) -> "list[Field[Any, Any]]":
    fields = [model._meta.get_field(name) for name in names]
    assert all(isinstance(f, Field) for f in fields)
    return cast("list[Field[Any, Any]]", fields)
