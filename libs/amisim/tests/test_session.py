"""Login (plain, MD5, failure), Ping, Events, Filter, Logoff, Command, unknown actions."""

from __future__ import annotations

import hashlib

from amisim import Simulator
from amisim.testing import Client

SECRET = "s3cret"


async def test_plain_login_is_accepted_then_fully_booted_and_successful_auth(
    sim: Simulator,
) -> None:
    conn = await Client.connect(sim.host, sim.port)
    reply = await conn.action("Login", Username="crm", Secret=SECRET, ActionID="L1")
    assert reply.pairs() == [
        ("Response", "Success"),
        ("ActionID", "L1"),
        ("Message", "Authentication accepted"),
    ]
    await conn.first(lambda m: m.event == "SuccessfulAuth")
    assert conn.splitter.banner == b"Asterisk Call Manager/11.0.0"
    assert [m.event for m in conn.messages[1:]] == ["FullyBooted", "SuccessfulAuth"]
    assert conn.messages[1]["Status"] == "Fully Booted"
    await conn.close()


async def test_md5_login_after_challenge_is_accepted(sim: Simulator) -> None:
    conn = await Client.connect(sim.host, sim.port)
    challenge = (await conn.action("Challenge", AuthType="MD5"))["Challenge"]
    key = hashlib.md5((challenge + SECRET).encode(), usedforsecurity=False).hexdigest()
    reply = await conn.action("Login", Username="crm", AuthType="MD5", Key=key)
    assert reply["Message"] == "Authentication accepted"
    await conn.close()


async def test_wrong_secret_is_refused_and_the_connection_closed(sim: Simulator) -> None:
    conn = await Client.connect(sim.host, sim.port)
    reply = await conn.login(secret="wrong")
    assert (reply.response, reply["Message"]) == ("Error", "Authentication failed")
    await conn.wait_for(lambda: conn.eof)
    assert not sim.sessions
    await conn.close()


async def test_actions_before_login_are_denied(sim: Simulator) -> None:
    conn = await Client.connect(sim.host, sim.port)
    reply = await conn.action("CoreShowChannels")
    assert (reply.response, reply["Message"]) == ("Error", "Permission denied")
    await conn.close()


async def test_ping_answers_pong_with_timestamp(client: Client) -> None:
    reply = await client.action("Ping", ActionID="p-1")
    assert (reply.response, reply["Ping"], reply.action_id) == ("Success", "Pong", "p-1")
    assert float(reply["Timestamp"]) > 0


async def test_unknown_action_is_an_invalid_command(client: Client) -> None:
    reply = await client.action("Frobnicate")
    assert reply.response == "Error"
    assert reply["Message"].startswith("Invalid/unknown command: Frobnicate.")


async def test_events_off_stops_events_for_that_session_only(
    sim: Simulator, client: Client
) -> None:
    other = await Client.connect(sim.host, sim.port)
    await other.login(SECRET)
    assert (await other.action("Events", EventMask="off"))["Events"] == "Off"
    await sim.play("inbound_busy")
    await client.first(lambda m: m.event == "Cdr")
    assert (await other.action("Ping")).response == "Success"
    assert not [m for m in other.events() if m.get("Linkedid")]
    await other.close()


async def test_legacy_filter_includes_and_bang_excludes(sim: Simulator, client: Client) -> None:
    assert (await client.action("Filter", Operation="Add", Filter=r"^Event: (Hangup|Cdr)\s"))[
        "Message"
    ] == "Success"
    await client.action("Filter", Operation="Add", Filter="!Channel: PJSIP/trunk")
    await sim.play("inbound_busy")
    await client.first(lambda m: m.event == "Hangup")
    await client.action("Ping")
    names = {m.event for m in client.events() if m.get("Linkedid") or m.event == "Cdr"}
    assert names == {"Hangup"}
    assert all(not m["Channel"].startswith("PJSIP/trunk") for m in client.events("Hangup"))


async def test_match_criteria_name_filter(sim: Simulator, client: Client) -> None:
    reply = await client.action("Filter", Operation="Add", MatchCriteria="name(DialEnd)", Filter="")
    assert reply.response == "Success"
    await sim.play("inbound_answered")
    await client.first(lambda m: m.event == "DialEnd")
    await client.action("Ping")
    assert {m.event for m in client.events() if m.get("Linkedid")} == {"DialEnd"}


async def test_bad_filter_regex_is_an_error(client: Client) -> None:
    reply = await client.action("Filter", Operation="Add", Filter="(unclosed")
    assert reply.response == "Error"
    assert reply["Message"].startswith("Filter did not compile")


async def test_logoff_says_goodbye_and_closes(client: Client) -> None:
    reply = await client.action("Logoff", ActionID="bye")
    assert (reply.response, reply["Message"]) == ("Goodbye", "Thanks for all the fish.")
    await client.wait_for(lambda: client.eof)


async def test_command_uses_the_output_form(client: Client) -> None:
    reply = await client.action("Command", Command="core show version")
    assert reply["Message"] == "Command output follows"
    assert reply.getall("Output")[0].startswith("Asterisk 22")
    bad = await client.action("Command", Command="no such thing")
    assert bad.response == "Error"


async def test_received_actions_never_hold_the_login_secret(sim: Simulator) -> None:
    conn = await Client.connect(sim.host, sim.port)
    await conn.action("Login", Username="crm", Secret=SECRET, ActionID="L9")
    await conn.action("Ping")
    login = next(a for a in sim.received_actions if a.get("Action") == "Login")
    assert login["Secret"] == "***"
    assert login["Username"] == "crm"
    assert all(SECRET not in repr(action) for action in sim.received_actions)
    await conn.close()
