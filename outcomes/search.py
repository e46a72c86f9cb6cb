"""`search` split into disjoint parts that indexes can count and sum without reading the table.

A `search` term matches rows whose bid id, user id or site domain contains it. Counting or summing
such a set through the trigram indexes reads every matching row from the table (a GIN index
cannot answer index-only): a fragment of a site found in 2 % of 5,000,000 rows took ~0.5 s.
Sites are few next to rows, so the site part is resolved to the site *values* containing the
term first, then counted from the covering `(site_domain, timestamp)` index (index-only):

- part 1: `site_domain IN (sites containing the term)`;
- part 2: bid id or user id contains the term, and the site is not one of those (NULL sites
  included), read through the trigram indexes (small for ids: an id fragment is rare).

The parts are disjoint and their union is the searched set, so counts and sums add up exactly;
a row matching by site and by id is in part 1 only. On PostgreSQL the distinct sites are walked
on the btree index (one descent per site, a loose index scan); past MAX_WALKED_SITES distinct
sites the walk stops and the search is counted as one part (correct, only slower)."""

from collections.abc import Mapping
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from outcomes.filters import MIN_SUBSTRING_CHARS, OutcomeFilter
from outcomes.models import AuctionOutcome

MAX_WALKED_SITES = 2000  # a descent costs 5-15 us: at most ~30 ms to list the sites

# A loose index scan: each step is one descent of a site_domain btree index.
_WALK_SITES = """
WITH RECURSIVE sites(site, n) AS (
    (SELECT site_domain, 1 FROM outcomes_auctionoutcome
     WHERE site_domain IS NOT NULL ORDER BY site_domain LIMIT 1)
    UNION ALL
    SELECT (SELECT o.site_domain FROM outcomes_auctionoutcome o
            WHERE o.site_domain > s.site ORDER BY o.site_domain LIMIT 1), s.n + 1
    FROM sites s WHERE s.site IS NOT NULL AND s.n <= %s
)
SELECT site, strpos(UPPER(site::text), UPPER(%s)) > 0 FROM sites WHERE site IS NOT NULL
"""


def sites_containing(term: str, *, limit: int | None = None) -> list[str] | None:
    """The distinct site domains that contain `term` (any case), None when there are more than
    `limit` distinct sites in all (default MAX_WALKED_SITES; PostgreSQL only: elsewhere every
    matching site is listed, an embedded database being small)."""
    if connection.vendor != "postgresql":
        matching = AuctionOutcome.objects.filter(site_domain__icontains=term).values_list("site_domain", flat=True)
        return sorted({site for site in matching.order_by() if site is not None})
    limit = MAX_WALKED_SITES if limit is None else limit
    with connection.cursor() as cursor:
        cursor.execute(_WALK_SITES, [limit, term])
        walked = cursor.fetchall()
    if len(walked) > limit:
        return None
    return [site for site, matches in walked if matches]


def search_parts(unsearched: QuerySet[AuctionOutcome], term: str) -> list[QuerySet[AuctionOutcome]]:
    """Disjoint querysets whose union is `unsearched` narrowed by `search=term` (see the module)."""
    if len(term) < MIN_SUBSTRING_CHARS:
        # Whole values (filters.OutcomeFilter.filter_search): the site part is one btree value.
        sites: list[str] | None = [term]
        ids = Q(bid_id=term) | Q(user_id=term)
    else:
        sites = sites_containing(term)
        ids = Q(bid_id__icontains=term) | Q(user_id__icontains=term)
    if sites is None:
        return [unsearched.filter(ids | Q(site_domain__icontains=term))]
    if not sites:
        return [unsearched.filter(ids)]
    return [unsearched.filter(site_domain__in=sites), unsearched.filter(ids).exclude(site_domain__in=sites)]


def without_search(filters: Mapping[str, Any], *, win_status: bool | None) -> QuerySet[AuctionOutcome]:
    """The outcomes every filter but `search` selects (unordered; `win_status` applied), from
    query parameters already validated by the caller."""
    data = {name: filters[name] for name in filters if name != "search"}  # a QueryDict gives last values
    unsearched = OutcomeFilter(data=data, queryset=AuctionOutcome.objects.all()).qs.order_by()
    return unsearched if win_status is None else unsearched.filter(win_status=win_status)
