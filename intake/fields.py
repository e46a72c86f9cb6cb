"""The limits and field types of a bid request's body (SPEC §2, §12), shared by the `POST /bid` and
`/openrtb2/bid` decoders. Pure: no I/O."""

from typing import Annotated

import msgspec

from pipeline.messages import MAX_ID_CHARS, MONEY_MAX

DEFAULT_MAX_IMPS = 16
MAX_URL_CHARS = 2048
MAX_UA_CHARS = 2048
MAX_DOMAIN_CHARS = 255
MAX_IP_CHARS = 64
MAX_FORMATS = 64
MAX_FLOOR = MONEY_MAX  # the outcomes' money columns hold no more (a floor is stored with its outcome)
MAX_TMAX_MS = 600_000
MAX_PIXELS = 100_000

# Strings that are stored with the outcome must not hold NUL (PostgreSQL text cannot): a 400 here,
# not a 202 whose outcome the sink would send to the dead-letter topic.
NO_NUL = "^[^\x00]*$"
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_CHARS, pattern=NO_NUL)]
Url = Annotated[str, msgspec.Meta(max_length=MAX_URL_CHARS)]
UserAgent = Annotated[str, msgspec.Meta(max_length=MAX_UA_CHARS)]
Domain = Annotated[str, msgspec.Meta(max_length=MAX_DOMAIN_CHARS, pattern=NO_NUL)]
Ip = Annotated[str, msgspec.Meta(max_length=MAX_IP_CHARS)]
Floor = Annotated[float, msgspec.Meta(ge=0, le=MAX_FLOOR)]
Currency = Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")]
Pixels = Annotated[int, msgspec.Meta(ge=0, le=MAX_PIXELS)]
SizeText = Annotated[str, msgspec.Meta(pattern=r"^\d{1,5}[xX]\d{1,5}$")]
