"""Per-role throughput: the bidder, the auction, the outcomes sink, and batched profile lookups.

    .venv/bin/python bench/roles.py [--only bidder,auction,outcomes,profiles] [--messages N] [--processes 1,2]

- bidder: N bid_requests (simulate's shape: 1-3 impressions, 80 % seeded synthetic users, 10 %
  unknown, 10 % none) are written to fresh topics first; then `runprofiles` (Redis DB 12 seeded
  with SYNTHETIC users) and `runkafka bidder` start (profile deadline 1 s, so that every lookup is
  answered and the breaker never skips them), and the bench polls the bid_responses
  topic's end offsets until every impression has its response. Rate = requests consumed per
  second from the first response to the last (process start-up excluded; wall time reported too).
- auction: N bid_responses (70 % bids, 30 % no-bids) pre-loaded, `runkafka auction` started;
  messages/s from the first auction_outcome to the N-th (the output topic's end offsets).
- outcomes: N auction_outcomes pre-loaded, `runkafka outcomes` started on the empty benchmark
  database; rows/s from the first stored row to the N-th (helios_outcomes_stored_total), then
  `count(*)` checks that exactly N rows exist.
- profiles: `GrpcProfileLookup.batch_get` of 500 random ids (10 % unknown) against `runprofiles`
  on Redis DB 12 seeded with SYNTHETIC users, back to back for a fixed time, from 1 and from 4
  client threads: ids/s, calls/s and call latency.

With --processes 1,2 the bidder, auction and outcomes benches also run with 2 processes of the role in
one consumer group (3 partitions). bench/results/roles.json.
"""

import argparse
import json
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from common import (
    QUICK,
    RESULTS,
    CpuMeter,
    Roles,
    count_outcomes,
    create_topics,
    delete_topics,
    django_setup,
    flush_redis,
    load_average,
    log,
    machine,
    new_prefix,
    prepare_bench_database,
    produce_all,
    py_spy,
    seed_profiles,
    topic_end_offsets,
    truncate_outcomes,
    write_result,
)

SYNTHETIC = 20_000 if QUICK else 100_000
BATCH_IDS = 500
TARGET_BIDDER_PER_S = 20_000
TARGET_OUTCOMES_PER_S = 20_000
TARGET_AUCTION_PER_S = 40_000
POLL_S = 0.05
PROFILE_S = 20
LOOKUP_DEADLINE_S = 1.0
TIMEOUT_S = 600


def bid_requests(count: int, seed: int = 11) -> Iterator[tuple[bytes, bytes, int]]:
    from pipeline.messages import BidRequest, Imp, encode, utc_now

    rng = random.Random(seed)
    now = utc_now()
    for i in range(count):
        roll = rng.random()
        user = f"synth-{rng.randint(1, SYNTHETIC):06d}" if roll < 0.8 else (f"visitor-{i}" if roll < 0.9 else None)
        imps = [
            Imp(imp_id=str(j + 1), bidfloor=rng.choice((0.0, 0.1, 0.3, 0.5, 0.9, 1.5)), w=300, h=250, media="banner")
            for j in range(rng.choice((1, 1, 1, 2, 2, 3)))
        ]
        request_id = f"bench-{seed}-{i}"
        message = BidRequest(
            request_id=request_id,
            user_id=user,
            received_at=now,
            source="helios",
            site_domain=rng.choice(("news.com", "sports.net", "travel.io")),
            site_page="/",
            device_ip="192.0.2.1",
            device_ua="Mozilla/5.0",
            imps=imps,
        )
        yield request_id.encode(), encode(message), len(imps)


def bid_responses(count: int, seed: int = 17) -> Iterator[tuple[bytes, bytes]]:
    """The bidder's output shape: 70 % bids (the house creative), 30 % no-bids below the floor."""
    from pipeline.messages import AdCreative, BidResponse, encode, utc_now

    rng = random.Random(seed)
    now = utc_now()
    creative = AdCreative(
        creative_id="cr-sports-1",
        title="Sports",
        image_url="https://cdn/x.png",
        landing_url="https://x",
        bid_tier="premium",
    )
    for i in range(count):
        bids = rng.random() < 0.7
        request_id = f"bench-{seed}-{i}"
        message = BidResponse(
            bid_request_id=request_id,
            imp_id="1",
            user_id=f"synth-{rng.randint(1, 100_000):06d}",
            received_at=now,
            site_domain="news.com",
            bid_price=round(rng.uniform(0.5, 2.0), 2) if bids else 0.0,
            bid_floor=0.5,
            timestamp=now,
            enriched=True,
            winning_interest="sports",
            interest_score=0.9,
            user_interests=["sports", "travel"],
            no_bid_reason=None if bids else "below_floor",
            ad_creative=creative if bids else None,
        )
        yield request_id.encode(), encode(message)


def auction_outcomes(count: int, seed: int = 13) -> Iterator[tuple[bytes, bytes]]:
    from pipeline.messages import AdCreative, AuctionOutcomeMessage, encode, utc_now

    rng = random.Random(seed)
    now = utc_now()
    creative = AdCreative(
        creative_id="cr-sports-1",
        title="Sports",
        image_url="https://cdn/x.png",
        landing_url="https://x",
        bid_tier="premium",
    )
    for i in range(count):
        won = rng.random() < 0.6
        request_id = f"bench-{seed}-{i}"
        message = AuctionOutcomeMessage(
            bid_request_id=request_id,
            imp_id="1",
            user_id=f"synth-{rng.randint(1, 100_000):06d}",
            received_at=now,
            site_domain="news.com",
            bid_price=1.2,
            bid_floor=0.5,
            timestamp=now,
            enriched=True,
            winning_interest="sports",
            interest_score=0.9,
            user_interests=["sports", "travel"],
            ad_creative=creative,
            win_status=won,
            win_price=0.9 if won else 0.0,
            auction_timestamp=now,
            loss_reason=None if won else "lost",
        )
        yield request_id.encode(), encode(message)


def _timed_progress(progress: Any, expected: float) -> dict[str, float]:
    """Polls progress() until it reaches `expected`; the times of the first output and the last."""
    started = time.monotonic()
    first_t = first_n = None
    n = 0.0
    while time.monotonic() - started < TIMEOUT_S:
        n = progress()
        now = time.monotonic()
        if first_t is None and n > 0:
            first_t, first_n = now, n
        if n >= expected:
            break
        time.sleep(POLL_S)
    else:
        raise TimeoutError(f"only {n} of {expected} after {TIMEOUT_S} s")
    assert first_t is not None and first_n is not None
    return {"first_t": first_t, "first_n": first_n, "end_t": now, "n": n, "started": started}


def bench_bidder(messages: int, processes: int, profile: bool = False) -> dict[str, Any]:
    prefix = new_prefix()
    workdir = Path(tempfile.mkdtemp(prefix="helios-bench-bidder-"))
    create_topics(prefix)
    # Every lookup answered: on a loaded box a 500-id lookup can miss the 50 ms production deadline,
    # and five misses open the breaker, after which the bidder skips lookups (and looks faster).
    roles = Roles(prefix, workdir, HELIOS_PROFILE_DEADLINE_S=str(LOOKUP_DEADLINE_S))
    try:
        log(f"bidder x{processes}: pre-loading {messages} bid_requests")
        impressions = 0

        def counted() -> Iterator[tuple[bytes, bytes]]:
            nonlocal impressions
            for key, value, imps in bid_requests(messages):
                impressions += imps
                yield key, value

        produce_all(f"{prefix}bid_requests", counted())
        seed_profiles(roles.env, SYNTHETIC)
        roles.start("profiles")
        out_topic = f"{prefix}bid_responses"
        extra = []
        meter = None
        started = time.monotonic()
        roles.start("bidder")
        spy = py_spy(roles.pid("bidder"), "bidder", PROFILE_S) if profile else None
        for i in range(1, processes):
            extra.append(roles.start_extra("bidder", i))
        meter = CpuMeter(
            {"bidder": [roles.pid("bidder"), *[p.pid for p in extra]], "profiles": [roles.pid("profiles")]}
        )
        meter.start()
        timing = _timed_progress(lambda: topic_end_offsets(out_topic), impressions)
        cores = meter.stop()
        if spy is not None:
            spy.wait(PROFILE_S + 30)
        metrics = roles.metrics("bidder")
        enrichment = {
            status: metrics.value("user_profile_enrichment_total", status=status)
            for status in ("found", "not_found", "no_user", "unavailable", "skipped", "error")
        }
    finally:
        roles.stop_all()
        delete_topics(prefix)
    span = timing["end_t"] - timing["first_t"]
    out_rate = (timing["n"] - timing["first_n"]) / span
    rate = out_rate * messages / impressions
    log(f"bidder x{processes}: {rate:.0f} requests/s ({out_rate:.0f} responses/s), cores {cores}")
    return {
        "processes": processes,
        "messages": messages,
        "impressions": impressions,
        "messages_per_s": round(rate),
        "responses_per_s": round(out_rate),
        "wall_s_from_process_start": round(timing["end_t"] - started, 2),
        "enrichment_first_process": enrichment,
        "cpu_cores": cores,
        "load_average": load_average(),
    }


def bench_outcomes(messages: int, processes: int, database: str, profile: bool = False) -> dict[str, Any]:
    prefix = new_prefix()
    workdir = Path(tempfile.mkdtemp(prefix="helios-bench-outcomes-"))
    create_topics(prefix)
    truncate_outcomes(database)
    roles = Roles(prefix, workdir, DATABASE_URL=database)
    try:
        log(f"outcomes x{processes}: pre-loading {messages} auction_outcomes")
        produce_all(f"{prefix}auction_outcomes", auction_outcomes(messages))
        started = time.monotonic()
        roles.start("outcomes")
        spy = py_spy(roles.pid("outcomes"), "outcomes", PROFILE_S) if profile else None
        extra = [roles.start_extra("outcomes", i) for i in range(1, processes)]
        meter = CpuMeter({"outcomes": [roles.pid("outcomes"), *[p.pid for p in extra]]})
        meter.start()
        ports = [roles.ports["outcomes"], *roles.extra_ports("outcomes")]
        timing = _timed_progress(lambda: roles.sum_metric(ports, "helios_outcomes_stored_total"), messages)
        cores = meter.stop()
        if spy is not None:
            spy.wait(PROFILE_S + 30)
        stored = count_outcomes(database)
    finally:
        roles.stop_all()
        delete_topics(prefix)
        truncate_outcomes(database)
    span = timing["end_t"] - timing["first_t"]
    rate = (timing["n"] - timing["first_n"]) / span
    log(f"outcomes x{processes}: {rate:.0f} rows/s, {stored} rows, cores {cores}")
    return {
        "processes": processes,
        "messages": messages,
        "rows_stored": stored,
        "exactly_n_rows": stored == messages,
        "rows_per_s": round(rate),
        "wall_s_from_process_start": round(timing["end_t"] - started, 2),
        "cpu_cores": cores,
        "load_average": load_average(),
    }


def bench_auction(messages: int, processes: int, profile: bool = False) -> dict[str, Any]:
    prefix = new_prefix()
    workdir = Path(tempfile.mkdtemp(prefix="helios-bench-auction-"))
    create_topics(prefix)
    roles = Roles(prefix, workdir)
    try:
        log(f"auction x{processes}: pre-loading {messages} bid_responses")
        produce_all(f"{prefix}bid_responses", bid_responses(messages))
        out_topic = f"{prefix}auction_outcomes"
        started = time.monotonic()
        roles.start("auction")
        spy = py_spy(roles.pid("auction"), "auction", PROFILE_S) if profile else None
        extra = [roles.start_extra("auction", i) for i in range(1, processes)]
        meter = CpuMeter({"auction": [roles.pid("auction"), *[p.pid for p in extra]]})
        meter.start()
        timing = _timed_progress(lambda: topic_end_offsets(out_topic), messages)
        cores = meter.stop()
        if spy is not None:
            spy.wait(PROFILE_S + 30)
    finally:
        roles.stop_all()
        delete_topics(prefix)
    span = timing["end_t"] - timing["first_t"]
    rate = (timing["n"] - timing["first_n"]) / span
    log(f"auction x{processes}: {rate:.0f} messages/s, cores {cores}")
    return {
        "processes": processes,
        "messages": messages,
        "messages_per_s": round(rate),
        "wall_s_from_process_start": round(timing["end_t"] - started, 2),
        "cpu_cores": cores,
        "load_average": load_average(),
    }


def _lookup_worker(target: str, seed: int, stop_at: float, out: list[tuple[list[float], int]]) -> None:
    """Back-to-back batch_get calls of BATCH_IDS ids until `stop_at`; appends (latencies, found)."""
    from profiles.client import GrpcProfileLookup
    from profiles.demo import synthetic_user_id

    rng = random.Random(seed)
    latencies: list[float] = []
    found = 0
    with GrpcProfileLookup(target) as lookup:
        lookup.wait_ready(timeout_s=10)
        lookup.batch_get([synthetic_user_id(1)], timeout_s=5)  # connect outside the timing
        while time.monotonic() < stop_at:
            ids = [
                synthetic_user_id(rng.randint(1, SYNTHETIC)) if rng.random() < 0.9 else f"nobody-{rng.random()}"
                for _ in range(BATCH_IDS)
            ]
            t = time.perf_counter()
            found += len(lookup.batch_get(ids, timeout_s=5))
            latencies.append(time.perf_counter() - t)
    out.append((latencies, found))


def bench_profiles(seconds: float) -> list[dict[str, Any]]:
    prefix = new_prefix()
    workdir = Path(tempfile.mkdtemp(prefix="helios-bench-profiles-"))
    roles = Roles(prefix, workdir)
    results = []
    try:
        log(f"profiles: seeding {SYNTHETIC} synthetic users into Redis DB 12")
        seed_profiles(roles.env, SYNTHETIC)
        roles.start("profiles")
        target = f"127.0.0.1:{roles.grpc_port}"
        for threads in (1, 4):
            outs: list[tuple[list[float], int]] = []
            meter = CpuMeter({"profiles": [roles.pid("profiles")]})
            meter.start()
            began = time.monotonic()
            workers = [
                threading.Thread(target=_lookup_worker, args=(target, i, began + seconds, outs)) for i in range(threads)
            ]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            elapsed = time.monotonic() - began
            cores = meter.stop()
            latencies = sorted(x for lat, _ in outs for x in lat)
            found = sum(f for _, f in outs)
            calls = len(latencies)
            result = {
                "client_threads": threads,
                "ids_per_call": BATCH_IDS,
                "calls": calls,
                "calls_per_s": round(calls / elapsed, 1),
                "lookups_per_s": round(calls * BATCH_IDS / elapsed),
                "found_ratio": round(found / max(calls * BATCH_IDS, 1), 3),
                "call_p50_ms": round(statistics.median(latencies) * 1000, 2),
                "call_p99_ms": round(latencies[min(calls - 1, int(0.99 * calls))] * 1000, 2),
                "cpu_cores": cores,
                "load_average": load_average(),
            }
            log(
                f"profiles, {threads} client thread(s): {result['lookups_per_s']} lookups/s, p50 {result['call_p50_ms']} ms"
            )
            results.append(result)
    finally:
        roles.stop_all()
        flush_redis()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="bidder,auction,outcomes,profiles")
    parser.add_argument("--messages", type=int, default=20_000 if QUICK else 200_000)
    parser.add_argument("--processes", default="1" if QUICK else "1,2")
    parser.add_argument("--seconds", type=float, default=3 if QUICK else 20, help="per profile-lookup run")
    parser.add_argument("--profile", action="store_true", help="py-spy a separate bidder and outcomes run")
    args = parser.parse_args()
    django_setup()
    which = set(args.only.split(","))
    counts = [int(p) for p in args.processes.split(",")]
    about = machine()
    result: dict[str, Any] = {"machine": about}
    if "profiles" in which:
        result["profiles"] = bench_profiles(args.seconds)
    if "bidder" in which:
        result["bidder"] = [bench_bidder(args.messages, n) for n in counts]
        if args.profile:
            log(f"profiling the bidder ({PROFILE_S} s, not a measured run)")
            bench_bidder(args.messages, 1, profile=True)
            result["profile_bidder"] = "bench/results/bidder.svg"
        flush_redis()
    if "auction" in which:
        result["auction"] = [bench_auction(args.messages, n) for n in counts]
        if args.profile:
            log(f"profiling the auction ({PROFILE_S} s, not a measured run)")
            bench_auction(args.messages, 1, profile=True)
            result["profile_auction"] = "bench/results/auction.svg"
    if "outcomes" in which:
        database = prepare_bench_database()
        result["outcomes"] = [bench_outcomes(args.messages, n, database) for n in counts]
        if args.profile:
            log(f"profiling the outcomes role ({PROFILE_S} s, not a measured run)")
            bench_outcomes(args.messages, 1, database, profile=True)
            result["profile_outcomes"] = "bench/results/outcomes.svg"
    result["targets"] = {
        "bidder_messages_per_s": TARGET_BIDDER_PER_S,
        "auction_messages_per_s": TARGET_AUCTION_PER_S,
        "outcomes_rows_per_s": TARGET_OUTCOMES_PER_S,
    }
    single = {
        name: next((r for r in result.get(name, []) if r["processes"] == 1), None)
        for name in ("bidder", "auction", "outcomes")
    }
    result["met"] = {
        "bidder": bool(single["bidder"] and single["bidder"]["messages_per_s"] >= TARGET_BIDDER_PER_S),
        "auction": bool(single["auction"] and single["auction"]["messages_per_s"] >= TARGET_AUCTION_PER_S),
        "outcomes": bool(single["outcomes"] and single["outcomes"]["rows_per_s"] >= TARGET_OUTCOMES_PER_S),
    }
    sections = ("bidder", "auction", "outcomes", "profiles")
    if which != set(sections) and (RESULTS / "roles.json").exists():
        previous = json.loads((RESULTS / "roles.json").read_text())
        result = {**{k: v for k, v in previous.items() if k in sections}, **result}
        result["met"] = {**previous.get("met", {}), **{k: v for k, v in result["met"].items() if k in which}}
    write_result("roles", result)


if __name__ == "__main__":
    main()
