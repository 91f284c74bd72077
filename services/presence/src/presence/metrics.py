"""The presence service's Prometheus metrics (its own registry)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Gauge

from cbruntime import CollectorRegistry, counter, gauge, new_registry

__all__ = ["PresenceMetrics"]


@dataclass(frozen=True)
class PresenceMetrics:
    registry: CollectorRegistry
    notifies: Counter
    ignored: Counter
    changes: Counter
    subscriptions: Gauge
    pbx_up: Gauge
    redis_up: Gauge

    @classmethod
    def create(cls) -> PresenceMetrics:
        r = new_registry()
        return cls(
            registry=r,
            notifies=counter(r, "presence_notifies", "NOTIFY requests applied", ["pbx", "event"]),
            ignored=counter(
                r, "presence_notifies_ignored", "NOTIFY bodies ignored (stale, malformed)",
                ["pbx", "reason"],
            ),
            changes=counter(r, "presence_changes", "Extension state changes published", ["pbx"]),
            subscriptions=gauge(
                r, "presence_subscriptions_established", "Subscriptions in place", ["pbx"]
            ),
            pbx_up=gauge(r, "presence_pbx_up", "1 while the PBX answers OPTIONS", ["pbx"]),
            redis_up=gauge(r, "presence_redis_up", "1 while changes reach Redis"),
        )  # fmt: skip
