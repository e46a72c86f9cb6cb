"""Websocket routes (SPEC §8): /ws/dashboard/."""

from django.urls import URLPattern, URLResolver, path

from dashboard.consumers import DashboardConsumer

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    path("ws/dashboard/", DashboardConsumer.as_asgi()),
]
