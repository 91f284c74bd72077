"""Properties of leases with generations, over random sequences of acquire / renew / release,
lapses (the key expires) and data losses (every lease key gone), on a real Redis:

* whoever an operation says holds the lease holds exactly the value in Redis;
* a token is never handed to two owners, and a new generation is never lower than one seen
  before unless Redis lost its data;
* a write fenced by a token lands only while that token holds the lease (so a replica whose
  lease another owner took can append nothing)."""

from __future__ import annotations

import asyncio
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from cbstreams import Lease, LeaseLost, StreamPublisher, connect

OWNERS = ("a", "b", "c")
OPS = ("acquire", "renew", "release", "lapse", "lose", "publish")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(OWNERS), st.sampled_from(OPS)), max_size=25))
def test_leases_fence_by_generation(redis_url: str, steps: list[tuple[str, str]]) -> None:
    asyncio.run(_scenario(redis_url, steps))


async def _scenario(url: str, steps: list[tuple[str, str]]) -> None:
    redis = connect(url)
    prefix = f"tprop{uuid.uuid4().hex[:10]}:"
    key, stream = f"{prefix}lease", f"{prefix}stream"
    leases = {o: Lease(redis, key, o, ttl_ms=60_000) for o in OWNERS}
    publisher = StreamPublisher(redis, stream)
    given_to: dict[str, str] = {}  # token -> owner
    top = 0
    try:
        for owner, op in steps:
            lease = leases[owner]
            if op in ("acquire", "renew"):
                try:
                    ok = await (lease.acquire() if op == "acquire" else lease.renew())
                except LeaseLost:  # came back as a new generation after a data loss
                    ok = True
                if ok:
                    assert await redis.get(key) == lease.token.encode()
                    if lease.token in given_to:  # the same generation: renewed or re-taken
                        assert given_to[lease.token] == owner
                    else:  # a new generation: above every one before (since a data loss)
                        assert lease.generation > top
                        given_to[lease.token] = owner
                        top = lease.generation
            elif op == "release":
                holder = await redis.get(key)
                ours = bool(lease.token) and holder == lease.token.encode()
                assert await lease.release() == ours
                if ours:
                    assert await redis.get(key) is None
            elif op == "lapse":
                await redis.delete(key)
            elif op == "lose":
                await redis.delete(key, f"{key}:holder", f"{key}:gen", f"{key}:free")
                top = 0
            else:  # publish, fenced by the owner's token
                holder = await redis.get(key)
                before = await redis.xlen(stream)
                try:
                    await publisher.publish_fenced([(b"f", owner)], key, lease.token or "-")
                    landed = True
                except LeaseLost:
                    landed = False
                assert landed == (holder is not None and holder == lease.token.encode())
                assert await redis.xlen(stream) == before + int(landed)
    finally:
        await redis.delete(key, f"{key}:holder", f"{key}:gen", f"{key}:free", stream)
        await redis.aclose()
