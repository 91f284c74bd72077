"""The tracker's Prometheus metrics (its own registry)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Gauge

from cbruntime import CollectorRegistry, counter, gauge, new_registry

__all__ = ["TrackerMetrics"]


@dataclass(frozen=True)
class TrackerMetrics:
    registry: CollectorRegistry
    applied: Counter
    emitted: Counter
    reconciliations: Counter
    live_calls: Gauge
    lag: Gauge
    redis_up: Gauge

    @classmethod
    def create(cls) -> TrackerMetrics:
        r = new_registry()
        return cls(
            registry=r,
            applied=counter(r, "tracker_entries_applied", "Stream entries applied", ["pbx"]),
            emitted=counter(r, "tracker_call_events", "Call events emitted", ["pbx"]),
            reconciliations=counter(r, "tracker_reconciliations", "Sync entries applied", ["pbx"]),
            live_calls=gauge(r, "tracker_live_calls", "Calls in progress", ["pbx"]),
            lag=gauge(r, "tracker_lag_seconds", "Age of the last applied entry", ["pbx"]),
            redis_up=gauge(r, "tracker_redis_up", "1 while Redis answers, 0 during an outage"),
        )
