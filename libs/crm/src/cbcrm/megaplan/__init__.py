"""Megaplan API v3: client (password-grant tokens, retries, limits) and adapter."""

from .adapter import MegaplanAdapter, comment_text
from .client import MegaplanClient, MegaplanSettings

__all__ = ["MegaplanAdapter", "MegaplanClient", "MegaplanSettings", "comment_text"]
