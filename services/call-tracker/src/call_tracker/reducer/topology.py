"""What the tracker knows about a PBX: its trunks and the contexts calls arrive in.

A channel name like ``PJSIP/100-0000000b`` names an endpoint (``100``); trunk endpoints are
configured, every other SIP endpoint is an operator's extension; ``Local/…`` channels are the
two halves of a local call and never a party of their own.
"""

from __future__ import annotations

import sys

import msgspec

__all__ = ["KIND_LOCAL", "KIND_OPERATOR", "KIND_OTHER", "KIND_TRUNK", "Topology"]

KIND_OTHER = 0
KIND_OPERATOR = 1
KIND_TRUNK = 2
KIND_LOCAL = 3

_PHONE_TECHS = frozenset({"PJSIP", "SIP", "IAX2", "DAHDI", "WebRTC"})


class Topology(msgspec.Struct, frozen=True, kw_only=True):
    """``trunks``: trunk endpoint names (``trunk`` or ``PJSIP/trunk``); ``inbound_contexts``:
    contexts in which a call's first channel means an inbound call."""

    pbx: str
    trunks: frozenset[str] = frozenset({"trunk"})
    inbound_contexts: frozenset[str] = frozenset({"from-trunk"})
    tenant: str = ""

    def classify(self, channel: str) -> tuple[int, str]:
        """(kind, extension) of a channel name or an interface (``PJSIP/100``)."""
        tech, _, rest = channel.partition("/")
        if tech == "Local":
            number = rest.partition("@")[0]
            return KIND_LOCAL, sys.intern(number) if number.isdigit() else ""
        cut = rest.rfind("-")
        endpoint = rest[:cut] if cut > 0 else rest
        if endpoint in self.trunks or f"{tech}/{endpoint}" in self.trunks:
            return KIND_TRUNK, ""
        if tech in _PHONE_TECHS and endpoint:
            return KIND_OPERATOR, sys.intern(endpoint)
        return KIND_OTHER, ""

    def inbound_context(self, context: str) -> bool:
        return context in self.inbound_contexts
