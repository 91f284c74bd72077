"""cbsip: a small asyncio SIP user agent for event subscriptions (RFC 3261, RFC 6665):
bounded message parsing, digest authentication, UDP/TCP/TLS, and the bodies a PBX sends
about its extensions (dialog-info, PIDF, RLMI resource lists)."""

from .address import NameAddr, uri_user
from .auth import Challenge, Credentials, answer
from .bodies import (
    DialogInfo,
    DialogState,
    Part,
    Pidf,
    Rlmi,
    RlmiResource,
    parse_dialog_info,
    parse_multipart,
    parse_pidf,
    parse_rlmi,
)
from .message import Headers, Limits, Request, Response, SipParseError, StreamFramer, parse
from .subscription import (
    Backoff,
    Notification,
    Subscription,
    SubscriptionRefused,
    SubscriptionState,
    UserAgent,
)
from .transport import Endpoint, TransportName

__all__ = [
    "Backoff",
    "Challenge",
    "Credentials",
    "DialogInfo",
    "DialogState",
    "Endpoint",
    "Headers",
    "Limits",
    "NameAddr",
    "Notification",
    "Part",
    "Pidf",
    "Request",
    "Response",
    "Rlmi",
    "RlmiResource",
    "SipParseError",
    "StreamFramer",
    "Subscription",
    "SubscriptionRefused",
    "SubscriptionState",
    "TransportName",
    "UserAgent",
    "answer",
    "parse",
    "parse_dialog_info",
    "parse_multipart",
    "parse_pidf",
    "parse_rlmi",
    "uri_user",
]
