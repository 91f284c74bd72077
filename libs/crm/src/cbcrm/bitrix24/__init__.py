"""Bitrix24 as an OAuth application: client (tokens, leaky-bucket limits, batch, retries),
adapter (lookup, users with extensions, CRM writes) and the telephony call card."""

from .adapter import B24Adapter
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
    "parse_external_call_start",
    "status_code",
]
