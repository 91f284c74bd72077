"""Banner, plain and MD5 login, refused logins, Logoff on close, and secrets kept secret."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

import pytest

from aioami import AMIClient, AMIConfig, AuthenticationError, NotConnected
from aioami.testing import ScriptedAMI

SECRET = "s3cret-pw-do-not-log"
MakeConfig = Callable[..., AMIConfig]


async def test_plain_login_reads_the_banner_and_sends_username_secret_and_events(
    server: ScriptedAMI, make_config: MakeConfig
) -> None:
    async with AMIClient(make_config(events="call,cdr")) as ami:
        assert ami.connected
        assert ami.session == 1
        assert ami.banner == "Asterisk Call Manager/9.0.0"
    (login,) = server.received("Login")
    assert login["Username"] == "crm"
    assert login["Secret"] == SECRET
    assert login["Events"] == "call,cdr"
    assert "AuthType" not in login


async def test_md5_login_answers_the_challenge_without_sending_the_secret(
    server: ScriptedAMI, make_config: MakeConfig
) -> None:
    async with AMIClient(make_config(auth="md5")) as ami:
        assert ami.session == 1
    (challenge,) = server.received("Challenge")
    assert challenge["AuthType"] == "MD5"
    (login,) = server.received("Login")
    assert login["AuthType"] == "MD5"
    assert len(login["Key"]) == 32
    assert "Secret" not in login
    assert all(SECRET not in str(m.pairs()) for m in server.actions)


@pytest.mark.parametrize("auth", ["plain", "md5"])
async def test_a_refused_login_raises_authentication_error_without_the_secret(
    server: ScriptedAMI,
    make_config: MakeConfig,
    caplog: pytest.LogCaptureFixture,
    auth: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    server.secret = "another-secret"
    config = make_config(auth=auth)
    client = AMIClient(config)
    with pytest.raises(AuthenticationError) as info:
        await client.start()
    assert "'crm'" in str(info.value)
    assert "Authentication failed" in str(info.value)
    for text in (str(info.value), repr(info.value), repr(config), repr(client), caplog.text):
        assert SECRET not in text
    assert not client.connected


async def test_secret_never_reaches_logs_or_reprs_over_a_whole_session(
    server: ScriptedAMI, make_config: MakeConfig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = make_config(auth="plain")
    async with AMIClient(config) as ami:
        await ami.send_action("Ping")
        server.peers[0].close()
        await server.wait_peers(2)
        await ami.wait_connected(timeout=5)
        texts = [repr(config), str(config), repr(ami), repr(ami.stats), caplog.text]
    assert all(SECRET not in text for text in [*texts, caplog.text])


async def test_close_logs_off_and_ends_the_session(
    server: ScriptedAMI, make_config: MakeConfig
) -> None:
    ami = AMIClient(make_config())
    await ami.start()
    await ami.close()
    assert len(server.received("Logoff")) == 1
    assert not ami.connected
    with pytest.raises(NotConnected):
        await ami.send_action("Ping")
    await ami.close()  # idempotent


async def test_first_connection_failure_raises_from_start() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connection refused
        client = AMIClient(AMIConfig(port=port, username="crm", secret=SECRET))
        with pytest.raises(ConnectionRefusedError):
            await client.start()


async def test_a_peer_that_is_not_ami_is_refused_at_the_banner(make_config: MakeConfig) -> None:
    async with ScriptedAMI(secret=SECRET, banner=b"SSH-2.0-OpenSSH_9.6\r\n") as fake:
        client = AMIClient(make_config(port=fake.port))
        with pytest.raises(Exception, match="not an AMI banner"):
            await client.start()
        assert client.stats.frame_errors == 1
