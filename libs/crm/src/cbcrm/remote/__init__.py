"""What every HTTP CRM adapter shares: rate limiters, retries, OAuth token rotation across
replicas, bulk-request coalescing, idempotency records."""

from .coalesce import Coalescer
from .limits import Limiter, LocalLimiter, RedisLimiter, Unlimited
from .memo import Memo
from .retry import RetryPolicy, with_retries
from .tokens import Refresh, TokenSet, TokenStore
from .transport import transport_errors

__all__ = [
    "Coalescer",
    "Limiter",
    "LocalLimiter",
    "Memo",
    "RedisLimiter",
    "Refresh",
    "RetryPolicy",
    "TokenSet",
    "TokenStore",
    "Unlimited",
    "transport_errors",
    "with_retries",
]
