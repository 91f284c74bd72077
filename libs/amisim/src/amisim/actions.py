"""Session-level AMI actions: Login/Challenge, Ping, Events, Filter, Logoff, Command."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time

from aioami import Message

from . import control
from ._wire import frame, hdr, response
from .filters import FilterError, parse_rule
from .session import Handler, Session

__all__ = ["dispatch"]

_OPEN = {"login", "challenge", "logoff", "ping"}


async def dispatch(session: Session, msg: Message) -> None:
    """Answer one action, Asterisk-style."""
    name = msg.get("Action")
    action_id = msg.get("ActionID")
    if name is None:
        session.send(response(action_id, "Missing action in request", status="Error"))
        return
    key = name.lower()
    if not session.authenticated and key not in _OPEN:
        session.send(response(action_id, "Permission denied", status="Error"))
        return
    handler = _HANDLERS.get(key) or control.HANDLERS.get(key)
    if handler is None:
        text = (
            f"Invalid/unknown command: {name}. Use Action: ListCommands to show available commands."
        )
        session.send(response(action_id, text, status="Error"))
        return
    await handler(session, msg)


async def _challenge(session: Session, msg: Message) -> None:
    if hdr(msg, "AuthType", "").lower() != "md5":
        session.send(response(msg.get("ActionID"), "Must specify AuthType", status="Error"))
        return
    session.challenge = session.challenge or str(secrets.randbelow(10**9))
    session.send(response(msg.get("ActionID"), extra=[("Challenge", session.challenge)]))


async def _login(session: Session, msg: Message) -> None:
    action_id = msg.get("ActionID")
    if session.authenticated:
        session.send(response(action_id, "Already authenticated"))
        return
    if not _credentials_ok(session, msg):
        session.sim.security_event("InvalidPassword", session, hdr(msg, "Username", ""))
        await asyncio.sleep(session.sim.auth_fail_delay)
        session.send(response(action_id, "Authentication failed", status="Error"))
        session.closing = True
        return
    session.username = msg["Username"]
    session.events_on = hdr(msg, "Events", "on").lower() != "off"
    session.send(response(action_id, "Authentication accepted"))
    await session.sim.logged_in(session)


def _credentials_ok(session: Session, msg: Message) -> bool:
    user, secret = session.sim.username, session.sim.secret
    if msg.get("Username") != user:
        return False
    if hdr(msg, "AuthType", "").lower() == "md5":
        if session.challenge is None:
            return False
        expected = hashlib.md5((session.challenge + secret).encode(), usedforsecurity=False)
        return hmac.compare_digest(hdr(msg, "Key", ""), expected.hexdigest())
    return hmac.compare_digest(hdr(msg, "Secret", ""), secret)


async def _ping(session: Session, msg: Message) -> None:
    extra = [("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")]
    session.send(response(msg.get("ActionID"), extra=extra))


async def _events(session: Session, msg: Message) -> None:
    mask = hdr(msg, "EventMask", "on").lower()
    session.events_on = mask != "off"
    state = "On" if session.events_on else "Off"
    session.send(response(msg.get("ActionID"), extra=[("Events", state)]))


async def _filter(session: Session, msg: Message) -> None:
    action_id = msg.get("ActionID")
    if hdr(msg, "Operation", "Add").lower() != "add":
        session.send(response(action_id, "Unknown operation", status="Error"))
        return
    try:
        rule = parse_rule(hdr(msg, "Filter", ""), msg.get("MatchCriteria"))
    except FilterError as exc:
        session.send(response(action_id, str(exc), status="Error"))
        return
    session.filter.add(rule)
    session.send(response(action_id, "Success"))


async def _logoff(session: Session, msg: Message) -> None:
    session.send(response(msg.get("ActionID"), "Thanks for all the fish.", status="Goodbye"))
    session.closing = True


async def _command(session: Session, msg: Message) -> None:
    command = " ".join(hdr(msg, "Command", "").split())
    lines = control.cli_output(session.sim, command)
    status = "Success" if lines is not None else "Error"
    if lines is None:
        hint = f"type 'core show help {command}' for other possible commands"
        lines = [f"No such command '{command}' ({hint})"]
    pairs = [("Response", status)]
    if msg.get("ActionID") is not None:
        pairs.append(("ActionID", msg["ActionID"]))
    pairs += [("Message", "Command output follows")] + [("Output", line) for line in lines]
    session.send(frame(pairs))


_HANDLERS: dict[str, Handler] = {
    "login": _login,
    "challenge": _challenge,
    "ping": _ping,
    "events": _events,
    "filter": _filter,
    "logoff": _logoff,
    "command": _command,
}
