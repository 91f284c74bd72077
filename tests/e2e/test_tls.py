"""aioami speaks TLS to the simulator with a self-signed certificate: accepted when trusted,
refused when not, accepted with the explicit opt-out of verification."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from aioami import AMIClient, AMIConfig, tls_context
from amisim import Simulator

SECRET = "tls-secret"


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_sim(ca: trustme.CA) -> AsyncIterator[Simulator]:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server)
    async with Simulator(secret=SECRET, speed=0, ssl_context=server) as sim:
        yield sim


def _config(sim: Simulator, context: ssl.SSLContext) -> AMIConfig:
    return AMIConfig(
        host=sim.host,
        port=sim.port,
        username="crm",
        secret=SECRET,
        tls=context,
        server_hostname="localhost",
        reconnect_max=0.2,
    )


async def test_a_trusted_self_signed_simulator_is_reached_over_tls(
    ca: trustme.CA, tls_sim: Simulator, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    async with AMIClient(_config(tls_sim, tls_context(cafile=str(ca_file)))) as ami:
        reply = await ami.send_action("Ping", timeout=5)
        assert reply["Ping"] == "Pong"
        channels = await ami.send_list_action("CoreShowChannels", timeout=5)
        assert channels.events[-1].event == "CoreShowChannelsComplete"
    assert tls_sim.tls


async def test_an_untrusted_certificate_is_refused(tls_sim: Simulator) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        await AMIClient(_config(tls_sim, tls_context())).start()
    assert not any(a.get("Action") == "Login" for a in tls_sim.received_actions)


async def test_verification_can_be_turned_off_explicitly(tls_sim: Simulator) -> None:
    async with AMIClient(_config(tls_sim, tls_context(verify=False))) as ami:
        assert (await ami.send_action("Ping", timeout=5))["Ping"] == "Pong"
