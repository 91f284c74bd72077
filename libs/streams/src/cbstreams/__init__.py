"""cbstreams: the only code that talks Redis Streams (XADD, XREADGROUP, XACK, XAUTOCLAIM).

Keys, field names, pipelined publishing with retention by age, leases, and the action
request/reply protocol. The wire protocol is written down in docs/streams.md.
"""

from . import fields
from .actions import ActionReply, ActionRequest, HeaderMap, Status, request_action
from .client import connect
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
from .publisher import Entry, StreamPublisher, Trimmer

__all__ = [
    "DEFAULT_PREFIX",
    "ActionExecutor",
    "ActionReply",
    "ActionReplyTimeout",
    "ActionRequest",
    "Delivery",
    "Entry",
    "Execute",
    "HeaderMap",
    "Lease",
    "LeaseLost",
    "MalformedEntry",
    "PbxKeys",
    "Status",
    "StreamError",
    "StreamPublisher",
    "StreamUnavailable",
    "Trimmer",
    "claim_all",
    "connect",
    "ensure_group",
    "fields",
    "lane_stream",
    "read_group",
    "request_action",
]
