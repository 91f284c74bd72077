"""The one exception tree of cbstreams. redis-py errors are mapped here, at one boundary."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import redis.exceptions

__all__ = [
    "REDIS_DOWN",
    "ActionReplyTimeout",
    "LeaseLost",
    "MalformedEntry",
    "StreamError",
    "StreamUnavailable",
    "redis_errors",
]


class StreamError(Exception):
    """Root of every cbstreams error."""


class StreamUnavailable(StreamError):
    """Redis could not be reached (connection refused, reset, timed out). Transient."""


class LeaseLost(StreamError):
    """Another owner holds the lease we held: stop acting as the active replica at once."""


class ActionReplyTimeout(StreamError):
    """No reply to an action request arrived before its deadline."""


class MalformedEntry(StreamError):
    """A stream entry lacks a required field or carries one of the wrong shape."""


#: What a Redis outage raises (redis-py's errors, or ours once mapped): handlers that catch
#: ``Exception`` re-raise these so that the reader waits the outage out.
REDIS_DOWN: tuple[type[Exception], ...] = (
    StreamUnavailable,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
)


@contextlib.contextmanager
def redis_errors() -> Iterator[None]:
    """Map redis-py's connection errors to :class:`StreamUnavailable` (also a replica that
    refuses writes during a failover, a Redis still loading its data after a restart, and
    one refusing writes until it can persist them again: ``MISCONF``, ``MASTERDOWN``…)."""
    try:
        yield
    except (
        redis.exceptions.ConnectionError,  # includes BusyLoadingError
        redis.exceptions.TimeoutError,
        redis.exceptions.ReadOnlyError,
        OSError,
    ) as exc:
        raise StreamUnavailable(f"redis unavailable: {exc.__class__.__name__}: {exc}") from exc
    except redis.exceptions.ResponseError as exc:
        if str(exc).split(" ", 1)[0] in _TRANSIENT_REPLIES:
            raise StreamUnavailable(f"redis unavailable: {exc}") from exc
        raise


#: Error replies that mean "not now" rather than "wrong request".
_TRANSIENT_REPLIES = frozenset({"MISCONF", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "LOADING"})
