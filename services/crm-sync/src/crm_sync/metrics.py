"""crm-sync's Prometheus metrics (its own registry)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram

from cbruntime import CollectorRegistry, counter, gauge, histogram, new_registry

__all__ = ["CrmSyncMetrics"]


@dataclass(frozen=True)
class CrmSyncMetrics:
    registry: CollectorRegistry
    planned: Counter
    cards: Counter
    executed: Counter
    dead: Counter
    latency: Histogram
    redis_up: Gauge

    @classmethod
    def create(cls) -> CrmSyncMetrics:
        r = new_registry()
        return cls(
            registry=r,
            planned=counter(r, "crm_commands_planned", "Commands planned", ["type"]),
            cards=counter(r, "crm_cards_published", "Caller cards published"),
            executed=counter(r, "crm_commands_executed", "Command runs", ["type", "outcome"]),
            dead=counter(r, "crm_commands_dead", "Commands dead-lettered"),
            latency=histogram(r, "crm_command_seconds", "Command run time", ["type"]),
            redis_up=_up(gauge(r, "crm_redis_up", "1 while Redis answers, 0 during an outage")),
        )


def _up(g: Gauge) -> Gauge:
    g.set(1)
    return g
