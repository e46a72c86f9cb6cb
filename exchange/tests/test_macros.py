"""OpenRTB 2.6 §4.4 macro substitution (exchange/macros.py), and the values the simulator gives them."""

import base64
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from exchange.auction import FIRST, SECOND, Offer, run_auction
from exchange.macros import MACROS, b64, market_bid_ratio, substitute
from exchange.simulator import macro_values

D = Decimal

HELIOS_LURL = (
    "http://h.example/notice/loss?t=tok&auction=${AUCTION_ID}&bid=${AUCTION_BID_ID}&imp=${AUCTION_IMP_ID}"
    "&price=${AUCTION_PRICE}&cur=${AUCTION_CURRENCY}&loss=${AUCTION_LOSS}&min=${AUCTION_MIN_TO_WIN}"
)


def unb64(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


def test_every_macro_is_replaced_wherever_it_stands():
    values = {name: f"v{n}" for n, name in enumerate(MACROS)}
    template = "".join(f"[${{{name}}}]" for name in MACROS)
    assert substitute(template, values) == "".join(f"[v{n}]" for n in range(len(MACROS)))
    assert substitute("${AUCTION_PRICE}${AUCTION_PRICE}x", {"AUCTION_PRICE": D("1.5")}) == "1.51.5x"


def test_an_unknown_value_becomes_the_empty_string():
    assert substitute("a=${AUCTION_AD_ID}&m=${AUCTION_MIN_TO_WIN}&p=${AUCTION_PRICE}", {"AUCTION_PRICE": None}) == (
        "a=&m=&p="
    )


def test_names_outside_4_4_and_unknown_encodings_are_left_alone():
    template = "${CLICK_URL}${AUCTION_PRICE:SHA1}${auction_price}$AUCTION_PRICE"
    assert substitute(template, {"AUCTION_PRICE": D("2")}) == template


def test_b64_encodes_the_value_url_safely():
    assert b64("0.91") == "MC45MQ"
    out = substitute("p=${AUCTION_PRICE:B64}&i=${AUCTION_ID:B64}&m=${AUCTION_MIN_TO_WIN:B64}",
                     {"AUCTION_PRICE": D("0.91"), "AUCTION_ID": "req?/+1>>"})  # fmt: skip
    query = parse_qs(urlsplit("http://x/?" + out).query, keep_blank_values=True)
    assert unb64(query["p"][0]) == "0.91" and unb64(query["i"][0]) == "req?/+1>>"
    assert query["m"] == [""]  # empty stays empty
    assert not set("+/=") & set(query["p"][0] + query["i"][0])  # URL-safe alphabet, no padding


def test_decimals_are_written_plainly():
    assert (
        substitute(
            "${AUCTION_PRICE}|${AUCTION_MIN_TO_WIN}", {"AUCTION_PRICE": D("1E+1"), "AUCTION_MIN_TO_WIN": D("0.90")}
        )
        == "10|0.90"
    )
    assert market_bid_ratio(D("0.91"), D("1.00")) == D("0.91")


def _bid(price: float) -> dict:
    return {"id": "b-1", "impid": "2", "price": price, "adid": "ad-9", "lurl": HELIOS_LURL,
            "adm": '<img src="https://h.example/px?p=${AUCTION_PRICE}&mbr=${AUCTION_MBR}">'}  # fmt: skip


def test_a_helios_loser_s_lurl_carries_its_loss_code_and_min_to_win():
    request = {"id": "req-7", "imp": [{"id": "2"}]}
    response = {"id": "req-7", "bidid": "resp-3", "cur": "USD", "seatbid": [{"seat": "helios", "bid": [_bid(0.90)]}]}
    result = run_auction([Offer("c0", D("1.00")), Offer("helios", D("0.90"))], D("0.85"), SECOND)
    url = substitute(HELIOS_LURL, macro_values(request, response, _bid(0.90), result.outcomes["helios"]))
    assert parse_qs(urlsplit(url).query, keep_blank_values=True) == {
        "t": ["tok"], "auction": ["req-7"], "bid": ["resp-3"], "imp": ["2"], "price": [""], "cur": ["USD"],
        "loss": ["102"], "min": ["0.91"],
    }  # fmt: skip


def test_a_helios_winner_s_markup_and_urls_get_the_clearing_price_and_ratio():
    request = {"id": "req-8", "imp": [{"id": "2"}]}
    response = {"id": "req-8", "bidid": "resp-4", "seatbid": [{"seat": "helios", "bid": [_bid(1.00)]}]}
    result = run_auction([Offer("helios", D("1.00")), Offer("c0", D("0.90"))], D("0.85"), FIRST)
    values = macro_values(request, response, _bid(1.00), result.outcomes["helios"])
    assert values["AUCTION_SEAT_ID"] == "helios" and values["AUCTION_AD_ID"] == "ad-9"
    assert values["AUCTION_CURRENCY"] == "USD" and values["AUCTION_LOSS"] == 0
    assert substitute(_bid(1.0)["adm"], values) == '<img src="https://h.example/px?p=1.00&mbr=1.0000">'
    query = parse_qs(urlsplit(substitute(HELIOS_LURL, values)).query)
    assert (query["price"], query["min"]) == (["1.00"], ["0.90"])
