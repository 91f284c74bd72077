"""The gateway's Prometheus metrics (on its own registry, served at ``/metrics``)."""

from __future__ import annotations

from cbruntime import CollectorRegistry, counter, gauge, histogram

__all__ = ["GatewayMetrics"]


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = counter(
            registry, "gateway_requests", "HTTP requests answered", ("method", "route", "status")
        )
        self.latency = histogram(
            registry, "gateway_request_seconds", "HTTP request duration", ("route",)
        )
        self.originates = counter(
            registry, "gateway_originates", "Click-to-call requests", ("pbx", "outcome")
        )
        self.feeds = gauge(registry, "gateway_feed_clients", "Connected feed clients", ("kind",))
        self.redis_up = gauge(registry, "gateway_redis_up", "1 while Redis answers (/readyz)")
        self.redis_up.set(1)
        self.route_fallbacks = counter(
            registry, "gateway_route_fallbacks", "Route answers that used the fallback", ("why",)
        )
