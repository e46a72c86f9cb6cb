"""Realistic OpenRTB 2.6 BidRequests for the exchange simulator, tests and benchmarks, pure: the same
`random.Random` state gives the same requests.

A request is a site or an app, with 1-3 impressions (banners sized by w/h or by a `format` list,
or videos), floors in USD or EUR, a known user (the seeded demo profiles `user-001`..`user-020`,
and `synth-000001`.. when the caller seeded some), an unknown one, or none; one privacy state of
SPEC §16 (in the 2.6 fields or the 2.5 `ext` locations); sometimes `bcat`/`badv`, `cur`, `tmax`.

GDPR consent strings are TCF v2 core segments built here from the IAB's "Consent string and vendor
list formats v2" (not with Helios's encoder): `consent_string` grants a vendor purposes; the
refusing string is the IAB's own example, whose purposes (1, 2, 3) lack 4.
"""

import base64
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

TCF_VENDOR_ID = 1234  # set HELIOS_TCF_VENDOR_ID to this for `gdpr_consent` requests to count as consented
CONSENT_CREATED = datetime(2026, 12, 1, tzinfo=UTC)
# The IAB Tech Lab's example TC string (purposes 1, 2 and 3: not 4, so no vendor may personalise).
REFUSED_CONSENT = (
    "COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAEEUACCKAAA.IFoEUQQgAIQwgIwQABAEAAAAOIAACAIAAAAQAIAgEAACEAAAAAgAQBAAAAAAAGBAA"
    "gAAAAAAAFAAECAAAgAAQARAEQAAAAAJAAIAAgAAAYQEAAAQmAgBC3ZAYzUw"
)
US_PRIVACY_OPT_OUT = "1YYN"

OPEN, GDPR_CONSENT = "open", "gdpr_consent"
RESTRICTED = ("gdpr_no_consent", "gdpr_refused", "coppa", "us_privacy_opt_out", "gpc", "lmt")
PRIVACY_STATES = (OPEN, GDPR_CONSENT, *RESTRICTED)
# The ids `manage.py seed_profiles` gives its demo and synthetic users (profiles/demo.py; the simulator
# talks to Helios over HTTP only, so it names them rather than importing them: a test checks they agree).
DEMO_USER_IDS = tuple(f"user-{n:03d}" for n in range(1, 21))


def synthetic_user_id(number: int) -> str:
    return f"synth-{number:06d}"


SITES = ("news.example", "www.news.example", "sports.example", "m.travel.example", "food.example",
         "bargain-forum.example")  # fmt: skip
APPS = (("com.example.weather", "Weather Now"), ("com.playforge.arena", "Arena Clash"), ("1234567890", "Puzzle Box"))
BANNER_SIZES = ((300, 250), (728, 90), (320, 50), (300, 600), (160, 600), (970, 250), (336, 280), (468, 60))
VIDEO_SIZES = ((640, 480), (1280, 720), (640, 360), (1920, 1080))
FLOORS = (0.0, 0.0, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
BCATS = (["IAB25", "IAB26"], ["IAB7-39", "IAB8-18"], ["IAB17"], ["IAB13", "IAB9-30"])
BADVS = (["rival.example"], ["voltmotors.example"], ["summitoutdoor.example", "apple.com"])
COUNTRIES = ("USA", "CAN", "GBR", "DEU", "FRA", "JPN")
TMAXES = (80, 100, 120, 150, 200, 300)
UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36",
)


@dataclass(frozen=True)
class Mix:
    """How often each variety comes up (shares of requests, or of impressions for media)."""

    app: float = 0.35
    known_user: float = 0.6
    unknown_user: float = 0.3  # the rest: no user at all
    video: float = 0.2
    banner_format: float = 0.4
    eur_floor: float = 0.2
    blocks: float = 0.25
    no_tmax: float = 0.15
    legacy_ext: float = 0.3  # GDPR / US privacy signals in the 2.5 `ext` locations
    privacy: Mapping[str, float] = field(
        default_factory=lambda: (
            {OPEN: 0.5, GDPR_CONSENT: 0.15} | {state: 0.35 / len(RESTRICTED) for state in RESTRICTED}
        )
    )


@dataclass(frozen=True)
class Built:
    body: dict[str, Any]
    privacy: str  # one of PRIVACY_STATES
    user: str  # known | unknown | none

    @property
    def restricted(self) -> bool:
        return self.privacy in RESTRICTED


def consent_string(vendors: Iterable[int], purposes: Iterable[int], *, created: datetime = CONSENT_CREATED) -> str:
    """A TCF v2 core segment granting `vendors` consent for `purposes` (vendors as a bit field, no
    legitimate interests, no publisher restrictions)."""
    granted, wanted = set(vendors), set(purposes)
    deciseconds, top = round(created.timestamp() * 10), max(granted, default=0)
    bits = "".join([
        f"{2:06b}{deciseconds:036b}{deciseconds:036b}",  # version, created, last updated
        f"{7:012b}{1:012b}{1:06b}", _letters("EN"),  # CMP id, CMP version, consent screen, language
        f"{150:012b}{4:06b}10{0:012b}",  # vendor list version, policy version, service specific, special features
        "".join("1" if p in wanted else "0" for p in range(1, 25)), "0" * 24, "0", _letters("AA"),
        f"{top:016b}0", "".join("1" if v in granted else "0" for v in range(1, top + 1)),  # vendor consents
        f"{0:016b}0", f"{0:012b}",  # no vendor legitimate interests, no publisher restrictions
    ])  # fmt: skip
    bits += "0" * (-len(bits) % 8)
    raw = int(bits, 2).to_bytes(len(bits) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _letters(two: str) -> str:
    return "".join(f"{ord(c) - ord('A'):06b}" for c in two)


def build(rng: random.Random, *, mix: Mix | None = None, privacy: str | None = None, imps: int | None = None,
          app: bool | None = None, user: str | None = None, vendor_id: int = TCF_VENDOR_ID,
          synthetic_users: int = 0) -> Built:  # fmt: skip
    """One request; `privacy` (a PRIVACY_STATES name), `imps` (1-3), `app` and `user` (known |
    unknown | none) force a variety, the rest is drawn from `mix`."""
    mix = mix or Mix()
    states = list(mix.privacy)
    privacy = privacy or rng.choices(states, weights=[mix.privacy[s] for s in states])[0]
    if privacy not in PRIVACY_STATES:
        raise ValueError(f"unknown privacy state {privacy!r}")
    is_app = rng.random() < mix.app if app is None else app
    body: dict[str, Any] = {"id": f"{rng.getrandbits(64):016x}", "at": rng.choice((1, 2))}
    body["imp"] = [_imp(rng, mix, n) for n in range(1, (imps or rng.randint(1, 3)) + 1)]
    body["app" if is_app else "site"] = _app(rng) if is_app else _site(rng)
    body["device"] = _device(rng, is_app)
    kind = user or rng.choices(("known", "unknown", "none"),
                               weights=(mix.known_user, mix.unknown_user, 1 - mix.known_user - mix.unknown_user))[0]  # fmt: skip
    if kind != "none":
        body["user"] = {
            "id": _known_user(rng, synthetic_users) if kind == "known" else f"visitor-{rng.getrandbits(48):012x}"
        }
    _extras(rng, mix, body)
    _privacy(rng, mix, body, privacy, vendor_id)
    return Built(body, privacy, kind)


def bid_request(rng: random.Random, **kwargs: Any) -> dict[str, Any]:
    return build(rng, **kwargs).body


def bid_requests(count: int, *, seed: int = 20261204, **kwargs: Any) -> list[dict[str, Any]]:
    """`count` requests of one seeded stream (the same list for the same arguments)."""
    rng = random.Random(seed)
    return [build(rng, **kwargs).body for _ in range(count)]


def _known_user(rng: random.Random, synthetic_users: int) -> str:
    """A seeded demo user, or one of the first `synthetic_users` synthetic ones."""
    n = rng.randrange(len(DEMO_USER_IDS) + synthetic_users)
    return DEMO_USER_IDS[n] if n < len(DEMO_USER_IDS) else synthetic_user_id(n - len(DEMO_USER_IDS) + 1)


def _imp(rng: random.Random, mix: Mix, n: int) -> dict[str, Any]:
    imp: dict[str, Any] = {"id": str(n), "tagid": f"slot-{n}", "secure": 1}
    if rng.random() < mix.video:
        w, h = rng.choice(VIDEO_SIZES)
        imp["video"] = {"mimes": ["video/mp4", "video/webm"], "w": w, "h": h, "minduration": 5, "maxduration": 30,
                        "protocols": [2, 3, 5, 6], "plcmt": rng.choice((1, 2)), "linearity": 1}  # fmt: skip
        floor = rng.choice(FLOORS) * 2
    else:
        sizes = rng.sample(BANNER_SIZES, k=rng.randint(2, 3))
        if rng.random() < mix.banner_format:
            imp["banner"] = {"format": [{"w": w, "h": h} for w, h in sizes], "pos": rng.choice((0, 1, 3))}
        else:
            imp["banner"] = {"w": sizes[0][0], "h": sizes[0][1], "pos": rng.choice((0, 1, 3))}
        floor = rng.choice(FLOORS)
    if floor:
        imp["bidfloor"] = floor
        if rng.random() < mix.eur_floor:
            imp["bidfloorcur"] = "EUR"
    return imp


def _site(rng: random.Random) -> dict[str, Any]:
    domain = rng.choice(SITES)
    return {"id": f"site-{SITES.index(domain)}", "domain": domain, "page": f"https://{domain}/article/{rng.randint(1, 9999)}",
            "cat": [rng.choice(("IAB12", "IAB17", "IAB20", "IAB8"))], "publisher": {"id": "pub-1", "name": "Example Media"}}  # fmt: skip


def _app(rng: random.Random) -> dict[str, Any]:
    bundle, name = rng.choice(APPS)
    return {"id": f"app-{bundle}", "name": name, "bundle": bundle, "ver": "3.2.1",
            "storeurl": f"https://play.google.com/store/apps/details?id={bundle}", "publisher": {"id": "pub-2"}}  # fmt: skip


def _device(rng: random.Random, is_app: bool) -> dict[str, Any]:
    device: dict[str, Any] = {
        "ua": rng.choice(UAS),
        "ip": f"{rng.choice(('203.0.113', '198.51.100', '192.0.2'))}.{rng.randint(1, 254)}",
        "devicetype": rng.choice((1, 4, 5)) if is_app else rng.choice((2, 2, 4, 5)),
        "geo": {"country": rng.choice(COUNTRIES), "type": 2},
        "language": "en",
    }
    if is_app:
        device["ifa"] = f"{rng.getrandbits(128):032x}"
    return device


def _extras(rng: random.Random, mix: Mix, body: dict[str, Any]) -> None:
    if rng.random() < mix.blocks:
        body["bcat"] = list(rng.choice(BCATS))
        body["badv"] = list(rng.choice(BADVS))
    if rng.random() >= mix.no_tmax:
        body["tmax"] = rng.choice(TMAXES)
    roll = rng.random()
    if roll < 0.6:
        body["cur"] = ["USD"]
    elif roll < 0.7:
        body["cur"] = ["USD", "EUR"]


def _privacy(rng: random.Random, mix: Mix, body: dict[str, Any], privacy: str, vendor_id: int) -> None:
    legacy = rng.random() < mix.legacy_ext
    regs: dict[str, Any] = {}
    user = body.setdefault("user", {}) if privacy.startswith("gdpr") else body.get("user", {})
    if privacy.startswith("gdpr"):
        (regs.setdefault("ext", {}) if legacy else regs)["gdpr"] = 1
        consent = {GDPR_CONSENT: consent_string([vendor_id, 7, 99], [1, 2, 3, 4, 7]), "gdpr_refused": REFUSED_CONSENT}
        if privacy in consent:
            (user.setdefault("ext", {}) if legacy else user)["consent"] = consent[privacy]
    elif privacy == "coppa":
        regs["coppa"] = 1
    elif privacy == "us_privacy_opt_out":
        (regs.setdefault("ext", {}) if legacy else regs)["us_privacy"] = US_PRIVACY_OPT_OUT
    elif privacy == "gpc":
        regs["ext"] = {"gpc": 1}
    elif privacy == "lmt":
        body["device"]["lmt"] = 1
    elif rng.random() < 0.3:  # open, as US traffic often says so explicitly
        regs["us_privacy"] = "1YNN"
    if regs:
        body["regs"] = regs
