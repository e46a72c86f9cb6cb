"""OpenRTB 2.6 BidRequests for the RTB benchmark (bench/rtb_bid.py, bench/rtb_bid.lua), pure and seeded.

    .venv/bin/python bench/rtb_bodies.py --count 2000 --out /tmp/bodies.jsonl

Each body is one line of JSON whose `id` is ID_SLOT (the Lua script and the open-loop generator
put a unique id there). The mix:

- placement: 70 % site (news, sports, travel... pages), 30 % app (bundles, one of them targeted by
  the benchmark's app campaign);
- 1-3 impressions: banners with `w`/`h` (IAB sizes the demo creatives have, and some they do not),
  banners with a `format` list, ~15 % video (16:9 players);
- floors: half without, the rest 0.10-2.50, a quarter of those in EUR (converted by the
  handler's HELIOS_CURRENCY_RATES); `cur` sometimes given;
- users: 55 % known (the seeded demo users user-001..020 and synthetic synth-NNNNNN), 30 %
  unknown, 15 % none;
- privacy: 65 % open, then GDPR without consent, COPPA, US Privacy `1YYN`, GPC and LMT (some in
  their OpenRTB 2.5 `ext` places);
- 20 % `bcat`, 10 % `badv`; `tmax` 120-300 ms; device IP, UA, country, device type.
"""

import argparse
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

ID_SLOT = "rtb-bench-request-id"
NETWORK_ALLOWANCE_MS = 20  # SPEC §12 defaults: the deadline is tmax minus this, capped
DEADLINE_CAP_MS = 100
DEFAULT_TMAX_MS = 120
DEMO_USERS = 20

SITES = ("news.example", "sports.example", "travel.example", "food.example", "techdaily.example",
         "bargain-forum.example", "finance.example", "gaming-hub.example")  # fmt: skip
APPS = (("com.fitpulse.tracker", "fitpulse.example"), ("com.example.puzzlequest", "puzzlequest.example"),
        ("com.example.newsreader", "newsreader.example"), ("com.example.weather", "weather.example"))  # fmt: skip
BANNER_SIZES = ((300, 250), (300, 250), (728, 90), (320, 50), (300, 600), (160, 600), (970, 250), (468, 60))
FORMATS = (
    ((300, 250), (336, 280)),
    ((728, 90), (970, 250)),
    ((300, 600), (160, 600), (300, 250)),
    ((320, 50), (320, 100)),
)
VIDEO_SIZES = ((1280, 720), (640, 360), (1920, 1080))
COUNTRIES = ("USA", "USA", "GBR", "DEU", "CAN", "FRA", "ESP")
DEVICE_TYPES = (1, 2, 2, 4, 5)  # OpenRTB: mobile/tablet, PC, phone, tablet
UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36",
)
BCAT = (["IAB7-39", "IAB8-18"], ["IAB2"], ["IAB13", "IAB25"], ["IAB9-30"], ["IAB17"])
BADV = (["voltmotors.example"], ["bytebank.example", "casino.example"], ["summitoutdoor.example"])
PRIVACY = (("open", 0.65), ("gdpr_no_consent", 0.08), ("coppa", 0.05), ("us_privacy_opt_out", 0.08),
           ("gpc", 0.07), ("lmt", 0.07))  # fmt: skip
PRIVACY_STATES = tuple(state for state, _ in PRIVACY)


def deadline_ms(body: dict[str, Any]) -> float:
    """The answer's deadline the handler works to (SPEC §12 defaults): tmax - 20 ms, at most 100 ms."""
    tmax = body.get("tmax", DEFAULT_TMAX_MS)
    return float(min(tmax - NETWORK_ALLOWANCE_MS, DEADLINE_CAP_MS))


def _imp(rng: random.Random, number: int) -> dict[str, Any]:
    imp: dict[str, Any] = {"id": str(number)}
    roll = rng.random()
    if roll < 0.15:
        w, h = rng.choice(VIDEO_SIZES)
        imp["video"] = {
            "mimes": ["video/mp4"],
            "w": w,
            "h": h,
            "minduration": 5,
            "maxduration": 30,
            "protocols": [2, 3],
        }
    elif roll < 0.35:
        imp["banner"] = {"format": [{"w": w, "h": h} for w, h in rng.choice(FORMATS)]}
    else:
        w, h = rng.choice(BANNER_SIZES)
        imp["banner"] = {"w": w, "h": h, "pos": rng.choice((0, 1, 3))}
    if rng.random() < 0.5:
        imp["bidfloor"] = rng.choice((0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5))
        imp["bidfloorcur"] = "EUR" if rng.random() < 0.25 else "USD"
    imp["secure"] = 1
    return imp


def _user(rng: random.Random, synthetic: int) -> str | None:
    roll = rng.random()
    if roll < 0.55:
        if synthetic and rng.random() < 0.5:
            return f"synth-{rng.randint(1, synthetic):06d}"
        return f"user-{rng.randint(1, DEMO_USERS):03d}"
    return f"visitor-{rng.getrandbits(48):012x}" if roll < 0.85 else None


def _privacy(rng: random.Random) -> str:
    roll, total = rng.random(), 0.0
    for state, share in PRIVACY:
        total += share
        if roll < total:
            return state
    return "open"


def _apply_privacy(body: dict[str, Any], state: str, rng: random.Random) -> None:
    """The signals of `state` (campaigns/privacy.py), in the 2.6 or the 2.5 `ext` place."""
    legacy = rng.random() < 0.3
    regs: dict[str, Any] = {}
    if state == "gdpr_no_consent":
        if legacy:
            regs["ext"] = {"gdpr": 1}
        else:
            regs["gdpr"] = 1
    elif state == "coppa":
        regs["coppa"] = 1
    elif state == "us_privacy_opt_out":
        if legacy:
            regs["ext"] = {"us_privacy": "1YYN"}
        else:
            regs["us_privacy"] = "1YYN"
    elif state == "gpc":
        regs["ext"] = {"gpc": 1}
    elif state == "lmt":
        body["device"]["lmt"] = 1
    elif rng.random() < 0.3:
        regs["us_privacy"] = "1NNN"  # California, not opted out: still open
    if regs:
        body["regs"] = regs


def make_body(rng: random.Random, *, synthetic: int = 0) -> dict[str, Any]:
    """One BidRequest (a dict; its `id` is ID_SLOT); `synthetic`: how many synth- users are seeded."""
    body: dict[str, Any] = {"id": ID_SLOT, "imp": [_imp(rng, n + 1) for n in range(rng.choice((1, 1, 2, 3)))]}
    if rng.random() < 0.7:
        domain = rng.choice(SITES)
        body["site"] = {"id": domain.split(".")[0], "domain": domain, "page": f"https://{domain}/article/{rng.randint(1, 999)}",
                        "publisher": {"id": f"pub-{rng.randint(1, 40)}"}}  # fmt: skip
    else:
        bundle, domain = rng.choice(APPS)
        body["app"] = {
            "id": bundle,
            "bundle": bundle,
            "domain": domain,
            "publisher": {"id": f"pub-{rng.randint(1, 40)}"},
        }
    body["device"] = {
        "ua": rng.choice(UAS),
        "ip": f"203.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        "geo": {"country": rng.choice(COUNTRIES)},
        "devicetype": rng.choice(DEVICE_TYPES),
    }
    user = _user(rng, synthetic)
    if user is not None:
        body["user"] = {"id": user}
    _apply_privacy(body, _privacy(rng), rng)
    if rng.random() < 0.2:
        body["bcat"] = rng.choice(BCAT)
    if rng.random() < 0.1:
        body["badv"] = rng.choice(BADV)
    if rng.random() < 0.3:
        body["cur"] = rng.choice((["USD"], ["USD", "EUR"]))
    body["tmax"] = rng.choice((120, 120, 150, 200, 250, 300))
    body["at"] = 1
    return body


def privacy_state(body: dict[str, Any]) -> str:
    """Which PRIVACY state a body of make_body's was given (for the tests and the run's summary)."""
    regs = body.get("regs", {})
    ext = regs.get("ext", {})
    if regs.get("coppa"):
        return "coppa"
    if regs.get("gdpr") or ext.get("gdpr"):
        return "gdpr_no_consent"
    if "Y" in (regs.get("us_privacy") or ext.get("us_privacy") or "")[2:3]:
        return "us_privacy_opt_out"
    if ext.get("gpc"):
        return "gpc"
    return "lmt" if body.get("device", {}).get("lmt") else "open"


def _user_kind(body: dict[str, Any]) -> str:
    user = body.get("user", {}).get("id")
    if user is None:
        return "none"
    if user.startswith("user-"):
        return "known_demo"
    return "known_synthetic" if user.startswith("synth-") else "unknown"


def _imp_kinds(imp: dict[str, Any]) -> list[str]:
    media = "video" if "video" in imp else ("banner_format" if "format" in imp.get("banner", {}) else "banner_wh")
    floor = f"floor_{imp['bidfloorcur'].lower()}" if "bidfloor" in imp else "no_floor"
    return [media, floor]


def mix(bodies: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """How many bodies (impressions, for `imps`) of each variety: what the benchmark sent."""
    counts: dict[str, Counter[str]] = {k: Counter() for k in ("placement", "imps_per_request", "imps", "users",
                                                              "privacy", "blocks", "tmax_ms")}  # fmt: skip
    for body in bodies:
        counts["placement"]["site" if "site" in body else "app"] += 1
        counts["imps_per_request"][str(len(body["imp"]))] += 1
        for imp in body["imp"]:
            counts["imps"].update(_imp_kinds(imp))
        counts["users"][_user_kind(body)] += 1
        counts["privacy"][privacy_state(body)] += 1
        counts["blocks"].update(k for k in ("bcat", "badv", "cur") if k in body)
        counts["tmax_ms"][str(body["tmax"])] += 1
    return {name: dict(sorted(c.items())) for name, c in counts.items()}


def make_bodies(count: int, *, seed: int = 15, synthetic: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [make_body(rng, synthetic=synthetic) for _ in range(count)]


def write_bodies(path: Path, bodies: list[dict[str, Any]]) -> Path:
    """One compact JSON document per line (what bench/rtb_bid.lua and bench/loadgen.py read)."""
    path.write_text("".join(json.dumps(b, separators=(",", ":")) + "\n" for b in bodies))
    return path


def read_bodies(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--synthetic", type=int, default=0, help="synth- users seeded in the profile store")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    write_bodies(args.out, make_bodies(args.count, seed=args.seed, synthetic=args.synthetic))


if __name__ == "__main__":
    main()
