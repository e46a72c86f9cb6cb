"""The benchmarks' load generator, in a process of its own: intake/loadgen.py (the one behind
`manage.py simulate`) with the benchmark defaults (64 connections, seed 7).

    .venv/bin/python bench/loadgen.py --url http://127.0.0.1:8080/bid --rate 2000 --duration 30 [--json]

Prints one JSON summary line with --json. With `--bodies FILE` (bench/rtb_bodies.py's JSON lines,
e.g. to /openrtb2/bid) it sends those bodies in turn instead, each with a unique id, and counts the
answers later than each request's own deadline (tmax - 20 ms, at most 100 ms) as `late_answers`.
"""

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from intake.loadgen import Template, run  # noqa: E402 - needs sys.path first


def rtb_templates(path: Path) -> list[Template]:
    """bench/rtb_bodies.py's bodies, each with its deadline."""
    sys.path.insert(1, str(REPO / "bench"))
    from rtb_bodies import deadline_ms, read_bodies

    return [Template(body, deadline_ms(body) / 1000) for body in read_bodies(path)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--duration", type=float, required=True, help="seconds")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--drain", type=float, default=15.0, help="seconds to wait for the last answers")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--bodies", type=Path, help="OpenRTB bodies (JSON lines) to send instead")
    args = parser.parse_args()
    summary = run(
        args.url,
        rate=args.rate,
        duration_s=args.duration,
        connections=args.connections,
        seed=args.seed,
        drain_s=args.drain,
        templates=rtb_templates(args.bodies) if args.bodies else None,
    )
    if args.json:
        print(json.dumps(summary), flush=True)
    else:
        for key, value in summary.items():
            print(f"{key:>24}: {value}")


if __name__ == "__main__":
    main()
