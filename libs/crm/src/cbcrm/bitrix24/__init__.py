"""Bitrix24 as an OAuth application: client (tokens, leaky-bucket limits, the per-method
operating budget, batch, retries), adapter (lookup, users with extensions, CRM writes) and the
telephony call card."""

from .adapter import B24Adapter
from .budget import OperatingTracker
from .calls import STATUS_CODE, status_code
from .client import B24Client
from .events import ExternalCallStart, parse_external_call_start
from .settings import B24Settings

__all__ = [
    "STATUS_CODE",
    "B24Adapter",
    "B24Client",
    "B24Settings",
    "ExternalCallStart",
    "OperatingTracker",
    "parse_external_call_start",
    "status_code",
]
