"""Traffic generator (rate, concurrency, mix, bound) and the firehose for benchmarks."""

from __future__ import annotations

import asyncio
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from amisim import (
    OUTCOMES,
    SCENARIOS,
    Simulator,
    TrafficConfig,
    TrafficGenerator,
    blast,
    render_events,
)
from amisim.testing import Client

_LINE = re.compile(rb"[A-Za-z0-9_-]+: [^\r\n]*")


async def test_traffic_runs_a_bounded_number_of_calls_and_leaves_no_channels(
    sim: Simulator, client: Client
) -> None:
    config = TrafficConfig(rate=0, concurrency=4, max_calls=25, speed=0)
    generator = TrafficGenerator(sim.pbx, config)
    async with asyncio.timeout(30):
        completed = await generator.run()
    assert (generator.started, completed) == (25, 25)
    assert not sim.live_channels()
    await client.action("Ping")
    news = client.events("Newchannel")
    assert len({m["Linkedid"] for m in news}) == 25
    assert len({m["Uniqueid"] for m in news}) == len(news)


async def test_the_pbx_keeps_the_truth_of_every_call_it_played(
    sim: Simulator, client: Client
) -> None:
    assert set(OUTCOMES) == set(SCENARIOS)
    config = TrafficConfig(rate=0, concurrency=4, max_calls=30, speed=50)
    generator = TrafficGenerator(sim.pbx, config)
    async with asyncio.timeout(30):
        await generator.run()
    await client.action("Ping")
    linkedids = {m["Linkedid"] for m in client.events("Newchannel")}
    assert {p.call_id for p in sim.pbx.played} == linkedids
    assert len(sim.pbx.played) == 30
    for played in sim.pbx.played:
        assert not played.altered
        outcome = OUTCOMES[played.scenario]
        assert (played.result, played.direction) == (outcome.result, outcome.direction)
        if outcome.answered_by:
            assert played.answered_by == played.values[outcome.answered_by]
        assert played.started_at <= played.ended_at
        assert played.ring_s == outcome.ring_s / played.speed


async def test_traffic_draws_outside_numbers_from_the_configured_phones(
    sim: Simulator, client: Client
) -> None:
    phones = ("79161234567", "79031112233")
    config = TrafficConfig(rate=0, concurrency=4, max_calls=20, speed=0, phones=phones)
    async with asyncio.timeout(30):
        await TrafficGenerator(sim.pbx, config).run()
    await client.action("Ping")
    inbound = [m for m in client.events("Newchannel") if m["Channel"].startswith("PJSIP/trunk")]
    assert inbound
    assert {m["CallerIDNum"] for m in inbound} - {"<unknown>"} == set(phones)


async def test_traffic_respects_the_concurrency_limit(sim: Simulator) -> None:
    config = TrafficConfig(rate=0, concurrency=3, max_calls=12, speed=50.0)
    generator = TrafficGenerator(sim.pbx, config)
    peak = 0

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, len(sim.pbx.calls))
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    async with asyncio.timeout(30):
        await generator.run()
    watcher.cancel()
    assert 1 <= peak <= 3


async def test_blast_delivers_exactly_n_events(sim: Simulator, client: Client) -> None:
    before = len(client.events())
    await blast(sim, 20_000, seed=1)
    await client.wait_for(lambda: len(client.events()) - before >= 20_000, limit=30)
    await client.action("Ping")
    assert len(client.events()) - before == 20_000


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=600),
    seed=st.integers(min_value=0, max_value=2**32),
    scenario=st.sampled_from(sorted(SCENARIOS)),
)
def test_rendered_events_are_well_formed_and_ids_unique(n: int, seed: int, scenario: str) -> None:
    data = b"".join(render_events(n, mix={scenario: 1.0}, seed=seed, chunk_bytes=4096))
    frames = data.split(b"\r\n\r\n")
    assert frames.pop() == b""
    assert len(frames) == n
    for frame in frames:
        lines = frame.split(b"\r\n")
        assert lines[0].startswith(b"Event: ")
        assert all(_LINE.fullmatch(line) for line in lines)
    uids = re.findall(rb"Event: Newchannel\r\n(?:.*\r\n)*?Uniqueid: (\S+)", data)
    assert len(uids) == len(set(uids))
    assert b"{" not in data
    assert b"%(" not in data


async def test_no_second_call_rings_an_operator_who_is_in_a_call(sim: Simulator) -> None:
    """Without call waiting the generator never gives a call an extension that another call
    holds (ringing or talking) — and the truth of every call stays its scenario's."""
    overlaps: list[tuple[str, str]] = []
    seen: dict[str, int] = {}

    def check() -> None:
        owners: dict[str, object] = {}
        for call in sim.pbx.calls:
            for key in call.template.extensions:
                ext = call.values[key]
                seen[ext] = seen.get(ext, 0) + 1
                if owners.setdefault(ext, call) is not call:
                    overlaps.append((ext, call.template.name))

    sim.pbx.watchers.append(check)
    config = TrafficConfig(rate=0, concurrency=6, max_calls=30, speed=50.0)
    generator = TrafficGenerator(sim.pbx, config)
    async with asyncio.timeout(40):
        await generator.run()
    assert not overlaps
    assert generator.deferred > 0  # 3 extensions, 6 slots: calls had to wait
    assert set(seen) == {"100", "101", "102"}
    assert len(sim.pbx.played) == 30
    assert all(not p.altered and p.result == OUTCOMES[p.scenario].result for p in sim.pbx.played)


async def test_an_operator_on_a_call_is_not_offered_another(sim: Simulator) -> None:
    held = sim.pbx.start_call("inbound_answered", {"ext1": "101"}, pause_before="HangupRequest")
    await held.paused.wait()
    assert sim.pbx.busy_extensions() == {"101"}
    config = TrafficConfig(rate=0, concurrency=1, max_calls=6, speed=0,
                           mix={"inbound_answered": 1})  # fmt: skip
    async with asyncio.timeout(30):
        await TrafficGenerator(sim.pbx, config).run()
    assert {p.values["ext1"] for p in sim.pbx.played} <= {"100", "102"}
    held.resume()
    await held.wait()
    assert not sim.pbx.busy_extensions()


async def test_with_call_waiting_a_talking_operator_may_ring_again(sim: Simulator) -> None:
    held = sim.pbx.start_call("inbound_answered", {"ext1": "101"}, pause_before="HangupRequest")
    await held.paused.wait()
    sim.pbx.extensions[:] = ["101"]
    config = TrafficConfig(rate=0, concurrency=1, max_calls=2, speed=0, call_waiting=True,
                           mix={"inbound_answered": 1})  # fmt: skip
    async with asyncio.timeout(30):
        await TrafficGenerator(sim.pbx, config).run()
    assert [p.values["ext1"] for p in sim.pbx.played] == ["101", "101"]
    held.resume()
    await held.wait()
