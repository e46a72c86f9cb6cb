"""Demo campaigns for `seed_campaigns`: realistic budgets, pacing, targeting and caps (SPEC §13).

Money here is in micros of USD. All on `.example` domains; nothing is fetched.
"""

from typing import Any

_CDN = "https://cdn.helios.example/demo"
DAY_S = 86_400


def _usd(amount: float) -> int:
    return round(amount * 1_000_000)


def _banner(crid: str, title: str, w: int, h: int, landing: str) -> dict[str, Any]:
    return {
        "crid": crid,
        "title": title,
        "media": "banner",
        "w": w,
        "h": h,
        "image_url": f"{_CDN}/{crid}-{w}x{h}.png",
        "landing_url": landing,
    }


_VAST = (
    '<VAST version="4.2"><Ad id="{crid}"><InLine><AdSystem>Helios</AdSystem><AdTitle>{title}</AdTitle>'
    "<Impression><![CDATA[https://ads.helios.example/imp?crid={crid}]]></Impression><Creatives><Creative>"
    '<Linear><Duration>00:00:15</Duration><MediaFiles><MediaFile delivery="progressive" type="video/mp4" '
    'width="{w}" height="{h}"><![CDATA[{cdn}/{crid}.mp4]]></MediaFile></MediaFiles></Linear>'
    "</Creative></Creatives></InLine></Ad></VAST>"
)


def _video(crid: str, title: str, w: int, h: int) -> dict[str, Any]:
    return {"crid": crid, "title": title, "media": "video", "w": w, "h": h,
            "markup": _VAST.format(crid=crid, title=title, w=w, h=h, cdn=_CDN)}  # fmt: skip


DEMO_CAMPAIGNS: list[dict[str, Any]] = [
    {
        "advertiser": {"name": "Summit Outdoor Co.", "adomain": "summitoutdoor.example"},
        "campaign": {
            "key": "demo-summit-spring",
            "name": "Summit Outdoor - Spring Trail Sale",
            "status": "active",
            "strategy": "fixed",
            "fixed_cpm_micros": _usd(2.50),
            "total_budget_micros": _usd(1500),
            "daily_budget_micros": _usd(50),
            "pacing": "even",
            "cat": ["IAB17", "IAB20-1"],
            "interest_categories": ["travel", "fitness", "sports"],
            "min_interest_score": 0.5,
            "countries": ["USA", "CAN"],
            "frequency_cap": 3,
            "frequency_window_s": DAY_S,
        },
        "creatives": [
            _banner(
                "demo-summit-mrec",
                "Trail-Ready: 30% Off Hiking Boots",
                300,
                250,
                "https://summitoutdoor.example/spring",
            ),
            _banner(
                "demo-summit-leader", "Spring Trail Sale Starts Now", 728, 90, "https://summitoutdoor.example/spring"
            ),
        ],
    },
    {
        "advertiser": {"name": "Volt Motors", "adomain": "voltmotors.example"},
        "campaign": {
            "key": "demo-volt-ev-launch",
            "name": "Volt Motors - Crossover EV Launch",
            "status": "active",
            "strategy": "interest_tiers",
            "tier_multiplier": "1.500",
            "max_cpm_micros": _usd(3.00),
            "total_budget_micros": _usd(20000),
            "daily_budget_micros": _usd(800),
            "pacing": "even",
            "cat": ["IAB2", "IAB2-10"],
            "site_domains_exclude": ["bargain-forum.example"],
            "countries": ["USA", "GBR", "DEU"],
            "device_types": [2, 4, 5],
            "hours_utc": list(range(6, 24)),
            "frequency_cap": 5,
            "frequency_window_s": 7 * DAY_S,
        },
        "creatives": [
            _banner(
                "demo-volt-halfpage",
                "The All-Electric Volt Crossover",
                300,
                600,
                "https://voltmotors.example/crossover",
            ),
            _banner(
                "demo-volt-billboard", "Book a Test Drive Today", 970, 250, "https://voltmotors.example/test-drive"
            ),
            _video("demo-volt-preroll", "Volt Crossover: 0-60 in 4.1 s", 1280, 720),
        ],
    },
    {
        "advertiser": {"name": "ByteBank", "adomain": "bytebank.example"},
        "campaign": {
            "key": "demo-bytebank-investing",
            "name": "ByteBank - Zero-Fee Investing (mobile)",
            "status": "active",
            "strategy": "fixed",
            "fixed_cpm_micros": _usd(1.80),
            "total_budget_micros": _usd(5000),
            "daily_budget_micros": _usd(250),
            "pacing": "asap",
            "cat": ["IAB13", "IAB13-7"],
            "interest_categories": ["finance"],
            "min_interest_score": 0.7,
            "device_types": [1, 4, 5],
            "frequency_cap": 2,
            "frequency_window_s": DAY_S,
        },
        "creatives": [
            _banner("demo-bytebank-banner", "Invest With Zero Fees", 320, 50, "https://bytebank.example/invest"),
            _banner("demo-bytebank-mrec", "Open an Account in 5 Minutes", 300, 250, "https://bytebank.example/invest"),
        ],
    },
    {
        "advertiser": {"name": "Playforge Studios", "adomain": "playforge.example"},
        "campaign": {
            "key": "demo-playforge-starfall",
            "name": "Playforge - Starfall Legends Pre-Order",
            "status": "active",
            "strategy": "interest_tiers",
            "tier_multiplier": "1.200",
            "max_cpm_micros": _usd(2.20),
            "total_budget_micros": _usd(3000),
            "daily_budget_micros": _usd(300),
            "pacing": "asap",
            "cat": ["IAB9-30"],
            "interest_categories": ["gaming", "technology"],
            "min_interest_score": 0.3,
            "frequency_cap": 4,
            "frequency_window_s": 6 * 3600,
        },
        "creatives": [
            _banner(
                "demo-playforge-skyscraper",
                "Starfall Legends: Pre-Order Bonus",
                160,
                600,
                "https://playforge.example/starfall",
            ),
            _video("demo-playforge-trailer", "Starfall Legends - Launch Trailer", 640, 360),
        ],
    },
]
