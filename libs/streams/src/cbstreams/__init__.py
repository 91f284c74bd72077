"""cbstreams: the only code that talks Redis Streams (XADD, XREADGROUP, XACK, XAUTOCLAIM).

Keys, field names, pipelined publishing with retention by age, the one consumer-group reader
(:class:`GroupReader`) and the one tail reader (:class:`TailReader`), Redis outages
(:class:`RedisLink`), leases with generations, and the action request/reply protocol. The
wire protocol is written down in docs/streams.md.
"""

from . import fields
from .actions import ActionReply, ActionRequest, HeaderMap, Status, request_action
from .client import connect
from .consumer import Batch, GroupReader, Handler, ReaderSettings
from .exceptions import (
    ActionReplyTimeout,
    LeaseLost,
    MalformedEntry,
    StreamError,
    StreamUnavailable,
)
from .executor import ActionExecutor, Execute
from .groups import Delivery, claim_all, ensure_group, read_group
from .keys import DEFAULT_PREFIX, PbxKeys, lane_stream
from .lease import Lease
from .outage import RedisLink, wait_for_redis
from .publisher import Entry, StreamPublisher, Trimmer
from .tail import TailEntry, TailReader

__all__ = [
    "DEFAULT_PREFIX",
    "ActionExecutor",
    "ActionReply",
    "ActionReplyTimeout",
    "ActionRequest",
    "Batch",
    "Delivery",
    "Entry",
    "Execute",
    "GroupReader",
    "Handler",
    "HeaderMap",
    "Lease",
    "LeaseLost",
    "MalformedEntry",
    "PbxKeys",
    "ReaderSettings",
    "RedisLink",
    "Status",
    "StreamError",
    "StreamPublisher",
    "StreamUnavailable",
    "TailEntry",
    "TailReader",
    "Trimmer",
    "claim_all",
    "connect",
    "ensure_group",
    "fields",
    "lane_stream",
    "read_group",
    "request_action",
    "wait_for_redis",
]
