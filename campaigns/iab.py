"""IAB vocabularies Helios validates against, as data: no I/O beyond reading the shipped file once.

- Content Taxonomy 1.0 codes (`IAB1` .. `IAB26-4`), the `cat`/`bcat` values of OpenRTB 2.5/2.6
  (data/iab_categories.txt, one `code<TAB>name` a line).
- The IAB's standard fixed display ad sizes (New Ad Portfolio 2017 plus the legacy sizes
  exchanges still send), for banner creatives.
"""

from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Final

_CATEGORIES_FILE = Path(__file__).resolve().parent / "data" / "iab_categories.txt"

# (w, h) in CSS pixels.
IAB_DISPLAY_SIZES: Final = frozenset(
    {
        # New Ad Portfolio (2017) fixed sizes
        (970, 250), (300, 1050), (300, 600), (970, 90), (728, 90), (300, 250), (320, 50), (320, 100),
        (320, 480), (480, 320), (768, 1024), (1024, 768), (300, 50), (160, 600), (120, 60), (88, 31),
        (970, 66), (300, 31),
        # legacy Universal Ad Package / Rising Stars sizes still in exchange traffic
        (468, 60), (234, 60), (120, 240), (125, 125), (180, 150), (250, 250), (336, 280), (240, 400),
        (120, 600), (200, 200), (120, 90),
    }
)  # fmt: skip
MAX_VIDEO_SIZE: Final = (3840, 2160)  # 4K UHD, either orientation
MAX_NATIVE_SIDE_PX: Final = 4096


@cache
def content_categories() -> MappingProxyType[str, str]:
    """Code -> name for every IAB Content Taxonomy 1.0 category."""
    entries: dict[str, str] = {}
    for line in _CATEGORIES_FILE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            code, name = line.split("\t", 1)
            entries[code] = name
    return MappingProxyType(entries)


def is_content_category(code: str) -> bool:
    return code in content_categories()
