"""The webhook adapter against a real HTTP receiver on 127.0.0.1: signed bodies that verify,
retries through failures with the same idempotency key, permanent 4xx, exhausted retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
import pytest

from cbcrm.adapter import CallLog
from cbcrm.exceptions import CrmPermanentError, CrmTransientError
from cbcrm.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookAdapter, sign, verify

SECRET = "hook-secret"
CALL = CallLog(call_id="c1", direction="inbound", phone="+79161234567", started_at=1)


class Receiver:
    """A minimal HTTP/1.1 server: answers with the queued statuses (then 200), records
    every request (headers lower-cased, body)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.url = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
        headers = {k.lower(): v for k, _, v in (h.partition(": ") for h in head[1:] if h)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append((headers, body))
        status = self.statuses.pop(0) if self.statuses else 200
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        writer.close()


@pytest.fixture
async def receiver(request: pytest.FixtureRequest) -> AsyncIterator[Receiver]:
    rcv = Receiver(list(getattr(request, "param", [])))
    server = await asyncio.start_server(rcv.handle, "127.0.0.1", 0)
    rcv.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    async with server:
        yield rcv


def adapter(url: str, attempts: int = 4) -> WebhookAdapter:
    return WebhookAdapter([url], SECRET, attempts=attempts, backoff_s=0)


async def test_a_logged_call_arrives_signed_and_the_receiver_can_verify_it(
    receiver: Receiver,
) -> None:
    hook = adapter(receiver.url)
    try:
        assert await hook.log_call(CALL, key="c1/log") == "c1/log"
    finally:
        await hook.aclose()
    [(headers, body)] = receiver.requests
    assert verify(
        SECRET, body, headers[TIMESTAMP_HEADER.lower()], headers[SIGNATURE_HEADER.lower()]
    )
    assert not verify(
        "wrong", body, headers[TIMESTAMP_HEADER.lower()], headers[SIGNATURE_HEADER.lower()]
    )
    assert headers["idempotency-key"] == "c1/log"
    sent = msgspec.json.decode(body)
    assert (sent["type"], sent["data"]["call_id"]) == ("call.logged", "c1")
    assert SECRET not in repr(hook)


@pytest.mark.parametrize("receiver", [[503, 500, 429]], indirect=True)
async def test_failures_are_retried_with_the_same_key_until_the_receiver_accepts(
    receiver: Receiver,
) -> None:
    hook = adapter(receiver.url)
    try:
        await hook.log_call(CALL, key="c1/log")
    finally:
        await hook.aclose()
    assert len(receiver.requests) == 4
    assert {h["idempotency-key"] for h, _ in receiver.requests} == {"c1/log"}


@pytest.mark.parametrize("receiver", [[500, 500, 500, 500]], indirect=True)
async def test_exhausted_retries_are_a_transient_error_for_the_executor(
    receiver: Receiver,
) -> None:
    hook = adapter(receiver.url, attempts=3)
    try:
        with pytest.raises(CrmTransientError):
            await hook.log_call(CALL, key="k")
    finally:
        await hook.aclose()
    assert len(receiver.requests) == 3


@pytest.mark.parametrize("receiver", [[422]], indirect=True)
async def test_a_client_error_is_permanent_and_not_retried(receiver: Receiver) -> None:
    hook = adapter(receiver.url)
    try:
        with pytest.raises(CrmPermanentError):
            await hook.log_call(CALL, key="k")
    finally:
        await hook.aclose()
    assert len(receiver.requests) == 1


async def test_a_receiver_that_is_down_is_a_transient_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    hook = adapter(f"http://127.0.0.1:{port}/hook", attempts=2)
    try:
        with pytest.raises(CrmTransientError):
            await hook.log_call(CALL, key="k")
    finally:
        await hook.aclose()


def test_old_timestamps_and_garbage_are_refused() -> None:
    body = b"{}"
    assert verify(SECRET, body, "1000", sign(SECRET, 1000, body), now=1100)
    assert not verify(SECRET, body, "1000", sign(SECRET, 1000, body), now=1000 + 301)
    assert not verify(SECRET, body, "soon", "sha256=00")
