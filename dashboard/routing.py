"""Websocket routes (SPEC §8): /ws/dashboard/."""

from django.urls import URLPattern, URLResolver

websocket_urlpatterns: list[URLPattern | URLResolver] = []
