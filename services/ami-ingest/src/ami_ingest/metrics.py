"""The Prometheus metrics of ami-ingest, all labelled by ``pbx``."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Gauge

from cbruntime import CollectorRegistry, counter, gauge

__all__ = ["IngestMetrics"]


@dataclass(frozen=True)
class IngestMetrics:
    connected: Gauge
    frames_in: Counter
    published: Counter
    reconnects: Counter
    errors: Counter
    buffer_bytes: Gauge
    buffer_fill: Gauge
    backpressure: Gauge
    lease_held: Gauge
    redis_up: Gauge
    actions: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> IngestMetrics:
        pbx = ("pbx",)
        return cls(
            connected=gauge(registry, "ami_connected", "1 while the AMI session is up.", pbx),
            frames_in=counter(registry, "ami_frames_in", "AMI frames received.", pbx),
            published=counter(
                registry, "ingest_published", "Entries XADDed (frames and syncs).", pbx
            ),
            reconnects=counter(registry, "ami_reconnects", "AMI sessions after the first.", pbx),
            errors=counter(registry, "ingest_errors", "Errors by kind.", ("pbx", "kind")),
            buffer_bytes=gauge(
                registry, "ingest_buffer_bytes", "Frame bytes not yet published.", pbx
            ),
            buffer_fill=gauge(
                registry, "ingest_buffer_fill_ratio", "Buffer bytes / its bound.", pbx
            ),
            backpressure=gauge(
                registry, "ingest_backpressure", "1 while the AMI client is not being read.", pbx
            ),
            lease_held=gauge(registry, "ingest_lease_held", "1 while this replica is active.", pbx),
            redis_up=gauge(registry, "ingest_redis_up", "0 after a failed Redis call.", pbx),
            actions=counter(
                registry, "ingest_actions", "Action requests by reply status.", ("pbx", "status")
            ),
        )
