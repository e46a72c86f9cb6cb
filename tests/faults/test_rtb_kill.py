"""`kill -9` of the handler under `/openrtb2/bid` load (SPEC §12): every bid it answered has its
events in Kafka — the request on `bid_requests`, the bid (same bid id, same price) on
`bid_responses` — because an answer with a bid leaves only once Kafka acknowledged them."""

import http.client
import json
import threading
import time
from dataclasses import dataclass, field

import pytest

from intake.tests.helpers import read_messages
from pipeline import topics
from pipeline.messages import BidResponse, decode
from tests.e2e.rtb_support import create_campaign, rtb_platform, rtb_request, staff

__all__ = ["rtb_platform", "staff"]  # fixtures

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

KILL_AFTER = 1500  # bids answered before the kill
AFTER_RESTART = 500  # and after the handler is back
SENDERS = 8


@dataclass
class Answers:
    bids: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)  # (request, imp) -> (bid id, price)
    no_bids: int = 0
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, request_id: str, status: int, answer: dict) -> None:
        with self.lock:
            if status == 200:
                for bid in answer["seatbid"][0]["bid"]:
                    self.bids[(request_id, bid["impid"])] = (bid["id"], bid["price"])
            else:
                self.no_bids += 1


def sender(port_of, answers: Answers, stop: threading.Event, index: int) -> None:
    n, conn = 0, None
    while not stop.is_set():
        n += 1
        request_id = f"kill-{index}-{n}"
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port_of(), timeout=5)
            conn.request(
                "POST", "/openrtb2/bid", json.dumps(rtb_request(request_id)), {"Content-Type": "application/json"}
            )
            response = conn.getresponse()
            raw = response.read()
            answers.record(request_id, response.status, json.loads(raw) if raw else {})
        except (OSError, http.client.HTTPException):
            with answers.lock:
                answers.errors += 1
            conn = None
            time.sleep(0.05)


def test_kill_9_of_the_handler_under_rtb_load_loses_no_event_of_an_answered_bid(rtb_platform, staff):
    platform = rtb_platform
    create_campaign(staff)
    platform.start("profiles")
    platform.start("handler")
    answers, stop = Answers(), threading.Event()
    threads = [
        threading.Thread(target=sender, args=(lambda: platform.handler_port, answers, stop, i)) for i in range(SENDERS)
    ]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 120
        while len(answers.bids) < KILL_AFTER and time.monotonic() < deadline:
            time.sleep(0.01)
        platform.kill("handler")  # mid-stream: requests in flight, acknowledgements pending
        killed_at = len(answers.bids)
        time.sleep(1.0)
        platform.start("handler")
        while len(answers.bids) < killed_at + AFTER_RESTART and time.monotonic() < deadline + 60:
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert killed_at >= KILL_AFTER and len(answers.bids) >= killed_at + AFTER_RESTART
    assert answers.errors > 0  # the kill really cut requests off

    requests = {m.key().decode() for m in read_messages(topics.resolved(topics.BID_REQUESTS), expect=len(answers.bids))}
    recorded: dict[tuple[str, str], tuple[str | None, float]] = {}
    for message in read_messages(topics.resolved(topics.BID_RESPONSES), expect=len(answers.bids)):
        response = decode(message.value(), BidResponse)
        recorded[(response.bid_request_id, response.imp_id)] = (response.bid_id, response.price_cpm)
    lost = [key for key, bid in answers.bids.items() if recorded.get(key) != bid or key[0] not in requests]
    print(f"answered bids {len(answers.bids)}, no-bids {answers.no_bids}, errors {answers.errors}, lost {len(lost)}")
    assert lost == []
