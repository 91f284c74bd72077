"""RawFeed bounds and EventHub matching, without sockets."""

from __future__ import annotations

import asyncio

from aioami import ClientStats, FrameBatch, Message
from aioami._feeds import EventHub, RawFeed


def batch(*frames: bytes) -> FrameBatch:
    return FrameBatch(1, 0, list(frames))


async def test_a_registered_consumer_pauses_above_the_bound_and_resumes_below_half() -> None:
    stats, calls = ClientStats(), list[bool]()
    feed = RawFeed(stats, 100, calls.append)
    items = feed.iterate()
    feed.put(batch(b"x" * 10))
    await anext(items)  # registers the consumer
    for _ in range(11):
        feed.put(batch(b"y" * 10))
    assert calls == [False]
    assert stats.paused
    assert stats.buffered_bytes == 110
    for _ in range(6):
        await anext(items)
    assert calls == [False, True]
    assert not stats.paused
    assert stats.buffered_bytes == 50
    await items.aclose()


async def test_without_a_consumer_items_beyond_the_bound_are_dropped_and_counted() -> None:
    stats, calls = ClientStats(), list[bool]()
    feed = RawFeed(stats, 100, calls.append)
    for _ in range(20):
        feed.put(batch(b"a" * 30, b"b" * 30))
    assert calls == []
    assert stats.buffered_bytes == 120
    assert stats.dropped_events == 36


async def test_closing_the_feed_ends_iteration_after_what_is_held() -> None:
    feed = RawFeed(ClientStats(), 100, lambda on: None)
    feed.put(batch(b"last"))
    feed.close()
    assert [item async for item in feed.iterate()] == [batch(b"last")]


async def test_event_subscriptions_match_case_insensitive_patterns_and_share_one_parse() -> None:
    hub = EventHub(ClientStats())
    dial, every = hub.subscribe("dial*"), hub.subscribe("*")
    hub.publish([b"Event: DialBegin\r\nA: 1", b"Response: Success", b"Event: Hangup"])
    first = await anext(dial)
    assert first.event == "DialBegin"
    assert await anext(every) is first
    assert (await anext(every)).event == "Hangup"
    hub.close()
    assert [m async for m in dial] == []


async def test_a_subscriber_too_far_behind_loses_new_events_counted() -> None:
    stats = ClientStats()
    hub = EventHub(stats)
    events = hub.subscribe("X")
    hub.publish([b"Event: X"] * 10_005)
    assert stats.dropped_events == 5
    assert isinstance(await anext(events), Message)
    await events.aclose()


async def test_an_unstarted_dropped_subscription_is_forgotten() -> None:
    stats = ClientStats()
    hub = EventHub(stats)
    hub.subscribe("*")
    await asyncio.sleep(0)
    hub.publish([b"Event: X"] * 10_005)
    assert stats.dropped_events == 0
