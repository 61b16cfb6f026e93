"""Prometheus metrics, on a registry owned by the running process (no global state in tests)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.turns = Counter(
            "jupiter_turns_total", "Turns handled, by outcome", ["outcome"], registry=r
        )
        self.turn_seconds = Histogram(
            "jupiter_turn_duration_seconds",
            "Duration of agent turns",
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 900),
            registry=r,
        )
        self.render_seconds = Histogram(
            "jupiter_render_duration_seconds",
            "Time from render start to link",
            buckets=(5, 15, 30, 60, 120, 300, 600),
            registry=r,
        )
        self.backend_errors = Counter(
            "jupiter_backend_errors_total", "Backend errors by code", ["code"], registry=r
        )
        self.active_turns = Gauge("jupiter_active_turns", "Turns running now", registry=r)
        self.queued = Gauge("jupiter_queued_messages", "Messages waiting behind a turn", registry=r)
        self.paced = Gauge(
            "jupiter_paced_waiting", "Busy phases waiting for the pacer (core.pacing)", registry=r
        )
        self.pace_limit = Gauge(
            "jupiter_pace_limit", "How many busy phases the pacer lets through at once", registry=r
        )
        self.refused = Counter(
            "jupiter_refused_messages_total", "Messages refused by a limit", ["limit"], registry=r
        )
        self.render_jobs = Gauge(
            "jupiter_render_jobs", "Render jobs by state", ["state"], registry=r
        )
        self.chat_retries = Counter(
            "jupiter_chat_api_retries_total", "Chat platform API retries", ["platform"], registry=r
        )
        self.messages = Counter(
            "jupiter_messages_total", "Incoming chat messages by platform", ["platform"], registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
