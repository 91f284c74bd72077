"""Field names of every stream entry: the wire protocol, documented in docs/streams.md
(a test checks that document against these constants)."""

from __future__ import annotations

__all__ = [
    "ACTION_FIELDS",
    "AMI_FIELDS",
    "CRM_COMMAND_FIELDS",
    "CRM_EVENT_FIELDS",
    "F_ACTION",
    "F_BANNER",
    "F_DATA",
    "F_DEADLINE",
    "F_EV",
    "F_HEADERS",
    "F_ID",
    "F_LIST",
    "F_RAW",
    "F_REPLY",
    "F_RX",
    "F_SESS",
    "F_SNAP",
    "SYNC_EVENT",
    "SYNC_FIELDS",
]

# cb:{pbx}:ami ---------------------------------------------------------------------------
F_RAW = b"raw"  #: the frame exactly as received, without its terminating CRLF CRLF
F_EV = b"ev"  #: event name (b"" for responses); SYNC_EVENT for sync entries
F_RX = b"rx"  #: receive time, unix microseconds (decimal)
F_SESS = b"sess"  #: AMI connection number for this PBX (decimal); a change means a gap
F_BANNER = b"banner"  #: sync only: the AMI banner line of the connection
F_SNAP = b"snap"  #: sync only: JSON array of header maps (the CoreShowChannels events)
SYNC_EVENT = b"callbridge.sync"

AMI_FIELDS = (F_RAW, F_EV, F_RX, F_SESS)
SYNC_FIELDS = (F_RAW, F_EV, F_RX, F_SESS, F_BANNER, F_SNAP)

# cb:{pbx}:actions -----------------------------------------------------------------------
F_ACTION = b"action"  #: AMI action name, e.g. "Originate"
F_HEADERS = b"headers"  #: JSON object: header -> string, or list of strings (repeated)
F_ID = b"id"  #: the request id, unique (uuid4 hex by default)
F_REPLY = b"reply"  #: the list key the reply is LPUSHed to
F_DEADLINE = b"deadline"  #: unix ms after which the request must not be executed
F_LIST = b"list"  #: optional "1": an EventList action (collect events up to …Complete)

ACTION_FIELDS = (F_ACTION, F_HEADERS, F_ID, F_REPLY, F_DEADLINE, F_LIST)

# cb:crm:commands, cb:crm:events (crm-sync; docs/streams.md) -----------------------------
F_DATA = b"data"  #: the one field: a msgspec-JSON cbcontracts.crm command or event
CRM_COMMAND_FIELDS = (F_DATA,)
CRM_EVENT_FIELDS = (F_DATA,)
