"""The lab PBX itself: it boots, phones register, a trunk call rings a phone and is answered,
and AMI sees it — on Asterisk 22 (PJSIP phones) and 20 (chan_sip phones)."""

from __future__ import annotations

import asyncio

import pytest

from pbxlab import DIDS, Hangup, Lab, Talk


@pytest.fixture(params=["asterisk22", "asterisk20"])
def lab(request: pytest.FixtureRequest) -> Lab:
    got: Lab = request.getfixturevalue(request.param)
    return got


def test_cli_names_the_version(lab: Lab) -> None:
    out = lab.ast.cli("core show version")
    assert out.startswith(f"Asterisk {lab.ast.version}")


async def test_an_inbound_call_is_answered_by_the_phone_of_role_a(lab: Lab) -> None:
    phone = lab.phone("A")
    await phone.register()
    async with lab.ami() as ami:
        events = ami.events("DialEnd")
        uas = await phone.answer(ring=0.5)
        uac = await lab.trunk.call("79161230001", DIDS["direct"], then=[Talk(0.5), Hangup()])
        await asyncio.gather(uas.done(30), uac.done(30))
        async with asyncio.timeout(10):
            async for event in events:
                if event.get("DialStatus") == "ANSWER":
                    assert (event.get("DestChannel") or "").startswith(phone.device + "-")
                    break
