"""amoCRM/Kommo API v4: client (OAuth2 or long-lived token, limits, retries) and adapter."""

from .adapter import AmoCrmAdapter
from .calls import CALL_STATUS
from .client import AmoClient
from .settings import AmoSettings

__all__ = ["CALL_STATUS", "AmoClient", "AmoCrmAdapter", "AmoSettings"]
