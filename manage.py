#!/usr/bin/env python
"""Django's command-line utility for Helios."""

import os
import sys

# Development commands: DEBUG on unless DJANGO_DEBUG says otherwise (the settings' default is off).
DEV_COMMANDS = ("runembedded",)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helios_site.settings")
    if sys.argv[1:2] and sys.argv[1] in DEV_COMMANDS:
        os.environ.setdefault("DJANGO_DEBUG", "true")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
