"""bench/rtb_bodies.py yields every variety the RTB benchmark promises, as valid OpenRTB JSON that
`/openrtb2/bid`'s parser accepts, with the privacy state the handler will see."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))  # bench/ holds scripts, not a package
import rtb_bodies

from campaigns.privacy import privacy_of
from rtb.openrtb import parse_rtb_request

BODIES = rtb_bodies.make_bodies(2000, synthetic=500)


def test_every_variety_is_there():
    mix = rtb_bodies.mix(BODIES)
    assert set(mix["placement"]) == {"site", "app"}
    assert set(mix["imps_per_request"]) == {"1", "2", "3"}
    assert {"banner_wh", "banner_format", "video", "no_floor", "floor_usd", "floor_eur"} <= set(mix["imps"])
    assert set(mix["users"]) == {"known_demo", "known_synthetic", "unknown", "none"}
    assert set(mix["privacy"]) == set(rtb_bodies.PRIVACY_STATES)
    assert {"bcat", "badv", "cur"} <= set(mix["blocks"])
    assert all(120 <= int(tmax) <= 300 for tmax in mix["tmax_ms"])
    assert mix["privacy"]["open"] > len(BODIES) / 2  # most traffic may be personalised


def test_bodies_round_trip_as_json_lines_with_one_id_slot(tmp_path):
    path = rtb_bodies.write_bodies(tmp_path / "bodies.jsonl", BODIES)
    lines = path.read_text().splitlines()
    assert len(lines) == len(BODIES)
    for line in lines:
        assert line.count(json.dumps(rtb_bodies.ID_SLOT)) == 1
        assert json.loads(line)["id"] == rtb_bodies.ID_SLOT
    assert rtb_bodies.read_bodies(path) == BODIES


def test_the_handler_parses_each_body_with_the_intended_privacy_state():
    for number, body in enumerate(BODIES):
        text = json.dumps(body).replace(rtb_bodies.ID_SLOT, f"req-{number}").encode()
        parsed = parse_rtb_request(text, max_imps=16, received_at="2026-01-01T00:00:00.000Z", vendor_id=0)
        assert len(parsed.slots) == len(body["imp"])
        assert privacy_of(body, vendor_id=0).state.value == rtb_bodies.privacy_state(body)


def test_known_users_are_the_seeded_ones():
    users = {b["user"]["id"] for b in BODIES if "user" in b}
    demo = {u for u in users if u.startswith("user-")}
    synthetic = {u for u in users if u.startswith("synth-")}
    assert demo <= {f"user-{n:03d}" for n in range(1, 21)}
    assert all(1 <= int(u.removeprefix("synth-")) <= 500 for u in synthetic)


def test_the_deadline_is_tmax_less_the_allowance_capped():
    assert rtb_bodies.deadline_ms({"tmax": 120}) == 100
    assert rtb_bodies.deadline_ms({"tmax": 300}) == 100
    assert rtb_bodies.deadline_ms({"tmax": 110}) == 90
    assert rtb_bodies.deadline_ms({}) == 100
