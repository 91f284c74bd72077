"""The suite against a real PBX and CRM from one config file (``callbridge run --config``).

The file has one table per service — ``[ingest]``, ``[tracker]``, ``[crm_sync]``,
``[gateway]`` — each exactly that service's settings, loaded by the service's own loader;
top-level keys that are not tables (``redis_url``, ``key_prefix``, ``log_level``…) are
inherited by every table that does not set them. ``CB_*`` variables override every table.
All four services run in this process, each by its own class, under one stop event.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from ami_ingest import IngestError, IngestService, IngestSettings
from ami_ingest import load as load_ingest
from api_gateway.main import create_app
from api_gateway.server import make_server
from api_gateway.settings import GatewaySettings
from api_gateway.settings import load as load_gateway
from call_tracker.main import TrackerService
from call_tracker.settings import TrackerSettings
from call_tracker.settings import load as load_tracker
from cbruntime import RuntimeSetupError, SettingsError, listen_socket
from crm_sync.main import CrmSyncService
from crm_sync.settings import CrmSyncSettings
from crm_sync.settings import load as load_crm_sync

__all__ = ["RunningSuite", "SuiteSettings", "load_suite", "running_suite"]

SECTIONS = ("ingest", "tracker", "crm_sync", "gateway")


@dataclass(frozen=True, kw_only=True)
class SuiteSettings:
    ingest: IngestSettings
    tracker: TrackerSettings
    crm_sync: CrmSyncSettings
    gateway: GatewaySettings


def load_suite(path: str | Path, environ: Mapping[str, str] | None = None) -> SuiteSettings:
    """Every service's settings from one file; raises :class:`SettingsError`."""
    try:
        return SuiteSettings(
            ingest=load_ingest(path, environ, section="ingest"),
            tracker=load_tracker(path, environ, section="tracker"),
            crm_sync=load_crm_sync(path, environ, section="crm_sync"),
            gateway=load_gateway(path, environ, section="gateway"),
        )
    except IngestError as exc:
        raise SettingsError(f"[ingest]: {exc}") from None


@dataclass(frozen=True, kw_only=True)
class RunningSuite:
    settings: SuiteSettings
    url: str  # the gateway's base URL (the actual port when the file says 0)
    ingest: IngestService

    def lines(self) -> list[str]:
        """What was started, for the console."""
        s = self.settings
        pbxs = ", ".join(f"{p.name} ({p.keys.ami})" for p in self.ingest.pbxs)
        return [
            f"redis: {s.gateway.redis_url}",
            f"ami-ingest: PBX {pbxs}",
            f"call-tracker: call events on {s.tracker.calls_stream}",
            f"crm-sync: the {s.crm_sync.adapter} CRM, commands {s.crm_sync.commands_stream}, "
            f"events {s.crm_sync.events_stream}",
            f"api-gateway: {self.url} (API docs {self.url}/docs, operator page {self.url}/ui/)",
        ]


@contextlib.asynccontextmanager
async def running_suite(settings: SuiteSettings) -> AsyncIterator[RunningSuite]:
    """Every service running until the block ends; then all stopped by one stop event."""
    gw = settings.gateway
    try:
        sock = listen_socket(gw.host, gw.port)
    except OSError as exc:
        raise RuntimeSetupError(
            f"api-gateway cannot listen on {gw.host}:{gw.port}: {exc}"
        ) from None
    url = f"http://{gw.host}:{sock.getsockname()[1]}"
    stop = asyncio.Event()
    ingest = IngestService(settings.ingest)
    tracker = TrackerService(settings.tracker)
    crm = CrmSyncService(settings.crm_sync)
    server = make_server(
        create_app(gw), lifespan="on", grace_s=1, trusted_proxies=gw.trusted_proxies
    )
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(ingest.run(stop))
            tg.create_task(tracker.run(stop))
            tg.create_task(crm.run(stop))
            serving = tg.create_task(_serve(server, sock, stop))
            try:
                await _started(server, serving)
                yield RunningSuite(settings=settings, url=url, ingest=ingest)
            finally:
                stop.set()
    finally:
        sock.close()


async def _serve(server: uvicorn.Server, sock: socket.socket, stop: asyncio.Event) -> None:
    async with asyncio.TaskGroup() as tg:
        tg.create_task(server.serve(sockets=[sock]))
        await stop.wait()
        server.should_exit = True


async def _started(
    server: uvicorn.Server, serving: asyncio.Task[None], limit_s: float = 15.0
) -> None:
    async with asyncio.timeout(limit_s):
        while not server.started:
            if serving.done():
                raise RuntimeSetupError("the api-gateway did not start")
            await asyncio.sleep(0.01)
