"""The health endpoint answers /healthz, /readyz and /metrics over real HTTP."""

from __future__ import annotations

import asyncio
import io
import json
import logging

from cbruntime import HealthServer, JsonFormatter, counter, new_registry


async def _get(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


async def test_health_endpoint_reflects_the_check_and_serves_metrics() -> None:
    registry = new_registry()
    counter(registry, "things", "Things seen.").inc(3)
    healthy = [True]
    server = HealthServer(registry, healthy=lambda: healthy[0], ready=lambda: False)
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(server.serve(stop))
        await server.wait_started()
        assert server.port is not None
        assert (await _get(server.port, "/healthz"))[0] == 200
        assert (await _get(server.port, "/readyz"))[0] == 503
        status, body = await _get(server.port, "/metrics")
        assert status == 200
        assert b"callbridge_things_total 3.0" in body
        healthy[0] = False
        assert (await _get(server.port, "/healthz"))[0] == 503
        assert (await _get(server.port, "/nope"))[0] == 404
        stop.set()


def test_json_formatter_emits_one_object_with_extras() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("cbruntime.test")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("hello %s", "world", extra={"pbx": "main"})
    finally:
        log.removeHandler(handler)
    doc = json.loads(stream.getvalue())
    assert doc["msg"] == "hello world"
    assert doc["pbx"] == "main"
    assert doc["level"] == "warning"
