"""Executes action requests on the PBX's AMI connection and shapes the replies."""

from __future__ import annotations

import logging

from aioami import (
    ActionError,
    ActionTimeout,
    AMIClient,
    AMIError,
    ConnectionLost,
    Message,
    NotConnected,
)
from cbstreams import ActionReply, ActionRequest, HeaderMap

from .metrics import IngestMetrics

__all__ = ["LIST_ACTIONS", "ActionHandler", "header_map"]

log = logging.getLogger(__name__)

#: EventList actions recognised by name when a request does not say (``list`` field).
LIST_ACTIONS = frozenset(
    a.lower()
    for a in (
        "CoreShowChannels",
        "Status",
        "QueueStatus",
        "QueueSummary",
        "PJSIPShowEndpoints",
        "PJSIPShowContacts",
        "PJSIPShowRegistrationsOutbound",
        "SIPpeers",
        "IAXpeerlist",
        "ParkedCalls",
        "BridgeList",
        "BridgeInfo",
        "ConfbridgeList",
        "DeviceStateList",
        "ExtensionStateList",
        "MixMonitorList",
        "ShowDialPlan",
        "CoreShowChannelMap",
    )
)


def header_map(msg: Message) -> HeaderMap:
    """A message as a JSON-able map; a repeated header becomes a list of its values."""
    pairs = msg.pairs()
    if len(pairs) == len(msg):
        return dict(pairs)
    out: HeaderMap = {}
    for key, value in pairs:
        old = out.get(key)
        if old is None:
            out[key] = value
        elif isinstance(old, list):
            old.append(value)
        else:
            out[key] = [old, value]
    return out


class ActionHandler:
    """The ``Execute`` callback of :class:`cbstreams.ActionExecutor` for one PBX."""

    def __init__(self, client: AMIClient, metrics: IngestMetrics, pbx: str) -> None:
        self._client, self._metrics, self._pbx = client, metrics, pbx

    async def __call__(self, request: ActionRequest, left: float) -> ActionReply:
        reply = await self._run(request, left)
        self._metrics.actions.labels(self._pbx, reply.status).inc()
        return reply

    async def _run(self, request: ActionRequest, left: float) -> ActionReply:
        listed = request.list_action
        if listed is None:
            listed = request.action.lower() in LIST_ACTIONS
        rid = request.id
        try:
            if listed:
                result = await self._client.send_list_action(
                    request.action, request.headers, timeout=left
                )
                return ActionReply(
                    id=rid,
                    status="ok",
                    response=header_map(result.response),
                    events=[header_map(e) for e in result.events],
                )
            response = await self._client.send_action(request.action, request.headers, timeout=left)
            return ActionReply(id=rid, status="ok", response=header_map(response))
        except ActionError as exc:
            resp = exc.response if isinstance(exc.response, Message) else None
            return ActionReply(
                id=rid,
                status="error",
                error=str(exc),
                response=header_map(resp) if resp is not None else None,
            )
        except NotConnected:
            return ActionReply(id=rid, status="failed", error="AMI not connected")
        except (ConnectionLost, ActionTimeout) as exc:
            return ActionReply(id=rid, status="unknown", error=f"{exc.__class__.__name__}: {exc}")
        except (AMIError, ValueError) as exc:
            log.warning("action failed", extra={"pbx": self._pbx, "action": request.action})
            return ActionReply(id=rid, status="failed", error=f"{exc.__class__.__name__}: {exc}")
