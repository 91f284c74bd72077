"""Prometheus helpers. Each service owns a :class:`~prometheus_client.CollectorRegistry`
(never the global one), so several services or replicas can live in one process."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

__all__ = [
    "CONTENT_TYPE_LATEST",
    "CollectorRegistry",
    "counter",
    "gauge",
    "histogram",
    "new_registry",
    "render",
]

NAMESPACE = "callbridge"


def new_registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=True)


def counter(
    registry: CollectorRegistry, name: str, doc: str, labels: Sequence[str] = ()
) -> Counter:
    """A counter named ``callbridge_<name>_total``."""
    return Counter(name, doc, labels, namespace=NAMESPACE, registry=registry)


def gauge(registry: CollectorRegistry, name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
    return Gauge(name, doc, labels, namespace=NAMESPACE, registry=registry)


def histogram(
    registry: CollectorRegistry,
    name: str,
    doc: str,
    labels: Sequence[str] = (),
    buckets: Sequence[float] = (0.001, 0.005, 0.02, 0.1, 0.5, 2.0, 10.0),
) -> Histogram:
    return Histogram(
        name, doc, labels, namespace=NAMESPACE, registry=registry, buckets=tuple(buckets)
    )


def render(registry: CollectorRegistry) -> bytes:
    """The text exposition format of everything in ``registry``."""
    return generate_latest(registry)
