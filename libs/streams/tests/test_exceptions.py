"""Which redis-py errors are an outage (waited out) and which are a wrong request (raised)."""

from __future__ import annotations

import pytest
import redis.exceptions as rx

from cbstreams import StreamUnavailable
from cbstreams.exceptions import redis_errors


@pytest.mark.parametrize(
    "error",
    [
        rx.ConnectionError("Connection closed by server."),
        rx.BusyLoadingError("Redis is loading the dataset in memory"),
        rx.ReadOnlyError("You can't write against a read only replica."),
        rx.ResponseError("MISCONF Errors writing to the AOF file: No space left on device"),
        rx.ResponseError("MASTERDOWN Link with MASTER is down"),
        OSError("connection refused"),
    ],
)
def test_an_outage_is_stream_unavailable(error: Exception) -> None:
    with pytest.raises(StreamUnavailable), redis_errors():
        raise error


def test_a_wrong_request_is_not_an_outage() -> None:
    with pytest.raises(rx.ResponseError, match="WRONGTYPE"), redis_errors():
        raise rx.ResponseError("WRONGTYPE Operation against a key holding the wrong kind")
