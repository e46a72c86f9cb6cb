"""Issue 16's frequency cap test (SPEC §14, §15): a campaign capped at 3 billed impressions per user
per window; the simulated exchange sends requests for its 20 known users (and unknown ones) to two
handler processes in turn, every win billed (three times). No user is ever billed a 4th impression
for the campaign, in the outcome rows nor in the ledger, and the cap is what stopped the bidding."""

from collections import Counter

import pytest

from exchange.requests import DEMO_USER_IDS
from tests.e2e.harness import wait_for
from tests.faults.money_support import (
    billed_counts,
    billed_rows,
    create_campaign,
    ledger_prefix,
    ledger_state,
    money_platform,
    play,
    start_handlers,
)

__all__ = ["ledger_prefix"]  # fixture

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CAP = 3


def test_no_user_is_billed_a_fourth_impression_across_handlers(topic_prefix, tmp_path, ledger_prefix):
    campaign = create_campaign(fixed_cpm=1.0, frequency_cap=CAP, frequency_window_s=3600)
    with money_platform(tmp_path, topic_prefix, ledger_prefix) as platform:
        ports = start_handlers(platform, 2)
        summary = play(ports, rate=150, duration_s=15, auction="first", competitors=3, seed=61)
        assert summary["invalid_bids"] == 0 and summary["errors"] == {}
        assert summary["notice_answers"]["bill"] == {"204": 3 * summary["wins"]}

        def drained() -> bool:
            return (
                len(billed_rows(campaign)) == summary["wins"]
                and ledger_state(ledger_prefix, campaign).open_reservations == 0
            )

        wait_for(drained, 90, "every bill applied", interval_s=1)
    rows = billed_rows(campaign)
    per_user = Counter(row.user_id for row in rows if row.user_id)
    known = billed_counts(ledger_prefix, campaign, list(DEMO_USER_IDS))
    print(f"{len(rows)} billed rows; most billed to one user {max(per_user.values())}; known users' rows "
          f"{[per_user[user] for user in DEMO_USER_IDS]}, ledger {list(known.values())}")  # fmt: skip
    assert max(per_user.values()) <= CAP  # never a 4th billed impression, whichever handler bid
    assert {user: per_user[user] for user in DEMO_USER_IDS} == known  # the ledger counted the same
    assert sum(n == CAP for n in known.values()) >= len(DEMO_USER_IDS) // 2  # the cap held them back
    assert summary["wins"] > CAP * len(DEMO_USER_IDS) // 2
