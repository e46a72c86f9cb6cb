"""Signed notice tokens (SPEC §12, §14), pure: what a bid's nurl/burl/lurl carry back to Helios.

A token is `<payload>.<signature>`, both base64url without padding: the payload is the msgpack
array of a `NoticeClaims`, the signature the first 16 bytes of its HMAC-SHA256 under the notice
secret. Whoever lacks the secret can neither forge one nor change a field of one (the price, the
campaign, the bid) without `verify` refusing it; `verify` also refuses an expired one.
"""

import base64
import binascii
import hashlib
import hmac

import msgspec

SIGNATURE_BYTES = 16


class NoticeClaims(msgspec.Struct, array_like=True, frozen=True):
    """What a notice is about: the bid, who made it for whom, at what price, and when."""

    request_id: str
    request_digest: str
    imp_id: str
    bid_id: str
    campaign_id: int
    crid: str
    price_micros: int  # the bid's CPM, the most a notice may clear at
    user_id: str | None  # for frequency caps on billing; None for a restricted request (SPEC §16)
    issued_at: int  # unix seconds


class InvalidToken(ValueError):
    """Forged, tampered, malformed or expired."""


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(NoticeClaims)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest()[:SIGNATURE_BYTES])


def sign(claims: NoticeClaims, secret: bytes) -> str:
    payload = _b64(_encoder.encode(claims))
    return f"{payload}.{_signature(secret, payload)}"


def verify(token: str, secret: bytes, *, now: int, max_age_s: int) -> NoticeClaims:
    """The claims of a token this secret signed, issued at most `max_age_s` before `now`."""
    payload, _, signature = token.partition(".")
    try:
        payload.encode("ascii")
        genuine = hmac.compare_digest(_signature(secret, payload), signature)
    except UnicodeError:
        genuine = False
    if not genuine:
        raise InvalidToken("bad signature")
    try:
        claims = _decoder.decode(_unb64(payload))
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise InvalidToken(f"malformed: {exc}") from None
    if not claims.issued_at <= now + 60 or now - claims.issued_at > max_age_s:  # a minute of clock skew
        raise InvalidToken("expired")
    return claims
