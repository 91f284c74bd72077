"""crm-sync's Prometheus metrics (its own registry)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Histogram

from cbruntime import CollectorRegistry, counter, histogram, new_registry

__all__ = ["CrmSyncMetrics"]


@dataclass(frozen=True)
class CrmSyncMetrics:
    registry: CollectorRegistry
    planned: Counter
    cards: Counter
    executed: Counter
    dead: Counter
    latency: Histogram

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
        )
