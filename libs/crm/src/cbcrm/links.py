"""Signed, expiring recording links: made by crm-sync for CRM call logs, checked by the
gateway that serves the file, with the same code and the same configured secret.

``{base_url}/v1/recordings/{tenant}/{call_id}?expires={unix s}&sig={hex}`` where ``sig`` is
HMAC-SHA256 (key: the secret) over ``"{tenant}/{call_id}.{expires}"``: the gateway looks the
call up in that tenant's PBXs only, so a link never reaches another tenant's recording. A CRM
stores the link for good, so ``ttl_s`` is long by default (30 days); anyone holding the link
before then can fetch that one recording, nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote

__all__ = ["LinkSigner"]


class LinkSigner:
    """Signs and verifies recording links. The secret never appears in its repr."""

    __slots__ = ("_key", "base_url", "ttl_s")

    def __init__(self, secret: str | bytes, base_url: str = "", ttl_s: int = 30 * 86_400) -> None:
        if not secret:
            raise ValueError("an empty link-signing secret would make every link forgeable")
        self._key = secret.encode() if isinstance(secret, str) else secret
        self.base_url = base_url.rstrip("/")
        self.ttl_s = ttl_s

    def __repr__(self) -> str:
        return f"LinkSigner(base_url={self.base_url!r}, ttl_s={self.ttl_s}, secret='***')"

    def signature(self, call_id: str, expires: int, *, tenant: str) -> str:
        message = f"{tenant}/{call_id}.{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def url(self, call_id: str, *, tenant: str, now: float | None = None) -> str:
        """The link to ``call_id``'s recording in ``tenant``, valid ``ttl_s`` from ``now``."""
        expires = int(time.time() if now is None else now) + self.ttl_s
        sig = self.signature(call_id, expires, tenant=tenant)
        path = f"{quote(tenant, safe='')}/{quote(call_id, safe='')}"
        return f"{self.base_url}/v1/recordings/{path}?expires={expires}&sig={sig}"

    def verify(
        self, call_id: str, expires: int | str, sig: str, *, tenant: str, now: float | None = None
    ) -> bool:
        """True if ``sig`` is ours for ``tenant``'s ``call_id`` and ``expires`` has not passed."""
        try:
            exp = int(expires)
        except ValueError:
            return False
        if exp < (time.time() if now is None else now):
            return False
        return hmac.compare_digest(self.signature(call_id, exp, tenant=tenant), sig)
