"""What every HTTP CRM adapter shares: rate limiters, retries, OAuth token rotation across
replicas, bulk-request coalescing, idempotency records."""

from .coalesce import Coalescer
from .limits import LANE, Lane, Limiter, LocalLimiter, RedisLimiter, Unlimited, lane
from .memo import Memo
from .retry import RetryPolicy, with_retries
from .tokens import Refresh, TokenSet, TokenStore
from .transport import transport_errors

__all__ = [
    "LANE",
    "Coalescer",
    "Lane",
    "Limiter",
    "LocalLimiter",
    "Memo",
    "RedisLimiter",
    "Refresh",
    "RetryPolicy",
    "TokenSet",
    "TokenStore",
    "Unlimited",
    "lane",
    "transport_errors",
    "with_retries",
]
