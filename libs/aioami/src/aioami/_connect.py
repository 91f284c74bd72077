"""Making and keeping one connection: connect, banner, login, keepalive, snapshot, backoff.

Functions over an :class:`AMIProtocol`; the supervision loop itself is in ``client``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Iterator

from ._actions import Headers, Pending, md5_key
from ._protocol import AMIProtocol
from ._types import AMIConfig, ClientStats
from .exceptions import ActionTimeout, AMIError, AuthenticationError, ConnectionLost

__all__ = ["backoff", "call", "keepalive", "logoff", "open_connection", "snapshot"]

log = logging.getLogger("aioami")
_LOGOFF_TIMEOUT = 2.0
_CLOSE_TIMEOUT = 2.0
_jitter = random.SystemRandom()


async def open_connection(config: AMIConfig, factory: Callable[[], AMIProtocol]) -> AMIProtocol:
    """Connect, read the banner and log in; on any failure the socket is closed."""
    loop = asyncio.get_running_loop()
    tls = config.tls
    async with asyncio.timeout(config.connect_timeout):
        _, proto = await loop.create_connection(
            factory,
            config.host,
            config.port,
            ssl=tls,
            server_hostname=config.server_hostname if tls is not None else None,
        )
    try:
        async with asyncio.timeout(config.connect_timeout):
            await proto.banner
        await login(proto, config)
    except BaseException:
        proto.abort()
        raise
    return proto


async def call(
    proto: AMIProtocol,
    action: str,
    headers: Headers | None,
    limit: float,
    *,
    is_list: bool = False,
) -> Pending:
    """Send an action on ``proto`` and wait up to ``limit`` s for its complete reply."""
    pending = proto.request(action, headers, is_list=is_list)
    try:
        async with asyncio.timeout(limit):
            return await pending.future
    except TimeoutError:
        raise ActionTimeout(
            f"no reply to {action} (ActionID {pending.action_id}) within {limit:g} s"
        ) from None
    finally:
        proto.forget(pending)


async def login(proto: AMIProtocol, config: AMIConfig) -> None:
    """Plain or MD5 login. Errors name the user, never the secret."""
    timeout = config.action_timeout
    headers: dict[str, str | list[str]] = {"Username": config.username}
    if config.auth == "md5":
        reply = await call(proto, "Challenge", {"AuthType": "MD5"}, timeout)
        challenge = _require_success(reply, config, "challenge").get("Challenge") or ""
        headers |= {"AuthType": "MD5", "Key": md5_key(challenge, config.secret)}
    else:
        headers["Secret"] = config.secret
    headers["Events"] = config.events
    _require_success(await call(proto, "Login", headers, timeout), config, "login")


def _require_success(reply: Pending, config: AMIConfig, step: str) -> dict[str, str]:
    response = reply.response
    if response is None or response.response != "Success":
        reason = response.get("Message") if response is not None else None
        raise AuthenticationError(
            f"{step} as {config.username!r} refused by {config.host}:{config.port}: "
            f"{reason or 'no reason given'}"
        )
    return dict(response)


async def keepalive(proto: AMIProtocol, config: AMIConfig, stats: ClientStats) -> None:
    """Ping every ``ping_interval``; a missing Pong drops the connection (the supervisor
    then reconnects). Time spent with reading paused does not count against the peer."""
    while True:
        await asyncio.sleep(config.ping_interval)
        try:
            alive = await _ping(proto, config.ping_timeout)
        except ConnectionLost:
            return
        if not alive:
            stats.keepalive_failures += 1
            log.warning(
                "aioami: no Pong from %s within %g s; reconnecting", proto.peer, config.ping_timeout
            )
            proto.abort()
            return


async def _ping(proto: AMIProtocol, limit: float) -> bool:
    pending = proto.request("Ping", None)
    try:
        while True:
            pauses = proto.pause_count
            try:
                async with asyncio.timeout(limit):
                    await asyncio.shield(pending.future)
                return True
            except TimeoutError:
                if not proto.paused and proto.pause_count == pauses:
                    return False
    finally:
        proto.forget(pending)


async def snapshot(proto: AMIProtocol, config: AMIConfig, action: str) -> None:
    """Run the snapshot list action; the protocol puts its result in the raw feed in-band."""
    pending = proto.request(action, None, is_list=True)
    proto.snapshot_id = pending.action_id
    try:
        async with asyncio.timeout(config.action_timeout):
            await pending.future
    except TimeoutError:
        log.warning("aioami: %s on %s got no complete reply in time", action, proto.peer)
        return
    except ConnectionLost:
        return
    finally:
        proto.forget(pending)
    if pending.response is not None and pending.response.response != "Success":
        log.warning("aioami: %s refused by %s: %s", action, proto.peer, pending.response)


def backoff(initial: float, maximum: float) -> Iterator[float]:
    """Reconnect delays: doubling from ``initial``, capped at ``maximum``, each one drawn
    uniformly from its upper half (jitter, so that many clients do not retry in step)."""
    delay = min(initial, maximum)
    while True:
        yield _jitter.uniform(delay / 2, delay)
        delay = min(delay * 2, maximum)


async def logoff(proto: AMIProtocol) -> None:
    """Best effort: Logoff (waiting for Goodbye unless reading is paused), then close."""
    with contextlib.suppress(AMIError, ValueError):
        if proto.paused:
            proto.request("Logoff", None)
        else:
            await call(proto, "Logoff", None, _LOGOFF_TIMEOUT)
    proto.close()
    try:
        async with asyncio.timeout(_CLOSE_TIMEOUT):
            await asyncio.shield(proto.closed)
    except TimeoutError:
        proto.abort()
