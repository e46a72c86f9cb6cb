"""Settings for development tools (pytest, mypy's Django plugin): Helios' settings with DEBUG on
unless DJANGO_DEBUG says otherwise, so that the development secret key is accepted. The processes
these tools start (role processes in the end-to-end tests) inherit DJANGO_DEBUG. Production never
uses this module: there DEBUG defaults to off."""

import os

os.environ.setdefault("DJANGO_DEBUG", "true")

from helios_site.settings import *  # noqa: F403
