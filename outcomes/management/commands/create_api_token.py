"""`manage.py create_api_token <username> [--create-user] [--reset]`: prints the user's REST API
token (DRF TokenAuthentication: send it as `Authorization: Token <key>`)."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = (
        "Print the REST API token of a user, creating the token if it has none. Only the key goes to "
        "stdout, so `TOKEN=$(manage.py create_api_token reader)` works."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--create-user",
            action="store_true",
            help="create the user if it does not exist (no password: it can use the API, not log in)",
        )
        parser.add_argument(
            "--reset", action="store_true", help="replace an existing token (the old one stops working)"
        )

    def handle(self, *args: Any, username: str, create_user: bool, reset: bool, **options: Any) -> None:
        user_model = get_user_model()
        with transaction.atomic():
            user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
            if user is None:
                if not create_user:
                    raise CommandError(f"no user {username!r} (pass --create-user to create one)")
                user = user_model._default_manager.create_user(**{user_model.USERNAME_FIELD: username})
                user.set_unusable_password()
                user.save()
                self.stderr.write(f"created user {username!r} (no password)")
            if not user.is_active:
                raise CommandError(f"user {username!r} is inactive: its token would be refused")
            if reset:
                Token.objects.filter(user=user).delete()
            token, created = Token.objects.get_or_create(user=user)
        if created:
            self.stderr.write(f"new token for {username!r}")
        self.stdout.write(token.key)
