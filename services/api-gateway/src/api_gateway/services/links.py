"""Short-lived signed recording links: ``…/recording?pbx=P&exp=UNIX&sig=HMAC``, usable without
a key by CRMs and audio players until ``exp``.

``sig`` = urlsafe-base64 (no padding) of HMAC-SHA256(secret, ``"rec\\n{pbx}\\n{call_id}\\n{exp}"``).
The signing belongs in ``cbcrm/links.py`` (crm-sync writes these links into CRM call logs);
until that module exists the gateway owns it here, behind the :class:`Signer` protocol.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Protocol
from urllib.parse import quote, urlencode

from ..settings import RecordingSettings

__all__ = ["LinkSigner", "Signer"]


class Signer(Protocol):
    def sign(self, pbx: str, call_id: str, exp: int) -> str: ...
    def verify(self, pbx: str, call_id: str, exp: int, sig: str) -> bool: ...


def _message(pbx: str, call_id: str, exp: int) -> bytes:
    return f"rec\n{pbx}\n{call_id}\n{exp}".encode()


class LinkSigner:
    def __init__(self, settings: RecordingSettings) -> None:
        self._secret = settings.link_secret.reveal().encode() if settings.link_secret else b""
        self.ttl_s = settings.link_ttl_s

    @property
    def enabled(self) -> bool:
        return bool(self._secret)

    def __repr__(self) -> str:
        return f"LinkSigner(enabled={self.enabled}, ttl_s={self.ttl_s})"

    def sign(self, pbx: str, call_id: str, exp: int) -> str:
        mac = hmac.new(self._secret, _message(pbx, call_id, exp), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def verify(self, pbx: str, call_id: str, exp: int, sig: str) -> bool:
        if not self._secret or exp < time.time():
            return False
        return hmac.compare_digest(self.sign(pbx, call_id, exp), sig)

    def link(
        self, base_url: str, pbx: str, call_id: str, ttl_s: int | None = None
    ) -> tuple[str, int]:
        exp = int(time.time()) + (ttl_s or self.ttl_s)
        query = urlencode({"pbx": pbx, "exp": exp, "sig": self.sign(pbx, call_id, exp)})
        path = f"/v1/calls/{quote(call_id, safe='')}/recording"
        return f"{base_url.rstrip('/')}{path}?{query}", exp
