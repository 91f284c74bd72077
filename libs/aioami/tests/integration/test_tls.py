"""TLS: verified by default, refused when the certificate is not trusted, opt-out explicit."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from aioami import AMIClient, AMIConfig, tls_context
from aioami.testing import ScriptedAMI

SECRET = "tls-secret"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_server(ca: trustme.CA) -> AsyncIterator[ScriptedAMI]:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_ctx)
    async with ScriptedAMI(secret=SECRET, tls=server_ctx) as server:
        yield server


def config(server: ScriptedAMI, ctx: ssl.SSLContext, **extra: str) -> AMIConfig:
    return AMIConfig(
        port=server.port,
        username="crm",
        secret=SECRET,
        tls=ctx,
        connect_timeout=3.0,
        snapshot_action=None,
        **extra,  # type: ignore[arg-type]
    )


async def test_tls_works_when_the_ca_is_trusted(
    tls_server: ScriptedAMI, ca: trustme.CA, tmp_path: Path
) -> None:
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    async with AMIClient(config(tls_server, tls_context(cafile=str(cafile)))) as ami:
        assert (await ami.send_action("Ping"))["Ping"] == "Pong"
    assert len(tls_server.received("Logoff")) == 1


async def test_tls_checks_the_host_name_against_server_hostname(
    tls_server: ScriptedAMI, ca: trustme.CA, tmp_path: Path
) -> None:
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    ctx = tls_context(cafile=str(cafile))
    with pytest.raises(ssl.SSLCertVerificationError):
        await AMIClient(config(tls_server, ctx, server_hostname="pbx.example.org")).start()


async def test_tls_is_refused_when_the_certificate_is_not_trusted(
    tls_server: ScriptedAMI,
) -> None:
    client = AMIClient(config(tls_server, tls_context()))
    with pytest.raises(ssl.SSLCertVerificationError):
        await client.start()
    assert not tls_server.received("Login")


async def test_tls_without_verification_only_when_asked_explicitly(
    tls_server: ScriptedAMI,
) -> None:
    ctx = tls_context(verify=False)
    assert ctx.verify_mode == ssl.CERT_NONE
    assert tls_context().verify_mode == ssl.CERT_REQUIRED
    assert tls_context().check_hostname
    async with AMIClient(config(tls_server, ctx)) as ami:
        assert (await ami.send_action("Ping"))["Ping"] == "Pong"
